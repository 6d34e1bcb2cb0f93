// CUDA's dialect (its tables, cuda_dialect()) and the lookups every CDialect shares: literals,
// conversions, op patterns and reserved names.
#include "backends/cuda/cuda_dialect.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

extern const char* const kEmbedded_prelude_cuh;
extern const char* const kEmbedded_matrix_cuh;
extern const char* const kEmbedded_warpgroup_cuh;
extern const char* const kEmbedded_bulk_copy_cuh;

namespace mt::cuda {
namespace {

// --- CUDA's tables ---------------------------------------------------------------------------

// In DType order (checked below). Half types compute in f32; fp8 values are byte codes that the
// prelude converts.
constexpr TypeSpelling kCudaTypes[] = {
    {DType::F32, "float", "float", Compute::F32, "", "", "", "__uint_as_float({0})"},
    {DType::F16, "__half", "__half", Compute::F32, "__half2float", "__float2half_rn", "",
     "__ushort_as_half((unsigned short){0})"},
    {DType::BF16, "__nv_bfloat16", "__nv_bfloat16", Compute::F32, "__bfloat162float",
     "__float2bfloat16_rn", "", "__ushort_as_bfloat16((unsigned short){0})"},
    {DType::I32, "int", "int", Compute::Int, "", "", "mt_f32_to_i32", ""},
    {DType::U32, "unsigned int", "unsigned int", Compute::U32, "", "", "mt_f32_to_u32", ""},
    {DType::I8, "signed char", "signed char", Compute::Int, "", "", "mt_f32_to_i8", ""},
    {DType::U8, "unsigned char", "unsigned char", Compute::Int, "", "", "mt_f32_to_u8", ""},
    // Stored as one byte, so a byte other than 0 or 1 from the host is never undefined.
    {DType::Bool, "bool", "unsigned char", Compute::Bool, "", "", "", ""},
    {DType::F8E4M3, "unsigned char", "unsigned char", Compute::None, "mt_e4m3_to_f32",
     "mt_f32_to_e4m3", "", ""},
    {DType::F8E5M2, "unsigned char", "unsigned char", Compute::None, "mt_e5m2_to_f32",
     "mt_f32_to_e5m2", "", ""},
};

constexpr bool rows_follow_dtype_order() {
  if (std::size(kCudaTypes) != std::size(kAllDTypes)) return false;
  for (std::size_t i = 0; i < std::size(kCudaTypes); ++i) {
    if (kCudaTypes[i].dtype != kAllDTypes[i]) return false;
  }
  return true;
}
static_assert(rows_follow_dtype_order(), "kCudaTypes needs one row per DType, in DType order");

// F32 operands arrive widened to float; Int covers i32, i8 and u8 through the prelude's
// wrapping helpers; U32 uses C's operators wherever unsigned int already has the IR's meaning.
constexpr OpSpelling kCudaOps[] = {
    {OpKind::Neg, "-{0}", "0u - {0}", "mt_neg({0})", ""},
    {OpKind::Not, "", "~{0}", "mt_not({0})", "!{0}"},
    {OpKind::Abs, "fabsf({0})", "{0}", "mt_abs({0})", ""},
    {OpKind::Floor, "floorf({0})", "", "", ""},
    {OpKind::Ceil, "ceilf({0})", "", "", ""},
    {OpKind::Round, "roundf({0})", "", "", ""},  // half away from zero
    {OpKind::RoundEven, "rintf({0})", "", "", ""},
    {OpKind::Trunc, "truncf({0})", "", "", ""},
    {OpKind::Exp, "expf({0})", "", "", ""},
    {OpKind::Exp2, "exp2f({0})", "", "", ""},
    {OpKind::Expm1, "expm1f({0})", "", "", ""},
    {OpKind::Log, "logf({0})", "", "", ""},
    {OpKind::Log2, "log2f({0})", "", "", ""},
    {OpKind::Log1p, "log1pf({0})", "", "", ""},
    {OpKind::Sqrt, "sqrtf({0})", "", "", ""},
    {OpKind::Rsqrt, "mt_rsqrt({0})", "", "", ""},
    {OpKind::Sin, "sinf({0})", "", "", ""},
    {OpKind::Cos, "cosf({0})", "", "", ""},
    {OpKind::Tan, "tanf({0})", "", "", ""},
    {OpKind::Tanh, "tanhf({0})", "", "", ""},
    {OpKind::Erf, "erff({0})", "", "", ""},
    {OpKind::Sigmoid, "mt_sigmoid({0})", "", "", ""},
    {OpKind::Silu, "mt_silu({0})", "", "", ""},
    {OpKind::Gelu, "mt_gelu({0})", "", "", ""},
    // scalar_eval's gelu_tanh, step for step.
    {OpKind::GeluTanh,
     "{0} / (1.0f + expf(-2.0f * (0.7978845608f * ({0} + 0.044715f * {0} * {0} * {0}))))", "", "",
     ""},
    {OpKind::Add, "{0} + {1}", "{0} + {1}", "mt_add({0}, {1})", ""},
    {OpKind::Sub, "{0} - {1}", "{0} - {1}", "mt_sub({0}, {1})", ""},
    {OpKind::Mul, "{0} * {1}", "{0} * {1}", "mt_mul({0}, {1})", ""},
    {OpKind::Div, "{0} / {1}", "mt_div({0}, {1})", "mt_div({0}, {1})", ""},
    {OpKind::Rem, "fmodf({0}, {1})", "mt_rem({0}, {1})", "mt_rem({0}, {1})", ""},
    {OpKind::Min, "fminf({0}, {1})", "mt_min({0}, {1})", "mt_min({0}, {1})", ""},
    {OpKind::Max, "fmaxf({0}, {1})", "mt_max({0}, {1})", "mt_max({0}, {1})", ""},
    {OpKind::Pow, "powf({0}, {1})", "", "", ""},
    {OpKind::Atan2, "atan2f({0}, {1})", "", "", ""},
    {OpKind::Fma, "fmaf({0}, {1}, {2})", "", "", ""},
    {OpKind::And, "", "{0} & {1}", "mt_and({0}, {1})", "{0} && {1}"},
    {OpKind::Or, "", "{0} | {1}", "mt_or({0}, {1})", "{0} || {1}"},
    {OpKind::Xor, "", "{0} ^ {1}", "mt_xor({0}, {1})", "{0} != {1}"},
    {OpKind::Shl, "", "{0} << ({1} & 31u)", "mt_shl({0}, {1})", ""},
    {OpKind::Shr, "", "{0} >> ({1} & 31u)", "mt_shr({0}, {1})", ""},
    // Comparisons: IEEE on the widened floats (NaN: only != holds); 8-bit ints promote to int.
    {OpKind::Eq, "{0} == {1}", "{0} == {1}", "{0} == {1}", "{0} == {1}"},
    {OpKind::Ne, "{0} != {1}", "{0} != {1}", "{0} != {1}", "{0} != {1}"},
    {OpKind::Lt, "{0} < {1}", "{0} < {1}", "{0} < {1}", ""},
    {OpKind::Le, "{0} <= {1}", "{0} <= {1}", "{0} <= {1}", ""},
    {OpKind::Gt, "{0} > {1}", "{0} > {1}", "{0} > {1}", ""},
    {OpKind::Ge, "{0} >= {1}", "{0} >= {1}", "{0} >= {1}", ""},
};

// Bits between 32-bit float and integers, and between the two 16-bit float formats; the other
// same-size pairs (i32 and u32, the one-byte types) are C conversions, which are modular.
constexpr BitcastSpelling kCudaBitcasts[] = {
    {DType::F32, DType::I32, "__float_as_int({0})"},
    {DType::F32, DType::U32, "__float_as_uint({0})"},
    {DType::I32, DType::F32, "__int_as_float({0})"},
    {DType::U32, DType::F32, "__uint_as_float({0})"},
    {DType::F16, DType::BF16, "__ushort_as_bfloat16(__half_as_ushort({0}))"},
    {DType::BF16, DType::F16, "__ushort_as_half(__bfloat16_as_ushort({0}))"},
};

constexpr AtomicSpelling kCudaAtomics[] = {
    {CombineOp::Add, "atomicAdd"}, {CombineOp::Max, "atomicMax"}, {CombineOp::Min, "atomicMin"},
    {CombineOp::And, "atomicAnd"}, {CombineOp::Or, "atomicOr"},   {CombineOp::Xor, "atomicXor"},
};

// Identifiers the emitted code or the prelude spells inside a kernel body, which a parameter
// or local of the same name would shadow, plus the C++ keywords.
constexpr std::string_view kCudaReservedNames[] = {
    // C++ keywords and alternative tokens
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
    "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
    "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
    "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
    "while", "xor", "xor_eq", "restrict",
    // CUDA built-in variables
    "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize",
    // functions the patterns and conversions call
    "fabsf", "floorf", "ceilf", "roundf", "truncf", "expf", "exp2f", "logf", "log2f", "sqrtf",
    "sinf", "cosf", "tanhf", "erff", "fmodf", "tanf", "expm1f", "log1pf", "powf", "atan2f", "fminf",
    "fmaxf", "fmaf", "rintf", "isnan", "min", "max", "atomicCAS", "half", "nv_bfloat16", "memcpy",
    // atomics and vector types the emitted code spells
    "atomicAdd", "atomicMax", "atomicMin", "atomicAnd", "atomicOr", "atomicXor", "uint2", "uint4"};

// --- shared helpers --------------------------------------------------------------------------

std::string hex(std::uint32_t bits) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%Xu", static_cast<unsigned>(bits));
  return buffer;
}

// The element bits the interpreter would store for v (the one statement of each format).
std::uint32_t element_bits(DType t, Scalar v) {
  std::uint8_t bytes[4] = {};
  write_element(bytes, t, v);
  std::uint32_t u = 0;
  for (std::size_t k = size_of(t); k-- > 0;) u = (u << 8) | bytes[k];
  return u;
}

// The shortest decimal that reads back as the float f, as a C float literal ("0.5f", "1.0f",
// "1e-05f"). f must be finite.
std::string float_text(float f) {
  char buffer[64];
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof buffer, f);
  MT_ASSERT(r.ec == std::errc()) << "to_chars of a float";
  std::string text(buffer, r.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text + "f";
}

}  // namespace

const CDialect& cuda_dialect() {
  static const CDialect dialect{
      .kernel_prefix = "extern \"C\" __global__ void",
      .restrict_qualifier = "__restrict__",
      .shared_array = "__shared__ __align__(16)",
      .aligned_array = "__align__(16)",
      .shared_matrix_array = "__shared__ __align__(1024)",
      .dynamic_shared_declaration =
          "extern __shared__ __align__(16) unsigned char mt_dynamic_shared[];",
      .dynamic_shared_matrix_declaration =
          "extern __shared__ __align__(1024) unsigned char mt_dynamic_shared[];",
      .dynamic_shared = "mt_dynamic_shared",
      .async_barrier_array = "__shared__ __align__(8) unsigned long long",
      .tensor_map_parameter = "const __grid_constant__ mt_tensor_map",
      .unroll = "#pragma unroll",
      .thread_index = {"threadIdx.x", "threadIdx.y", "threadIdx.z"},
      .group_index = {"blockIdx.x", "blockIdx.y", "blockIdx.z"},
      .group_size = {"blockDim.x", "blockDim.y", "blockDim.z"},
      .grid_size = {"gridDim.x", "gridDim.y", "gridDim.z"},
      // Thread identity and warp synchronisation through the prelude's helpers.
      .lane_id = "mt_lane_id()",
      .warp_id = "mt_warp_id()",
      .barrier = "__syncthreads()",
      .warp_barrier = "__syncwarp(mt_warp_mask())",
      .types = kCudaTypes,
      .ops = kCudaOps,
      .bitcasts = kCudaBitcasts,
      .atomics = kCudaAtomics,
      .prelude_name = "metaltile_prelude.cuh",
      .prelude = kEmbedded_prelude_cuh,
      .matrix_helpers = kEmbedded_matrix_cuh,
      .warpgroup_helpers = kEmbedded_warpgroup_cuh,
      .bulk_copy_helpers = kEmbedded_bulk_copy_cuh,
      .checked_macro = "MT_CHECKED",
      .fault_type = "mt_fault",
      .first_fault = "mt_first_fault",
      .scratch = "mt_scratch",
      .scratch_size = "mt_scratch_bytes",
      .count_type = "unsigned long long",
      .error_record_type = "unsigned int*",
      .reserved_names = kCudaReservedNames,
  };
  return dialect;
}

// --- lookups ---------------------------------------------------------------------------------

const TypeSpelling& CDialect::type(DType t) const {
  const auto i = static_cast<std::size_t>(t);
  MT_ASSERT(i < types.size() && types[i].dtype == t) << "dtype " << static_cast<int>(t);
  return types[i];
}

std::string_view CDialect::float_to_int_function(DType t) const {
  const std::string_view f = type(t).from_f32;
  MT_ASSERT(!f.empty()) << "float_to_int_function: " << name_of(t) << " is not an integer type";
  return f;
}

std::string_view CDialect::op_pattern(OpKind op, Compute c) const {
  const auto row =
      std::find_if(ops.begin(), ops.end(), [&](const OpSpelling& r) { return r.op == op; });
  if (row == ops.end()) return "";
  switch (c) {
    case Compute::F32: return row->f32;
    case Compute::U32: return row->u32;
    case Compute::Int: return row->integer;
    case Compute::Bool: return row->boolean;
    case Compute::None: return "";
  }
  return "";
}

std::string_view CDialect::atomic_function(CombineOp c) const {
  const auto row = std::find_if(atomics.begin(), atomics.end(),
                                [&](const AtomicSpelling& r) { return r.combine == c; });
  return row == atomics.end() ? std::string_view() : row->function;
}

std::string CDialect::literal(DType t, Scalar v) const {
  const std::string cast = "(" + std::string(value_type(t)) + ")";
  switch (t) {
    case DType::Bool: return v.i != 0 ? "true" : "false";
    case DType::I32:
      // -2147483648 is not a literal in C++ (2147483648 does not fit in int).
      return v.i == INT32_MIN ? "(-2147483647 - 1)" : std::to_string(v.i);
    case DType::U32: return std::to_string(v.i) + "u";
    case DType::I8: return cast + std::to_string(v.i);
    case DType::U8: return cast + std::to_string(v.i) + "u";
    case DType::F8E4M3:
    case DType::F8E5M2: return cast + hex(element_bits(t, v));
    case DType::F32:
    case DType::F16:
    case DType::BF16: {
      // Literals are already rounded to their type, so the conversion of the float is exact.
      const auto f = static_cast<float>(v.f);
      if (std::isfinite(f)) return call(narrow_function(t), float_text(f));
      const std::string bits[] = {hex(element_bits(t, v))};
      return fill_pattern(type(t).from_bits, bits);
    }
  }
  MT_ASSERT(false) << "dtype " << static_cast<int>(t);
  return "";
}

std::string CDialect::cast_expression(DType from, DType to, std::string_view operand) const {
  if (from == to) return std::string(operand);
  const std::string type_name(value_type(to));
  if (to == DType::Bool) {
    if (is_float(from)) return call(widen_function(from), operand) + " != 0.0f";
    return std::string(operand) + " != 0";
  }
  if (from == DType::Bool) {
    if (is_float(to)) return call(narrow_function(to), std::string(operand) + " ? 1.0f : 0.0f");
    return "(" + type_name + ")" + std::string(operand);
  }
  if (is_float(from) && is_float(to)) {
    return call(narrow_function(to), call(widen_function(from), operand));
  }
  if (is_float(from)) return call(float_to_int_function(to), call(widen_function(from), operand));
  // Integer -> float: the f32 rounding of the integer (C's conversion, to nearest even), then
  // the narrow type's.
  if (is_float(to)) return call(narrow_function(to), "(float)" + std::string(operand));
  // Integer -> integer wraps: C's conversion to a narrower or signed type is modular on CUDA.
  return "(" + type_name + ")" + std::string(operand);
}

std::string CDialect::bitcast_expression(DType from, DType to, std::string_view operand) const {
  if (from == DType::Bool || to == DType::Bool || size_of(from) != size_of(to)) return "";
  if (from == to) return std::string(operand);
  for (const BitcastSpelling& b : bitcasts) {
    if (b.from != from || b.to != to) continue;
    const std::string operands[] = {std::string(operand)};
    return fill_pattern(b.pattern, operands);
  }
  // i32 <-> u32, and the one-byte types (fp8 values are their codes): modular conversion.
  return "(" + std::string(value_type(to)) + ")" + std::string(operand);
}

bool CDialect::is_reserved_name(std::string_view name) const {
  if (name.starts_with("mt_") || name.starts_with("MT_") || name.starts_with("_")) return true;
  if (name.find("__") != std::string_view::npos) return true;
  if (name.size() > 1 && name[0] == 'v' &&
      std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  return std::find(reserved_names.begin(), reserved_names.end(), name) != reserved_names.end();
}

// --- text helpers ----------------------------------------------------------------------------

std::string call(std::string_view function, std::string_view argument) {
  if (function.empty()) return std::string(argument);
  std::string out(function);
  out.append("(").append(argument).append(")");
  return out;
}

std::string fill_pattern(std::string_view pattern, std::span<const std::string> operands) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const bool placeholder = pattern[i] == '{' && i + 2 < pattern.size() && pattern[i + 1] >= '0' &&
                             pattern[i + 1] <= '9' && pattern[i + 2] == '}';
    if (!placeholder) {
      out += pattern[i];
      continue;
    }
    const std::size_t index = static_cast<std::size_t>(pattern[i + 1] - '0');
    MT_ASSERT(index < operands.size()) << "pattern " << pattern << " wants operand " << index;
    out += operands[index];
    i += 2;
  }
  return out;
}

std::string identifier(std::string_view wanted) {
  std::string name;
  for (char c : wanted) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '_') {
      name += '_';
    }
  }
  return name;
}

std::string_view combine_type(CombineOp c) {
  switch (c) {
    case CombineOp::Add: return "mt_combine_add";
    case CombineOp::Mul: return "mt_combine_mul";
    case CombineOp::Max: return "mt_combine_max";
    case CombineOp::Min: return "mt_combine_min";
    case CombineOp::And: return "mt_combine_and";
    case CombineOp::Or: return "mt_combine_or";
    case CombineOp::Xor: return "mt_combine_xor";
  }
  MT_ASSERT(false) << "combine " << static_cast<int>(c);
  return "";
}

std::string_view shuffle_function(ShuffleKind s) {
  switch (s) {
    case ShuffleKind::Index: return "mt_shuffle";
    case ShuffleKind::Xor: return "mt_shuffle_xor";
    case ShuffleKind::Up: return "mt_shuffle_up";
    case ShuffleKind::Down: return "mt_shuffle_down";
  }
  MT_ASSERT(false) << "shuffle " << static_cast<int>(s);
  return "";
}

}  // namespace mt::cuda
