// Whether NVRTC is usable, for MT_REQUIRE_NVRTC (see nvrtc.hpp).
#include "support/nvrtc.hpp"

#include <cstdlib>

#include "backends/cuda/nvrtc.hpp"
#include "metaltile/core/error.hpp"

namespace mt::test {

std::optional<std::string> nvrtc_unavailable() {
  try {
    cuda::Nvrtc::get();
    cuda::cuda_include_dir();
  } catch (const Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

bool is_missing_nvrtc_allowed() {
  const char* allow = std::getenv("MT_ALLOW_NO_NVRTC");
  return allow != nullptr && std::string(allow) == "1";
}

}  // namespace mt::test
