// Which backends this build can offer. The CUDA backend is optional at run time: this is the
// one place that asks whether it can be made, and why not.
#pragma once

#include <memory>
#include <string>

#include "metaltile/backends/backend.hpp"

namespace mt {

// A CUDA backend on the first usable GPU, or nullptr with `why` (if given) set to the reason
// it is unavailable (no driver, no NVRTC, no device, not built).
std::unique_ptr<KernelBackend> try_make_cuda_backend(std::string* why);

}  // namespace mt
