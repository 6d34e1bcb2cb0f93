// The CUDA backend's public entry points: make one with explicit options (checked mode off for
// speed), describe the device without making one, and read the process's compile-cache counters
// (for `tile device`, tests and benchmarks). Works in every build: without a driver, NVRTC or a
// GPU the functions that need them throw mt::Error saying which is missing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metaltile/backends/backend.hpp"

namespace mt {

struct CudaOptions {
  // Guard every load, store and loop step against the buffer sizes: a violation becomes an
  // mt::Error naming kernel, param, index and thread. Off: plain accesses (faster; an
  // out-of-bounds access is then undefined, as in hand-written CUDA).
  bool checked = true;
  // Launch kernels that wait_for_prior_kernel() with programmatic dependent launch (sm_90 and
  // later), so that they start before the kernel they follow ends (dsl/kernel_overlap.hpp).
  bool kernel_overlap = true;
  int device = 0;  // CUDA device ordinal
};

// What Context::create uses: checked unless MT_CUDA_CHECKED=0 (1 or unset: checked; anything
// else is an mt::Error), kernel overlap unless MT_KERNEL_OVERLAP=0 (the same rule).
CudaOptions cuda_options_from_env();

// A CUDA backend on `options.device`, or mt::Error with the reason none can be made: the driver
// cannot be loaded, cuInit fails, there is no such device, or NVRTC cannot be loaded or cannot
// compile for the device. Wrap it in a Context: `mt::Context ctx(mt::make_cuda_backend(o));`.
std::unique_ptr<KernelBackend> make_cuda_backend(const CudaOptions& options);

struct CudaDeviceInfo {
  std::string name;       // "NVIDIA H100 80GB HBM3"
  int compute_major = 0;  // compute capability, 9 for 9.0
  int compute_minor = 0;
  std::string arch;                // the NVRTC target: "sm_90"
  int multiprocessors = 0;         // SMs
  std::uint64_t memory_bytes = 0;  // total device memory
  int driver_version = 0;          // cuDriverGetVersion: 13000 for CUDA 13.0
  std::string driver_library;      // the libcuda file loaded
};

// The device's properties (needs the driver and the device, not NVRTC), or mt::Error.
CudaDeviceInfo cuda_device_info(int device = 0);

// NVRTC's version, "13.0", and the file it was loaded from; mt::Error if it cannot be loaded.
std::string nvrtc_version();
std::string nvrtc_library();

struct CudaCompileStats {
  std::uint64_t compiles = 0;         // NVRTC compilations in this process
  std::uint64_t memory_hits = 0;      // cubins found in this process's memory
  std::uint64_t disk_hits = 0;        // cubins read from the disk cache
  std::uint64_t disk_writes = 0;      // cubins stored on disk
  std::uint64_t corrupt_entries = 0;  // damaged disk entries found (deleted and recompiled)
  std::uint64_t disk_errors = 0;      // cubins that could not be stored
  // The disk cache: $MT_CACHE_DIR, else $XDG_CACHE_HOME/metaltile, else ~/.cache/metaltile
  // ("" when none is set: memory only).
  std::string cache_dir;
};

CudaCompileStats cuda_compile_stats();

// The CUDA C++ the backend would compile for `optimised` (a kernel after specialisation and
// passes), checked or not. Needs neither a GPU nor NVRTC: `tile inspect --cuda` shows it.
std::string cuda_source(const Kernel& optimised, bool checked = true);
// Forgets the cubins this process holds in memory, so the next compile of each comes from the
// disk cache (benchmarks use it to time a disk hit; a Context keeps its own executables).
void clear_cuda_memory_cache();

}  // namespace mt
