// The C dialect the CUDA emitter writes, as a value: qualifiers and built-in spellings, type
// names and conversions per dtype, the op table, intrinsics and the prelude's pieces. The walker
// (emit_cuda.cpp) decides nothing about spelling: everything target-specific it writes comes
// from the CDialect it is given. cuda_dialect() is CUDA's; another C-like target is another
// value of the same struct, with a prelude that defines the same mt_* helpers.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::cuda {

// How a value of a dtype computes: in f32 (f32, f16, bf16), as unsigned int, as another integer
// (i32, i8, u8: through the prelude's wrapping helpers), as bool, or not at all (fp8).
enum class Compute : std::uint8_t { F32, U32, Int, Bool, None };

// The spellings of one dtype. A function is "" where no call is needed or none exists.
struct TypeSpelling {
  DType dtype;
  std::string_view value;    // the C type of a value ("__half"; fp8 values are their byte codes)
  std::string_view storage;  // the C type of an element in memory (Bool: one byte, 0 or 1)
  Compute compute;
  std::string_view widen;     // t -> float, exactly ("" for f32 and non-floats)
  std::string_view narrow;    // float -> t, to nearest even, fp8 saturating ("" likewise)
  std::string_view from_f32;  // float -> integer t: truncating, saturating, NaN -> 0
  // A literal from its bits, where no decimal spelling exists (inf, NaN): "{0}" is the bits
  // as a hexadecimal literal.
  std::string_view from_bits;
};

// A unary, binary, comparison or ternary op's pattern for each compute class: "{0}", "{1}",
// "{2}" stand for the operands (already widened to float for F32). "" where the op has none.
// F32 patterns produce a float (narrowed by the emitter); the others produce a value of the
// operand type (bool for comparisons).
struct OpSpelling {
  OpKind op;
  std::string_view f32, u32, integer, boolean;
};

// A reinterpretation between two same-size types that is an intrinsic, not a C conversion.
struct BitcastSpelling {
  DType from, to;
  std::string_view pattern;  // "{0}" is the operand
};

// The atomic that applies a combine to memory ("atomicAdd"); a combine without one has no row.
struct AtomicSpelling {
  CombineOp combine;
  std::string_view function;
};

struct CDialect {
  // --- the kernel: its prefix, qualifiers and declarations
  std::string_view kernel_prefix;        // before the entry point's name
  std::string_view restrict_qualifier;   // of every pointer parameter
  std::string_view shared_array;         // qualifiers of a threadgroup array
  std::string_view aligned_array;        // qualifier of a per-thread array holding fragments
  std::string_view shared_matrix_array;  // qualifiers of a threadgroup array a warpgroup MMA reads
  // Threadgroup memory sized at launch (arrays past the static limit are carved from it): its
  // declaration and its name.
  std::string_view dynamic_shared_declaration;
  std::string_view dynamic_shared_matrix_declaration;  // the same when a warpgroup MMA reads it
  std::string_view dynamic_shared;
  std::string_view async_barrier_array;   // a set of async barriers: its type and qualifiers
  std::string_view tensor_map_parameter;  // a tensor map parameter: its qualifiers and type
  std::string_view unroll;  // the line that asks for the following loop to be unrolled

  // --- thread identity and synchronisation
  std::array<std::string_view, 3> thread_index, group_index, group_size, grid_size;
  std::string_view lane_id, warp_id;
  std::string_view barrier, warp_barrier;

  // --- types, conversions, operations
  std::span<const TypeSpelling> types;  // one row per DType, in DType order
  std::span<const OpSpelling> ops;
  std::span<const BitcastSpelling> bitcasts;
  std::span<const AtomicSpelling> atomics;

  // --- the prelude, and the names emitted code shares with it
  std::string_view prelude_name;       // the header the emitted source includes
  std::string_view prelude;            // its text, handed to the compiler under that name
  std::string_view matrix_helpers;     // pasted after the include into kernels with tensor-core ops
  std::string_view warpgroup_helpers;  // and after them into kernels with warpgroup MMA
  std::string_view bulk_copy_helpers;  // and into kernels with async barriers or bulk copies
  std::string_view checked_macro;      // defined to 1 or 0 above the include: the access helpers
  std::string_view fault_type, first_fault;  // each thread's first failure, reported at the end
  std::string_view scratch, scratch_size;    // the scratch of threadgroup collectives
  std::string_view count_type;               // hidden element counts (64-bit)
  std::string_view error_record_type;        // the error record pointer
  // Identifiers a parameter, local or array must not take: keywords, built-ins and the
  // functions the spellings above call.
  std::span<const std::string_view> reserved_names;

  // --- lookups in the tables above
  const TypeSpelling& type(DType t) const;
  std::string_view value_type(DType t) const { return type(t).value; }
  std::string_view storage_type(DType t) const { return type(t).storage; }
  Compute compute_class(DType t) const { return type(t).compute; }
  std::string_view widen_function(DType t) const { return type(t).widen; }
  std::string_view narrow_function(DType t) const { return type(t).narrow; }
  // Float -> integer conversion (truncate, saturate, NaN -> 0) to the integer type t.
  std::string_view float_to_int_function(DType t) const;
  std::string_view op_pattern(OpKind op, Compute c) const;  // "" where there is none
  std::string_view atomic_function(CombineOp c) const;      // "" where there is none

  // A C expression of dtype t holding literal v exactly: "1.0f", "-3", "7u", "true",
  // "__float2half_rn(0.5f)", "(unsigned char)0x38u", "__uint_as_float(0x7F800000u)" (inf, NaN).
  std::string literal(DType t, Scalar v) const;
  // The expression converting `operand` (of dtype from) to dtype to, per the Cast op.
  std::string cast_expression(DType from, DType to, std::string_view operand) const;
  // The expression reinterpreting the bits of `operand` (same size, not bool) as dtype to; ""
  // when there is none (the emitter reports it).
  std::string bitcast_expression(DType from, DType to, std::string_view operand) const;
  // True for names generated code must not give a parameter or local: reserved_names, and the
  // shapes the emitter and the prelude use (a leading "mt_", "MT_" or "_", any "__", and
  // "v<digits>", which name values).
  bool is_reserved_name(std::string_view name) const;
};

// CUDA C++ for NVRTC: cuda_fp16.h / cuda_bf16.h types, CUDA's intrinsics and built-ins, and
// prelude.cuh (matrix.cuh for tensor-core kernels), embedded at build time.
const CDialect& cuda_dialect();

// --- text helpers every dialect shares -------------------------------------------------------

// "function(argument)", or the argument itself when function is "" (f32's widen and narrow).
std::string call(std::string_view function, std::string_view argument);
// Replaces {0}, {1}, {2} in pattern with the operands.
std::string fill_pattern(std::string_view pattern, std::span<const std::string> operands);
// `wanted` as a C identifier: each character outside [A-Za-z0-9] becomes '_', with no '_'
// leading and none doubled (C++ reserves "__"). May be empty or start with a digit.
std::string identifier(std::string_view wanted);
// The prelude's combine for c ("mt_combine_add", ...): C::apply(a, b) for reductions,
// C::atomic(p, v) for atomics (where the dialect has that atomic).
std::string_view combine_type(CombineOp c);
// The prelude's shuffle for kind s: mt_shuffle, mt_shuffle_xor, mt_shuffle_up, mt_shuffle_down.
std::string_view shuffle_function(ShuffleKind s);

}  // namespace mt::cuda
