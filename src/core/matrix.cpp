// Shapes, fragment layouts, constructors and verifier rules of the tensor-core ops.
#include "metaltile/core/matrix.hpp"

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/tensor_map.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt {
namespace {

// Elements of `input` in one 32-bit register.
std::uint32_t per_register(DType input) { return 4 / static_cast<std::uint32_t>(size_of(input)); }

bool fits(const Array& a, std::uint32_t offset, std::uint32_t size) {
  return a.size_param.valid() || std::uint64_t{offset} + size <= a.size;
}

Instr statement(OpKind op) {
  Instr in;
  in.op = op;
  return in;
}

}  // namespace

std::string_view fragment_role_name(FragmentRole role) {
  switch (role) {
    case FragmentRole::A: return "A";
    case FragmentRole::B: return "B";
    case FragmentRole::Accumulator: return "accumulator";
  }
  return "?";
}

bool is_mma_input_type(DType t) { return t == DType::F16 || t == DType::BF16 || t == DType::I8; }

MmaShape mma_shape(DType input) {
  MT_ASSERT(is_mma_input_type(input)) << "mma on " << name_of(input);
  return MmaShape{16, 8, input == DType::I8 ? 32u : 16u};
}

DType mma_accumulator_type(DType input) { return input == DType::I8 ? DType::I32 : DType::F32; }

std::uint32_t fragment_size(FragmentRole role, DType input) {
  const MmaShape s = mma_shape(input);
  switch (role) {
    case FragmentRole::A: return s.m * s.k / 32;
    case FragmentRole::B: return s.k * s.n / 32;
    case FragmentRole::Accumulator: return s.m * s.n / 32;
  }
  return 0;
}

MatrixCoord fragment_coord(FragmentRole role, DType input, std::uint32_t lane,
                           std::uint32_t element) {
  MT_ASSERT(lane < 32 && element < fragment_size(role, input))
      << "lane " << lane << ", element " << element;
  const std::uint32_t g = lane / 4, t = lane % 4, p = per_register(input);
  const std::uint32_t r = element / p, e = element % p;
  switch (role) {
    case FragmentRole::A: return {g + 8 * (r & 1), t * p + e + 4 * p * (r >> 1)};
    case FragmentRole::B: return {t * p + e + 4 * p * r, g};
    case FragmentRole::Accumulator: return {g + 8 * (element >> 1), 2 * t + (element & 1)};
  }
  return {};
}

std::uint32_t load_matrix_size(DType t, std::uint32_t matrices) {
  return matrices * per_register(t);
}

namespace make {

Instr mma(const Kernel& k, FragmentRef d, FragmentRef a, FragmentRef b, FragmentRef c) {
  Instr in = statement(OpKind::Mma);
  in.fragments = {d, a, b, c};
  MT_ASSERT(matrix_problem(k, in).empty()) << matrix_problem(k, in);
  return in;
}

Instr load_matrix(const Kernel& k, FragmentRef dst, ArrayId shared, ValueId row_start,
                  std::uint32_t matrices, bool transpose) {
  Instr in = statement(OpKind::LoadMatrix);
  in.fragments = {dst};
  in.array = shared;
  in.operands = {row_start};
  in.lanes = matrices;
  in.transpose = transpose;
  MT_ASSERT(matrix_problem(k, in).empty()) << matrix_problem(k, in);
  return in;
}

Instr copy_async(const Kernel& k, ArrayId shared, ValueId dst_index, ParamId src, ValueId src_index,
                 ValueId valid, std::uint32_t elements) {
  Instr in = statement(OpKind::CopyAsync);
  in.array = shared;
  in.param = src;
  in.operands = {dst_index, src_index, valid};
  in.lanes = elements;
  MT_ASSERT(matrix_problem(k, in).empty()) << matrix_problem(k, in);
  return in;
}

Instr copy_async_commit() { return statement(OpKind::CopyAsyncCommit); }

Instr copy_async_wait(std::uint32_t pending) {
  Instr in = statement(OpKind::CopyAsyncWait);
  in.lanes = pending;
  return in;
}

}  // namespace make

namespace {

// Names the problem with fragment `f` of `role` (dtype `want`, `size` elements), or "".
std::string fragment_problem(const Kernel& k, const FragmentRef& f, std::string_view role,
                             DType want, std::uint32_t size) {
  if (!f.array.valid() || f.array.index >= k.arrays.size()) {
    return "fragment " + std::string(role) + " names no array";
  }
  const Array& a = k.arrays[f.array.index];
  const std::string what = "fragment " + std::string(role) + " in '" + a.name + "'";
  if (a.space != MemorySpace::Thread) return what + " is not a per-thread array";
  if (a.dtype != want) {
    return what + " holds " + std::string(name_of(a.dtype)) + ", expected " +
           std::string(name_of(want));
  }
  if (!fits(a, f.offset, size)) {
    return what + " needs " + quantity(size, "element") + " from " + std::to_string(f.offset) +
           ", the array has " + std::to_string(a.size);
  }
  return "";
}

std::string threadgroup_problem(const Kernel& k, const Instr& in) {
  if (!in.array.valid() || in.array.index >= k.arrays.size()) return "names no array";
  const Array& a = k.arrays[in.array.index];
  if (a.space != MemorySpace::Threadgroup) {
    return "array '" + a.name + "' is not threadgroup memory";
  }
  return "";
}

std::string type_problem(const Kernel& k, const Instr& in, std::size_t i, bool want_bool) {
  if (i >= in.operands.size() || !in.operands[i].valid() ||
      in.operands[i].index >= k.value_types.size()) {
    return "operand " + std::to_string(i) + " is missing";
  }
  const DType t = k.value_types[in.operands[i].index];
  if (want_bool) return t == DType::Bool ? "" : "the condition must be bool";
  return is_index_type(t) ? "" : "index must be u32 or i32";
}

std::string mma_problem(const Kernel& k, const Instr& in) {
  if (in.fragments.size() != 4) return "takes fragments {D, A, B, C}";
  const FragmentRef& a = in.fragments[1];
  if (!a.array.valid() || a.array.index >= k.arrays.size()) return "fragment A names no array";
  const DType input = k.arrays[a.array.index].dtype;
  if (!is_mma_input_type(input)) {
    return "A holds " + std::string(name_of(input)) + "; tensor cores take f16, bf16 or i8";
  }
  const DType acc = mma_accumulator_type(input);
  const struct {
    std::string_view role;
    DType dtype;
    FragmentRole kind;
  } roles[] = {{"D", acc, FragmentRole::Accumulator},
               {"A", input, FragmentRole::A},
               {"B", input, FragmentRole::B},
               {"C", acc, FragmentRole::Accumulator}};
  for (std::size_t i = 0; i < 4; ++i) {
    std::string p = fragment_problem(k, in.fragments[i], roles[i].role, roles[i].dtype,
                                     fragment_size(roles[i].kind, input));
    if (!p.empty()) return p;
  }
  return "";
}

std::string load_matrix_problem(const Kernel& k, const Instr& in) {
  if (in.fragments.size() != 1) return "takes one destination fragment";
  if (std::string p = threadgroup_problem(k, in); !p.empty()) return p;
  if (std::string p = type_problem(k, in, 0, false); !p.empty()) return p;
  const Array& shared = k.arrays[in.array.index];
  const std::size_t size = size_of(shared.dtype);
  if (size != 1 && size != 2) {
    return "array '" + shared.name + "' holds " + std::string(name_of(shared.dtype)) +
           "; matrices are loaded as 8- or 16-bit elements";
  }
  if (in.lanes != 1 && in.lanes != 2 && in.lanes != 4) {
    return std::to_string(in.lanes) + " matrices; 1, 2 or 4 are loaded at once";
  }
  if (in.transpose && size != 2) return "only 16-bit matrices can be transposed";
  return fragment_problem(k, in.fragments[0], "dst", shared.dtype,
                          load_matrix_size(shared.dtype, in.lanes));
}

std::string copy_async_problem(const Kernel& k, const Instr& in) {
  if (std::string p = threadgroup_problem(k, in); !p.empty()) return p;
  if (!in.param.valid() || in.param.index >= k.params.size()) return "names no parameter";
  const Param& src = k.params[in.param.index];
  if (!src.is_tensor()) return "param '" + src.name + "' is not a tensor";
  const Array& shared = k.arrays[in.array.index];
  if (shared.dtype != src.dtype) {
    return "array '" + shared.name + "' holds " + std::string(name_of(shared.dtype)) + ", param '" +
           src.name + "' " + std::string(name_of(src.dtype));
  }
  const std::size_t bytes = std::size_t{in.lanes} * size_of(src.dtype);
  if (bytes != 4 && bytes != 8 && bytes != 16) {
    return std::to_string(in.lanes) + " elements of " + std::string(name_of(src.dtype)) + " are " +
           std::to_string(bytes) + " bytes, not 4, 8 or 16";
  }
  if (in.operands.size() != 3) return "takes a destination index, a source index and a condition";
  for (std::size_t i = 0; i < 3; ++i) {
    if (std::string p = type_problem(k, in, i, i == 2); !p.empty()) return p;
  }
  return "";
}

}  // namespace

std::string matrix_problem(const Kernel& k, const Instr& in) {
  switch (in.op) {
    case OpKind::Mma: return mma_problem(k, in);
    case OpKind::LoadMatrix: return load_matrix_problem(k, in);
    case OpKind::CopyAsync: return copy_async_problem(k, in);
    case OpKind::CopyAsyncCommit: return "";
    case OpKind::CopyAsyncWait:
      return in.lanes <= kMaxPendingCopyGroups
                 ? ""
                 : "leaves " + std::to_string(in.lanes) + " groups pending; at most " +
                       std::to_string(kMaxPendingCopyGroups);
    case OpKind::WarpgroupMma:
    case OpKind::WarpgroupFence:
    case OpKind::WarpgroupCommit:
    case OpKind::WarpgroupWait:
    case OpKind::FenceAsyncShared: return warpgroup_problem(k, in);
    case OpKind::AsyncBarrierInit:
    case OpKind::AsyncBarrierArrive:
    case OpKind::AsyncBarrierExpect:
    case OpKind::AsyncBarrierWait: return async_barrier_problem(k, in);
    case OpKind::BulkTensorLoad: return bulk_copy_problem(k, in);
    default: return std::string(op_name(in.op)) + " is not a tensor-core op";
  }
}

std::string fragment_text(const Kernel& k, const FragmentRef& f, std::uint32_t size) {
  const std::string name = f.array.valid() && f.array.index < k.arrays.size()
                               ? k.arrays[f.array.index].name
                               : std::string("?array");
  return name + "[" + std::to_string(f.offset) + ".." + std::to_string(f.offset + size) + ")";
}

}  // namespace mt
