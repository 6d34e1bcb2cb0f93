// The CUDA compile cache: cubins by content key, kept in memory for the process and on disk
// (disk_cache.hpp) across processes. The key hashes everything the cubin depends on: the emitted
// source (a function of the kernel after specialisation and passes, and of the emit options),
// the prelude, the NVRTC options, the architecture and the NVRTC version.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/cuda/content_hash.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

using Cubin = std::shared_ptr<const std::vector<std::uint8_t>>;

struct CubinCacheCounters {
  std::uint64_t compiles = 0;         // NVRTC ran
  std::uint64_t memory_hits = 0;      // found in this process's memory
  std::uint64_t disk_hits = 0;        // read from the disk cache
  std::uint64_t disk_writes = 0;      // entries stored
  std::uint64_t corrupt_entries = 0;  // disk entries found damaged (deleted, then recompiled)
  std::uint64_t disk_errors = 0;      // entries that could not be stored
};

class CubinCache {
 public:
  using Compile = std::function<std::vector<std::uint8_t>()>;

  // The one cache of the process (every CUDA backend shares it).
  static CubinCache& process();

  // The cubin under `key`: from memory, else from the disk cache in `dir` (empty: none), else
  // compile() (then stored in both). Concurrent requests for one key in this process compile it
  // once; an exception from compile() reaches every waiter and caches nothing.
  Cubin get_or_compile(const Hash128& key, const std::filesystem::path& dir,
                       const Compile& compile);

  CubinCacheCounters counters() const;
  // Forgets the cubins held in memory (benchmarks time the disk cache this way).
  void clear_memory();

 private:
  Cubin load_or_compile(const Hash128& key, const std::filesystem::path& dir,
                        const Compile& compile);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<Cubin>> entries_;  // by key.hex()
  CubinCacheCounters counters_;
};

// The cache key of `source` compiled for `arch` with kernel_compile_options() by the loaded
// NVRTC (whose version is part of the key).
Hash128 cubin_key(const CudaSource& source, std::string_view arch);

struct CachedCubin {
  CudaSource source;
  Cubin cubin;
};

// `k` emitted with `options` and compiled for `arch` through the process cache, with
// default_cache_dir() as the disk cache. Needs NVRTC, not a GPU. Throws what compile_kernel
// throws (mt::Error with the NVRTC log).
CachedCubin cached_cubin(const Kernel& k, const EmitOptions& options, std::string_view arch);

}  // namespace mt::cuda
