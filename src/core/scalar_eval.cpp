// The IR's scalar arithmetic, stated once: each op on one value of each dtype, with the
// semantics documented on mt::Instr, plus dtype conversion and element bytes.
#include "metaltile/core/scalar_eval.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "metaltile/core/error.hpp"

namespace mt {
namespace {

// Wraps an integer to the two's-complement width of t; bool becomes 0 or 1.
std::int64_t wrap(std::uint64_t v, DType t) {
  switch (t) {
    case DType::I32: return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    case DType::U32: return static_cast<std::uint32_t>(v);
    case DType::I8: return static_cast<std::int8_t>(static_cast<std::uint8_t>(v));
    case DType::U8: return static_cast<std::uint8_t>(v);
    case DType::Bool: return v != 0 ? 1 : 0;
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8E4M3:
    case DType::F8E5M2: break;
  }
  MT_ASSERT(false) << "wrap: " << name_of(t) << " is not an integer type";
  return 0;
}

// Narrows a double to f32 rounding to odd (truncate, then set the last bit if inexact). A
// second rounding from there to f16/bf16/fp8 is then exactly the direct rounding of the
// double, because f32 carries at least two more bits than each of them.
float narrow_to_odd(double d) {
  const float f = static_cast<float>(d);
  if (std::isnan(d) || static_cast<double>(f) == d) return f;
  if (std::bit_cast<std::uint32_t>(f) & 1u) return f;
  const float away = d > static_cast<double>(f) ? std::numeric_limits<float>::infinity()
                                                : -std::numeric_limits<float>::infinity();
  return std::nextafter(f, away);
}

// Float -> integer: truncate toward zero, saturate to the target's range, NaN -> 0.
std::int64_t float_to_int(double v, DType to) {
  if (std::isnan(v)) return 0;
  double lo = 0, hi = 0;
  switch (to) {
    case DType::I32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DType::U32: lo = 0, hi = 4294967295.0; break;
    case DType::I8: lo = -128, hi = 127; break;
    case DType::U8: lo = 0, hi = 255; break;
    case DType::Bool:
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8E4M3:
    case DType::F8E5M2:
      MT_ASSERT(false) << "float_to_int: " << name_of(to) << " is not an integer type";
  }
  return static_cast<std::int64_t>(std::clamp(std::trunc(v), lo, hi));
}

Scalar bitcast(Scalar v, DType from, DType to) {
  MT_ASSERT(size_of(from) == size_of(to) && from != DType::Bool && to != DType::Bool)
      << "bitcast " << name_of(from) << " to " << name_of(to);
  std::uint8_t bytes[4] = {};
  write_element(bytes, from, v);
  return read_element(bytes, to);
}

std::size_t arity(OpKind op) {
  switch (op_shape(op)) {
    case OpShape::Unary:
    case OpShape::Convert: return 1;
    case OpShape::Binary:
    case OpShape::Compare: return 2;
    case OpShape::Ternary: return 3;
    case OpShape::Leaf:
    case OpShape::Memory:
    case OpShape::Local:
    case OpShape::Array:
    case OpShape::Control:
    case OpShape::Sync:
    case OpShape::Collective:
    case OpShape::Matrix:
    case OpShape::Statement: break;
  }
  MT_ASSERT(false) << op_name(op) << " is not a scalar op";
  return 0;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// 1/sqrt(2) rounded to f32: gelu multiplies by it, as PyTorch does, instead of dividing by
// sqrt(2) (an IEEE division is a long instruction sequence on the GPU).
constexpr float kInvSqrt2 = 0.70710678f;

// x/2 * (1 + tanh(z)) with z = sqrt(2/pi) * (x + 0.044715 x^3), written as x / (1 + e^(-2z)):
// the same function without the cancellation of 1 + tanh(z) for x < 0. The CUDA dialect's
// pattern spells the same steps in the same order.
float gelu_tanh(float x) {
  const float z = 0.7978845608f * (x + 0.044715f * x * x * x);
  return x / (1.0f + std::exp(-2.0f * z));
}

// IEEE minNum/maxNum with -0 ordered below +0 (as CUDA's fminf/fmaxf do; libm's fmin
// leaves the choice between zeros to the platform): the non-NaN operand when one is NaN.
float float_min(float x, float y) {
  if (x == 0.0f && y == 0.0f) return std::signbit(x) ? x : y;
  return std::fmin(x, y);
}
float float_max(float x, float y) {
  if (x == 0.0f && y == 0.0f) return std::signbit(x) ? y : x;
  return std::fmax(x, y);
}

}  // namespace

Scalar scalar_eval(OpKind op, DType result, DType operand, std::span<const Scalar> args) {
  MT_ASSERT(args.size() == arity(op))
      << op_name(op) << " takes " << arity(op) << " operands, got " << args.size();
  MT_ASSERT(accepts_operand_type(op, operand)) << op_name(op) << " on " << name_of(operand);
  if (result_kind(op) == ResultKind::Bool) {
    MT_ASSERT(result == DType::Bool) << op_name(op) << " gives bool, not " << name_of(result);
  } else if (result_kind(op) == ResultKind::Same) {
    MT_ASSERT(result == operand) << op_name(op) << " on " << name_of(operand) << " gives "
                                 << name_of(result);
  }

  const Scalar x = args[0];
  const Scalar y = args.size() > 1 ? args[1] : Scalar{};
  const Scalar z = args.size() > 2 ? args[2] : Scalar{};
  const bool fl = is_float(operand);
  // Floats compute in f32; integers in 64-bit unsigned, which wraps without undefined
  // behaviour and agrees with every narrower width after wrap().
  const auto fx = static_cast<float>(x.f), fy = static_cast<float>(y.f);
  const auto fz = static_cast<float>(z.f);
  const auto ux = static_cast<std::uint64_t>(x.i), uy = static_cast<std::uint64_t>(y.i);
  const auto real = [&](float r) { return Scalar::of_float(round_to(result, r)); };
  const auto integer = [&](std::uint64_t r) { return Scalar::of_int(wrap(r, result)); };
  const auto truth = [](bool b) { return Scalar::of_int(b ? 1 : 0); };
  const auto divisor_checked = [&]() {
    if (y.i == 0) throw Error("division by zero");
  };
  const auto shift = [&]() { return static_cast<unsigned>(uy & (bit_width(operand) - 1)); };

  switch (op) {
    case OpKind::Neg: return fl ? real(-fx) : integer(0 - ux);
    case OpKind::Not: return operand == DType::Bool ? truth(x.i == 0) : integer(~ux);
    case OpKind::Abs: return fl ? real(std::fabs(fx)) : integer(x.i < 0 ? 0 - ux : ux);
    case OpKind::Floor: return real(std::floor(fx));
    case OpKind::Ceil: return real(std::ceil(fx));
    case OpKind::Round: return real(std::round(fx));          // half away from zero
    case OpKind::RoundEven: return real(std::nearbyint(fx));  // the default mode: half to even
    case OpKind::Trunc: return real(std::trunc(fx));
    case OpKind::Exp: return real(std::exp(fx));
    case OpKind::Exp2: return real(std::exp2(fx));
    case OpKind::Expm1: return real(std::expm1(fx));
    case OpKind::Log: return real(std::log(fx));
    case OpKind::Log2: return real(std::log2(fx));
    case OpKind::Log1p: return real(std::log1p(fx));
    case OpKind::Sqrt: return real(std::sqrt(fx));
    case OpKind::Rsqrt: return real(1.0f / std::sqrt(fx));
    case OpKind::Sin: return real(std::sin(fx));
    case OpKind::Cos: return real(std::cos(fx));
    case OpKind::Tan: return real(std::tan(fx));
    case OpKind::Tanh: return real(std::tanh(fx));
    case OpKind::Erf: return real(std::erf(fx));
    case OpKind::Sigmoid: return real(sigmoid(fx));
    case OpKind::Silu: return real(fx * sigmoid(fx));
    case OpKind::Gelu: return real(0.5f * fx * (1.0f + std::erf(fx * kInvSqrt2)));
    case OpKind::GeluTanh: return real(gelu_tanh(fx));
    case OpKind::Cast: return convert(x, operand, result);
    case OpKind::Bitcast: return bitcast(x, operand, result);

    case OpKind::Add: return fl ? real(fx + fy) : integer(ux + uy);
    case OpKind::Sub: return fl ? real(fx - fy) : integer(ux - uy);
    case OpKind::Mul: return fl ? real(fx * fy) : integer(ux * uy);
    case OpKind::Div:
      if (fl) return real(fx / fy);
      divisor_checked();
      // In 64 bits INT_MIN / -1 is representable; wrap() then takes it back to INT_MIN.
      return integer(static_cast<std::uint64_t>(x.i / y.i));
    case OpKind::Rem:
      if (fl) return real(std::fmod(fx, fy));
      divisor_checked();
      return integer(static_cast<std::uint64_t>(x.i % y.i));
    case OpKind::Min:
      return fl ? real(float_min(fx, fy)) : integer(static_cast<std::uint64_t>(std::min(x.i, y.i)));
    case OpKind::Max:
      return fl ? real(float_max(fx, fy)) : integer(static_cast<std::uint64_t>(std::max(x.i, y.i)));
    case OpKind::Pow: return real(std::pow(fx, fy));
    case OpKind::Atan2: return real(std::atan2(fx, fy));
    // On bool (0 or 1) the bitwise forms are the logical ones.
    case OpKind::And: return integer(ux & uy);
    case OpKind::Or: return integer(ux | uy);
    case OpKind::Xor: return integer(ux ^ uy);
    case OpKind::Shl: return integer(ux << shift());
    case OpKind::Shr:
      // x.i is sign-extended for signed types, so >> on it is the arithmetic shift.
      return is_signed_integer(operand) ? integer(static_cast<std::uint64_t>(x.i >> shift()))
                                        : integer(ux >> shift());

    // IEEE comparisons: every one is false on NaN except Ne.
    case OpKind::Eq: return truth(fl ? fx == fy : x.i == y.i);
    case OpKind::Ne: return truth(fl ? fx != fy : x.i != y.i);
    case OpKind::Lt: return truth(fl ? fx < fy : x.i < y.i);
    case OpKind::Le: return truth(fl ? fx <= fy : x.i <= y.i);
    case OpKind::Gt: return truth(fl ? fx > fy : x.i > y.i);
    case OpKind::Ge: return truth(fl ? fx >= fy : x.i >= y.i);

    case OpKind::Select: return x.i != 0 ? args[1] : args[2];
    case OpKind::Fma: return real(std::fma(fx, fy, fz));  // one f32 rounding, as CUDA's fmaf

    case OpKind::Const:
    case OpKind::ProgramId:
    case OpKind::ScalarParam:
    case OpKind::TensorLen:
    case OpKind::Load:
    case OpKind::Store:
    case OpKind::LocalRead:
    case OpKind::LocalWrite:
    case OpKind::For:
    case OpKind::If:
    case OpKind::Require:
    case OpKind::RequireLen:
    case OpKind::RequireLenMultiple:
    case OpKind::TensorMapShape:
    // Thread identity, memory, synchronisation and collectives depend on more than operands.
    case OpKind::ThreadId:
    case OpKind::ThreadgroupId:
    case OpKind::ThreadsPerThreadgroup:
    case OpKind::ThreadgroupsPerGrid:
    case OpKind::LaneId:
    case OpKind::WarpId:
    case OpKind::LoadVector:
    case OpKind::StoreVector:
    case OpKind::AtomicGlobal:
    case OpKind::PrefetchL2:
    case OpKind::ArrayLoad:
    case OpKind::ArrayStore:
    case OpKind::AtomicArray:
    case OpKind::Barrier:
    case OpKind::WarpBarrier:
    case OpKind::DeviceFence:
    case OpKind::WaitPriorKernel:
    case OpKind::ReleaseNextKernel:
    case OpKind::WarpReduce:
    case OpKind::WarpShuffle:
    case OpKind::WarpPrefixSum:
    case OpKind::ThreadgroupReduce:
    case OpKind::ThreadgroupArgmax:
    case OpKind::Mma:
    case OpKind::LoadMatrix:
    case OpKind::CopyAsync:
    case OpKind::CopyAsyncCommit:
    case OpKind::CopyAsyncWait:
    case OpKind::WarpgroupMma:
    case OpKind::WarpgroupFence:
    case OpKind::WarpgroupCommit:
    case OpKind::WarpgroupWait:
    case OpKind::FenceAsyncShared:
    case OpKind::AsyncBarrierInit:
    case OpKind::AsyncBarrierArrive:
    case OpKind::AsyncBarrierExpect:
    case OpKind::AsyncBarrierWait:
    case OpKind::BulkTensorLoad: break;
  }
  MT_ASSERT(false) << op_name(op) << " is not a scalar op";
  return Scalar{};
}

bool overflows(OpKind op, DType result, DType operand, std::span<const Scalar> args) {
  if (!is_integer(result)) return false;
  // Operands are at most 32 bits wide, so the exact results below fit int64 (or overflow it,
  // which a 32-bit result cannot hold either).
  const std::int64_t x = args[0].i;
  const std::int64_t y = args.size() > 1 ? args[1].i : 0;
  const auto fits = [&](std::int64_t exact) {
    return wrap(static_cast<std::uint64_t>(exact), result) == exact;
  };
  std::int64_t exact = 0;
  switch (op) {
    case OpKind::Add: return __builtin_add_overflow(x, y, &exact) || !fits(exact);
    case OpKind::Sub: return __builtin_sub_overflow(x, y, &exact) || !fits(exact);
    case OpKind::Mul: return __builtin_mul_overflow(x, y, &exact) || !fits(exact);
    case OpKind::Neg: return !fits(-x);
    case OpKind::Abs: return !fits(x < 0 ? -x : x);
    case OpKind::Div: return y != 0 && !fits(x / y);  // INT_MIN / -1
    case OpKind::Shl:
      // A shift by the width or more (taken modulo the width) loses every bit of x.
      if (y < 0 || y >= static_cast<std::int64_t>(bit_width(operand))) return x != 0;
      return __builtin_mul_overflow(x, std::int64_t{1} << y, &exact) || !fits(exact);
    case OpKind::Cast: {
      if (operand == DType::Bool) return false;
      if (!is_float(operand)) return !fits(x);
      const double whole = std::trunc(args[0].f);  // saturating casts lose the value
      return std::isnan(whole) || whole < -0x1p63 || whole >= 0x1p63 ||
             !fits(static_cast<std::int64_t>(whole));
    }
    default: return false;
  }
}

Scalar convert(Scalar v, DType from, DType to) {
  if (from == to) return v;
  if (from == DType::Bool) {
    const bool b = v.i != 0;
    return is_float(to) ? Scalar::of_float(b ? 1.0 : 0.0) : Scalar::of_int(b ? 1 : 0);
  }
  if (to == DType::Bool) {
    const bool nonzero = is_float(from) ? v.f != 0.0 : v.i != 0;  // NaN != 0 holds
    return Scalar::of_int(nonzero ? 1 : 0);
  }
  if (is_float(from) && is_float(to)) {
    return Scalar::of_float(round_to(to, static_cast<float>(v.f)));
  }
  if (is_float(from)) return Scalar::of_int(float_to_int(v.f, to));
  // Integer -> float: the f32 rounding of the integer, then the narrow type's.
  if (is_float(to)) return Scalar::of_float(round_to(to, static_cast<float>(v.i)));
  return Scalar::of_int(wrap(static_cast<std::uint64_t>(v.i), to));
}

Scalar normalise(Scalar v, DType t) {
  if (!is_float(t)) return Scalar::of_int(wrap(static_cast<std::uint64_t>(v.i), t));
  // inf is an E5M2 value; only a conversion saturates it.
  if (t == DType::F8E5M2 && std::isinf(v.f)) return Scalar::of_float(v.f);
  // An fp8 NaN's sign is stored (0x7F or 0xFF); only a conversion makes it 0x7F.
  if (is_fp8(t) && std::isnan(v.f)) {
    return Scalar::of_float(std::copysign(std::numeric_limits<double>::quiet_NaN(), v.f));
  }
  const float x = t == DType::F32 ? static_cast<float>(v.f) : narrow_to_odd(v.f);
  return Scalar::of_float(round_to(t, x));
}

Scalar read_element(const std::uint8_t* bytes, DType t) {
  std::uint32_t u = 0;
  for (std::size_t k = size_of(t); k-- > 0;) u = (u << 8) | bytes[k];
  switch (t) {
    case DType::F32: return Scalar::of_float(std::bit_cast<float>(u));
    case DType::F16: return Scalar::of_float(f16_bits_to_f32(static_cast<std::uint16_t>(u)));
    case DType::BF16: return Scalar::of_float(bf16_bits_to_f32(static_cast<std::uint16_t>(u)));
    case DType::F8E4M3: return Scalar::of_float(e4m3_bits_to_f32(static_cast<std::uint8_t>(u)));
    case DType::F8E5M2: return Scalar::of_float(e5m2_bits_to_f32(static_cast<std::uint8_t>(u)));
    case DType::I32:
    case DType::U32:
    case DType::I8:
    case DType::U8:
    case DType::Bool: return Scalar::of_int(wrap(u, t));
  }
  MT_ASSERT(false) << "read_element: unknown dtype " << static_cast<int>(t);
  return Scalar{};
}

void write_element(std::uint8_t* bytes, DType t, Scalar v) {
  const auto f = static_cast<float>(v.f);
  const std::uint8_t nan_fp8 = std::signbit(f) ? 0xFF : 0x7F;  // keeps a loaded NaN's sign
  std::uint32_t u = 0;
  switch (t) {
    case DType::F32: u = std::bit_cast<std::uint32_t>(f); break;
    case DType::F16: u = f32_to_f16_bits(f); break;
    case DType::BF16: u = f32_to_bf16_bits(f); break;
    case DType::F8E4M3: u = std::isnan(f) ? nan_fp8 : f32_to_e4m3_bits(f); break;
    case DType::F8E5M2:
      // An E5M2 value may be inf (loaded or cast from E5M2); store it as inf, not saturated.
      if (std::isnan(f))
        u = nan_fp8;
      else if (std::isinf(f))
        u = std::signbit(f) ? 0xFCu : 0x7Cu;
      else
        u = f32_to_e5m2_bits(f);
      break;
    case DType::I32:
    case DType::U32:
    case DType::I8:
    case DType::U8: u = static_cast<std::uint32_t>(v.i); break;
    case DType::Bool: u = v.i != 0 ? 1 : 0; break;
  }
  for (std::size_t k = 0; k < size_of(t); ++k) bytes[k] = static_cast<std::uint8_t>(u >> (8 * k));
}

}  // namespace mt
