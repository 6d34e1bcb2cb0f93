// Compile and launch overheads (see overheads.hpp).
#include "overheads.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <ostream>
#include <string>
#include <vector>

#include "backends/cuda/cubin_cache.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"
#include "metaltile/passes/pipeline.hpp"

namespace mt::tile::bench {
namespace {

double time_us(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void report(std::ostream& out, const std::string& what, double value, const char* unit,
            const std::string& note) {
  out << "  " << std::left << std::setw(58) << what << std::right << std::setw(10) << std::fixed
      << std::setprecision(3) << value << " " << std::left << std::setw(3) << unit << "  " << note
      << "\n";
  out.unsetf(std::ios::fixed);
}

// MT_CACHE_DIR pointed at a fresh directory for one measurement, then restored.
class FreshCacheDir {
 public:
  FreshCacheDir() {
    const char* old = std::getenv("MT_CACHE_DIR");
    had_ = old != nullptr;
    if (had_) old_ = old;
    std::string pattern = (std::filesystem::temp_directory_path() / "mt_bench_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw Error("tile bench: mkdtemp failed");
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
  FreshCacheDir(const FreshCacheDir&) = delete;
  FreshCacheDir& operator=(const FreshCacheDir&) = delete;

 private:
  std::string dir_, old_;
  bool had_ = false;
};

void compile_times(std::ostream& out, const Target& t) {
  std::string arch = "sm_90";
  try {
    cuda::Nvrtc::get();
    cuda::cuda_include_dir();
  } catch (const Error& e) {
    out << "  compile times not measured: " << e.what() << "\n";
    return;
  }
  if (t.gpu) arch = dynamic_cast<const cuda::CudaBackend&>(*t.kernel_backend).arch();
  const int runs = t.gpu ? 5 : 2;
  const std::string note = arch + ", median of " + std::to_string(runs);
  for (const char* name : {"bulk_dequant_kv_int4", "softmax"}) {
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
    const std::string check = as_expected ? note : "UNEXPECTED cache counts; " + note;
    report(out, "NVRTC compile, cold: " + kernel, median(cold), "ms", check);
    report(out, "disk cache hit: " + kernel, median(disk), "ms", check);
    report(out, "memory cache hit: " + kernel, median(memory), "ms", check);
  }
  if (!t.gpu) return;
  const Kernel raw = build_kernel("bulk_dequant_kv_int8", DType::F16);
  std::vector<double> cold, disk;
  for (int r = 0; r < runs; ++r) {
    const FreshCacheDir fresh;
    const Context first(t.kernel_backend);
    cold.push_back(time_us([&] { first.prepare(raw); }) / 1000.0);
    clear_cuda_memory_cache();
    const Context second(t.kernel_backend);
    disk.push_back(time_us([&] { second.prepare(raw); }) / 1000.0);
  }
  report(out, "prepare, cold: bulk_dequant_kv_int8 f16", median(cold), "ms",
         "passes + NVRTC + module load; " + note);
  report(out, "prepare, from disk: bulk_dequant_kv_int8 f16", median(disk), "ms",
         "passes + disk read + module load; " + note);
}

// out[i] = src[i] + c for i < n: a kernel whose device time is negligible.
Kernel add_kernel() {
  return trace("bench_add", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val c = b.scalar_f32("c");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = src[i] + c; });
  });
}

void launch_times(std::ostream& out, const Target& t) {
  const Context& ctx = t.ctx;
  const std::uint32_t n = t.gpu ? 4096 : 256;
  const std::array<std::size_t, 3> grid{(n + 127) / 128, 1, 1}, tpg{128, 1, 1};
  const int calls = t.gpu ? 200 : 20, enqueues = t.gpu ? 2000 : 50, replays = t.gpu ? 50 : 3;
  constexpr int kGraphLaunches = 100;
  const Kernel k = add_kernel();
  const std::string shape = std::to_string(n) + " f32 elements";

  auto le = [](std::uint32_t v) {
    return std::vector<std::uint8_t>{std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16),
                                     std::uint8_t(v >> 24)};
  };
  BufferMap buffers{{"src", std::vector<std::uint8_t>(n * 4, 0)},
                    {"out", std::vector<std::uint8_t>(n * 4, 0)},
                    {"n", le(n)},
                    {"c", le(0x3F800000u)}};
  for (int i = 0; i < 3; ++i) ctx.dispatch_with_grid(k, buffers, {}, grid, tpg);
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    us.push_back(time_us([&] { ctx.dispatch_with_grid(k, buffers, {}, grid, tpg); }));
  }
  report(out, "dispatch_with_grid (byte map)", median(us), "us",
         shape + "; median of " + std::to_string(calls));

  const PreparedKernel prepared = ctx.prepare(k);
  const Stream stream = ctx.create_stream();
  const DeviceBuffer src = ctx.upload(std::vector<std::uint8_t>(n * 4, 0));
  const DeviceBuffer dst = ctx.allocate(n * 4);
  const DeviceBindings bindings{{"src", src}, {"out", dst}, {"n", n}, {"c", 1.0f}};
  for (int i = 0; i < 3; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
  stream.synchronize();
  const double enqueue_us = time_us([&] {
    for (int i = 0; i < enqueues; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
  });
  stream.synchronize();
  report(out, "device-resident launch, enqueue only", enqueue_us / enqueues, "us",
         shape + "; mean of " + std::to_string(enqueues));

  // Launch by name: the geometry rule and the checks on every launch.
  const std::uint32_t rows = 16, row_n = n / rows;
  const DeviceBuffer x = ctx.upload(std::vector<std::uint8_t>(n * 4, 0));
  const DeviceBuffer sums = ctx.allocate(rows * 4);
  kernels::KernelRunner runner(ctx, "row_sum", DType::F32);
  const DeviceBindings row_bindings{{"x", x}, {"out", sums}, {"n", row_n}};
  for (int i = 0; i < 3; ++i) runner.launch(row_bindings, stream);
  stream.synchronize();
  const double by_name_us = time_us([&] {
    for (int i = 0; i < enqueues; ++i) runner.launch(row_bindings, stream);
  });
  stream.synchronize();
  report(out, "launch by name (KernelRunner, row_sum), enqueue only", by_name_us / enqueues, "us",
         std::to_string(rows) + " rows of " + std::to_string(row_n) + " f32; mean of " +
             std::to_string(enqueues));

  us.clear();
  for (int i = 0; i < calls; ++i) {
    us.push_back(time_us([&] {
      ctx.launch(prepared, bindings, grid, tpg, stream);
      stream.synchronize();
    }));
  }
  report(out, "device-resident launch + synchronize", median(us), "us",
         shape + "; median of " + std::to_string(calls));

  const Graph graph = ctx.capture(stream, [&] {
    for (int i = 0; i < kGraphLaunches; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
  });
  graph.replay(stream);
  stream.synchronize();
  std::vector<double> total;
  for (int r = 0; r < replays; ++r) {
    total.push_back(time_us([&] {
      graph.replay(stream);
      stream.synchronize();
    }));
  }
  report(out, "per launch in a replayed graph of 100, + synchronize",
         median(total) / kGraphLaunches, "us",
         shape + "; median of " + std::to_string(replays) + " replays");
}

}  // namespace

void print_overheads(std::ostream& out, const Target& t, const Settings&) {
  out << "\noverheads on " << t.device << " (" << t.variant << "):\n";
  compile_times(out, t);
  launch_times(out, t);
}

}  // namespace mt::tile::bench
