// specialise_scalars: scalar reads of named parameters become constants; the parameters go.
#include "metaltile/passes/specialise_scalars.hpp"

#include <optional>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt::passes {

Kernel specialise_scalars(Kernel k, const std::map<std::string, Scalar>& values) {
  if (values.empty()) return k;
  // The baked value of each parameter, indexed by its current id.
  std::vector<std::optional<Scalar>> baked(k.params.size());
  for (const auto& [name, value] : values) {
    const ParamId p = k.find_param(name);
    if (!p.valid()) {
      throw param_error(k.name, name, "specialised, but the kernel has no such parameter");
    }
    const Param& param = k.param(p);
    if (param.kind != ParamKind::Scalar) {
      throw param_error(k.name, name,
                        "specialised, but it is an " + std::string(param_kind_name(param.kind)) +
                            " tensor; only scalar parameters can be specialised");
    }
    baked[p.index] = normalise(value, param.dtype);
  }

  // The parameters that stay keep their order; their ids close up.
  std::vector<ParamId> renumbered(k.params.size());
  std::vector<Param> kept;
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    if (baked[i]) continue;
    renumbered[i] = ParamId{static_cast<std::uint32_t>(kept.size())};
    kept.push_back(std::move(k.params[i]));
  }

  auto rewrite = [&](Instr& in) {
    if (!in.param.valid()) return;
    if (const std::optional<Scalar>& value = baked[in.param.index]) {
      MT_ASSERT(in.op == OpKind::ScalarParam) << op_name(in.op) << " of a scalar parameter";
      in.op = OpKind::Const;  // same result id and dtype: uses need no rewriting
      in.literal = *value;
      in.param = ParamId{};
      return;
    }
    in.param = renumbered[in.param.index];
  };
  for_each_instr(k.contract, rewrite);
  for_each_instr(k.body, rewrite);
  for (TensorMap& m : k.tensor_maps) m.tensor = renumbered[m.tensor.index];
  // An array sized by a baked scalar gets its size now; one sized by a kept scalar follows the
  // renumbering (and still needs specialising before a compile).
  for (Array& a : k.arrays) {
    if (!a.size_param.valid()) continue;
    const std::optional<Scalar>& value = baked[a.size_param.index];
    if (!value) {
      a.size_param = renumbered[a.size_param.index];
      continue;
    }
    if (value->i < 1) {
      throw param_error(k.name, k.params[a.size_param.index].name,
                        "specialised to " + std::to_string(value->i) + ", but array '" + a.name +
                            "' takes its size from it; an array size must be at least 1");
    }
    a.size = static_cast<std::uint32_t>(value->i);
    a.size_param = ParamId{};
  }
  k.params = std::move(kept);
  return k;
}

}  // namespace mt::passes
