// The decoder end to end against transformers: for each tiny random model in fixtures/
// (Llama with llama3 rope scaling, Qwen2 with q/k/v bias, Qwen3 with q/k norm, Mistral with a
// sliding window, and the Llama model quantised to MLX 4-bit), the logits at every position of
// a prompt and its greedy continuation, teacher-forced, within 1e-3 * max|logit| of the f32
// logits transformers computed; the greedy tokens identical: token by token through the decode
// step, and with the prompt prefilled in chunks (one, and several of 3 tokens). In f16 (the
// tensor-core GEMM's prefill) prefill agrees with token-by-token prefill. Quantised KV caches
// (int8, int4, fp8) stay close to the raw cache. Runs on every backend.
#include "metaltile/engine/decoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/safetensors.hpp"
#include "metaltile/kernels/registry.hpp"
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

// A reference's token sequence and logits: expected.safetensors holds transformers', and
// tiny-llama-mlx4/expected_mlx_lm.safetensors mlx-lm's (fixtures/make_mlx_lm_expected.py).
struct Reference {
  const char* name = "transformers";
  const char* file = "expected.safetensors";
};

Expected expected_of(const std::string& dir, const Reference& reference = {}) {
  const SafetensorsFile f = SafetensorsFile::open(dir + "/" + reference.file);
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

std::string fixture_dir(const std::string& model) {
  return model.find('/') == std::string::npos ? kFixtures + "/" + model : model;
}

// The logits of the sequence's positions from `first` on: the tokens up to `first` prefilled at
// once (first > 0), the rest fed one at a time, teacher-forced.
std::vector<std::vector<float>> run_sequence(Decoder& decoder,
                                             const std::vector<std::uint32_t>& tokens,
                                             std::size_t first) {
  std::vector<std::vector<float>> logits;
  if (first > 0) {
    decoder.prefill(std::span<const std::uint32_t>(tokens.data(), first + 1));
    logits.push_back(decoder.logits());
  }
  for (std::size_t p = first == 0 ? 0 : first + 1; p < tokens.size(); ++p) {
    decoder.feed(tokens[p], true);
    logits.push_back(decoder.logits());
  }
  return logits;
}

// `prefilled` > 0: positions 0 .. prefilled - 1 run as one prefill (in chunks of the options').
void expect_matches_transformers(Context& ctx, const std::string& model, bool graphs,
                                 std::size_t prefilled = 0, DecoderOptions options = {},
                                 const Reference& reference = {}) {
  SCOPED_TRACE(model + " against " + reference.name + (graphs ? " (graphs)" : " (launches)") +
               (prefilled > 0 ? " prefill of " + std::to_string(prefilled) + " in chunks of " +
                                    std::to_string(options.prefill_chunk)
                              : std::string()));
  const std::string dir = fixture_dir(model);
  const Expected e = expected_of(dir, reference);
  const ModelWeights w = load_weights(ctx, dir, LoadOptions{.dtype = DType::F32});
  const std::size_t vocab = w.config.vocab;
  ASSERT_EQ(e.logits.size(), e.tokens.size() * vocab);
  options.max_seq = std::uint32_t(e.tokens.size());
  options.use_graphs = graphs;
  Decoder decoder(ctx, w, options);
  const std::size_t first = prefilled == 0 ? 0 : prefilled - 1;
  const std::vector<std::vector<float>> all = run_sequence(decoder, e.tokens, first);
  for (std::size_t p = first; p < e.tokens.size(); ++p) {
    const std::vector<float>& got = all[p - first];
    ASSERT_EQ(got.size(), vocab);
    const std::vector<float> want(e.logits.begin() + p * vocab, e.logits.begin() + (p + 1) * vocab);
    float peak = 0;
    for (float v : want) peak = std::max(peak, std::fabs(v));
    const float tolerance = 1e-3f * peak;
    int shown = 0;
    for (std::size_t i = 0; i < vocab; ++i) {
      const bool ok = std::fabs(got[i] - want[i]) <= tolerance;  // NaN fails
      if (!ok && shown++ < 5) {
        ADD_FAILURE() << "position " << p << " token " << i << ": got " << got[i] << ", "
                      << reference.name << " " << want[i] << ", tolerance " << tolerance;
      }
    }
    if (p + 1 >= e.prompt_length && p + 1 < e.tokens.size()) {
      EXPECT_EQ(argmax(got), e.tokens[p + 1]) << "greedy token after position " << p;
    }
  }
  EXPECT_EQ(decoder.position(), e.tokens.size());
}

constexpr const char* kModels[] = {"tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-mistral",
                                   "tiny-llama-mlx4"};

TEST(Decoder, MatchesTransformersOnEachArchitecture) {
  test::for_each_backend([](Context& ctx) {
    for (const char* model : kModels) expect_matches_transformers(ctx, model, true);
  });
}

// The MLX 4-bit checkpoint against mlx-lm's own forward pass over the same stored codes, scales
// and biases (f32 on the CPU), within 1e-3 max|logit| and with the same greedy tokens: the
// decode step (fused, graphs), then a prefill of the prompt and the unfused step.
TEST(Decoder, MatchesMlxLmOnTheMlxCheckpoint) {
  const Reference mlx_lm{"mlx-lm", "expected_mlx_lm.safetensors"};
  test::for_each_backend([&](Context& ctx) {
    expect_matches_transformers(ctx, "tiny-llama-mlx4", true, 0, {}, mlx_lm);
    expect_matches_transformers(ctx, "tiny-llama-mlx4", false, 8,
                                DecoderOptions{.fuse_decode = false}, mlx_lm);
  });
}

// The step's plan: 5 launches a layer with the fusion (the dense or the quantised forms, as
// the weights are), 6 where RoPE cannot go into the projection (Qwen3's q/k norm, a quantised
// cache), 9 without, so a fallback to a less fused step cannot pass unnoticed.
TEST(Decoder, DecodeStepLaunchesTheFusedKernels) {
  test::for_each_backend([](Context& ctx) {
    struct Case {
      const char* model;
      bool fuse;
      KvFormat kv;
      std::vector<std::string> layer, ends;
    };
    const std::vector<Case> cases = {
        {"tiny-llama",
         true,
         KvFormat::Raw,
         {"rms_norm_gemv_rope", "attention_decode", "residual_gemv", "rms_norm_gemv_swiglu",
          "residual_gemv"},
         {"embedding", "rms_norm_gemv", "step_positions"}},
        {"tiny-llama-mlx4",
         true,
         KvFormat::Raw,
         {"rms_norm_qgemv_rope", "attention_decode", "residual_qgemv", "rms_norm_qgemv_swiglu",
          "residual_qgemv"},
         {"embedding_affine", "rms_norm_qgemv", "step_positions"}},
        {"tiny-qwen3",
         true,
         KvFormat::Raw,
         {"rms_norm_gemv", "qkv_rope_append", "attention_decode", "residual_gemv",
          "rms_norm_gemv_swiglu", "residual_gemv"},
         {"embedding", "rms_norm_gemv", "step_positions"}},
        {"tiny-llama",
         true,
         KvFormat::Int8,
         {"rms_norm_gemv", "qkv_rope_append_int8", "attention_decode_int8", "residual_gemv",
          "rms_norm_gemv_swiglu", "residual_gemv"},
         {"embedding", "rms_norm_gemv", "step_positions"}},
        {"tiny-llama",
         false,
         KvFormat::Raw,
         {"add_rms_norm", "gemv", "qkv_rope_append", "attention_decode", "gemv", "add_rms_norm",
          "gemv", "swiglu_gate_up", "gemv"},
         {"embedding", "gemv", "step_positions"}},
    };
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.model) + (c.fuse ? " fused" : " unfused") +
                   (c.kv == KvFormat::Raw ? "" : " quantised cache"));
      const ModelWeights w =
          load_weights(ctx, fixture_dir(c.model), LoadOptions{.dtype = DType::F32});
      const Decoder decoder(ctx, w,
                            DecoderOptions{.max_seq = 8, .kv = c.kv, .fuse_decode = c.fuse});
      const std::vector<std::string> got = decoder.step_kernels();
      std::vector<std::string> want = {c.ends[0]};
      for (std::uint32_t l = 0; l < w.config.layers; ++l) {
        want.insert(want.end(), c.layer.begin(), c.layer.end());
      }
      if (!c.fuse) {
        // Layer 0 starts with rms_norm (nothing to add yet); the head adds the last residual.
        want[1] = "rms_norm";
        want.push_back("add_rms_norm");
      }
      want.push_back(c.ends[1]);
      want.push_back(c.ends[2]);
      EXPECT_EQ(got, want);
    }
  });
}

// Every kernel of the fused step but the first (the embedding, after the previous step's
// sampling) and the last (step_positions) waits for the kernel before it at the top of its
// body, so that the CUDA backend may start it while that kernel finishes: a kernel that lost its
// wait would quietly serialise the step again.
TEST(Decoder, DecodeStepKernelsWaitForTheirPriorKernel) {
  Context ctx = Context::create(Backend::Cpu);
  for (const char* model : {"tiny-llama", "tiny-llama-mlx4", "tiny-qwen3"}) {
    SCOPED_TRACE(model);
    const ModelWeights w = load_weights(ctx, fixture_dir(model), LoadOptions{.dtype = DType::F32});
    const Decoder decoder(ctx, w, DecoderOptions{.max_seq = 8});
    std::size_t checked = 0;
    for (const std::string& name : decoder.step_kernels()) {
      if (name.starts_with("embedding") || name == "step_positions") continue;
      const Kernel& k = traced_kernel(name, DType::F32);
      const bool waits =
          std::any_of(k.body.instrs.begin(), k.body.instrs.end(),
                      [](const Instr& in) { return in.op == OpKind::WaitPriorKernel; });
      EXPECT_TRUE(waits) << name << " does not wait for the prior kernel";
      ++checked;
    }
    EXPECT_EQ(checked, decoder.step_kernels().size() - 2);
  }
}

// The models above decode with the norms, residual adds and SwiGLU fused into the GEMVs (dense
// and MLX 4-bit); the step with a launch for each (fuse_decode off) matches too.
TEST(Decoder, UnfusedDecodeStepMatchesTransformers) {
  test::for_each_backend([](Context& ctx) {
    for (const char* model : {"tiny-llama", "tiny-qwen3", "tiny-llama-mlx4"}) {
      expect_matches_transformers(ctx, model, true, 0, DecoderOptions{.fuse_decode = false});
    }
  });
}

// The prompt (8 tokens) prefilled at once: in one chunk (the MLX 4-bit model through
// qgemm_affine), and in chunks of 3 (qgemv_affine; each attending to
// the cache the chunks before it wrote, Mistral's window across chunk boundaries); then the
// continuation token by token over that cache.
TEST(Decoder, BatchedPrefillMatchesTransformers) {
  test::for_each_backend([](Context& ctx) {
    for (const char* model : kModels) {
      const std::size_t prompt = expected_of(fixture_dir(model)).prompt_length;
      expect_matches_transformers(ctx, model, true, prompt, DecoderOptions{});
      expect_matches_transformers(ctx, model, false, prompt, DecoderOptions{.prefill_chunk = 3});
    }
  });
}

// How far two runs' logits are apart: the largest |a - b| over all positions as a share of
// the largest |logit| of `b`, and the positions whose top token agrees.
struct Agreement {
  double worst = 0;
  std::size_t same_top = 0, positions = 0;
};

Agreement compare(const std::vector<std::vector<float>>& a,
                  const std::vector<std::vector<float>>& b) {
  Agreement r;
  double peak = 0, worst = 0;
  for (std::size_t p = 0; p < a.size(); ++p) {
    for (std::size_t i = 0; i < a[p].size(); ++i) {
      peak = std::max(peak, double(std::fabs(b[p][i])));
      const double d = std::fabs(double(a[p][i]) - double(b[p][i]));
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    r.same_top += argmax(a[p]) == argmax(b[p]);
    ++r.positions;
  }
  r.worst = worst / peak;
  return r;
}

// In f16 the prefill's projections run on the tensor-core GEMM (the f32 runs above use gemv):
// batched prefill (chunks of 5 and 3) against token-by-token prefill of the same f16 weights,
// then the same continuation. Both sum in f32 in different orders (tensor-core fragments
// against gemv's lanes) and round every activation to f16 (2^-11 relative), which hides most
// of the difference: on the CPU interpreter the logits come out identical. On the GPU an
// activation may round to the neighbouring f16 value and carry that through two layers: a few
// f16 ulps of the logits, well inside 1e-2 of max|logit|. Greedy tokens must all agree.
TEST(Decoder, F16BatchedPrefillAgreesWithTokenByToken) {
  test::for_each_backend([](Context& ctx) {
    for (const char* model : {"tiny-llama", "tiny-qwen3", "tiny-llama-mlx4"}) {
      SCOPED_TRACE(model);
      const Expected e = expected_of(fixture_dir(model));
      const ModelWeights w =
          load_weights(ctx, fixture_dir(model), LoadOptions{.dtype = DType::F16});
      const std::uint32_t n = std::uint32_t(e.tokens.size());
      // Both without the decode step's fusion, so that the steps round the norms and the
      // projections where prefill does and only the sum order differs (the fused step skips
      // those f16 roundings: 3e-3 of max|logit| from these, enough to flip a near-tie).
      Decoder tokens(ctx, w,
                     DecoderOptions{.max_seq = n, .batched_prefill = false, .fuse_decode = false});
      Decoder batched(ctx, w,
                      DecoderOptions{.max_seq = n, .prefill_chunk = 5, .fuse_decode = false});
      EXPECT_EQ(batched.prefill_chunk(), 5u);
      const std::size_t first = e.prompt_length - 1;
      const Agreement a =
          compare(run_sequence(batched, e.tokens, first), run_sequence(tokens, e.tokens, first));
      std::cout << "[ measured ] " << model << " f16 batched prefill: worst " << a.worst
                << " of max|logit|\n";
      EXPECT_LE(a.worst, 1e-2);
      EXPECT_EQ(a.same_top, a.positions);
    }
  });
}

// Quantised KV caches against the raw cache (f32 activations, so that only the cache's
// quantisation differs): the prompt prefilled in chunks of 3 into the quantised cache, then
// the continuation, teacher-forced, 9 positions with logits. What differs is each cached k and
// v element, by up to half a quantisation step: (max - min) / 510 of its group for int8,
// / 30 for int4 (17 times int8's), and the fp8 rounding, 2^-4 (e4m3) or 2^-3 (e5m2) of the
// element relative; carried through attention and two layers of these random models (whose
// groups are whole heads of 16 channels) to the logits. Measured worst |logit difference| /
// max|logit| over the four models: int8 0.010, int4 0.19 (about 17 times int8's: the error is
// the quantisation's), fp8 e4m3 0.065, e5m2 0.096. The bounds are about 1.5 times those.
// The top token must agree at every position for int8 and at most positions for the others
// (measured: at least 7 of 9 for int4, 8 of 9 for fp8), whose random logits have close
// runners-up.
TEST(Decoder, QuantisedKvCachesStayCloseToTheRawCache) {
  struct Case {
    KvFormat format;
    double bound;
    double agree;
  };
  const Case cases[] = {{KvFormat::Int8, 0.015, 1.0},
                        {KvFormat::Int4, 0.3, 0.66},
                        {KvFormat::Fp8E4M3, 0.1, 0.75},
                        {KvFormat::Fp8E5M2, 0.15, 0.75}};
  test::for_each_backend([&](Context& ctx) {
    for (const char* model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-mistral"}) {
      const Expected e = expected_of(fixture_dir(model));
      const ModelWeights w =
          load_weights(ctx, fixture_dir(model), LoadOptions{.dtype = DType::F32});
      const std::uint32_t n = std::uint32_t(e.tokens.size());
      const std::size_t first = e.prompt_length - 1;
      Decoder raw(ctx, w, DecoderOptions{.max_seq = n});
      const std::vector<std::vector<float>> reference = run_sequence(raw, e.tokens, first);
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string(model) + " --kv " + kv_format_name(c.format));
        Decoder q(ctx, w, DecoderOptions{.max_seq = n, .kv = c.format, .prefill_chunk = 3});
        const Agreement a = compare(run_sequence(q, e.tokens, first), reference);
        std::cout << "[ measured ] " << model << " --kv " << kv_format_name(c.format) << ": worst "
                  << a.worst << " of max|logit|, top token " << a.same_top << "/" << a.positions
                  << "\n";
        EXPECT_LE(a.worst, c.bound);
        EXPECT_GE(double(a.same_top), c.agree * double(a.positions));
      }
    }
  });
}

// The quantised cache's batched prefill against its token-by-token prefill (the same cache
// format both ways): the cache rows are quantised from k and v rows computed in a different
// summation order (gemv over 8 rows against 1), so a few codes may land one step apart; the
// logits stay within the int8 bound above, the graphs' replay equals launching each kernel.
TEST(Decoder, QuantisedKvBatchedPrefillAgreesWithTokenByToken) {
  test::for_each_backend([](Context& ctx) {
    const Expected e = expected_of(fixture_dir("tiny-qwen3"));
    const ModelWeights w =
        load_weights(ctx, fixture_dir("tiny-qwen3"), LoadOptions{.dtype = DType::F32});
    const std::uint32_t n = std::uint32_t(e.tokens.size());
    const std::size_t first = e.prompt_length - 1;
    Decoder tokens(ctx, w,
                   DecoderOptions{.max_seq = n, .kv = KvFormat::Int8, .batched_prefill = false});
    Decoder launches(
        ctx, w,
        DecoderOptions{
            .max_seq = n, .use_graphs = false, .kv = KvFormat::Int8, .batched_prefill = false});
    Decoder batched(ctx, w, DecoderOptions{.max_seq = n, .kv = KvFormat::Int8});
    const std::vector<std::vector<float>> by_token = run_sequence(tokens, e.tokens, first);
    EXPECT_EQ(run_sequence(launches, e.tokens, first), by_token);
    const Agreement a = compare(run_sequence(batched, e.tokens, first), by_token);
    std::cout << "[ measured ] int8 KV batched prefill against token by token: worst " << a.worst
              << " of max|logit|\n";
    EXPECT_LE(a.worst, 0.015);
    EXPECT_EQ(a.same_top, a.positions);
  });
}

// bf16 rounding moves a random model's logits by about 2 % of max|logit|: transformers' own bf16
// forward pass on the four check models differs from its f32 by 1.4-1.8 % (median position) and
// 1.9-2.4 % (worst), and its top token differs at 2-3 of 56 positions, all with an f32 lead
// under 1.5 %. Where the f32 top two are closer than kBf16TieMargin the top token may therefore
// differ without a defect; a top token that differs where the lead is larger is one.
constexpr double kBf16TieMargin = 0.03;

struct TopOneAgreement {
  std::size_t positions = 0, agree = 0, decisive_misses = 0;
  double largest_missed_lead = 0.0;  // of max|logit|, among the positions that differ
};

// Ours (positions from `first` on) against transformers' f32 logits, teacher-forced.
TopOneAgreement top_one_agreement(const std::vector<std::vector<float>>& got,
                                  const std::vector<float>& expected, std::size_t first,
                                  std::size_t vocab) {
  TopOneAgreement a;
  for (std::size_t p = first; p < first + got.size(); ++p) {
    const std::vector<float> want(expected.begin() + p * vocab, expected.begin() + (p + 1) * vocab);
    ++a.positions;
    const std::size_t top = argmax(want);
    if (argmax(got[p - first]) == top) {
      ++a.agree;
      continue;
    }
    float second = -std::numeric_limits<float>::infinity(), largest = 0.0f;
    for (std::size_t i = 0; i < vocab; ++i) {
      if (i != top) second = std::max(second, want[i]);
      largest = std::max(largest, std::fabs(want[i]));
    }
    const double lead = (double(want[top]) - double(second)) / double(largest);
    a.largest_missed_lead = std::max(a.largest_missed_lead, lead);
    if (lead > kBf16TieMargin) ++a.decisive_misses;
  }
  return a;
}

// Larger random models made on the GPU machine (bench/engine/make_check_models.py, run by
// scripts/engine-check.sh): every subdirectory of MT_ENGINE_MODELS, in f32 as above (token by
// token and with the prompt prefilled), and in bf16, where the teacher-forced top-1 token must
// agree with transformers' f32 wherever transformers' lead is beyond bf16's rounding
// (kBf16TieMargin) and at >= 90 % of all positions (token by token, and from the prompt's last
// position on after a batched prefill).
TEST(Decoder, MatchesTransformersOnModelsInTheEnvironment) {
  const char* root = std::getenv("MT_ENGINE_MODELS");
  if (root == nullptr || *root == 0) {
    GTEST_SKIP() << "MT_ENGINE_MODELS is not set (scripts/engine-check.sh sets it on the GPU "
                    "machine)";
  }
  // One backend: the GPU's where there is one. The interpreter runs the same code on the small
  // fixtures above; on these models it takes minutes of a GPU lease.
  Context ctx = test::available_contexts().back();
  std::cout << "[ backends ] ran on: " << backend_name(ctx.backend()) << std::endl;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const std::string dir = entry.path().string();
    const Expected e = expected_of(dir);
    expect_matches_transformers(ctx, dir, true);
    expect_matches_transformers(ctx, dir, true, e.prompt_length);
    const ModelWeights w = load_weights(ctx, dir, LoadOptions{.dtype = DType::BF16});
    const std::size_t vocab = w.config.vocab;
    // Token by token, and the prompt prefilled at once (bf16: the tensor-core GEMM).
    for (bool batched : {false, true}) {
      SCOPED_TRACE(dir + (batched ? " (bf16, batched prefill)" : " (bf16)"));
      Decoder decoder(
          ctx, w,
          DecoderOptions{.max_seq = std::uint32_t(e.tokens.size()), .batched_prefill = batched});
      const std::size_t first = batched ? e.prompt_length - 1 : 0;
      const std::vector<std::vector<float>> got = run_sequence(decoder, e.tokens, first);
      const TopOneAgreement a = top_one_agreement(got, e.logits, first, vocab);
      std::cout << "[ measured ] " << dir << (batched ? " bf16 batched" : " bf16") << ": top token "
                << a.agree << "/" << a.positions << ", largest f32 lead where they differ "
                << a.largest_missed_lead << " of max|logit|\n";
      EXPECT_GE(double(a.agree), 0.9 * double(a.positions));
      EXPECT_EQ(a.decisive_misses, 0u)
          << "positions where transformers' f32 top token leads by more than " << kBf16TieMargin
          << " of max|logit| and ours differs";
    }
  }
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
    // A prompt longer than the room left, or with a bad id, runs nothing.
    decoder.reset();
    const std::vector<std::uint32_t> three = {1, 2, 3}, bad = {1, 200};
    test::expect_mentions(test::error_of([&] { decoder.prefill(three); }),
                          {"3 prompt tokens", "2 of 2 positions left"});
    test::expect_mentions(test::error_of([&] { decoder.prefill(bad); }), {"token id 200"});
    EXPECT_EQ(decoder.position(), 0u);
    test::expect_mentions(
        test::error_of(
            [&] { Decoder(ctx, w, DecoderOptions{.kv = KvFormat::Int8, .kv_group_size = 24}); }),
        {"group of 24", "head_dim (16)"});
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
