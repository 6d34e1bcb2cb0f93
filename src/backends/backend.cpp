// Names of the backends, for descriptions, the CLI and test output.
#include "metaltile/backends/backend.hpp"

namespace mt {

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::Cpu: return "cpu";
    case Backend::Cuda: return "cuda";
  }
  return "?";
}

}  // namespace mt
