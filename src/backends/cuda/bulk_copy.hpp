// What the CUDA backend adds for kernels with asynchronous barriers and bulk tile copies: which
// kernels need them (and so sm_90), and the host side of a copy: each tensor map encoded for
// one launch by the driver's cuTensorMapEncodeTiled from the bound tensor's device pointer and
// the extent the contract gives.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/cuda/driver.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/core/tensor_map.hpp"

namespace mt::cuda {

// Whether k has any AsyncBarrier op or BulkTensorLoad.
bool uses_bulk_copies(const Kernel& k);

// A tensor map as the kernel receives it: 128 bytes, 64-byte aligned (the driver's rule).
struct alignas(64) EncodedTensorMap {
  std::array<std::uint64_t, 16> words{};
};

// The driver's CUtensorMapDataType for tensors of t (bulk copies move bytes: any type of the
// same size reads the same).
int tensor_map_data_type(DType t);

// Encodes map `m` of kernel k over the tensor at device address `address` with `extent`
// (checked by evaluate_tensor_maps): dimensions innermost first (cols, rows), the row stride in
// bytes, the box, element strides of 1, no interleave, the map's swizzle, 128-byte L2
// promotion, and zeros for elements outside the tensor. A driver without
// cuTensorMapEncodeTiled (before CUDA 12), or a failing call, is an mt::Error naming the kernel.
EncodedTensorMap encode_tensor_map(const Driver& driver, const Kernel& k, const TensorMap& m,
                                   CuDevicePtr address, const TensorMapExtent& extent);

}  // namespace mt::cuda
