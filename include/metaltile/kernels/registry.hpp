// The kernel registry: every library kernel, registered once with its name, family, default
// mode, supported dtypes and builder; the CLI and the tests enumerate it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"

namespace mt {

struct KernelInfo {
  std::string family;  // "ffai::kv_cache"
  std::string name;    // "quantize_kv_int4"
  KernelMode default_mode = KernelMode::Grid3D;
  std::vector<DType> dtypes;
  Kernel (*build)(DType) = nullptr;  // traces the kernel for one dtype (mode = default_mode)
};

// All registered kernels, sorted by name. Built once, thread-safe.
const std::vector<KernelInfo>& registered_kernels();
// The kernel with this name, or nullptr.
const KernelInfo* find_kernel(std::string_view name);
// Traces `name` for `t`; an mt::Error if the name is unknown or t unsupported.
Kernel build_kernel(std::string_view name, DType t);

}  // namespace mt
