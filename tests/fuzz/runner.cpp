// Specialisation, the pass pipeline and one launch of a fuzz program.
#include "fuzz/runner.hpp"

#include <exception>

#include "metaltile/core/error.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"

namespace mt::fuzz {
namespace {

// The constants to specialise that the kernel still has (a minimised kernel may have lost
// some of its scalars).
std::map<std::string, Scalar> constants(const FuzzProgram& p, bool optional_too) {
  std::map<std::string, Scalar> values;
  const auto add = [&](const std::string& name) {
    if (p.kernel.find_param(name).valid()) values[name] = p.scalars.at(name);
  };
  for (const std::string& name : p.required_constants) add(name);
  if (optional_too) {
    for (const std::string& name : p.optional_constants) add(name);
  }
  return values;
}

}  // namespace

Kernel reference_kernel(const FuzzProgram& p) {
  return passes::specialise_scalars(p.kernel, constants(p, false));
}

Kernel optimised_kernel(const FuzzProgram& p) {
  return passes::optimise(passes::specialise_scalars(p.kernel, constants(p, true)));
}

RunResult run(KernelBackend& backend, const Kernel& k, const FuzzProgram& p) {
  RunResult result;
  try {
    std::map<std::string, std::vector<std::uint8_t>> tensors;
    std::vector<Argument> args(k.params.size());
    for (std::size_t i = 0; i < k.params.size(); ++i) {
      const Param& param = k.params[i];
      if (param.is_tensor()) {
        std::vector<std::uint8_t>& bytes = tensors[param.name] = p.tensors.at(param.name);
        args[i].bytes = bytes;
      } else {
        args[i].scalar = p.scalars.at(param.name);
      }
    }
    const std::shared_ptr<const Executable> exe = backend.compile(k);
    backend.launch(*exe, args, p.dims);
    for (const Param& param : k.params) {
      if (param.kind == ParamKind::Output)
        result.outputs[param.name] = std::move(tensors[param.name]);
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace mt::fuzz
