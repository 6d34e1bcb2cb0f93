// Shape, accumulator layout, operand addressing, constructors and verifier rules of the
// warpgroup MMA.
#include "metaltile/core/warpgroup.hpp"

#include "metaltile/core/error.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt {
namespace {

Instr statement(OpKind op) {
  Instr in;
  in.op = op;
  return in;
}

// The swizzle's XOR mask on the 16-byte chunk index (address bits 4..6).
std::uint32_t swizzle_mask(Swizzle s) {
  switch (s) {
    case Swizzle::None: return 0;
    case Swizzle::Bytes32: return 1;
    case Swizzle::Bytes64: return 3;
    case Swizzle::Bytes128: return 7;
  }
  return 0;
}

// A descriptor field holds bytes / 16 in 14 bits.
constexpr std::uint32_t kMaxDescriptorBytes = (1u << 14) * 16;

std::string operand_problem(const Kernel& k, const SharedMatrix& m, std::string_view role,
                            DType input) {
  if (!m.array.valid() || m.array.index >= k.arrays.size()) {
    return "operand " + std::string(role) + " names no array";
  }
  const Array& a = k.arrays[m.array.index];
  const std::string what = "operand " + std::string(role) + " in '" + a.name + "'";
  if (a.space != MemorySpace::Threadgroup) return what + " is not threadgroup memory";
  if (a.dtype != input) {
    return what + " holds " + std::string(name_of(a.dtype)) + ", A holds " +
           std::string(name_of(input));
  }
  for (std::uint32_t bytes : {m.leading_bytes, m.stride_bytes}) {
    if (bytes % 16 != 0 || bytes >= kMaxDescriptorBytes) {
      return what + ": byte offset " + std::to_string(bytes) + " is not a multiple of 16 below " +
             std::to_string(kMaxDescriptorBytes);
    }
  }
  return "";
}

std::string mma_problem(const Kernel& k, const Instr& in) {
  if (in.fragments.size() != 1) return "takes one accumulator fragment {D}";
  if (in.matrices.size() != 2) return "takes two threadgroup operands {A, B}";
  if (!is_warpgroup_mma_n(in.lanes)) {
    return "n = " + std::to_string(in.lanes) + "; n is a multiple of 8 from 8 to 256";
  }
  const SharedMatrix& a = in.matrices[0];
  if (!a.array.valid() || a.array.index >= k.arrays.size()) return "operand A names no array";
  const DType input = k.arrays[a.array.index].dtype;
  if (!is_warpgroup_mma_input_type(input)) {
    return "A holds " + std::string(name_of(input)) + "; warpgroup MMA takes f16 or bf16";
  }
  if (std::string p = operand_problem(k, a, "A", input); !p.empty()) return p;
  if (std::string p = operand_problem(k, in.matrices[1], "B", input); !p.empty()) return p;
  for (std::size_t i = 0; i < 2; ++i) {
    if (i >= in.operands.size() || !in.operands[i].valid() ||
        in.operands[i].index >= k.value_types.size()) {
      return "operand " + std::to_string(i) + " is missing";
    }
    if (!is_index_type(k.value_types[in.operands[i].index])) return "starts must be u32 or i32";
  }
  const FragmentRef& d = in.fragments[0];
  if (!d.array.valid() || d.array.index >= k.arrays.size()) return "fragment D names no array";
  const Array& acc = k.arrays[d.array.index];
  const std::string what = "fragment D in '" + acc.name + "'";
  if (acc.space != MemorySpace::Thread) return what + " is not a per-thread array";
  if (acc.dtype != DType::F32)
    return what + " holds " + std::string(name_of(acc.dtype)) + ", not f32";
  const std::uint32_t size = warpgroup_accumulator_size(in.lanes);
  if (!acc.size_param.valid() && std::uint64_t{d.offset} + size > acc.size) {
    return what + " needs " + quantity(size, "element") + " from " + std::to_string(d.offset) +
           ", the array has " + std::to_string(acc.size);
  }
  return "";
}

}  // namespace

std::vector<bool> shared_matrix_arrays(const Kernel& k) {
  std::vector<bool> out(k.arrays.size(), false);
  for_each_instr(k.body, [&](const Instr& in) {
    for (const SharedMatrix& m : in.matrices) {
      if (m.array.valid() && m.array.index < out.size()) out[m.array.index] = true;
    }
    if (in.op == OpKind::BulkTensorLoad && in.array.valid() && in.array.index < out.size()) {
      out[in.array.index] = true;
    }
  });
  return out;
}

bool is_warpgroup_mma_input_type(DType t) { return t == DType::F16 || t == DType::BF16; }

bool is_warpgroup_mma_n(std::uint32_t n) { return n >= 8 && n <= kMaxWarpgroupN && n % 8 == 0; }

std::uint32_t warpgroup_accumulator_size(std::uint32_t n) { return n / 2; }

MatrixCoord warpgroup_accumulator_coord(std::uint32_t thread, std::uint32_t element) {
  MT_ASSERT(thread < kWarpgroupSize && element < warpgroup_accumulator_size(kMaxWarpgroupN))
      << "thread " << thread << ", element " << element;
  const std::uint32_t w = thread / 32, g = thread % 32 / 4, t = thread % 4;
  return {16 * w + g + 8 * (element / 2 % 2), 8 * (element / 4) + 2 * t + element % 2};
}

std::string_view swizzle_name(Swizzle s) {
  switch (s) {
    case Swizzle::None: return "none";
    case Swizzle::Bytes32: return "32B";
    case Swizzle::Bytes64: return "64B";
    case Swizzle::Bytes128: return "128B";
  }
  return "?";
}

std::uint32_t swizzle_row_bytes(Swizzle s) {
  return s == Swizzle::None ? 16 : 16 * (swizzle_mask(s) + 1);
}

std::uint32_t shared_matrix_byte(const SharedMatrix& m, std::uint32_t start_byte,
                                 std::uint32_t element_bytes, std::uint32_t row, std::uint32_t k) {
  const std::uint32_t w = swizzle_row_bytes(m.swizzle), kb = k * element_bytes;
  const std::uint32_t leading = m.swizzle == Swizzle::None ? kb / w * m.leading_bytes : 0;
  const std::uint32_t address =
      start_byte + row / 8 * m.stride_bytes + row % 8 * w + leading + kb % w;
  return swizzled_byte(m.swizzle, address);
}

std::uint32_t swizzled_byte(Swizzle s, std::uint32_t byte) {
  return byte ^ ((byte >> 3) & (swizzle_mask(s) << 4));
}

std::string shared_matrix_start_problem(const SharedMatrix& m, std::int64_t start_byte,
                                        std::uint32_t element_bytes) {
  if (start_byte < 0 || start_byte % 16 != 0) {
    return "starts at byte " + std::to_string(start_byte) + ", not a multiple of 16";
  }
  if (m.swizzle == Swizzle::None) return "";
  const std::uint32_t w = swizzle_row_bytes(m.swizzle);
  if (((start_byte >> 7) & swizzle_mask(m.swizzle)) != 0) {
    return "starts at byte " + std::to_string(start_byte) + ", not in the first row of its " +
           std::string(swizzle_name(m.swizzle)) + " swizzle pattern (" + std::to_string(8 * w) +
           " bytes)";
  }
  if (static_cast<std::uint32_t>(start_byte % w) + kWarpgroupK * element_bytes > w) {
    return "starts at byte " + std::to_string(start_byte) + ": its " + std::to_string(kWarpgroupK) +
           " k elements cross a " + std::string(swizzle_name(m.swizzle)) + " swizzle row";
  }
  return "";
}

std::uint64_t matrix_descriptor(std::uint32_t address, const SharedMatrix& m) {
  return std::uint64_t{(address & 0x3FFFFu) >> 4} |
         std::uint64_t{(m.leading_bytes >> 4) & 0x3FFFu} << 16 |
         std::uint64_t{(m.stride_bytes >> 4) & 0x3FFFu} << 32 |
         std::uint64_t{descriptor_swizzle_code(m.swizzle)} << 62;
}

std::uint32_t descriptor_swizzle_code(Swizzle s) {
  switch (s) {
    case Swizzle::None: return 0;
    case Swizzle::Bytes128: return 1;
    case Swizzle::Bytes64: return 2;
    case Swizzle::Bytes32: return 3;
  }
  return 0;
}

namespace make {

Instr warpgroup_mma(const Kernel& k, FragmentRef d, const SharedMatrix& a, ValueId a_start,
                    const SharedMatrix& b, ValueId b_start, std::uint32_t n) {
  Instr in = statement(OpKind::WarpgroupMma);
  in.fragments = {d};
  in.matrices = {a, b};
  in.operands = {a_start, b_start};
  in.lanes = n;
  MT_ASSERT(warpgroup_problem(k, in).empty()) << warpgroup_problem(k, in);
  return in;
}

Instr warpgroup_fence() { return statement(OpKind::WarpgroupFence); }
Instr warpgroup_commit() { return statement(OpKind::WarpgroupCommit); }

Instr warpgroup_wait(std::uint32_t pending) {
  Instr in = statement(OpKind::WarpgroupWait);
  in.lanes = pending;
  return in;
}

Instr fence_async_shared() { return statement(OpKind::FenceAsyncShared); }

}  // namespace make

std::string warpgroup_problem(const Kernel& k, const Instr& in) {
  switch (in.op) {
    case OpKind::WarpgroupMma: return mma_problem(k, in);
    case OpKind::WarpgroupWait:
      return in.lanes <= kMaxPendingWarpgroupGroups
                 ? ""
                 : "leaves " + std::to_string(in.lanes) + " groups pending; at most " +
                       std::to_string(kMaxPendingWarpgroupGroups);
    case OpKind::WarpgroupFence:
    case OpKind::WarpgroupCommit:
    case OpKind::FenceAsyncShared: return "";
    default: return std::string(op_name(in.op)) + " is not a warpgroup op";
  }
}

}  // namespace mt
