// Box layout, extent checks, constructors and verifier rules of the bulk tile copies.
#include "metaltile/core/tensor_map.hpp"

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt {
namespace {

bool has_value(const Kernel& k, const Instr& in, std::size_t i) {
  return i < in.operands.size() && in.operands[i].valid() &&
         in.operands[i].index < k.value_types.size();
}

std::string operand_type_problem(const Kernel& k, const Instr& in, std::size_t i, DType want,
                                 std::string_view what) {
  if (!has_value(k, in, i)) return "operand " + std::to_string(i) + " is missing";
  const DType t = k.value_types[in.operands[i].index];
  if (t == want || (want == DType::U32 && what == "the destination index" && is_index_type(t))) {
    return "";
  }
  return std::string(what) + " must be " + std::string(name_of(want));
}

std::string load_problem(const Kernel& k, const Instr& in) {
  if (!in.tensor_map.valid() || in.tensor_map.index >= k.tensor_maps.size()) {
    return "names no tensor map";
  }
  if (!in.async_barrier.valid() || in.async_barrier.index >= k.async_barriers.size()) {
    return "names no async barrier set";
  }
  if (!in.array.valid() || in.array.index >= k.arrays.size()) return "names no array";
  const TensorMap& m = k.tensor_maps[in.tensor_map.index];
  const Array& dst = k.arrays[in.array.index];
  if (dst.space != MemorySpace::Threadgroup) {
    return "array '" + dst.name + "' is not threadgroup memory";
  }
  if (m.tensor.valid() && m.tensor.index < k.params.size() &&
      k.params[m.tensor.index].dtype != dst.dtype) {
    return "array '" + dst.name + "' holds " + std::string(name_of(dst.dtype)) + ", tensor map '" +
           m.name + "' reads " + std::string(name_of(k.params[m.tensor.index].dtype));
  }
  if (in.operands.size() != 4) {
    return "takes a destination index, a row, a column and a barrier index";
  }
  if (std::string p = operand_type_problem(k, in, 0, DType::U32, "the destination index");
      !p.empty())
    return p;
  if (std::string p = operand_type_problem(k, in, 1, DType::I32, "the row"); !p.empty()) return p;
  if (std::string p = operand_type_problem(k, in, 2, DType::I32, "the column"); !p.empty())
    return p;
  return operand_type_problem(k, in, 3, DType::U32, "the barrier index");
}

std::string shape_problem(const Kernel& k, const Instr& in) {
  if (!in.tensor_map.valid() || in.tensor_map.index >= k.tensor_maps.size()) {
    return "names no tensor map";
  }
  static constexpr std::string_view kWhat[] = {"rows", "cols", "the row stride"};
  for (std::size_t i = 0; i < 3; ++i) {
    if (std::string p = operand_type_problem(k, in, i, DType::U32, kWhat[i]); !p.empty()) return p;
  }
  return "";
}

}  // namespace

std::uint32_t tensor_map_box_bytes(const Kernel& k, const TensorMap& m) {
  return m.box_rows * m.box_cols * static_cast<std::uint32_t>(size_of(k.param(m.tensor).dtype));
}

std::uint32_t tensor_map_box_byte(const TensorMap& m, std::uint32_t element_bytes,
                                  std::uint32_t row, std::uint32_t col) {
  return swizzled_byte(m.swizzle, (row * m.box_cols + col) * element_bytes);
}

std::uint32_t tensor_map_destination_alignment(Swizzle s) {
  return s == Swizzle::None ? 128 : 8 * swizzle_row_bytes(s);
}

std::string bulk_column_problem(const TensorMap& m, std::int64_t col, std::uint32_t element_bytes) {
  const std::int64_t bytes = col * std::int64_t{element_bytes};
  if (bytes % 16 == 0) return "";
  return "tensor map '" + m.name + "': the box's column corner " + std::to_string(col) + " is " +
         std::to_string(bytes) +
         " bytes from the row's start; the bulk copy engine needs a multiple of 16";
}

std::string bulk_destination_problem(const TensorMap& m, const Array& dst, std::int64_t at) {
  const std::int64_t box = std::int64_t{m.box_rows} * m.box_cols;
  const std::uint32_t align = tensor_map_destination_alignment(m.swizzle);
  const std::int64_t element_bytes = static_cast<std::int64_t>(size_of(dst.dtype));
  if (at >= 0 && at + box <= static_cast<std::int64_t>(dst.size) &&
      (at * element_bytes) % align == 0) {
    return "";
  }
  return "array '" + dst.name + "': a box of " +
         quantity(static_cast<std::uint64_t>(box), "element") + " at element " +
         std::to_string(at) + " is not inside the array (" + quantity(dst.size, "element") +
         ") or not aligned to " + std::to_string(align) + " bytes (" +
         std::string(swizzle_name(m.swizzle)) + " swizzle)";
}

std::string tensor_map_extent_problem(const Kernel& k, const TensorMap& m, const TensorMapExtent& e,
                                      std::uint64_t tensor_elements) {
  const std::uint64_t element_bytes = size_of(k.param(m.tensor).dtype);
  const std::string what = "tensor map '" + m.name + "' of " + std::to_string(e.rows) + " rows x " +
                           std::to_string(e.cols) + " columns, row stride " +
                           std::to_string(e.row_stride);
  if (e.rows == 0 || e.cols == 0) return what + ": rows and columns must be at least 1";
  if (e.cols > e.row_stride) return what + ": a row is longer than the row stride";
  if (e.row_stride * element_bytes % 16 != 0 || e.row_stride * element_bytes >= (1ull << 40)) {
    return what + ": the row stride is " + std::to_string(e.row_stride * element_bytes) +
           " bytes; the bulk copy engine needs a multiple of 16 below 2^40";
  }
  if ((e.rows - 1) * e.row_stride + e.cols > tensor_elements) {
    return what + " reaches element " + std::to_string((e.rows - 1) * e.row_stride + e.cols) +
           ", but the tensor has " + std::to_string(tensor_elements);
  }
  return "";
}

namespace make {

Instr tensor_map_shape(const Kernel& k, TensorMapId m, ValueId rows, ValueId cols,
                       ValueId row_stride) {
  Instr in;
  in.op = OpKind::TensorMapShape;
  in.tensor_map = m;
  in.operands = {rows, cols, row_stride};
  MT_ASSERT(bulk_copy_problem(k, in).empty()) << bulk_copy_problem(k, in);
  return in;
}

Instr bulk_tensor_load(const Kernel& k, ArrayId dst, ValueId dst_index, TensorMapId m, ValueId row,
                       ValueId col, AsyncBarrierId set, ValueId barrier) {
  Instr in;
  in.op = OpKind::BulkTensorLoad;
  in.array = dst;
  in.tensor_map = m;
  in.async_barrier = set;
  in.operands = {dst_index, row, col, barrier};
  MT_ASSERT(bulk_copy_problem(k, in).empty()) << bulk_copy_problem(k, in);
  return in;
}

}  // namespace make

std::string tensor_map_problem(const Kernel& k, const TensorMap& m) {
  const std::string what = "tensor map '" + m.name + "'";
  if (!m.tensor.valid() || m.tensor.index >= k.params.size()) return what + " names no tensor";
  const Param& p = k.params[m.tensor.index];
  if (!p.is_tensor()) return what + ": param '" + p.name + "' is not a tensor";
  if (p.dtype == DType::Bool) return what + ": tensors of bool cannot be copied in bulk";
  if (m.box_rows == 0 || m.box_rows > kMaxTensorMapBox || m.box_cols == 0 ||
      m.box_cols > kMaxTensorMapBox) {
    return what + ": box of " + std::to_string(m.box_rows) + " x " + std::to_string(m.box_cols) +
           "; each side from 1 to " + std::to_string(kMaxTensorMapBox);
  }
  const std::uint32_t row_bytes = m.box_cols * static_cast<std::uint32_t>(size_of(p.dtype));
  if (m.swizzle == Swizzle::None) {
    if (row_bytes % 16 != 0) {
      return what + ": a box row is " + std::to_string(row_bytes) + " bytes, not a multiple of 16";
    }
  } else if (row_bytes != swizzle_row_bytes(m.swizzle)) {
    return what + ": a box row is " + std::to_string(row_bytes) + " bytes; the " +
           std::string(swizzle_name(m.swizzle)) + " swizzle needs rows of exactly " +
           std::to_string(swizzle_row_bytes(m.swizzle));
  }
  return "";
}

std::string bulk_copy_problem(const Kernel& k, const Instr& in) {
  switch (in.op) {
    case OpKind::BulkTensorLoad: return load_problem(k, in);
    case OpKind::TensorMapShape: return shape_problem(k, in);
    default: return std::string(op_name(in.op)) + " is not a bulk copy op";
  }
}

std::string tensor_map_name(const Kernel& k, TensorMapId m) {
  return m.valid() && m.index < k.tensor_maps.size() ? k.tensor_maps[m.index].name
                                                     : std::string("?map");
}

}  // namespace mt
