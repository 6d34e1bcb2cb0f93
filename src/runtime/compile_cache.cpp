// The compile cache: key construction and the once-per-key compile protocol.
#include "runtime/compile_cache.hpp"

#include <bit>
#include <cstdint>
#include <sstream>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"

namespace mt {

std::string compile_cache_key(const Kernel& k, const std::map<std::string, Scalar>& consts) {
  std::ostringstream key;
  key << print(k) << "specialise {\n";
  // std::map iterates in name order, so equal maps give equal text. Floats are keyed by their
  // bits: 0.0 and -0.0 generate different code.
  for (const auto& [name, value] : consts) {
    key << "  " << name << " i=" << value.i << " f=0x" << std::hex
        << std::bit_cast<std::uint64_t>(value.f) << std::dec << "\n";
  }
  key << "}\n";
  return key.str();
}

std::shared_ptr<const Executable> CompileCache::get_or_compile(const std::string& key,
                                                               const Compile& compile) {
  std::promise<std::shared_ptr<const Executable>> promise;
  Entry entry;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      entry = promise.get_future().share();
      entries_.emplace(key, entry);
      ++compile_count_;
      owner = true;
    } else {
      entry = it->second;
    }
  }
  // Another call owns (or has finished) this key: wait for its result outside the lock.
  if (!owner) return entry.get();

  // We own the key: compile outside the lock so other kernels are not held up.
  try {
    std::shared_ptr<const Executable> exe = compile();
    MT_ASSERT(exe != nullptr) << "backend compile returned no executable";
    promise.set_value(exe);
    return exe;
  } catch (...) {
    // Forget the failed key before waking the waiters, so a later call retries: an error
    // leaves the cache as it was.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key);
    }
    promise.set_exception(std::current_exception());
    throw;
  }
}

std::size_t CompileCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::size_t CompileCache::compile_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return compile_count_;
}

}  // namespace mt
