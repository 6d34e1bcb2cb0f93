// The CUDA driver loader and the backend probe, on any machine: a missing library, a library
// that lacks the entry points, the toolkit's stub libcuda (every versioned symbol resolves, then
// cuInit fails with a named error), the reason the backend is unavailable, MT_CUDA_CHECKED, and
// the device description where a GPU is usable. The wording of check() needs the real driver:
// it is tested in cuda_backend_test.cpp, whose tests all need a GPU.
#include "backends/cuda/driver.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/runtime/context.hpp"
#include "runtime/backend_choice.hpp"

namespace mt::cuda {
namespace {

std::string load_error(const std::vector<std::string>& candidates) {
  try {
    Driver::load(candidates);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "Driver::load succeeded with " << candidates.front();
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The stub libcuda.so the CUDA toolkit ships for linking: it exports every entry point, and
// each returns CUDA_ERROR_STUB_LIBRARY.
std::string stub_library() {
  std::vector<std::string> roots;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') roots.emplace_back(v);
  }
  roots.emplace_back("/usr/local/cuda");
  for (const std::string& root : roots) {
    const std::filesystem::path stub = std::filesystem::path(root) / "lib64/stubs/libcuda.so";
    std::error_code ec;
    if (std::filesystem::is_regular_file(stub, ec)) return stub.string();
  }
  return {};
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    had_ = std::getenv(name) != nullptr;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(DriverLoad, AMissingLibraryIsAnErrorNamingEveryCandidate) {
  const std::string message = load_error({"/nonexistent/libcuda.so.1", "libmt_no_such_cuda.so"});
  EXPECT_TRUE(contains(message, "cannot load the CUDA driver")) << message;
  EXPECT_TRUE(contains(message, "/nonexistent/libcuda.so.1")) << message;
  EXPECT_TRUE(contains(message, "libmt_no_such_cuda.so")) << message;
}

TEST(DriverLoad, ALibraryWithoutTheEntryPointsNamesTheMissingSymbol) {
  const std::string message = load_error({"libm.so.6"});
  EXPECT_TRUE(contains(message, "lacks cuInit")) << message;
  EXPECT_TRUE(contains(message, "libm.so.6")) << message;
}

TEST(DriverLoad, TheStubLibraryResolvesEverySymbolThenCuInitFailsByName) {
  const std::string stub = stub_library();
  if (stub.empty()) {
    std::cout << "\n*** SKIPPED: no CUDA toolkit stub libcuda.so (lib64/stubs) to load ***\n\n";
    GTEST_SKIP() << "no stub libcuda.so under $CUDA_HOME, $CUDA_PATH or /usr/local/cuda";
  }
  // Every versioned name (cuMemAlloc_v2, cuStreamBeginCapture_v2, cuGraphInstantiateWithFlags,
  // ...) is resolved before cuInit runs, so reaching cuInit proves they all exist.
  const std::string message = load_error({stub});
  EXPECT_TRUE(contains(message, "cuInit failed (CUDA_ERROR_STUB_LIBRARY")) << message;
  EXPECT_FALSE(contains(message, "lacks")) << message;
}

TEST(DriverLoad, ArchitectureNames) {
  EXPECT_EQ(arch_name(9, 0), "sm_90");
  EXPECT_EQ(arch_name(8, 6), "sm_86");
  EXPECT_EQ(arch_name(12, 0), "sm_120");
}

// Here the lead's GPU machine and CI differ: both outcomes are checked, and the output says which.
TEST(BackendProbe, EitherABackendOrAReason) {
  std::string why;
  std::unique_ptr<KernelBackend> backend = try_make_cuda_backend(&why);
  if (backend == nullptr) {
    std::cout << "[ cuda ] unavailable: " << why << std::endl;
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(contains(why, "cuda")) << why;
    // Context::create() then falls back to the interpreter (unless MT_BACKEND says otherwise).
    const char* forced = std::getenv("MT_BACKEND");
    if (forced == nullptr || *forced == '\0') {
      EXPECT_EQ(Context::create().backend(), Backend::Cpu);
    }
    try {
      Context::create(Backend::Cuda);
      ADD_FAILURE() << "Context::create(Backend::Cuda) succeeded without a usable GPU";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), why)) << e.what();
    }
    return;
  }
  std::cout << "[ cuda ] " << backend->description() << std::endl;
  EXPECT_EQ(backend->kind(), Backend::Cuda);
  EXPECT_TRUE(contains(backend->description(), "cuda ")) << backend->description();
  EXPECT_TRUE(contains(backend->description(), " SMs")) << backend->description();
  EXPECT_TRUE(contains(backend->description(), "NVRTC ")) << backend->description();
  const DeviceLimits limits = backend->limits();
  EXPECT_GE(limits.max_threads_per_threadgroup, 256u);
  EXPECT_GE(limits.max_grid[0], 65535u);
  // Shared memory with the opt-in past 48 KiB: 99 KiB (sm_86) to 227 KiB (sm_90).
  EXPECT_GE(limits.max_threadgroup_memory, 99u * 1024);
}

TEST(BackendProbe, CheckedModeComesFromTheEnvironment) {
  {
    const ScopedEnv unset("MT_CUDA_CHECKED", nullptr);
    EXPECT_TRUE(cuda_options_from_env().checked);
  }
  {
    const ScopedEnv on("MT_CUDA_CHECKED", "1");
    EXPECT_TRUE(cuda_options_from_env().checked);
  }
  {
    const ScopedEnv off("MT_CUDA_CHECKED", "0");
    EXPECT_FALSE(cuda_options_from_env().checked);
  }
  {
    const ScopedEnv bad("MT_CUDA_CHECKED", "yes");
    try {
      cuda_options_from_env();
      ADD_FAILURE() << "MT_CUDA_CHECKED=yes was accepted";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "MT_CUDA_CHECKED='yes'")) << e.what();
    }
    // A bad value is reported by the probe too, not taken for a missing GPU.
    std::string why;
    EXPECT_THROW(try_make_cuda_backend(&why), Error);
  }
}

}  // namespace
}  // namespace mt::cuda
