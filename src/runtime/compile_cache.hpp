// CompileCache: the in-memory cache of compiled executables of one Context, keyed by the
// printed kernel IR plus the specialisation values. Thread-safe; concurrent requests for one
// key compile it once.
#pragma once

#include <cstddef>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt {

// The full cache key: the canonical text of the kernel as given (name, mode, params, body) and
// each specialised scalar with its exact bits. Equal keys mean identical generated code.
std::string compile_cache_key(const Kernel& k, const std::map<std::string, Scalar>& consts);

class CompileCache {
 public:
  using Compile = std::function<std::shared_ptr<const Executable>()>;

  // The executable cached under `key`, or the result of `compile()` (then cached). If compile
  // throws, nothing is cached and the exception reaches every caller waiting on this key.
  std::shared_ptr<const Executable> get_or_compile(const std::string& key, const Compile& compile);

  // Successful and in-flight entries.
  std::size_t size() const;
  // How many times get_or_compile ran `compile` (for tests and `tile` diagnostics).
  std::size_t compile_count() const;

 private:
  using Entry = std::shared_future<std::shared_ptr<const Executable>>;
  mutable std::mutex mutex_;
  // unordered_map hashes the key and then compares it in full, so a hash collision can never
  // hand back another kernel's executable.
  std::unordered_map<std::string, Entry> entries_;
  std::size_t compile_count_ = 0;
};

}  // namespace mt
