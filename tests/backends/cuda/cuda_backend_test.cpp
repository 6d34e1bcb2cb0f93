// The CUDA backend on a real GPU: results equal to the interpreter, a checked access error then
// a good launch, unchecked mode, compile-cache hits, specialisation, the device-resident API,
// graphs, copies, events and concurrent launches (backend_scenarios.hpp), plus the metadata of
// a loaded module and the wording of driver errors. Runs only where
// Context::create(Backend::Cuda) works; elsewhere every test prints "SKIPPED: no CUDA device
// (reason)" and is skipped, and so is the binary: ctest reports it as skipped, not passed
// (fake_driver_test.cpp runs the same scenarios on a fake driver there). Tests that run
// without a GPU belong in other binaries, or they would hide among these skips.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "backend_scenarios.hpp"
#include "backends/cuda/cuda_launch.hpp"
#include "backends/cuda/driver.hpp"
#include "runtime/backend_choice.hpp"

namespace mt::cuda {
namespace {

const cuda_scenarios::ScratchCacheDir kCacheDir;

// Why the CUDA backend cannot be made here ("" when it can).
const std::string& cuda_missing() {
  static const std::string why = [] {
    std::string reason;
    try {
      if (try_make_cuda_backend(&reason) != nullptr) return std::string();
    } catch (const Error& e) {
      reason = e.what();
    }
    return reason.empty() ? std::string("unknown reason") : reason;
  }();
  return why;
}

cuda_scenarios::Made make_real(bool checked) {
  CudaOptions options;
  options.checked = checked;
  std::shared_ptr<KernelBackend> backend = make_cuda_backend(options);
  return {backend, Context(backend)};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

#define MT_REQUIRE_GPU()                                                                        \
  if (!cuda_missing().empty()) {                                                                \
    std::cout << "\n*** SKIPPED: no CUDA device (" << cuda_missing() << ") ***\n" << std::endl; \
    GTEST_SKIP() << "no CUDA device (" << cuda_missing() << ")";                                \
  }

TEST(CudaBackend, ResultsMatchTheInterpreter) {
  MT_REQUIRE_GPU();
  std::cout << "[ cuda ] " << make_real(true).ctx.description() << std::endl;
  cuda_scenarios::results_match_interpreter(make_real);
}

TEST(CudaBackend, SpecialisationEqualsRuntimeScalars) {
  MT_REQUIRE_GPU();
  cuda_scenarios::specialisation_equals_runtime_scalars(make_real);
}

TEST(CudaBackend, CheckedAccessErrorThenAGoodLaunch) {
  MT_REQUIRE_GPU();
  std::cout << "  error: " << cuda_scenarios::access_error_then_good_launch(make_real) << std::endl;
}

TEST(CudaBackend, UncheckedModeGivesTheSameResults) {
  MT_REQUIRE_GPU();
  cuda_scenarios::unchecked_mode(make_real);
}

TEST(CudaBackend, CompileCacheHitsMemoryThenDisk) {
  MT_REQUIRE_GPU();
  cuda_scenarios::compile_cache_hits(make_real);
}

TEST(CudaBackend, DeviceResidentErrorsAtSynchronize) {
  MT_REQUIRE_GPU();
  cuda_scenarios::device_resident_errors_at_synchronize(make_real);
}

TEST(CudaBackend, SynchronizeNamesTheFailingLaunch) {
  MT_REQUIRE_GPU();
  cuda_scenarios::failing_launch_is_named(make_real);
}

TEST(CudaBackend, AFailureSurvivesMoreLaunchesThanErrorRecords) {
  MT_REQUIRE_GPU();
  cuda_scenarios::failure_survives_many_launches(make_real, 4200);
}

TEST(CudaBackend, GraphCaptureAndReplay) {
  MT_REQUIRE_GPU();
  cuda_scenarios::graph_capture_and_replay(make_real);
}

TEST(CudaBackend, OverlappingLaunchesWaitForThePriorKernel) {
  MT_REQUIRE_GPU();
  cuda_scenarios::overlapping_chain(make_real, 1u << 20);
}

TEST(CudaBackend, CopiesAndEvents) {
  MT_REQUIRE_GPU();
  cuda_scenarios::copies_and_events(make_real);
}

TEST(CudaBackend, ConcurrentLaunches) {
  MT_REQUIRE_GPU();
  cuda_scenarios::concurrent_launches(make_real);
}

TEST(CudaBackend, ModuleMetadataIsRecorded) {
  MT_REQUIRE_GPU();
  cuda_scenarios::Made m = make_real(true);
  const std::shared_ptr<const Executable> exe =
      m.backend->compile(passes::optimise(build_kernel("quantize_kv_int4", DType::F16)));
  const Module& module = cuda_executable(*exe).module();
  std::cout << "  quantize_kv_int4 f16: " << module.registers() << " registers, "
            << module.local_bytes() << " local bytes, " << module.max_threads() << " max threads"
            << std::endl;
  EXPECT_GT(module.registers(), 0);
  EXPECT_GE(module.local_bytes(), 0);
  EXPECT_GE(module.max_threads(), 128);
  EXPECT_LE(module.max_threads(), 1024);
}

// Needs the real driver: the wording every failed driver call is reported in.
TEST(DriverCheck, NamesTheCallTheResultAndTheKernel) {
  MT_REQUIRE_GPU();
  const Driver* driver = &Driver::get();
  EXPECT_NO_THROW(driver->check(kCudaSuccess, "cuLaunchKernel", "k"));
  constexpr CuResult kInvalidValue = 1;
  try {
    driver->check(kInvalidValue, "cuLaunchKernel", "scaler");
    ADD_FAILURE() << "check did not throw";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, "kernel 'scaler': cuLaunchKernel failed (CUDA_ERROR_INVALID_VALUE"))
        << m;
  }
  try {
    driver->check(kInvalidValue, "cuMemAlloc");
    ADD_FAILURE() << "check did not throw";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "cuda: cuMemAlloc failed (CUDA_ERROR_INVALID_VALUE"))
        << e.what();
  }
  EXPECT_GE(driver->version(), 12000);
}

}  // namespace
}  // namespace mt::cuda
