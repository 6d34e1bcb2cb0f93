// The CUDA dialect tables: type names, conversions, op patterns, literals and reserved names.
#include "backends/cuda/cuda_dialect.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::cuda {
namespace {

// One row per renderable op: its pattern for each compute class ("" = none).
struct OpRow {
  OpKind op;
  std::string_view f32, u32, integer, boolean;
};

// F32 operands arrive widened to float; Int covers i32, i8 and u8 through the prelude's
// wrapping helpers; U32 uses C's operators wherever unsigned int already has the IR's meaning.
constexpr OpRow kOpTable[] = {
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

// Identifiers the emitted code or the prelude spells inside a kernel body, which a parameter
// or local of the same name would shadow, plus the C++ keywords.
constexpr std::string_view kReservedNames[] = {
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

std::string call(std::string_view function, std::string_view argument) {
  if (function.empty()) return std::string(argument);
  std::string out(function);
  out.append("(").append(argument).append(")");
  return out;
}

std::string_view value_type(DType t) {
  switch (t) {
    case DType::F32: return "float";
    case DType::F16: return "__half";
    case DType::BF16: return "__nv_bfloat16";
    case DType::I32: return "int";
    case DType::U32: return "unsigned int";
    case DType::I8: return "signed char";
    case DType::U8: return "unsigned char";
    case DType::Bool: return "bool";
    case DType::F8E4M3:
    case DType::F8E5M2: return "unsigned char";
  }
  MT_ASSERT(false) << "dtype " << static_cast<int>(t);
  return "";
}

std::string_view storage_type(DType t) {
  return t == DType::Bool ? std::string_view("unsigned char") : value_type(t);
}

std::string_view widen_function(DType t) {
  switch (t) {
    case DType::F16: return "__half2float";
    case DType::BF16: return "__bfloat162float";
    case DType::F8E4M3: return "mt_e4m3_to_f32";
    case DType::F8E5M2: return "mt_e5m2_to_f32";
    case DType::F32:
    case DType::I32:
    case DType::U32:
    case DType::I8:
    case DType::U8:
    case DType::Bool: return "";
  }
  return "";
}

std::string_view narrow_function(DType t) {
  switch (t) {
    case DType::F16: return "__float2half_rn";
    case DType::BF16: return "__float2bfloat16_rn";
    case DType::F8E4M3: return "mt_f32_to_e4m3";
    case DType::F8E5M2: return "mt_f32_to_e5m2";
    case DType::F32:
    case DType::I32:
    case DType::U32:
    case DType::I8:
    case DType::U8:
    case DType::Bool: return "";
  }
  return "";
}

std::string_view float_to_int_function(DType t) {
  switch (t) {
    case DType::I32: return "mt_f32_to_i32";
    case DType::U32: return "mt_f32_to_u32";
    case DType::I8: return "mt_f32_to_i8";
    case DType::U8: return "mt_f32_to_u8";
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Bool:
    case DType::F8E4M3:
    case DType::F8E5M2: break;
  }
  MT_ASSERT(false) << "float_to_int_function: " << name_of(t) << " is not an integer type";
  return "";
}

Compute compute_class(DType t) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16: return Compute::F32;
    case DType::U32: return Compute::U32;
    case DType::I32:
    case DType::I8:
    case DType::U8: return Compute::Int;
    case DType::Bool: return Compute::Bool;
    case DType::F8E4M3:
    case DType::F8E5M2: return Compute::None;
  }
  return Compute::None;
}

std::string_view op_pattern(OpKind op, Compute c) {
  const OpRow* row = std::find_if(std::begin(kOpTable), std::end(kOpTable),
                                  [&](const OpRow& r) { return r.op == op; });
  if (row == std::end(kOpTable)) return "";
  switch (c) {
    case Compute::F32: return row->f32;
    case Compute::U32: return row->u32;
    case Compute::Int: return row->integer;
    case Compute::Bool: return row->boolean;
    case Compute::None: return "";
  }
  return "";
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

std::string_view atomic_function(CombineOp c) {
  switch (c) {
    case CombineOp::Add: return "atomicAdd";
    case CombineOp::Max: return "atomicMax";
    case CombineOp::Min: return "atomicMin";
    case CombineOp::And: return "atomicAnd";
    case CombineOp::Or: return "atomicOr";
    case CombineOp::Xor: return "atomicXor";
    case CombineOp::Mul: return "";
  }
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

std::string literal(DType t, Scalar v) {
  switch (t) {
    case DType::Bool: return v.i != 0 ? "true" : "false";
    case DType::I32:
      // -2147483648 is not a literal in C++ (2147483648 does not fit in int).
      return v.i == INT32_MIN ? "(-2147483647 - 1)" : std::to_string(v.i);
    case DType::U32: return std::to_string(v.i) + "u";
    case DType::I8: return "(signed char)" + std::to_string(v.i);
    case DType::U8: return "(unsigned char)" + std::to_string(v.i) + "u";
    case DType::F8E4M3:
    case DType::F8E5M2: return "(unsigned char)" + hex(element_bits(t, v));
    case DType::F32: {
      const auto f = static_cast<float>(v.f);
      if (std::isfinite(f)) return float_text(f);
      return "__uint_as_float(" + hex(element_bits(t, v)) + ")";
    }
    case DType::F16:
    case DType::BF16: {
      // Literals are already rounded to their type, so the conversion of the float is exact.
      const auto f = static_cast<float>(v.f);
      if (std::isfinite(f)) return call(narrow_function(t), float_text(f));
      const std::string bits = "(unsigned short)" + hex(element_bits(t, v));
      return call(t == DType::F16 ? "__ushort_as_half" : "__ushort_as_bfloat16", bits);
    }
  }
  MT_ASSERT(false) << "dtype " << static_cast<int>(t);
  return "";
}

std::string cast_expression(DType from, DType to, std::string_view operand) {
  if (from == to) return std::string(operand);
  const std::string type(value_type(to));
  if (to == DType::Bool) {
    if (is_float(from)) return call(widen_function(from), operand) + " != 0.0f";
    return std::string(operand) + " != 0";
  }
  if (from == DType::Bool) {
    if (is_float(to)) return call(narrow_function(to), std::string(operand) + " ? 1.0f : 0.0f");
    return "(" + type + ")" + std::string(operand);
  }
  if (is_float(from) && is_float(to)) {
    return call(narrow_function(to), call(widen_function(from), operand));
  }
  if (is_float(from)) return call(float_to_int_function(to), call(widen_function(from), operand));
  // Integer -> float: the f32 rounding of the integer (C's conversion, to nearest even), then
  // the narrow type's.
  if (is_float(to)) return call(narrow_function(to), "(float)" + std::string(operand));
  // Integer -> integer wraps: C's conversion to a narrower or signed type is modular on CUDA.
  return "(" + type + ")" + std::string(operand);
}

std::string bitcast_expression(DType from, DType to, std::string_view operand) {
  if (from == DType::Bool || to == DType::Bool || size_of(from) != size_of(to)) return "";
  if (from == to) return std::string(operand);
  const std::string x(operand);
  const std::string type(value_type(to));
  if (from == DType::F32)
    return (to == DType::I32 ? "__float_as_int(" : "__float_as_uint(") + x + ")";
  if (to == DType::F32)
    return (from == DType::I32 ? "__int_as_float(" : "__uint_as_float(") + x + ")";
  if (from == DType::F16) return "__ushort_as_bfloat16(__half_as_ushort(" + x + "))";
  if (from == DType::BF16) return "__ushort_as_half(__bfloat16_as_ushort(" + x + "))";
  // i32 <-> u32, and the one-byte types (fp8 values are their codes): modular conversion.
  return "(" + type + ")" + x;
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

bool is_reserved_name(std::string_view name) {
  if (name.starts_with("mt_") || name.starts_with("MT_") || name.starts_with("_")) return true;
  if (name.find("__") != std::string_view::npos) return true;
  if (name.size() > 1 && name[0] == 'v' &&
      std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  return std::find(std::begin(kReservedNames), std::end(kReservedNames), name) !=
         std::end(kReservedNames);
}

}  // namespace mt::cuda
