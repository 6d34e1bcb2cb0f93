// Names of the backends, for descriptions, the CLI and test output; and the default device API.
#include "metaltile/backends/backend.hpp"

#include "backends/host_device.hpp"

namespace mt {

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::Cpu: return "cpu";
    case Backend::Cuda: return "cuda";
  }
  return "?";
}

KernelBackend::KernelBackend() = default;
KernelBackend::~KernelBackend() = default;

DeviceApi& KernelBackend::device() {
  std::call_once(host_device_once_, [&] { host_device_ = make_host_device(*this); });
  return *host_device_;
}

}  // namespace mt
