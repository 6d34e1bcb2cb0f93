// Differential fuzzing of the pass pipeline: generated programs (fuzz/generator.hpp) run on
// the interpreter before and after specialise_scalars + passes::optimise must produce the same
// bits. A mismatch prints the seed, the IR before and after the passes, the differing elements
// and a minimised reproducer; `metaltile_fuzz --seed S --count 1` regenerates the program.
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <string>

#include "fuzz/differential.hpp"
#include "fuzz/generator.hpp"

namespace mt::fuzz {
namespace {

constexpr int kReported = 3;  // findings minimised and printed in full; the rest are counted

// Checks `count` programs from consecutive seeds; fails with a report per finding kind.
void expect_pipeline_agrees(std::uint64_t first_seed, int count, const GenOptions& options) {
  std::map<std::string, int> kinds;
  int reported = 0;
  std::size_t instructions = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    const FuzzProgram p = generate(seed, options);
    instructions += p.instruction_count();
    const Comparison c = check_pipeline(p);
    if (c.agree()) continue;
    if (kinds[c.kind]++ > 0 || reported++ >= kReported) continue;
    const FuzzProgram small = minimise_finding(p, c.kind, check_pipeline, 2000);
    const Comparison small_c = check_pipeline(small);
    ADD_FAILURE() << finding_report(p, c, &small, &small_c);
  }
  std::cout << count << " programs from seed " << first_seed << ", " << instructions
            << " instructions\n";
  for (const auto& [kind, n] : kinds) std::cout << n << " x " << kind << "\n";
  EXPECT_TRUE(kinds.empty()) << "see the reports above";
}

TEST(PipelineFuzz, OptimisedProgramsComputeTheSameBits) {
  expect_pipeline_agrees(1, 800, GenOptions{.profile = Profile::Exact});
}

// The programs the GPU run checks (approx outputs, canonical NaNs before bitcasts, unused
// atomic results) go through the same passes.
TEST(PipelineFuzz, GpuProfileProgramsToo) {
  expect_pipeline_agrees(1'000'001, 200, GenOptions{.profile = Profile::Gpu});
}

}  // namespace
}  // namespace mt::fuzz
