// fold_constants: constant evaluation through scalar_eval, exact integer identities, and
// control flow whose condition or trip count is a constant.
#include "metaltile/passes/fold_constants.hpp"

#include <optional>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/mutator.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/verify.hpp"
#include "passes/known_constants.hpp"
#include "passes/substitution.hpp"

namespace mt::passes {
namespace {

bool is_zero(const std::optional<Scalar>& c) { return c && c->i == 0; }
bool is_one(const std::optional<Scalar>& c) { return c && c->i == 1; }

// Every bit set: -1 for signed types, the type's maximum for unsigned ones, true for bool.
bool is_all_ones(DType t, const std::optional<Scalar>& c) {
  if (!c) return false;
  if (t == DType::Bool) return c->i == 1;
  if (is_signed_integer(t)) return c->i == -1;
  return c->i == (std::int64_t{1} << bit_width(t)) - 1;
}

class Folder : public BlockMutator {
 public:
  explicit Folder(const Kernel& k) : k_(k) {}

 protected:
  // Folds `in` and appends what remains of it (nothing, itself, or an inlined if arm) to out.
  void visit(Instr in, std::vector<Instr>& out) override {
    subst_.apply(in);
    if (in.op == OpKind::If) {
      if (std::optional<Scalar> c = constant(in.operands[0])) {
        for (Instr& inner : in.blocks[c->i != 0 ? 0 : 1].instrs) visit(std::move(inner), out);
        return;
      }
    }
    if (in.op == OpKind::For && constants_.has_trips(in) == false) return;
    if (in.op == OpKind::Require && is_one(constant(in.operands[0]))) return;
    if (is_pure(in.op) && !in.operands.empty() && !evaluate(in)) {
      if (std::optional<ValueId> same = identity(in)) {
        subst_.replace(in.result, *same);
        return;
      }
    }
    constants_.record(in);
    BlockMutator::visit(std::move(in), out);
    // Folding a role's condition inlines its branch into a per_role loop's body; the loop
    // then runs as written (interleaving the roles is always correct).
    Instr& last = out.back();
    if (last.op == OpKind::For && last.per_role && !role_split_problem(last).empty()) {
      last.per_role = false;
    }
  }

 private:
  std::optional<Scalar> constant(ValueId v) const { return constants_.find(v); }

  void make_constant(Instr& in, Scalar value) {
    in.op = OpKind::Const;
    in.operands.clear();
    in.literal = normalise(value, in.dtype);
  }

  // All operands constant: becomes a Const. Returns whether it did.
  bool evaluate(Instr& in) {
    std::vector<Scalar> args;
    for (ValueId v : in.operands) {
      std::optional<Scalar> c = constant(v);
      if (!c) return false;
      args.push_back(*c);
    }
    const DType operand = k_.type_of(in.operands[in.op == OpKind::Select ? 1 : 0]);
    try {
      make_constant(in, scalar_eval(in.op, in.dtype, operand, args));
    } catch (const Error&) {
      return false;  // e.g. integer division by zero: the run reports it
    }
    return true;
  }

  // The value `in` equals by an exact identity; or `in` becomes the constant 0 (x*0, x&0).
  std::optional<ValueId> identity(Instr& in) {
    if (in.op == OpKind::Select) {
      std::optional<Scalar> c = constant(in.operands[0]);
      if (c) return in.operands[c->i != 0 ? 1 : 2];
      return std::nullopt;
    }
    // Floats have no exact identities here: x+0.0 is wrong for -0.0, x*0.0 for NaN and inf.
    if (!is_binary(in.op) || is_float(in.dtype)) return std::nullopt;
    const ValueId a = in.operands[0], b = in.operands[1];
    const std::optional<Scalar> ca = constant(a), cb = constant(b);
    switch (in.op) {
      case OpKind::Add:
      case OpKind::Or:
      case OpKind::Xor:
        if (is_zero(cb)) return a;
        if (is_zero(ca)) return b;
        break;
      case OpKind::Sub:
      case OpKind::Shl:
      case OpKind::Shr:
        if (is_zero(cb)) return a;
        break;
      case OpKind::Mul:
        if (is_one(cb)) return a;
        if (is_one(ca)) return b;
        if (is_zero(ca) || is_zero(cb)) make_constant(in, Scalar::of_int(0));
        break;
      case OpKind::Div:
        if (is_one(cb)) return a;
        break;
      case OpKind::And:
        if (is_all_ones(in.dtype, cb)) return a;
        if (is_all_ones(in.dtype, ca)) return b;
        if (is_zero(ca) || is_zero(cb)) make_constant(in, Scalar::of_int(0));
        break;
      default: break;
    }
    return std::nullopt;
  }

  const Kernel& k_;
  KnownConstants constants_;  // the Consts seen so far
  Substitution subst_;
};

}  // namespace

Kernel fold_constants(Kernel k) {
  Folder folder(k);
  folder.mutate(k.contract);
  folder.mutate(k.body);
  return k;
}

}  // namespace mt::passes
