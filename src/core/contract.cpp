// Contract evaluation on the host (core/contract.hpp): a straight-line walk over the contract
// block with scalar_eval's arithmetic, checked for wraps, and the messages of its failures.
#include "metaltile/core/contract.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/tensor_map.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt {
namespace {

// A value as a precondition message shows it: integers as integers, bool as true/false, floats
// as the shortest text that reads back the same (to_chars: locale-independent).
std::string format_value(Scalar v, DType t) {
  if (t == DType::Bool) return v.i != 0 ? "true" : "false";
  if (!is_float(t)) return std::to_string(v.i);
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v.f));
  return std::string(buf, r.ptr);
}

// What a contract value depends on through the contract's definitions: the parameters
// (scalars first, then tensors by their lengths, each in parameter order) and the launch shape.
struct Dependencies {
  std::vector<ParamId> params;
  bool tpg = false, grid = false;
  std::vector<bool> values;  // by ValueId: the values reached
};

Dependencies dependencies(const Kernel& k, std::span<const ValueId> roots) {
  std::vector<const Instr*> def(k.value_types.size(), nullptr);
  for_each_instr(k.contract, [&](const Instr& in) {
    if (has_result(in.op)) def[in.result.index] = &in;
  });
  Dependencies d;
  d.values.assign(k.value_types.size(), false);
  std::vector<ValueId> pending(roots.begin(), roots.end());
  while (!pending.empty()) {
    const ValueId v = pending.back();
    pending.pop_back();
    if (d.values[v.index] || def[v.index] == nullptr) continue;
    d.values[v.index] = true;
    const Instr& in = *def[v.index];
    if (in.op == OpKind::ScalarParam || in.op == OpKind::TensorLen) d.params.push_back(in.param);
    d.tpg = d.tpg || in.op == OpKind::ThreadsPerThreadgroup;
    d.grid = d.grid || in.op == OpKind::ThreadgroupsPerGrid;
    for (ValueId operand : in.operands) pending.push_back(operand);
  }
  std::sort(d.params.begin(), d.params.end(), [&](ParamId a, ParamId b) {
    const bool a_tensor = k.param(a).is_tensor(), b_tensor = k.param(b).is_tensor();
    return a_tensor != b_tensor ? b_tensor : a < b;
  });
  d.params.erase(std::unique(d.params.begin(), d.params.end()), d.params.end());
  return d;
}

// "head_dim=64, len(src)=32, tpg=(32,2,1)": the values of what `d` lists.
std::string values_text(const Kernel& k, const Dependencies& d, std::span<const Scalar> uniforms,
                        const LaunchDims& dims) {
  std::vector<std::string> parts;
  for (ParamId id : d.params) {
    const Param& p = k.param(id);
    const Scalar value = uniforms[id.index];
    parts.push_back(p.is_tensor() ? "len(" + p.name + ")=" + std::to_string(value.i)
                                  : p.name + "=" + format_value(value, p.dtype));
  }
  if (d.tpg) parts.push_back("tpg=" + format_axes(dims.tpg));
  if (d.grid) parts.push_back("grid=" + format_axes(dims.grid));
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

// "4 elements (16 bytes)" of a tensor of type t.
std::string elements_text(std::int64_t count, DType t) {
  const auto n = static_cast<std::uint64_t>(count);
  return quantity(n, "element") + " (" + quantity(n * size_of(t), "byte") + ")";
}

// "'position < max_seq'" or "the length of 'out_w' (FORMULA)": what a requirement checks.
std::string requirement_text(const Kernel& k, const Instr& require) {
  if (require.op == OpKind::Require) return "'" + require.message + "'";
  return "the length of '" + k.param(require.param).name + "' (" + require.message + ")";
}

// A failed Require, with the values of the parameters and launch shape its condition reads.
Error precondition_error(const Kernel& k, const Instr& require, std::span<const Scalar> uniforms,
                         const LaunchDims& dims) {
  const Dependencies d = dependencies(k, require.operands);
  std::string detail = "precondition failed: " + require.message;
  const std::string values = values_text(k, d, uniforms, dims);
  if (!values.empty()) detail += " (" + values + ")";
  if (d.params.empty()) return kernel_error(k.name, detail);
  return param_error(k.name, k.param(d.params[0]).name, detail);
}

// A failed RequireLen or RequireLenMultiple, naming its tensor, whose length was not `count`
// (or a multiple of it).
Error length_error(const Kernel& k, const Instr& require, std::int64_t count,
                   std::span<const Scalar> uniforms, const LaunchDims& dims) {
  const Param& tensor = k.param(require.param);
  const std::string values = values_text(k, dependencies(k, require.operands), uniforms, dims);
  const std::string with = values.empty() ? "" : " with " + values;
  const std::string got = ", got " + elements_text(uniforms[require.param.index].i, tensor.dtype);
  if (require.op == OpKind::RequireLen) {
    return param_error(
        k.name, tensor.name,
        "expected " + elements_text(count, tensor.dtype) + " = " + require.message + with + got);
  }
  if (count <= 0) {
    return param_error(k.name, tensor.name,
                       "its length must be a multiple of " + require.message + ", which is " +
                           std::to_string(count) + with);
  }
  return param_error(k.name, tensor.name,
                     "expected a multiple of " + elements_text(count, tensor.dtype) + " = " +
                         require.message + with + got);
}

// Integer arithmetic in the contract that wrapped or divided by zero (`what`), with the operands
// `args`, the requirement it was computing and the parameters behind it.
Error contract_arithmetic_error(const Kernel& k, const Instr& in, std::string_view what,
                                std::span<const Scalar> args, std::span<const Scalar> uniforms,
                                const LaunchDims& dims) {
  const Dependencies d = dependencies(k, in.operands);
  std::string detail = "contract arithmetic: " + std::string(op_name(in.op));
  for (std::size_t i = 0; i < args.size(); ++i) {
    detail += (i == 0 ? " " : ", ") + format_value(args[i], k.type_of(in.operands[i]));
  }
  detail += ": " + std::string(what);
  // The first requirement that uses this value is what the arithmetic was for.
  for (const Instr& statement : k.contract.instrs) {
    if (op_shape(statement.op) != OpShape::Statement) continue;
    if (dependencies(k, statement.operands).values[in.result.index]) {
      detail += ", in the check of " + requirement_text(k, statement);
      break;
    }
  }
  const std::string values = values_text(k, d, uniforms, dims);
  if (!values.empty()) detail += " (" + values + ")";
  // Name a parameter the op reads directly (max_seq in "mul %n_heads, %max_seq"), in operand
  // order but the divisor first when it is 0; else the first it depends on.
  std::vector<ValueId> blame = in.operands;
  if (args.size() == 2 && !is_float(k.type_of(in.operands[1])) && args[1].i == 0) {
    std::swap(blame[0], blame[1]);
  }
  for (ValueId operand : blame) {
    for (const Instr& def : k.contract.instrs) {
      if (def.result != operand) continue;
      if (def.op == OpKind::ScalarParam || def.op == OpKind::TensorLen) {
        return param_error(k.name, k.param(def.param).name, detail);
      }
    }
  }
  if (d.params.empty()) return kernel_error(k.name, detail);
  return param_error(k.name, k.param(d.params[0]).name, detail);
}

// One evaluation of a contract: its values by ValueId, the uniforms (normalised) and the shape.
class ContractRun {
 public:
  ContractRun(const Kernel& k, std::span<const Scalar> uniforms, const LaunchDims& dims)
      : k_(k), dims_(dims), values_(k.value_types.size()), defined_(k.value_types.size(), false) {
    uniforms_.reserve(k.params.size());
    for (std::size_t p = 0; p < k.params.size(); ++p) {
      const Param& param = k.params[p];
      uniforms_.push_back(param.is_tensor() ? uniforms[p] : normalise(uniforms[p], param.dtype));
    }
  }

  void run() {
    for (const Instr& in : k_.contract.instrs) {
      for (ValueId v : in.operands) {
        MT_ASSERT(v.index < defined_.size() && defined_[v.index])
            << "kernel " << k_.name << ": %" << v.index << " used before its definition";
      }
      switch (op_shape(in.op)) {
        case OpShape::Leaf: define(in, leaf(in)); break;
        case OpShape::Unary:
        case OpShape::Convert:
        case OpShape::Binary:
        case OpShape::Compare:
        case OpShape::Ternary: define(in, arithmetic(in)); break;
        case OpShape::Statement: require(in); break;
        case OpShape::Memory:
        case OpShape::Local:
        case OpShape::Array:
        case OpShape::Control:
        case OpShape::Sync:
        case OpShape::Collective:
        case OpShape::Matrix:
          MT_ASSERT(false) << "kernel " << k_.name << ": " << op_name(in.op)
                           << " in the contract (the verifier allows none)";
      }
    }
  }

  // After run(): a contract value, and the normalised uniforms.
  Scalar value(ValueId v) const { return values_[v.index]; }
  const std::vector<Scalar>& uniforms() const { return uniforms_; }

 private:
  void define(const Instr& in, Scalar value) {
    values_[in.result.index] = value;
    defined_[in.result.index] = true;
  }

  // The launch-uniform leaves: constants, scalars, tensor lengths and the launch shape.
  Scalar leaf(const Instr& in) const {
    switch (in.op) {
      case OpKind::Const: return in.literal;
      case OpKind::ScalarParam: return uniforms_[in.param.index];
      case OpKind::TensorLen: {
        const Scalar length = uniforms_[in.param.index];
        check_tensor_len(k_, in, length.i);
        return length;
      }
      case OpKind::ThreadsPerThreadgroup: return Scalar::of_int(dims_.tpg[in.axis]);
      case OpKind::ThreadgroupsPerGrid: return Scalar::of_int(dims_.grid[in.axis]);
      default:
        MT_ASSERT(false) << "kernel " << k_.name << ": " << op_name(in.op)
                         << " in the contract is not launch-uniform";
        return {};
    }
  }

  // scalar_eval on the operands; a division by zero or an integer result that wraps is an
  // error naming the parameters behind it. The value operands' type is the last operand's
  // (Select's first operand is its bool condition).
  Scalar arithmetic(const Instr& in) const {
    std::vector<Scalar> args;
    args.reserve(in.operands.size());
    for (ValueId v : in.operands) args.push_back(values_[v.index]);
    const DType operand_type = k_.type_of(in.operands.back());
    Scalar result;
    try {
      result = scalar_eval(in.op, in.dtype, operand_type, args);
    } catch (const Error& e) {
      throw contract_arithmetic_error(k_, in, e.what(), args, uniforms_, dims_);
    }
    if (overflows(in.op, in.dtype, operand_type, args)) [[unlikely]] {
      throw contract_arithmetic_error(k_, in,
                                      "the result does not fit " + std::string(name_of(in.dtype)),
                                      args, uniforms_, dims_);
    }
    return result;
  }

  // The contract's statements: a condition, or a tensor's length against a count. A tensor
  // map's shape checks nothing here (evaluate_tensor_maps reads and checks it).
  void require(const Instr& in) const {
    if (in.op == OpKind::TensorMapShape) return;
    const Scalar value = values_[in.operands[0].index];
    if (in.op == OpKind::Require) {
      if (value.i == 0) throw precondition_error(k_, in, uniforms_, dims_);
      return;
    }
    const std::int64_t count = value.i, length = uniforms_[in.param.index].i;
    const bool holds =
        in.op == OpKind::RequireLen ? length == count : count > 0 && length % count == 0;
    if (!holds) throw length_error(k_, in, count, uniforms_, dims_);
  }

  const Kernel& k_;
  const LaunchDims& dims_;
  // By ParamId: a scalar's value (normalised), a tensor's element count.
  std::vector<Scalar> uniforms_;
  std::vector<Scalar> values_;  // by ValueId
  std::vector<bool> defined_;
};

}  // namespace

void check_tensor_len(const Kernel& k, const Instr& in, std::int64_t elements) {
  if (elements <= std::int64_t{UINT32_MAX}) return;
  throw param_error(k.name, k.param(in.param).name,
                    std::to_string(elements) +
                        " elements are more than a u32 length counts: " + print_instr(k, in));
}

void evaluate_contract(const Kernel& k, std::span<const Scalar> uniforms, const LaunchDims& dims) {
  MT_ASSERT(uniforms.size() == k.params.size()) << "kernel '" << k.name << "': " << uniforms.size()
                                                << " uniforms for " << k.params.size() << " params";
  if (k.contract.instrs.empty()) return;
  ContractRun(k, uniforms, dims).run();
}

std::vector<TensorMapExtent> evaluate_tensor_maps(const Kernel& k, std::span<const Scalar> uniforms,
                                                  const LaunchDims& dims) {
  std::vector<TensorMapExtent> extents(k.tensor_maps.size());
  if (k.tensor_maps.empty()) return extents;
  MT_ASSERT(uniforms.size() == k.params.size()) << "kernel '" << k.name << "': " << uniforms.size()
                                                << " uniforms for " << k.params.size() << " params";
  ContractRun run(k, uniforms, dims);
  run.run();
  for (const Instr& in : k.contract.instrs) {
    if (in.op != OpKind::TensorMapShape) continue;
    const TensorMap& m = k.tensor_map(in.tensor_map);
    TensorMapExtent& e = extents[in.tensor_map.index];
    e.rows = static_cast<std::uint64_t>(run.value(in.operands[0]).i);
    e.cols = static_cast<std::uint64_t>(run.value(in.operands[1]).i);
    e.row_stride = static_cast<std::uint64_t>(run.value(in.operands[2]).i);
    const auto elements = static_cast<std::uint64_t>(run.uniforms()[m.tensor.index].i);
    if (std::string p = tensor_map_extent_problem(k, m, e, elements); !p.empty()) {
      throw param_error(k.name, k.param(m.tensor).name, p);
    }
  }
  return extents;
}

}  // namespace mt
