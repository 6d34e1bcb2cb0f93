// Val operations: literals, casts and the typed recording of unary/binary/comparison ops.
// Every user mistake is reported here, where the kernel and the expression are known.
#include "metaltile/dsl/val.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

bool literal_fits(DType t, std::int64_t n) {
  switch (t) {
    case DType::I32:
      return n >= std::numeric_limits<std::int32_t>::min() &&
             n <= std::numeric_limits<std::int32_t>::max();
    case DType::U32: return n >= 0 && n <= std::numeric_limits<std::uint32_t>::max();
    case DType::I8: return n >= -128 && n <= 127;
    case DType::U8: return n >= 0 && n <= 255;
    case DType::Bool: return n == 0 || n == 1;
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8E4M3:
    case DType::F8E5M2: return true;
  }
  return false;
}

Val make_constant(KernelBuilder& b, DType t, Scalar literal) {
  return b.append(make::constant(b.mutable_kernel(), t, normalise(literal, t)));
}

void require_same_type(std::string_view what, const Val& a, const Val& b) {
  if (a.dtype() == b.dtype()) return;
  KernelBuilder& k = a.builder();
  k.fail(std::string(what) + ": operand types differ: " + k.describe(a) + " and " + k.describe(b) +
         "; convert one with .to()");
}

void require_accepts(OpKind op, const Val& a) {
  if (accepts_operand_type(op, a.dtype())) return;
  KernelBuilder& k = a.builder();
  k.fail(std::string(op_name(op)) + ": does not accept " + k.describe(a));
}

// Logical operators take bool only; bitwise ones (&, |, ~) are for integers.
void require_bool(std::string_view symbol, const Val& a) {
  if (a.dtype() == DType::Bool) return;
  KernelBuilder& k = a.builder();
  k.fail(std::string(symbol) + ": operand " + k.describe(a) +
         " is not bool; compare it (x != 0) or use the bitwise operator");
}

}  // namespace

Val::Val(KernelBuilder& builder, ValueId id, DType dtype)
    : trace_(builder.trace_serial()), id_(id), dtype_(dtype), loop_(builder.innermost_loop()) {}

Val& Val::operator=(const Val& other) {
  // Only while this Val's trace runs: a Val kept outside its trace is plain data.
  if (KernelBuilder* k = KernelBuilder::running(trace_); k != nullptr) {
    if (k->innermost_loop() != loop_) {
      k->fail("a Val made outside this loop is reassigned inside it (" + k->describe(*this) +
              " = " + k->describe(other) +
              "): the loop body is traced once, so the new value would not carry to the next "
              "iteration; declare it as a Var (`Var acc = ...;`) to carry it, or use a new Val "
              "inside the loop");
    }
  }
  trace_ = other.trace_;
  id_ = other.id_;
  dtype_ = other.dtype_;
  loop_ = other.loop_;
  return *this;
}

Val Operand::get() const {
  KernelBuilder::note_location(where_);
  return value_ != nullptr ? *value_ : read_(source_);
}

ValueId Val::id() const {
  KernelBuilder::of_trace(trace_);
  return id_;
}

KernelBuilder& Val::builder() const { return KernelBuilder::of_trace(trace_); }

Val Val::to(DType t, std::source_location where) const {
  KernelBuilder::note_location(where);
  KernelBuilder& k = builder();
  if (t == dtype_) return *this;
  return k.append(make::cast(k.mutable_kernel(), t, id_));
}

Val Val::bitcast(DType t, std::source_location where) const {
  KernelBuilder::note_location(where);
  KernelBuilder& k = builder();
  if (size_of(t) != size_of(dtype_) || t == DType::Bool || dtype_ == DType::Bool) {
    k.fail("bitcast: " + k.describe(*this) + " to " + std::string(name_of(t)) +
           " changes the size or involves bool");
  }
  if (t == dtype_) return *this;
  return k.append(make::bitcast(k.mutable_kernel(), t, id_));
}

namespace dsl_detail {

Val literal_int(const Val& like, std::int64_t n) {
  KernelBuilder& k = like.builder();
  if (is_float(like.dtype())) {
    if (is_fp8(like.dtype()))
      k.fail("literal " + std::to_string(n) + " beside " + k.describe(like) +
             ": fp8 is a storage type");
    return make_constant(k, like.dtype(), Scalar::of_float(static_cast<double>(n)));
  }
  if (!literal_fits(like.dtype(), n)) {
    k.fail("literal " + std::to_string(n) + " does not fit " + std::string(name_of(like.dtype())) +
           " (beside " + k.describe(like) + ")");
  }
  return make_constant(k, like.dtype(), Scalar::of_int(n));
}

Val literal_uint(const Val& like, std::uint64_t n) {
  if (n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return literal_int(like, static_cast<std::int64_t>(n));
  }
  KernelBuilder& k = like.builder();
  if (is_float(like.dtype()) && !is_fp8(like.dtype())) {
    return make_constant(k, like.dtype(), Scalar::of_float(static_cast<double>(n)));
  }
  k.fail("literal " + std::to_string(n) + " does not fit " + std::string(name_of(like.dtype())) +
         " (beside " + k.describe(like) + ")");
}

Val literal_float(const Val& like, double x) {
  KernelBuilder& k = like.builder();
  if (!is_float(like.dtype()) || is_fp8(like.dtype())) {
    std::ostringstream text;
    text << "float literal " << x << " beside " << k.describe(like)
         << ": use an integer literal or convert with .to()";
    k.fail(text.str());
  }
  return make_constant(k, like.dtype(), Scalar::of_float(x));
}

Val binary(OpKind op, const Val& a, const Val& b) {
  require_same_type(op_name(op), a, b);
  require_accepts(op, a);
  // An integer division by a constant 0 would fail (or yield 0 on a GPU) at run time: say so now.
  if ((op == OpKind::Div || op == OpKind::Rem) && !is_float(b.dtype())) {
    KernelBuilder& k = a.builder();
    if (const std::optional<Scalar> d = k.constant_value(b); d && d->i == 0) {
      k.fail(std::string(op_name(op)) + ": " + k.describe(a) + " by the constant 0");
    }
  }
  return a.builder().append(make::binary(a.builder().mutable_kernel(), op, a.id(), b.id()));
}

Val compare(OpKind op, const Val& a, const Val& b) {
  require_same_type(op_name(op), a, b);
  require_accepts(op, a);
  return a.builder().append(make::compare(a.builder().mutable_kernel(), op, a.id(), b.id()));
}

Val unary(OpKind op, const Val& a) {
  require_accepts(op, a);
  return a.builder().append(make::unary(a.builder().mutable_kernel(), op, a.id()));
}

Val logical(OpKind op, const Val& a, const Val& b) {
  const char* symbol = op == OpKind::And ? "&&" : "||";
  require_bool(symbol, a);
  require_bool(symbol, b);
  return binary(op, a, b);
}

Val logical_not(const Val& a) {
  require_bool("!", a);
  return unary(OpKind::Not, a);
}

}  // namespace dsl_detail

// Constants in the kernel being traced (builtins.hpp).
Val constant(DType t, double value) {
  KernelBuilder& k = KernelBuilder::current();
  if (is_float(t)) return make_constant(k, t, Scalar::of_float(value));
  double whole = std::trunc(value);
  // Range first: converting a double outside int64 (or NaN) to an integer is undefined.
  const bool in_int64 = whole >= -0x1p63 && whole < 0x1p63;
  if (whole != value || !in_int64 || !literal_fits(t, static_cast<std::int64_t>(whole))) {
    std::ostringstream text;
    text << "constant " << value << " does not fit " << name_of(t);
    k.fail(text.str());
  }
  return make_constant(k, t, Scalar::of_int(static_cast<std::int64_t>(whole)));
}
Val u32(std::uint32_t v) { return constant(DType::U32, v); }
Val i32(std::int32_t v) { return constant(DType::I32, v); }
Val f32(float v) { return constant(DType::F32, v); }

}  // namespace mt
