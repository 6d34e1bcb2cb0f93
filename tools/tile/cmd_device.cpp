// tile device: the backend Context::create() picks and, for CUDA, the device (name, compute
// capability, SMs, memory), driver and NVRTC versions, checked mode, kernel overlap and the compile
// cache. On a machine without a usable GPU it prints the CPU backend and why CUDA is unavailable
// (exit 0).
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt::tile {
namespace {

std::string gib(std::uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / double(1ull << 30)
    << " GiB";
  return s.str();
}

// 13000 -> "13.0"
std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::size_t cached_entries(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".cubin") ++n;
  }
  return n;
}

int run_device(const ParsedArgs&) {
  const Context ctx = Context::create();
  std::cout << "backend: " << backend_name(ctx.backend()) << " (" << ctx.description() << ")\n";

  try {
    const CudaDeviceInfo info = cuda_device_info(0);
    std::cout << "device: " << info.name << "\n"
              << "compute capability: " << info.compute_major << "." << info.compute_minor << " ("
              << info.arch << ")\n"
              << "SMs: " << info.multiprocessors << "\n"
              << "memory: " << gib(info.memory_bytes) << "\n"
              << "driver: CUDA " << cuda_version(info.driver_version) << " (" << info.driver_library
              << ")\n";
  } catch (const Error& e) {
    std::cout << "cuda: unavailable: " << e.what() << "\n";
  }
  try {
    std::cout << "NVRTC: " << nvrtc_version() << " (" << nvrtc_library() << ")\n";
  } catch (const Error& e) {
    std::cout << "NVRTC: unavailable: " << e.what() << "\n";
  }
  try {
    const CudaOptions options = cuda_options_from_env();
    std::cout << "checked: " << (options.checked ? "yes" : "no (MT_CUDA_CHECKED=0)") << "\n"
              << "kernel overlap: "
              << (options.kernel_overlap ? "yes (kernels that wait for the prior one, sm_90 on)"
                                         : "no (MT_KERNEL_OVERLAP=0)")
              << "\n";
  } catch (const Error& e) {
    std::cout << "cuda options: " << e.what() << "\n";
  }
  const CudaCompileStats stats = cuda_compile_stats();
  if (stats.cache_dir.empty()) {
    std::cout << "compile cache: memory only (set MT_CACHE_DIR, XDG_CACHE_HOME or HOME)\n";
  } else {
    std::cout << "compile cache: " << stats.cache_dir << " (" << cached_entries(stats.cache_dir)
              << " cubins)\n";
  }
  std::cout << "compiles this process: " << stats.compiles << " (memory hits " << stats.memory_hits
            << ", disk hits " << stats.disk_hits << ")\n";
  return 0;
}

}  // namespace

const Verb& device_verb() {
  static const Verb verb{
      {"device",
       "the backend, the GPU, driver, NVRTC, checked mode, kernel overlap and the compile cache",
       {},
       {}},
      run_device};
  return verb;
}

}  // namespace mt::tile
