// The test binaries' main (tests/support/test_main.cpp) as ctest sees it: this binary runs
// itself on its disabled probe tests and checks the exit status and the "[ skip why ]" lines.
// All skipped: 77, which ctest reports as skipped; passes beside skips: 0, with a note;
// a failure beside skips: 1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "support/process.hpp"

namespace {

using mt::test::contains;

// Probes, run only by the child (--gtest_also_run_disabled_tests).
TEST(SkipProbe, DISABLED_Skips) { GTEST_SKIP() << "the probe's reason\nsecond line"; }
TEST(SkipProbe, DISABLED_SkipsToo) { GTEST_SKIP() << "another reason"; }
TEST(SkipProbe, DISABLED_Passes) { EXPECT_EQ(1 + 1, 2); }
TEST(SkipProbe, DISABLED_Fails) { ADD_FAILURE() << "the probe fails"; }

mt::test::CommandResult run_probes(const std::string& filter) {
  return mt::test::run_command("/proc/" + std::to_string(getpid()) +
                               "/exe --gtest_also_run_disabled_tests --gtest_filter='SkipProbe." +
                               filter + "' 2>&1");
}

TEST(TestMain, ABinaryWhoseTestsAllSkipExitsWithCtestsSkipCode) {
  const mt::test::CommandResult r = run_probes("DISABLED_Skips*");
  EXPECT_EQ(r.status, 77) << r.output;
  EXPECT_TRUE(contains(r.output, "[ skip why ] SkipProbe.DISABLED_Skips: the probe's reason\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "[ skip why ] SkipProbe.DISABLED_SkipsToo: another reason\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "every test of this binary skipped")) << r.output;
}

TEST(TestMain, PassesBesideSkipsPassAndSaySo) {
  const mt::test::CommandResult r = run_probes("DISABLED_Skips:SkipProbe.DISABLED_Passes");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[ skip why ] SkipProbe.DISABLED_Skips: the probe's reason"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "1 passed and 1 skipped")) << r.output;
}

TEST(TestMain, AFailureBesideSkipsFails) {
  const mt::test::CommandResult r = run_probes("DISABLED_Skips:SkipProbe.DISABLED_Fails");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "[ skip why ] SkipProbe.DISABLED_Skips")) << r.output;
}

TEST(TestMain, NoSkipsNoNote) {
  const mt::test::CommandResult r = run_probes("DISABLED_Passes");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "[ skip why ]")) << r.output;
}

}  // namespace
