// The CUDA backend against the host-memory fake driver (fake_driver.hpp), where there is no
// GPU: the scenarios of cuda_backend_test.cpp (NVRTC compiles for real; the fake runs the IR on
// the interpreter), plus what only a fake can observe: every call in range and in a current
// context, the exact wording of a checked access error (the interpreter's), the per-kernel
// thread limit, an unchecked fault, and every resource released. It checks the backend's
// plumbing, not the timing or ordering of a real device.
#include "fake_driver.hpp"

#include <gtest/gtest.h>

#include <string>

#include "backend_scenarios.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "registering_backend.hpp"
#include "support/nvrtc.hpp"

namespace mt::cuda {
namespace {

// Installed before anything asks for the driver (static initialisation of this binary).
const bool kInstalled = Driver::install_for_testing(fake::api(), 13000, "fake libcuda");
const cuda_scenarios::ScratchCacheDir kCacheDir;

cuda_scenarios::Made make_fake(bool checked) {
  CudaOptions options;
  options.checked = checked;
  std::shared_ptr<KernelBackend> backend =
      std::make_shared<fake::RegisteringBackend>(make_cuda_backend(options));
  return {backend, Context(backend)};
}

class FakeDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kInstalled) << "the driver was loaded before the fake could be installed";
    MT_REQUIRE_NVRTC();
    rejected_before_ = rejected();
  }
  // No test may make a call a real driver would refuse (a range outside every allocation, no
  // current context, a pageable copy in a capture, ...).
  void TearDown() override {
    const fake::State& s = fake::state();
    EXPECT_EQ(rejected(), rejected_before_)
        << "refused calls; the last: " << (s.rejections.empty() ? "" : s.rejections.back());
  }
  static long rejected() {
    const std::lock_guard<std::mutex> lock(fake::state().mutex);
    return fake::state().rejected;
  }

 private:
  long rejected_before_ = 0;
};

TEST_F(FakeDriver, DescriptionAndLimitsComeFromTheDevice) {
  const cuda_scenarios::Made m = make_fake(true);
  EXPECT_EQ(m.ctx.description(),
            "cuda MetalTile fake GPU (sm_90, 132 SMs, 80.0 GiB, NVRTC " + nvrtc_version() + ")");
  EXPECT_EQ(make_fake(false).ctx.description(),
            "cuda MetalTile fake GPU (sm_90, 132 SMs, 80.0 GiB, NVRTC " + nvrtc_version() +
                ", unchecked)");
  EXPECT_EQ(m.ctx.backend(), Backend::Cuda);
  EXPECT_EQ(m.ctx.limits().max_tpg[2], 64u);
  EXPECT_EQ(m.ctx.limits().max_grid[1], 65535u);
  EXPECT_EQ(m.ctx.limits().max_threadgroup_memory, 45056u);
  // Split-K attention and the GEMM's block choice size their grids with it: when it was left at
  // its default of 1, attention_decode ran one threadgroup per KV head on an H100.
  EXPECT_EQ(m.ctx.limits().multiprocessors, 132u);
  // With the fake installed, the default Context is the CUDA backend.
  EXPECT_EQ(Context::create(Backend::Cuda).backend(), Backend::Cuda);
}

TEST_F(FakeDriver, ResultsMatchTheInterpreter) {
  cuda_scenarios::results_match_interpreter(make_fake);
}

TEST_F(FakeDriver, SpecialisationEqualsRuntimeScalars) {
  cuda_scenarios::specialisation_equals_runtime_scalars(make_fake);
}

TEST_F(FakeDriver, CheckedAccessErrorIsWordedAsTheInterpreterWordsIt) {
  const std::string cuda = cuda_scenarios::access_error_then_good_launch(make_fake);
  BufferMap b{{"src", cuda_scenarios::f32_bytes(cuda_scenarios::source(40))},
              {"out", test::poisoned(cuda_scenarios::kLen, DType::F32)},
              {"n", test::le_bytes(std::uint32_t{cuda_scenarios::kLen})},
              {"scale", test::le_bytes(2.0f)}};
  const std::string cpu = cuda_scenarios::error_of([&] {
    Context::create(Backend::Cpu)
        .dispatch_with_grid(cuda_scenarios::scaler(), b, {}, cuda_scenarios::kGrid,
                            cuda_scenarios::kTpg);
  });
  EXPECT_EQ(cuda, cpu) << "error_from_record must rebuild the interpreter's message";
}

TEST_F(FakeDriver, UncheckedModeGivesTheSameResults) { cuda_scenarios::unchecked_mode(make_fake); }

TEST_F(FakeDriver, CompileCacheHitsMemoryThenDisk) {
  cuda_scenarios::compile_cache_hits(make_fake);
}

TEST_F(FakeDriver, DeviceResidentErrorsAtSynchronize) {
  cuda_scenarios::device_resident_errors_at_synchronize(make_fake);
}

TEST_F(FakeDriver, SynchronizeNamesTheFailingLaunch) {
  cuda_scenarios::failing_launch_is_named(make_fake);
}

TEST_F(FakeDriver, AFailureSurvivesMoreLaunchesThanErrorRecords) {
  cuda_scenarios::failure_survives_many_launches(make_fake, 4200);
}

TEST_F(FakeDriver, GraphCaptureAndReplay) { cuda_scenarios::graph_capture_and_replay(make_fake); }

// Kernels that wait for the prior kernel go through cuLaunchKernelEx with programmatic
// serialisation (the fake checks the attribute and that the kernel waits); with
// CudaOptions::kernel_overlap off, and for kernels that do not wait, cuLaunchKernel.
TEST_F(FakeDriver, KernelsThatWaitAreLaunchedToOverlap) {
  const auto overlapped = [] {
    const std::lock_guard<std::mutex> lock(fake::state().mutex);
    return fake::state().overlapped_launches;
  };
  long before = overlapped();
  cuda_scenarios::overlapping_chain(make_fake, 1000);
  EXPECT_EQ(overlapped() - before, 128) << "64 direct launches and 64 captured";

  before = overlapped();
  cuda_scenarios::graph_capture_and_replay(make_fake);  // kernels that do not wait
  EXPECT_EQ(overlapped(), before);

  const auto make_in_order = [](bool checked) {
    CudaOptions options;
    options.checked = checked;
    options.kernel_overlap = false;
    std::shared_ptr<KernelBackend> backend =
        std::make_shared<fake::RegisteringBackend>(make_cuda_backend(options));
    return cuda_scenarios::Made{backend, Context(backend)};
  };
  cuda_scenarios::overlapping_chain(make_in_order, 1000);
  EXPECT_EQ(overlapped(), before) << "kernel_overlap = false";
}

TEST_F(FakeDriver, CopiesAndEvents) { cuda_scenarios::copies_and_events(make_fake); }

TEST_F(FakeDriver, ConcurrentLaunches) { cuda_scenarios::concurrent_launches(make_fake); }

TEST_F(FakeDriver, ThreadgroupsLargerThanTheKernelAllowsAreRefused) {
  {
    const std::lock_guard<std::mutex> lock(fake::state().mutex);
    fake::state().max_threads = 64;  // as if the kernel used many registers
  }
  const cuda_scenarios::Made m = make_fake(true);
  const Kernel k = cuda_scenarios::elementwise("heavy", [](Val a, Val c) { return a * c; });
  BufferMap b{{"src", cuda_scenarios::f32_bytes(cuda_scenarios::source(cuda_scenarios::kLen))},
              {"out", test::poisoned(cuda_scenarios::kLen, DType::F32)},
              {"n", test::le_bytes(std::uint32_t{cuda_scenarios::kLen})},
              {"c", test::le_bytes(3.0f)}};
  const std::string message = cuda_scenarios::error_of([&] {
    m.ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {128, 1, 1});
  });
  {
    const std::lock_guard<std::mutex> lock(fake::state().mutex);
    fake::state().max_threads = 1024;
  }
  EXPECT_TRUE(cuda_scenarios::mentions(message, "kernel 'heavy': tpg (128,1,1) is 128 threads"))
      << message;
  EXPECT_TRUE(cuda_scenarios::mentions(message, "at most 64 per threadgroup")) << message;
  EXPECT_NO_THROW(m.ctx.dispatch_with_grid(k, b, {}, {2, 1, 1}, {64, 1, 1}));
}

TEST_F(FakeDriver, AnUncheckedFaultNamesTheKernels) {
  const cuda_scenarios::Made m = make_fake(false);
  BufferMap b{{"src", cuda_scenarios::f32_bytes(cuda_scenarios::source(40))},
              {"out", test::poisoned(cuda_scenarios::kLen, DType::F32)},
              {"n", test::le_bytes(std::uint32_t{cuda_scenarios::kLen})},
              {"scale", test::le_bytes(2.0f)}};
  std::string message = cuda_scenarios::error_of([&] {
    m.ctx.dispatch_with_grid(cuda_scenarios::scaler(), b, {}, cuda_scenarios::kGrid,
                             cuda_scenarios::kTpg);
  });
  EXPECT_TRUE(cuda_scenarios::mentions(
      message, "kernel 'scaler': cuStreamSynchronize failed (CUDA_ERROR_ILLEGAL_ADDRESS"))
      << message;

  const PreparedKernel k = m.ctx.prepare(cuda_scenarios::scaler());
  const mt::Stream stream = m.ctx.create_stream();
  const DeviceBuffer src = m.ctx.upload(cuda_scenarios::f32_bytes(cuda_scenarios::source(40)));
  const DeviceBuffer out = m.ctx.allocate(cuda_scenarios::kLen * 4);
  m.ctx.launch(
      k, {{"src", src}, {"out", out}, {"n", std::uint32_t{cuda_scenarios::kLen}}, {"scale", 1.0f}},
      cuda_scenarios::kGrid, cuda_scenarios::kTpg, stream);
  message = cuda_scenarios::error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(
      cuda_scenarios::mentions(message, "cuStreamSynchronize failed (CUDA_ERROR_ILLEGAL_ADDRESS"))
      << message;
  EXPECT_TRUE(cuda_scenarios::mentions(message, "after launches of kernel 'scaler'")) << message;
}

TEST_F(FakeDriver, EveryResourceIsReleased) {
  const auto counts = [] {
    const std::lock_guard<std::mutex> lock(fake::state().mutex);
    const fake::State& s = fake::state();
    return std::array<std::size_t, 6>{s.allocations.size(), s.modules.size(), s.streams.size(),
                                      s.events.size(),      s.graphs.size(),  s.execs.size()};
  };
  const std::array<std::size_t, 6> before = counts();
  {
    // A Context, its prepared kernels, buffers, streams, graphs and events, used and dropped.
    cuda_scenarios::graph_capture_and_replay(make_fake);
    cuda_scenarios::copies_and_events(make_fake);
    cuda_scenarios::concurrent_launches(make_fake);
  }
  EXPECT_EQ(counts(), before) << "allocations, modules, streams, events, graphs, executable graphs";
}

}  // namespace
}  // namespace mt::cuda
