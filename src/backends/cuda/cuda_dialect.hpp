// The CUDA dialect as data: type names per dtype, thread-index and barrier spellings, the kernel
// prefix, and the op -> expression table the emitter fills in. The walker (emit_cuda.cpp)
// decides nothing about spelling; everything CUDA-specific it writes comes from here.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::cuda {

// Fixed spellings.
inline constexpr std::string_view kKernelPrefix = "extern \"C\" __global__ void";
inline constexpr std::string_view kRestrict = "__restrict__";
inline constexpr std::string_view kBarrier = "__syncthreads()";
inline constexpr std::string_view kThreadIndex[3] = {"threadIdx.x", "threadIdx.y", "threadIdx.z"};
inline constexpr std::string_view kGroupIndex[3] = {"blockIdx.x", "blockIdx.y", "blockIdx.z"};
inline constexpr std::string_view kGroupSize[3] = {"blockDim.x", "blockDim.y", "blockDim.z"};
inline constexpr std::string_view kGridSize[3] = {"gridDim.x", "gridDim.y", "gridDim.z"};
// Thread identity, synchronisation and threadgroup memory (helpers from prelude.cuh).
inline constexpr std::string_view kLaneId = "mt_lane_id()";
inline constexpr std::string_view kWarpId = "mt_warp_id()";
inline constexpr std::string_view kWarpBarrier = "__syncwarp(mt_warp_mask())";
inline constexpr std::string_view kShared = "__shared__ __align__(16)";
// The scratch of threadgroup collectives: its name and size (prelude.cuh states the layout).
inline constexpr std::string_view kScratch = "mt_scratch";
inline constexpr std::string_view kScratchSize = "mt_scratch_bytes";
// Checked mode: each thread's first failure (prelude.cuh: mt_fault), reported at the end; the
// macro the emitted source defines to 1 or 0 to pick the prelude's access helpers.
inline constexpr std::string_view kFaultType = "mt_fault";
inline constexpr std::string_view kFirstFault = "mt_first_fault";
inline constexpr std::string_view kCheckedMacro = "MT_CHECKED";
// The index type of element counts and 64-bit address arithmetic.
inline constexpr std::string_view kCountType = "unsigned long long";
inline constexpr std::string_view kErrorRecordType = "unsigned int*";

// The C type a value of dtype t has in a kernel: float, __half, __nv_bfloat16, int,
// unsigned int, signed char, unsigned char, bool; fp8 values are their unsigned char codes.
std::string_view value_type(DType t);
// The C type of one element in device memory: the value type, except Bool, stored as one
// unsigned char byte (0 or 1) so a byte other than 0/1 from the host is never undefined.
std::string_view storage_type(DType t);

// Float types compute in f32. widen(t) turns a t value into float exactly; narrow(t) rounds a
// float to t (to nearest even; fp8 saturates). Both are "" for f32 (no call needed) and for
// non-float types. For example widen(F16) = "__half2float", narrow(BF16) = "__float2bfloat16_rn".
std::string_view widen_function(DType t);
std::string_view narrow_function(DType t);
// "function(argument)", or the argument itself when function is "" (f32's widen and narrow).
std::string call(std::string_view function, std::string_view argument);
// Float -> integer conversion (truncate, saturate, NaN -> 0) from f32 to integer type t.
std::string_view float_to_int_function(DType t);

// How a value of dtype t computes: in f32 (f32, f16, bf16), as unsigned int, as another
// integer (i32, i8, u8: through the prelude's wrapping helpers), as bool, or not at all (fp8).
enum class Compute : std::uint8_t { F32, U32, Int, Bool, None };
Compute compute_class(DType t);

// The expression pattern of a unary, binary or comparison op on operands of compute class c:
// "{0}", "{1}" stand for the operands (already widened to f32 for the F32 class). "" when the
// op has no rendering for c. F32 patterns produce a float (narrowed by the emitter); the others
// produce a value of the operand type (bool for comparisons).
std::string_view op_pattern(OpKind op, Compute c);

// Replaces {0}, {1}, {2} in pattern with the operands.
std::string fill_pattern(std::string_view pattern, std::span<const std::string> operands);

// The prelude's combine for c ("mt_combine_add", ...): C::apply(a, b) for reductions,
// C::atomic(p, v) for atomics (where CUDA has that atomic).
std::string_view combine_type(CombineOp c);
// The CUDA atomic for c ("atomicAdd", ...), or "" (Mul).
std::string_view atomic_function(CombineOp c);
// The prelude's shuffle for kind s: mt_shuffle, mt_shuffle_xor, mt_shuffle_up, mt_shuffle_down.
std::string_view shuffle_function(ShuffleKind s);

// A C expression of dtype t holding literal v exactly: "1.0f", "-3", "7u", "true",
// "__float2half_rn(0.5f)", "(unsigned char)0x38u", "__int_as_float(0x7f800000)" (inf/NaN).
std::string literal(DType t, Scalar v);

// The expression converting `operand` (of dtype from) to dtype to, per the Cast op.
std::string cast_expression(DType from, DType to, std::string_view operand);
// The expression reinterpreting the bits of `operand` (same size, not bool) as dtype to.
// "" when there is none (the emitter reports it).
std::string bitcast_expression(DType from, DType to, std::string_view operand);

// `wanted` as a C identifier: each character outside [A-Za-z0-9] becomes '_', with no '_'
// leading and none doubled (C++ reserves "__"). May be empty or start with a digit.
std::string identifier(std::string_view wanted);

// True for names generated code must not give a parameter or local: C++ and CUDA keywords,
// built-in variables, the functions the dialect's patterns call, and the reserved shapes
// (a leading "mt_" or "__", and "v<digits>", which name values).
bool is_reserved_name(std::string_view name);

}  // namespace mt::cuda
