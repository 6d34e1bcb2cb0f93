// Warpgroup MMA (the Hopper tensor cores' asynchronous m64nNk16): its shape, the layout of the
// accumulator over the warpgroup's threads, where the hardware finds each element of an
// operand in threadgroup memory (the matrix descriptor and its swizzle), checked constructors
// and verifier rules. The interpreter computes from these; the CUDA backend encodes the same
// fields into the descriptor word that wgmma.mma_async takes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/matrix.hpp"

namespace mt {

// Four consecutive warps, starting at a thread index that is a multiple of 128.
constexpr std::uint32_t kWarpgroupSize = 128;
constexpr std::uint32_t kWarpgroupM = 64;  // rows of A and D
constexpr std::uint32_t kWarpgroupK = 16;  // the k of one MMA (16-bit inputs)
constexpr std::uint32_t kMaxWarpgroupN = 256;
// WarpgroupWait leaves at most this many committed groups pending (the hardware's immediate).
constexpr std::uint32_t kMaxPendingWarpgroupGroups = 7;
// Arrays a WarpgroupMma reads are aligned to this many bytes on every backend, so that the
// swizzle, which the hardware applies to address bits, repeats from the array's start.
constexpr std::uint32_t kSharedMatrixAlignment = 1024;

// By ArrayId: whether some WarpgroupMma of k reads the array or some BulkTensorLoad writes it
// (it is then aligned to kSharedMatrixAlignment, so that swizzles start with the array).
std::vector<bool> shared_matrix_arrays(const Kernel& k);

// f16 and bf16 multiply into f32.
bool is_warpgroup_mma_input_type(DType t);
// n is a multiple of 8 from 8 to 256.
bool is_warpgroup_mma_n(std::uint32_t n);
// f32 accumulator elements per thread for an n-wide D: n / 2.
std::uint32_t warpgroup_accumulator_size(std::uint32_t n);

// The element (row, col) of D that element `element` of warpgroup thread `thread` (0..127)
// holds. With w = thread / 32, g = (thread % 32) / 4 and t = thread % 4:
//   row 16 w + g + 8 ((element / 2) % 2),  col 8 (element / 4) + 2 t + element % 2
// (each warp holds 16 rows as the accumulator of mma.sync m16n8, repeated every 8 columns).
MatrixCoord warpgroup_accumulator_coord(std::uint32_t thread, std::uint32_t element);

std::string_view swizzle_name(Swizzle s);
// The swizzle's row width in bytes: 32, 64 or 128; 16 (one core-matrix row) for None.
std::uint32_t swizzle_row_bytes(Swizzle s);

// `byte` (from the start of a pattern-aligned region) after swizzle s: 16-byte chunk c of a
// row lands at c ^ (its 128-byte line within the pattern): bits 4.. XOR bits 7..
// (3 bits for 128 B, 2 for 64 B, 1 for 32 B, none for None).
std::uint32_t swizzled_byte(Swizzle s, std::uint32_t byte);

// Where element (row, k) of a k-major operand lies, in bytes from the array's start, for an
// operand whose descriptor starts `start_byte` bytes into the array (16-byte aligned) and
// whose elements are `element_bytes` wide. Rows are grouped by 8 (stride_bytes apart). With
// W = swizzle_row_bytes and kb = k * element_bytes, the unswizzled address is
//   start + (row / 8) stride + (row % 8) W + (kb / W) leading + kb % W
// (`leading_bytes` matters only without swizzle, where k crosses 16-byte core matrices), and
// the swizzle XORs address bits 4.. with bits 7.. (3 bits for 128 B, 2 for 64 B, 1 for 32 B):
// 16-byte chunk c of a row lands at c ^ (its 128-byte line within the 1024-byte pattern).
std::uint32_t shared_matrix_byte(const SharedMatrix& m, std::uint32_t start_byte,
                                 std::uint32_t element_bytes, std::uint32_t row, std::uint32_t k);
// Why an operand cannot start `start_byte` bytes into its array, or "": the start must be
// 16-byte aligned; with a swizzle it must lie in the first row of the repeating pattern (the
// descriptor's base offset is 0) and the 16 k elements must fit in the rest of that row.
std::string shared_matrix_start_problem(const SharedMatrix& m, std::int64_t start_byte,
                                        std::uint32_t element_bytes);
// The 64-bit matrix descriptor for an operand at shared-window address `address`: start,
// leading and stride byte offsets in 16-byte units at bits 0, 16 and 32 (14 bits each), base
// offset 0, swizzle mode at bit 62 (1: 128 B, 2: 64 B, 3: 32 B, 0: none).
std::uint64_t matrix_descriptor(std::uint32_t address, const SharedMatrix& m);
// The descriptor's 2-bit swizzle mode field for s.
std::uint32_t descriptor_swizzle_code(Swizzle s);

namespace make {
Instr warpgroup_mma(const Kernel& k, FragmentRef d, const SharedMatrix& a, ValueId a_start,
                    const SharedMatrix& b, ValueId b_start, std::uint32_t n);
Instr warpgroup_fence();
Instr warpgroup_commit();
Instr warpgroup_wait(std::uint32_t pending);
Instr fence_async_shared();
}  // namespace make

// The verifier's rules for the Warpgroup ops and FenceAsyncShared: "" when `in` is well
// formed, else what is wrong.
std::string warpgroup_problem(const Kernel& k, const Instr& in);

}  // namespace mt
