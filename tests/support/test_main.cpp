// The main() of every test binary: runs the tests as gtest_main does, then tells ctest what
// happened. A binary whose tests all skipped (a GPU test without a GPU) exits with
// kSkipExitCode, which ctest reports as skipped ("Not Run", SKIP_RETURN_CODE in
// tests/CMakeLists.txt), never as passed. Every skipped test is listed on one line,
//   [ skip why ] Suite.Name: reason
// which scripts/test-summary.sh collects. A binary where some tests pass and others skip still
// passes (its passes are real) and says so; tests that skip on a machine without a GPU live in
// binaries of their own (tests/backends/cuda/cuda_backend_test.cpp) so this does not happen
// there.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

namespace {

constexpr int kSkipExitCode = 77;

// The first line of the message the test skipped with.
std::string skip_reason(const testing::TestResult& result) {
  for (int i = 0; i < result.total_part_count(); ++i) {
    const testing::TestPartResult& part = result.GetTestPartResult(i);
    if (!part.skipped()) continue;
    const std::string message = part.message();
    const std::string first_line = message.substr(0, message.find('\n'));
    return first_line.empty() ? "no reason given" : first_line;
  }
  return "no reason given";
}

void list_skipped(const testing::UnitTest& unit) {
  for (int s = 0; s < unit.total_test_suite_count(); ++s) {
    const testing::TestSuite& suite = *unit.GetTestSuite(s);
    for (int t = 0; t < suite.total_test_count(); ++t) {
      const testing::TestInfo& test = *suite.GetTestInfo(t);
      if (!test.should_run() || !test.result()->Skipped()) continue;
      std::cout << "[ skip why ] " << suite.name() << "." << test.name() << ": "
                << skip_reason(*test.result()) << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  const int skipped = unit.skipped_test_count(), passed = unit.successful_test_count();
  if (skipped == 0) return status;
  list_skipped(unit);
  if (status != 0) return status;
  if (passed == 0) {
    std::cout << "[ skip why ] every test of this binary skipped: ctest reports it as skipped"
              << std::endl;
    return kSkipExitCode;
  }
  std::cout << "[ skip why ] " << passed << " passed and " << skipped
            << " skipped: ctest reports this binary as passed" << std::endl;
  return status;
}
