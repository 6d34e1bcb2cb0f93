// The kernel registry: every library kernel, registered once by its family's list with its
// name, family, default mode, dtypes, builder, documentation, geometry rule and benchmark
// shapes (mt::KernelInfo); the CLI, `run` by name and the tests enumerate it.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/kernels/kernel_info.hpp"

namespace mt {

// All registered kernels, sorted by name. Built once, thread-safe.
const std::vector<KernelInfo>& registered_kernels();
// The kernel with this name, or nullptr.
const KernelInfo* find_kernel(std::string_view name);
// The kernel with this name, or an mt::Error that says how to list the registered ones.
const KernelInfo& kernel_info(std::string_view name);
// `name` traced for `t`, traced once per process and shared (thread-safe); an mt::Error if the
// name is unknown or t unsupported. build_kernel (kernel_info.hpp) returns a copy of it.
const Kernel& traced_kernel(std::string_view name, DType t);

}  // namespace mt
