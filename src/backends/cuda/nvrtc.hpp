// NVRTC, loaded at run time: the library is dlopen'ed once per process (thread-safe), its
// entry points resolved once, and each compilation owns its nvrtcProgram. Compiles CUDA C++
// to a cubin for one architecture; a failure is an mt::Error with the log and the generated
// lines it cites.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mt::cuda {

// A header handed to NVRTC by name, so `#include "<name>"` finds it without a file.
struct NvrtcHeader {
  std::string_view name;
  std::string_view text;
};

struct NvrtcOutput {
  std::vector<std::uint8_t> cubin;
  std::string log;  // NVRTC's log: warnings on success ("" when there were none)
};

struct NvrtcVersion {
  int major = 0;
  int minor = 0;
};

class Nvrtc {
 public:
  // The process's NVRTC, loaded on first use from the first of: libnvrtc.so.13,
  // libnvrtc.so.12, libnvrtc.so (the loader's search path), then the same names under
  // $CUDA_HOME/lib64, $CUDA_PATH/lib64 and /usr/local/cuda/lib64. Throws mt::Error naming
  // every candidate tried (on every call, if loading failed).
  static const Nvrtc& get();

  NvrtcVersion version() const;
  // The file the library was loaded from.
  const std::string& library_file() const;
  // "sm_XX" for each architecture this NVRTC can compile for.
  std::vector<std::string> supported_archs() const;

  // Compiles `source` (file name "<kernel>.cu" in messages) for `arch` ("sm_90"), with
  // `options` after --gpu-architecture. On failure throws mt::Error "kernel 'K':
  // nvrtcCompileProgram failed (NVRTC_ERROR_COMPILATION): <log>" followed, for each
  // line N the log cites in the source or a header, by the lines around N.
  NvrtcOutput compile(std::string_view kernel, std::string_view source, std::string_view arch,
                      std::span<const std::string> options,
                      std::span<const NvrtcHeader> headers = {}) const;

  Nvrtc(const Nvrtc&) = delete;
  Nvrtc& operator=(const Nvrtc&) = delete;
  ~Nvrtc();

  struct Api;  // the resolved entry points (nvrtc.cpp)

 private:
  Nvrtc();
  std::unique_ptr<Api> api_;
};

// The CUDA include directory (the one holding cuda_fp16.h) for NVRTC's -I: the first of
// $CUDA_HOME/include, $CUDA_PATH/include, <dir of the loaded libnvrtc>/../include and
// /usr/local/cuda/include that has it. Throws mt::Error naming the places tried.
const std::string& cuda_include_dir();

}  // namespace mt::cuda
