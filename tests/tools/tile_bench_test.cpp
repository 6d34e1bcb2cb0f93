// tile bench as a user runs it, on the backend ctest runs with (the smoke shapes on the CPU):
// the table, the JSON results, the case list for bench/references.py, the comparison with a
// saved run, the join with reference timings, the roofline SVG, and the usage errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "support/process.hpp"

namespace {

using mt::test::CommandResult;
using mt::test::contains;

CommandResult tile(const std::string& args) { return mt::test::run_tile(args); }

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "tile_bench_test_" + name;
}

TEST(TileBench, MeasuresChosenKernelsAndWritesJsonAndRoofline) {
  const std::string json = temp_path("run.json"), svg = temp_path("run.svg");
  const CommandResult r =
      tile("bench row_sum mlx::rows --runs 2 --json " + json + " --plot " + svg);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* part : {"copy", "row_sum", "softmax", "rms_norm", "GB/s", "copy%"}) {
    EXPECT_TRUE(contains(r.output, part)) << part << " missing:\n" << r.output;
  }
  EXPECT_FALSE(contains(r.output, "bulk_dequant")) << "only the chosen kernels";
  const std::string results = read(json);
  for (const char* part : {"\"results\"", "\"kernel\": \"row_sum\"", "\"kernel\": \"softmax\"",
                           "\"median_us\"", "\"copy_gbps\"", "\"gbps\""}) {
    EXPECT_TRUE(contains(results, part)) << part << " missing:\n" << results;
  }
  const std::string picture = read(svg);
  EXPECT_TRUE(picture.starts_with("<svg")) << picture.substr(0, 200);
  EXPECT_TRUE(contains(picture, "row_sum")) << "each case is a labelled point";
  EXPECT_TRUE(contains(picture, "copy")) << "the copy-bandwidth roof";
}

TEST(TileBench, ListsCasesForTheReferenceScript) {
  const std::string cases = temp_path("cases.json");
  const CommandResult r = tile("bench --list-cases " + cases + " ffai::kv_cache");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string text = read(cases);
  for (const char* part :
       {"\"cases\"", "\"kernel\": \"quantize_kv_int4\"", "\"tensors\"", "\"scalars\"",
        "\"head_dim\": 128", "\"max_seq\": 32768", "\"kind\": \"iota\""}) {
    EXPECT_TRUE(contains(text, part)) << part << " missing:\n" << text.substr(0, 2000);
  }
  EXPECT_FALSE(contains(text, "softmax")) << "only the chosen family";
}

TEST(TileBench, ComparesWithASavedRunAndJoinsReferences) {
  const std::string base = temp_path("base.json"), refs = temp_path("refs.json");
  ASSERT_EQ(tile("bench row_max --smoke --runs 2 --json " + base).status, 0);
  {
    std::ofstream out(refs);
    out << R"({"device": "test", "peaks": {"copy_gbps": 3000, "bf16_matmul_tflops": 700},
      "results": [{"kernel": "row_max", "label": "16 x 256", "dtype": "f32",
                   "reference": "torch eager", "median_us": 1e9, "p10_us": 1e9, "p90_us": 1e9}]})";
  }
  const CommandResult r =
      tile("bench row_max --smoke --runs 2 --compare " + base + " --references " + refs);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "compared with")) << r.output;
  EXPECT_TRUE(contains(r.output, "beyond the noise")) << r.output;
  EXPECT_TRUE(contains(r.output, "torch eager")) << r.output;
  EXPECT_TRUE(contains(r.output, "speed-up")) << r.output;
}

TEST(TileBench, ShowsASavedRunWithoutMeasuring) {
  const std::string saved = temp_path("saved.json"), svg = temp_path("saved.svg");
  ASSERT_EQ(tile("bench row_max row_sum --smoke --runs 2 --json " + saved).status, 0);
  const CommandResult r = tile("bench --from " + saved + " row_sum --plot " + svg);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "row_sum")) << r.output;
  EXPECT_FALSE(contains(r.output, "row_max")) << "only the chosen kernels:\n" << r.output;
  EXPECT_FALSE(contains(r.output, "measuring")) << "nothing is measured:\n" << r.output;
  EXPECT_TRUE(read(svg).starts_with("<svg"));
  const CommandResult missing = tile("bench --from /nonexistent/run.json");
  EXPECT_NE(missing.status, 0) << missing.output;
  EXPECT_TRUE(contains(missing.output, "/nonexistent/run.json")) << missing.output;
}

TEST(TileBench, UsageErrorsAreReportedWithAStatus) {
  const CommandResult unknown = tile("bench no_such_kernel");
  EXPECT_EQ(unknown.status, 2) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "no_such_kernel")) << unknown.output;
  const CommandResult option = tile("bench --no-such-option");
  EXPECT_EQ(option.status, 2) << option.output;
  const CommandResult dtype = tile("bench row_sum --dtype f99");
  EXPECT_EQ(dtype.status, 2) << dtype.output;
  const CommandResult specialise = tile("bench row_sum --specialise n");
  EXPECT_EQ(specialise.status, 2) << specialise.output;
  const CommandResult missing = tile("bench row_sum --compare /nonexistent/base.json --runs 1");
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "/nonexistent/base.json")) << missing.output;
}

// The smoke shape (n = 256) on every backend: a GPU's full shape has another n, which a
// specialised n = 256 contradicts.
TEST(TileBench, SpecialisedScalarsGiveTheSameCases) {
  const CommandResult r = tile("bench row_sum --smoke --runs 2 --specialise n=256");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "row_sum")) << r.output;
  EXPECT_FALSE(contains(r.output, "failed")) << r.output;
  const CommandResult contradicted = tile("bench row_sum --smoke --runs 2 --specialise n=128");
  EXPECT_NE(contradicted.status, 0) << contradicted.output;
  EXPECT_TRUE(contains(contradicted.output, "1 case failed")) << contradicted.output;
}

}  // namespace
