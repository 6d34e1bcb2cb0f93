// dlopen/dlsym behind an RAII handle.
#include "backends/cuda/dynamic_library.hpp"

#include <dlfcn.h>

#include <utility>

#include "metaltile/core/error.hpp"

namespace mt::cuda {

DynamicLibrary DynamicLibrary::open_first(std::string_view what,
                                          std::span<const std::string> candidates) {
  std::string tried;
  for (const std::string& candidate : candidates) {
    dlerror();  // clear any stale message
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) return DynamicLibrary(handle, candidate);
    const char* reason = dlerror();
    if (!tried.empty()) tried += "; ";
    tried += candidate + " (" + (reason != nullptr ? reason : "unknown error") + ")";
  }
  throw Error("cuda: cannot load " + std::string(what) + ": tried " + tried);
}

DynamicLibrary::DynamicLibrary(DynamicLibrary&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), name_(std::move(other.name_)) {}

DynamicLibrary& DynamicLibrary::operator=(DynamicLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

DynamicLibrary::~DynamicLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* DynamicLibrary::symbol(const char* symbol) const {
  dlerror();
  void* address = dlsym(handle_, symbol);
  if (address == nullptr) {
    const char* reason = dlerror();
    throw Error("cuda: " + name_ + " lacks " + symbol + " (" +
                (reason != nullptr ? reason : "null symbol") + ")");
  }
  return address;
}

std::string DynamicLibrary::file_of(const char* symbol_name) const {
  Dl_info info{};
  if (dladdr(symbol(symbol_name), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

}  // namespace mt::cuda
