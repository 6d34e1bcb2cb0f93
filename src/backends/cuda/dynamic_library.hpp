// DynamicLibrary: an RAII dlopen handle with symbol lookup, for the CUDA libraries that are
// loaded at run time (NVRTC, and the driver API), never linked at build time.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mt::cuda {

class DynamicLibrary {
 public:
  // The first of `candidates` (file names or paths, as dlopen takes them) that loads, or an
  // mt::Error "cuda: cannot load <what>: tried A (reason); B (reason); ...".
  static DynamicLibrary open_first(std::string_view what, std::span<const std::string> candidates);

  DynamicLibrary(DynamicLibrary&& other) noexcept;
  DynamicLibrary& operator=(DynamicLibrary&& other) noexcept;
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;
  ~DynamicLibrary();

  // The address of `symbol`, or an mt::Error naming the symbol and the library.
  void* symbol(const char* symbol) const;

  // Resolves `symbol` into the function pointer `fn`.
  template <class Fn>
  void resolve(Fn& fn, const char* name) const {
    fn = reinterpret_cast<Fn>(symbol(name));
  }

  // The candidate that loaded.
  const std::string& name() const { return name_; }
  // The file on disk that defines `symbol` (dladdr), or "" if unknown.
  std::string file_of(const char* symbol) const;

 private:
  DynamicLibrary(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}

  void* handle_ = nullptr;
  std::string name_;
};

}  // namespace mt::cuda
