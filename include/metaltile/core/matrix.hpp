// Tensor-core ops of the IR (Mma, LoadMatrix, CopyAsync*): their shapes, the fragment layouts
// that say which lane holds which matrix element, checked constructors and verifier rules.
// The layouts are the hardware's (warp-level mma.sync m16n8k16 / m16n8k32); the interpreter
// computes from them and the CUDA backend hands the same registers to the tensor cores.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/kernel.hpp"

namespace mt {

// The operand a fragment holds: A (m x k, row-major), B (k x n, column-major: each lane holds
// elements of one column) or the accumulator C / D (m x n, row-major).
enum class FragmentRole : std::uint8_t { A, B, Accumulator };
std::string_view fragment_role_name(FragmentRole role);

struct MmaShape {
  std::uint32_t m = 16, n = 8, k = 16;
};

// f16 and bf16 multiply as m16n8k16 into f32; i8 as m16n8k32 into i32.
bool is_mma_input_type(DType t);
MmaShape mma_shape(DType input);
DType mma_accumulator_type(DType input);
// Elements of one fragment per lane: A 8 (f16) or 16 (i8), B 4 or 8, accumulators 4.
std::uint32_t fragment_size(FragmentRole role, DType input);

// The matrix element (row, col) that element `element` of lane `lane`'s fragment holds. With
// g = lane / 4, t = lane % 4 and p = 4 / size_of(input) elements per 32-bit register r:
//  A:  row g + 8 (r & 1),  col t p + e % p + 4 p (r >> 1)
//  B:  row t p + e % p + 4 p r,  col g
//  C:  row g + 8 (e >> 1),  col 2 t + (e & 1)
struct MatrixCoord {
  std::uint32_t row = 0, col = 0;
};
MatrixCoord fragment_coord(FragmentRole role, DType input, std::uint32_t lane,
                           std::uint32_t element);

// LoadMatrix of `matrices` 8x8 matrices of 16-bit elements (or 8x16 of 8-bit ones, untransposed)
// gives each lane 4 bytes of each: matrices * 4 / size_of(t) elements. Lane l receives, of
// matrix j whose row r starts where lane 8j + r points, row l / 4 at element (l % 4) * p + e
// (p = 4 / size_of(t)); transposed (16-bit only), row (l % 4) * 2 + e at column l / 4.
std::uint32_t load_matrix_size(DType t, std::uint32_t matrices);

// CopyAsyncWait leaves at most this many committed groups pending (the hardware's immediate).
constexpr std::uint32_t kMaxPendingCopyGroups = 7;

namespace make {
Instr mma(const Kernel& k, FragmentRef d, FragmentRef a, FragmentRef b, FragmentRef c);
Instr load_matrix(const Kernel& k, FragmentRef dst, ArrayId shared, ValueId row_start,
                  std::uint32_t matrices, bool transpose);
Instr copy_async(const Kernel& k, ArrayId shared, ValueId dst_index, ParamId src, ValueId src_index,
                 ValueId valid, std::uint32_t elements);
Instr copy_async_commit();
Instr copy_async_wait(std::uint32_t pending);
}  // namespace make

// The verifier's rules for a Matrix-shaped instruction: empty when `in` is well formed, else
// what is wrong ("fragment A of 'a' needs 8 elements from 4, the array has 8").
std::string matrix_problem(const Kernel& k, const Instr& in);

// How the printer shows a fragment: "acc[4..8)".
std::string fragment_text(const Kernel& k, const FragmentRef& f, std::uint32_t size);

}  // namespace mt
