// Bulk tile copies in the CUDA backend: which kernels use them and the host-side tensor maps.
#include "backends/cuda/bulk_copy.hpp"

#include <string>

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt::cuda {
namespace {

// CUtensorMap* enumerators (cuda.h of CUDA 13.0).
enum TensorMapDataType : int {
  kUint8 = 0,
  kUint16 = 1,
  kUint32 = 2,
  kInt32 = 3,
  kFloat16 = 6,
  kFloat32 = 7,
  kBfloat16 = 9,
};
constexpr int kInterleaveNone = 0;
constexpr int kL2Promotion128B = 2;
constexpr int kOobFillZero = 0;  // CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE: zeros

int swizzle_code(Swizzle s) {
  switch (s) {
    case Swizzle::None: return 0;
    case Swizzle::Bytes32: return 1;
    case Swizzle::Bytes64: return 2;
    case Swizzle::Bytes128: return 3;
  }
  return 0;
}

}  // namespace

bool uses_bulk_copies(const Kernel& k) {
  bool found = false;
  for_each_instr(k.body, [&](const Instr& in) {
    found = found || is_async_barrier_op(in.op) || in.op == OpKind::BulkTensorLoad;
  });
  return found;
}

int tensor_map_data_type(DType t) {
  switch (t) {
    case DType::F32: return kFloat32;
    case DType::F16: return kFloat16;
    case DType::BF16: return kBfloat16;
    case DType::I32: return kInt32;
    case DType::U32: return kUint32;
    case DType::I8:
    case DType::U8:
    case DType::F8E4M3:
    case DType::F8E5M2:
    case DType::Bool: return kUint8;
  }
  return kUint16;
}

EncodedTensorMap encode_tensor_map(const Driver& driver, const Kernel& k, const TensorMap& m,
                                   CuDevicePtr address, const TensorMapExtent& extent) {
  const auto encode = driver.api().tensor_map_encode_tiled;
  if (encode == nullptr) {
    throw kernel_error(k.name, "tensor map '" + m.name +
                                   "': the CUDA driver lacks cuTensorMapEncodeTiled (CUDA 12 or "
                                   "newer is needed for bulk tile copies)");
  }
  const DType t = k.param(m.tensor).dtype;
  const std::uint64_t dims[2] = {extent.cols, extent.rows};
  const std::uint64_t strides[1] = {extent.row_stride * size_of(t)};
  const std::uint32_t box[2] = {m.box_cols, m.box_rows};
  const std::uint32_t element_strides[2] = {1, 1};
  EncodedTensorMap out;
  driver.check(encode(out.words.data(), tensor_map_data_type(t), 2,
                      reinterpret_cast<void*>(address), dims, strides, box, element_strides,
                      kInterleaveNone, swizzle_code(m.swizzle), kL2Promotion128B, kOobFillZero),
               "cuTensorMapEncodeTiled", k.name,
               "tensor map '" + m.name + "' of " + std::to_string(extent.rows) + " x " +
                   std::to_string(extent.cols) + ", box " + std::to_string(m.box_rows) + " x " +
                   std::to_string(m.box_cols));
  return out;
}

}  // namespace mt::cuda
