// The decoder end to end against transformers: for each tiny random model in fixtures/
// (Llama with llama3 rope scaling, Qwen2 with q/k/v bias, Qwen3 with q/k norm, Mistral with a
// sliding window, and the Llama model quantised to MLX 4-bit), the logits at every position of
// a prompt and its greedy continuation, teacher-forced, within 1e-3 * max|logit| of the f32
// logits transformers computed; the greedy tokens identical. Runs on every backend.
#include "metaltile/engine/decoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/safetensors.hpp"
#include "metaltile/runtime/bytes.hpp"
#include "support/backends.hpp"
#include "support/errors.hpp"

namespace mt::engine {
namespace {

const std::string kFixtures = std::string(MT_TESTS_DIR) + "/engine/fixtures";

struct Expected {
  std::vector<std::uint32_t> tokens;
  std::size_t prompt_length = 0;
  std::vector<float> logits;  // [tokens, vocab]
};

Expected expected_of(const std::string& dir) {
  const SafetensorsFile f = SafetensorsFile::open(dir + "/expected.safetensors");
  Expected e;
  const TensorView* tokens = f.find("tokens");
  for (std::size_t i = 0; i < tokens->elements(); ++i) {
    e.tokens.push_back(detail::read_le(tokens->bytes.data() + 4 * i, 4));
  }
  e.prompt_length = detail::read_le(f.find("prompt_length")->bytes.data(), 4);
  e.logits = tensor_values(f.find("logits")->bytes, DType::F32);
  return e;
}

std::size_t argmax(const std::vector<float>& v) {
  return std::size_t(std::max_element(v.begin(), v.end()) - v.begin());
}

void expect_matches_transformers(Context& ctx, const std::string& model, bool graphs) {
  SCOPED_TRACE(model + (graphs ? " (graphs)" : " (launches)"));
  const std::string dir = model.find('/') == std::string::npos ? kFixtures + "/" + model : model;
  const Expected e = expected_of(dir);
  const ModelWeights w = load_weights(ctx, dir, LoadOptions{.dtype = DType::F32});
  const std::size_t vocab = w.config.vocab;
  ASSERT_EQ(e.logits.size(), e.tokens.size() * vocab);
  Decoder decoder(ctx, w,
                  DecoderOptions{.max_seq = std::uint32_t(e.tokens.size()), .use_graphs = graphs});
  for (std::size_t p = 0; p < e.tokens.size(); ++p) {
    decoder.feed(e.tokens[p], true);
    const std::vector<float> got = decoder.logits();
    ASSERT_EQ(got.size(), vocab);
    const std::vector<float> want(e.logits.begin() + p * vocab, e.logits.begin() + (p + 1) * vocab);
    float peak = 0;
    for (float v : want) peak = std::max(peak, std::fabs(v));
    const float tolerance = 1e-3f * peak;
    int shown = 0;
    for (std::size_t i = 0; i < vocab; ++i) {
      const bool ok = std::fabs(got[i] - want[i]) <= tolerance;  // NaN fails
      if (!ok && shown++ < 5) {
        ADD_FAILURE() << "position " << p << " token " << i << ": got " << got[i]
                      << ", transformers " << want[i] << ", tolerance " << tolerance;
      }
    }
    if (p + 1 >= e.prompt_length && p + 1 < e.tokens.size()) {
      EXPECT_EQ(argmax(got), e.tokens[p + 1]) << "greedy token after position " << p;
    }
  }
  EXPECT_EQ(decoder.position(), e.tokens.size());
}

TEST(Decoder, MatchesTransformersOnEachArchitecture) {
  test::for_each_backend([](Context& ctx) {
    for (const char* model :
         {"tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-mistral", "tiny-llama-mlx4"}) {
      expect_matches_transformers(ctx, model, true);
    }
  });
}

// Larger random models made on the GPU machine (bench/engine/make_check_models.py, run by
// scripts/engine-check.sh): every subdirectory of MT_ENGINE_MODELS, in f32 as above, and in
// bf16, where the teacher-forced top-1 token must agree with transformers' f32 at >= 98 % of
// positions.
TEST(Decoder, MatchesTransformersOnModelsInTheEnvironment) {
  const char* root = std::getenv("MT_ENGINE_MODELS");
  if (root == nullptr || *root == 0) {
    GTEST_SKIP() << "MT_ENGINE_MODELS is not set (scripts/engine-check.sh sets it on the GPU "
                    "machine)";
  }
  test::for_each_backend([&](Context& ctx) {
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      const std::string dir = entry.path().string();
      expect_matches_transformers(ctx, dir, true);
      SCOPED_TRACE(dir + " (bf16)");
      const Expected e = expected_of(dir);
      const ModelWeights w = load_weights(ctx, dir, LoadOptions{.dtype = DType::BF16});
      const std::size_t vocab = w.config.vocab;
      Decoder decoder(ctx, w, DecoderOptions{.max_seq = std::uint32_t(e.tokens.size())});
      std::size_t agree = 0;
      for (std::size_t p = 0; p < e.tokens.size(); ++p) {
        decoder.feed(e.tokens[p], true);
        const std::vector<float> want(e.logits.begin() + p * vocab,
                                      e.logits.begin() + (p + 1) * vocab);
        agree += argmax(decoder.logits()) == argmax(want);
      }
      EXPECT_GE(double(agree), 0.98 * double(e.tokens.size()))
          << agree << " of " << e.tokens.size();
    }
  });
}

TEST(Decoder, GraphReplayEqualsLaunchingEachKernel) {
  test::for_each_backend([](Context& ctx) {
    const ModelWeights w =
        load_weights(ctx, kFixtures + "/tiny-qwen3", LoadOptions{.dtype = DType::F32});
    Decoder graphs(ctx, w, DecoderOptions{.max_seq = 16, .use_graphs = true});
    Decoder launches(ctx, w, DecoderOptions{.max_seq = 16, .use_graphs = false});
    const std::vector<std::uint32_t> prompt = {1, 5, 9, 100};
    graphs.prefill(prompt);
    launches.prefill(prompt);
    EXPECT_EQ(graphs.logits(), launches.logits());
    // Greedy sampling on the device agrees with the host's argmax, and the drawn token is the
    // next input.
    for (int step = 0; step < 3; ++step) {
      const std::vector<float> logits = graphs.logits();
      const std::uint32_t drawn = graphs.sample(SamplingOptions{});
      EXPECT_EQ(drawn, argmax(logits));
      graphs.feed_drawn();
      launches.feed(drawn, true);
      EXPECT_EQ(graphs.logits(), launches.logits());
    }
  });
}

TEST(Decoder, BadTokensAndAFullCacheAreErrors) {
  test::for_each_backend([](Context& ctx) {
    const ModelWeights w =
        load_weights(ctx, kFixtures + "/tiny-llama", LoadOptions{.dtype = DType::F32});
    Decoder decoder(ctx, w, DecoderOptions{.max_seq = 2});
    test::expect_mentions(test::error_of([&] { decoder.logits(); }), {"no step"});
    test::expect_mentions(test::error_of([&] { decoder.feed(128, true); }),
                          {"token id 128", "vocabulary", "128 tokens"});
    decoder.feed(3, false);
    decoder.feed(4, true);
    test::expect_mentions(test::error_of([&] { decoder.feed(5, true); }),
                          {"KV cache is full", "2 positions"});
    // Still usable: a new sequence runs.
    decoder.reset();
    decoder.feed(3, true);
    EXPECT_EQ(decoder.logits().size(), 128u);
  });
}

TEST(Decoder, LoadErrorsNameTheTensor) {
  test::for_each_backend([](Context& ctx) {
    const std::string dir = kFixtures + "/tiny-llama";
    const Checkpoint ckpt = Checkpoint::open(dir);
    ModelConfig more_layers = read_config(dir);
    more_layers.layers = 3;
    test::expect_mentions(test::error_of([&] { load_weights(ctx, more_layers, ckpt, {}); }),
                          {"missing tensor", "model.layers.2."});
    ModelConfig wider = read_config(dir);
    wider.intermediate = 128;
    test::expect_mentions(
        test::error_of([&] { load_weights(ctx, wider, ckpt, {}); }),
        {"model.layers.0.mlp.gate_proj.weight", "[96, 64]", "expected [128, 64]"});
    ModelConfig quantised = read_config(dir);
    test::expect_mentions(test::error_of([&] {
                            load_weights(ctx, quantised,
                                         Checkpoint::open(kFixtures + "/tiny-llama-mlx4"), {});
                          }),
                          {"embed_tokens.scales", "quantization"});
  });
}

TEST(Decoder, QuantiseOnLoadStaysCloseToDense) {
  test::for_each_backend([](Context& ctx) {
    const std::string dir = kFixtures + "/tiny-llama";
    const ModelWeights dense = load_weights(ctx, dir, LoadOptions{.dtype = DType::F32});
    const ModelWeights q8 =
        load_weights(ctx, dir, LoadOptions{.dtype = DType::F32, .quantise = Quantization{32, 8}});
    EXPECT_TRUE(q8.layers[0].qkv.quantised());
    EXPECT_TRUE(q8.head.quantised());
    EXPECT_FALSE(q8.embed.quantised());
    Decoder a(ctx, dense, DecoderOptions{.max_seq = 8});
    Decoder b(ctx, q8, DecoderOptions{.max_seq = 8});
    const std::vector<std::uint32_t> prompt = {1, 17, 42, 99};
    a.prefill(prompt);
    b.prefill(prompt);
    const std::vector<float> x = a.logits(), y = b.logits();
    float peak = 0, worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      peak = std::max(peak, std::fabs(x[i]));
      worst = std::max(worst, std::fabs(x[i] - y[i]));
    }
    // 8-bit groups of 32: well under a percent of the logits' range.
    EXPECT_LT(worst, 0.02f * peak) << "peak " << peak;
  });
}

}  // namespace
}  // namespace mt::engine
