// config.json parsing: the fixtures transformers wrote for each architecture, the older
// rope_theta / rope_scaling spelling, the MLX quantization block, and each error.
#include "metaltile/engine/config.hpp"

#include <gtest/gtest.h>

#include "metaltile/core/error.hpp"
#include "support/errors.hpp"

namespace mt::engine {
namespace {

namespace rope = kernels::ffai::rope;

const std::string kFixtures = std::string(MT_TESTS_DIR) + "/engine/fixtures";

TEST(Config, ReadsEachArchitectureFromTransformersFiles) {
  const ModelConfig llama = read_config(kFixtures + "/tiny-llama");
  EXPECT_EQ(llama.arch, Architecture::Llama);
  EXPECT_EQ(llama.hidden, 64u);
  EXPECT_EQ(llama.intermediate, 96u);
  EXPECT_EQ(llama.layers, 2u);
  EXPECT_EQ(llama.q_heads, 4u);
  EXPECT_EQ(llama.kv_heads, 2u);
  EXPECT_EQ(llama.head_dim, 16u);
  EXPECT_EQ(llama.vocab, 128u);
  EXPECT_FLOAT_EQ(llama.rms_eps, 1e-5f);
  EXPECT_FALSE(llama.tied_embeddings);
  EXPECT_EQ(llama.rope.type, rope::RopeType::Llama3);
  EXPECT_EQ(llama.rope.theta, 500000.0);
  EXPECT_EQ(llama.rope.factor, 8.0);
  EXPECT_EQ(llama.rope.original_max_position_embeddings, 16.0);
  EXPECT_EQ(llama.bos_token, 1u);
  EXPECT_EQ(llama.eos_tokens, (std::vector<std::uint32_t>{2}));
  EXPECT_FALSE(llama.quantization.has_value());

  const ModelConfig qwen2 = read_config(kFixtures + "/tiny-qwen2");
  EXPECT_EQ(qwen2.arch, Architecture::Qwen2);
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_TRUE(qwen2.tied_embeddings);
  EXPECT_EQ(qwen2.rope.theta, 1000000.0);

  const ModelConfig qwen3 = read_config(kFixtures + "/tiny-qwen3");
  EXPECT_EQ(qwen3.arch, Architecture::Qwen3);
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.qkv_bias);

  const ModelConfig mistral = read_config(kFixtures + "/tiny-mistral");
  EXPECT_EQ(mistral.arch, Architecture::Mistral);
  EXPECT_EQ(mistral.sliding_window, 6u);

  const ModelConfig mlx = read_config(kFixtures + "/tiny-llama-mlx4");
  ASSERT_TRUE(mlx.quantization.has_value());
  EXPECT_EQ(mlx.quantization->group_size, 32u);
  EXPECT_EQ(mlx.quantization->bits, 4u);
}

TEST(Config, OlderRopeFieldsAndListsOfEosIds) {
  const ModelConfig c = parse_config(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 8192,
    "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 128256, "rope_theta": 500000.0, "tie_word_embeddings": true,
    "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})",
                                     "llama-3.2-1b");
  EXPECT_EQ(c.head_dim, 64u);  // hidden / heads when absent
  EXPECT_EQ(c.rope.type, rope::RopeType::Llama3);
  EXPECT_EQ(c.rope.theta, 500000.0);
  EXPECT_EQ(c.rope.factor, 32.0);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.eos_tokens, (std::vector<std::uint32_t>{128001, 128008, 128009}));
}

TEST(Config, ErrorsNameTheProblem) {
  const std::string base = R"("hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
      "vocab_size": 128)";
  test::expect_mentions(
      test::error_of([&] {
        parse_config(
            R"({"architectures": ["GPT2LMHeadModel"], "num_attention_heads": 4, )" + base + "}",
            "gpt2/config.json");
      }),
      {"gpt2/config.json", "GPT2LMHeadModel", "not supported", "LlamaForCausalLM"});
  test::expect_mentions(
      test::error_of(
          [&] { parse_config(R"({"architectures": ["LlamaForCausalLM"], )" + base + "}", "x"); }),
      {"missing field", "num_attention_heads"});
  test::expect_mentions(test::error_of([&] {
                          parse_config(
                              R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 4,
                         "num_key_value_heads": 3, )" +
                                  base + "}",
                              "x");
                        }),
                        {"num_attention_heads (4)", "num_key_value_heads (3)"});
  test::expect_mentions(
      test::error_of([&] {
        parse_config(
            R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 0, )" + base + "}",
            "x");
      }),
      {"num_attention_heads", "positive"});
  test::expect_mentions(test::error_of([&] {
                          parse_config(
                              R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 4,
                         "rope_scaling": {"type": "dynamic", "factor": 2.0}, )" +
                                  base + "}",
                              "x");
                        }),
                        {"rope type", "dynamic"});
  test::expect_mentions(test::error_of([&] { read_config(kFixtures + "/nowhere"); }),
                        {"nowhere", "config.json"});
}

}  // namespace
}  // namespace mt::engine
