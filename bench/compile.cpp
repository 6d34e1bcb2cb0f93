// (a) Compile times: NVRTC from cold (a fresh cache directory), a disk-cache hit (memory cache
// cleared) and a memory hit, through the cubin cache; on CUDA also prepare() (passes, emit,
// compile and module load) cold and from disk. Needs NVRTC, not a GPU.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "backends/cuda/cubin_cache.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "bench.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"

namespace mt::bench {
namespace {

// MT_CACHE_DIR pointed at a fresh directory for one measurement, then restored.
class FreshCacheDir {
 public:
  FreshCacheDir() {
    if (const char* old = std::getenv("MT_CACHE_DIR")) old_ = old;
    had_ = std::getenv("MT_CACHE_DIR") != nullptr;
    std::string pattern = (std::filesystem::temp_directory_path() / "mt_bench_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw Error("metaltile_bench: mkdtemp failed");
    dir_ = pattern;
    setenv("MT_CACHE_DIR", dir_.c_str(), 1);
    clear_cuda_memory_cache();
  }
  ~FreshCacheDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (had_) {
      setenv("MT_CACHE_DIR", old_.c_str(), 1);
    } else {
      unsetenv("MT_CACHE_DIR");
    }
  }

 private:
  std::string dir_, old_;
  bool had_ = false;
};

std::string expect(bool ok, const std::string& what) {
  return ok ? what : "UNEXPECTED: not " + what;
}

}  // namespace

void measure_compile(const Setup& setup, Report& report) {
  std::string arch = "sm_90";
  try {
    cuda::Nvrtc::get();
    cuda::cuda_include_dir();
  } catch (const Error& e) {
    report.add({"compile", "NVRTC compile", "-", 0.0, "ms", std::string("skipped: ") + e.what()});
    return;
  }
  if (setup.cuda) {
    arch = dynamic_cast<const cuda::CudaBackend&>(*setup.targets.front().backend).arch();
  }
  const int runs = setup.options.quick ? 2 : 5;
  const std::string runs_note = arch + ", median of " + std::to_string(runs);
  for (const char* name : {"bulk_dequant_kv_int4", "quantize_kv_int4"}) {
    const Kernel k = passes::optimise(build_kernel(name, DType::F16));
    const cuda::EmitOptions options{.checked = true};
    std::vector<double> cold, disk, memory;
    bool as_expected = true;
    for (int r = 0; r < runs; ++r) {
      const FreshCacheDir fresh;
      const CudaCompileStats s0 = cuda_compile_stats();
      cold.push_back(time_us([&] { cuda::cached_cubin(k, options, arch); }) / 1000.0);
      const CudaCompileStats s1 = cuda_compile_stats();
      clear_cuda_memory_cache();
      disk.push_back(time_us([&] { cuda::cached_cubin(k, options, arch); }) / 1000.0);
      const CudaCompileStats s2 = cuda_compile_stats();
      memory.push_back(time_us([&] { cuda::cached_cubin(k, options, arch); }) / 1000.0);
      const CudaCompileStats s3 = cuda_compile_stats();
      as_expected = as_expected && s1.compiles == s0.compiles + 1 &&
                    s2.disk_hits == s1.disk_hits + 1 && s3.memory_hits == s2.memory_hits + 1;
    }
    const std::string kernel = std::string(name) + " f16";
    report.add({"compile", "NVRTC compile, cold: " + kernel, "checked", median(cold), "ms",
                expect(as_expected, "compiled") + "; " + runs_note});
    report.add({"compile", "disk cache hit: " + kernel, "checked", median(disk), "ms",
                expect(as_expected, "read from disk") + "; " + runs_note});
    report.add({"compile", "memory cache hit: " + kernel, "checked", median(memory), "ms",
                expect(as_expected, "found in memory") + "; " + runs_note});
  }

  if (!setup.cuda) return;
  // prepare() on a new Context: specialise, optimise, emit, compile or load, cuModuleLoadData.
  const Kernel raw = build_kernel("bulk_dequant_kv_int8", DType::F16);
  std::vector<double> cold, disk;
  for (int r = 0; r < runs; ++r) {
    const FreshCacheDir fresh;
    const Context first(setup.targets.front().backend);
    cold.push_back(time_us([&] { first.prepare(raw); }) / 1000.0);
    clear_cuda_memory_cache();
    const Context second(setup.targets.front().backend);
    disk.push_back(time_us([&] { second.prepare(raw); }) / 1000.0);
  }
  report.add({"compile", "prepare, cold: bulk_dequant_kv_int8 f16", "checked", median(cold), "ms",
              "passes + NVRTC + module load; " + runs_note});
  report.add({"compile", "prepare, from disk: bulk_dequant_kv_int8 f16", "checked", median(disk),
              "ms", "passes + disk read + module load; " + runs_note});
}

}  // namespace mt::bench
