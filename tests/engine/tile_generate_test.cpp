// `tile generate` as a user runs it (the binary in MT_TILE): greedy generation from the tiny
// Llama fixture gives transformers' greedy tokens, the summary line and the JSON report; a
// random model runs; mistakes are usage errors (exit 2) or mt::Errors (exit 1) saying why.
#include <gtest/gtest.h>

#include <filesystem>

#include "metaltile/engine/json.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = mt::engine::json;

const std::string kFixtures = std::string(MT_TESTS_DIR) + "/engine/fixtures";

TEST(TileGenerate, GreedyTokensMatchTransformers) {
  const fs::path out = fs::temp_directory_path() / "mt_tile_generate_test.json";
  const mt::test::CommandResult r = mt::test::run_command(
      mt::test::tile_binary() + " generate " + kFixtures +
      "/tiny-llama --prompt-ids 1,17,42,99,5,63,120,7 --max-tokens 8 --dtype f32 --json " +
      out.string() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  // fixtures/tiny-llama/expected.safetensors: transformers' greedy continuation.
  EXPECT_NE(r.output.find("120 94 120 94 31 30 94 85"), std::string::npos) << r.output;
  for (const char* part : {"prompt 8 tokens", "prefill", "chunks of up to 16",
                           "time to first token", "decode 7 tokens", "tokens/s", "ms/token"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << part << " in " << r.output;
  }
  const json::Value report = json::read_file(out.string());
  EXPECT_EQ(report.at("decode_tokens").number(), 7);
  EXPECT_EQ(report.at("tokens").array().size(), 8u);
  EXPECT_EQ(report.at("tokens").array()[7].number(), 85);
  EXPECT_GT(report.at("tokens_per_s").number(), 0);
  EXPECT_GT(report.at("prefill_ms").number(), 0);
  EXPECT_EQ(report.at("kv").string(), "f16");
  // tiny-llama has 2 layers: embedding, 5 launches a layer, the fused head, step_positions.
  EXPECT_EQ(report.at("step_launches").number(), 13);
  fs::remove(out);
}

// The prompt token by token, and an int8 KV cache: the same greedy tokens on this model.
TEST(TileGenerate, TokenByTokenPrefillAndInt8KvCache) {
  for (const char* options : {"--prefill tokens", "--kv int8"}) {
    SCOPED_TRACE(options);
    const mt::test::CommandResult r = mt::test::run_command(
        mt::test::tile_binary() + " generate " + kFixtures +
        "/tiny-llama --prompt-ids 1,17,42,99,5,63,120,7 --max-tokens 8 --dtype f32 " + options +
        " 2>&1");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("120 94 120 94 31 30 94 85"), std::string::npos) << r.output;
    const std::string mention = std::string(options) == "--kv int8" ? "int8 KV" : "prefill";
    EXPECT_NE(r.output.find(mention), std::string::npos) << r.output;
  }
}

TEST(TileGenerate, RandomModelsRun) {
  const mt::test::CommandResult r = mt::test::run_command(
      mt::test::tile_binary() +
      " generate --random tiny --max-tokens 4 --dtype f32 --temperature 0.7 --seed 5 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("decode 3 tokens"), std::string::npos) << r.output;
}

TEST(TileGenerate, MistakesSayWhy) {
  const std::string tile = mt::test::tile_binary();
  struct Case {
    std::string args;
    int status;
    std::string mention;
  };
  const std::vector<Case> cases = {
      {"generate --max-tokens 3", 2, "MODEL_DIR"},
      {"generate --random gpt-5", 1, "llama-3.1-8b"},
      {"generate --random tiny --kv int3", 2, "int3"},
      {"generate --random tiny --prefill all", 2, "--prefill"},
      {"generate --random tiny --prompt hello", 1, "--prompt-ids"},
      {"generate --random tiny --prompt-ids 1,x", 2, "--prompt-ids"},
      {"generate --random tiny --prompt-ids 1000 --dtype f32", 1, "outside the vocabulary"},
      {"generate " + kFixtures + "/nowhere", 1, "nowhere"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const mt::test::CommandResult r = mt::test::run_command(tile + " " + c.args + " 2>&1");
    EXPECT_EQ(r.status, c.status) << r.output;
    EXPECT_NE(r.output.find(c.mention), std::string::npos) << r.output;
  }
}

}  // namespace
