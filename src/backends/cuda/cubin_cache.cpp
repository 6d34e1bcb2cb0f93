// The process's cubin cache: memory, then disk, then NVRTC; with counters.
#include "backends/cuda/cubin_cache.hpp"

#include <exception>

#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/disk_cache.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {
namespace {

// Bumped when the meaning of a cached entry changes without its inputs changing.
constexpr std::string_view kKeyFormat = "metaltile cubin v1";

}  // namespace

CubinCache& CubinCache::process() {
  static CubinCache cache;
  return cache;
}

Cubin CubinCache::get_or_compile(const Hash128& key, const std::filesystem::path& dir,
                                 const Compile& compile) {
  std::promise<Cubin> promise;
  std::shared_future<Cubin> entry;
  bool owner = false;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key.hex());
    if (it == entries_.end()) {
      entry = promise.get_future().share();
      entries_.emplace(key.hex(), entry);
      owner = true;
    } else {
      entry = it->second;
      ++counters_.memory_hits;
    }
  }
  if (!owner) return entry.get();
  try {
    Cubin cubin = load_or_compile(key, dir, compile);
    promise.set_value(cubin);
    return cubin;
  } catch (...) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key.hex());
    }
    promise.set_exception(std::current_exception());
    throw;
  }
}

Cubin CubinCache::load_or_compile(const Hash128& key, const std::filesystem::path& dir,
                                  const Compile& compile) {
  const DiskCache disk(dir);
  DiskCache::Loaded loaded = disk.load(key);
  if (loaded.found == DiskCache::Found::Hit) {
    const std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.disk_hits;
    return std::make_shared<const std::vector<std::uint8_t>>(std::move(loaded.payload));
  }
  auto cubin = std::make_shared<const std::vector<std::uint8_t>>(compile());
  const bool stored = disk.store(key, *cubin);
  const std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.compiles;
  if (loaded.found == DiskCache::Found::Corrupt) ++counters_.corrupt_entries;
  if (stored) ++counters_.disk_writes;
  if (!stored && !dir.empty()) ++counters_.disk_errors;
  return cubin;
}

CubinCacheCounters CubinCache::counters() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

void CubinCache::clear_memory() {
  const std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
}

Hash128 cubin_key(const CudaSource& source, std::string_view arch) {
  std::string options;
  for (const std::string& o : kernel_compile_options()) options.append(o).push_back('\n');
  const NvrtcVersion v = Nvrtc::get().version();
  const std::string version = std::to_string(v.major) + "." + std::to_string(v.minor);
  return hash_parts(
      {kKeyFormat, source.code, source.entry, cuda_dialect().prelude, options, arch, version});
}

CachedCubin cached_cubin(const Kernel& k, const EmitOptions& options, std::string_view arch) {
  CachedCubin out;
  out.source = emit_cuda(k, options);
  out.cubin =
      CubinCache::process().get_or_compile(cubin_key(out.source, arch), default_cache_dir(), [&] {
        CompiledKernel compiled = compile_kernel(k, options, arch);
        MT_ASSERT(compiled.source.code == out.source.code)
            << "kernel " << k.name << ": emit_cuda is not deterministic";
        return std::move(compiled.cubin);
      });
  return out;
}

}  // namespace mt::cuda
