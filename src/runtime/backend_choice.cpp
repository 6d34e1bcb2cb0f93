// try_make_cuda_backend: the CUDA backend if the driver, a device and NVRTC are usable, else the
// reason it is not.
#include "runtime/backend_choice.hpp"

#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"

namespace mt {

std::unique_ptr<KernelBackend> try_make_cuda_backend(std::string* why) {
  // A malformed MT_CUDA_CHECKED is the user's mistake, reported even where CUDA is missing.
  const CudaOptions options = cuda_options_from_env();
  try {
    return make_cuda_backend(options);
  } catch (const Error& e) {
    if (why != nullptr) *why = e.what();
    return nullptr;
  }
}

}  // namespace mt
