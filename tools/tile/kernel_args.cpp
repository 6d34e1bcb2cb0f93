// Command-line values of a kernel's parameters (kernel_args.hpp).
#include "kernel_args.hpp"

#include "options.hpp"

namespace mt::tile {

std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw UsageError(std::string(option) + " wants NAME=VALUE, got '" + text + "'");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

const Param& param_named(const Kernel& k, const std::string& name, const char* option) {
  const ParamId id = k.find_param(name);
  if (!id.valid()) {
    std::string names;
    for (const Param& p : k.params) names += (names.empty() ? "" : ", ") + p.name;
    throw UsageError(std::string(option) + " " + name + ": kernel '" + k.name +
                     "' has no parameter of that name (" + names + ")");
  }
  return k.param(id);
}

namespace {

ConstValue const_value(const Param& p, const std::string& text) {
  try {
    if (p.dtype == DType::F32) return std::stof(text);
    if (p.dtype == DType::I32) return static_cast<std::int32_t>(std::stol(text));
    return static_cast<std::uint32_t>(std::stoul(text));
  } catch (const std::exception&) {
    throw UsageError("--specialise " + p.name + "=" + text + ": not a number");
  }
}

}  // namespace

ConstMap parse_specialise(const Kernel& k, const std::vector<std::string>& values) {
  ConstMap consts;
  for (const std::string& s : values) {
    const auto [name, value] = split_assignment(s, "--specialise");
    consts[name] = const_value(param_named(k, name, "--specialise"), value);
  }
  return consts;
}

}  // namespace mt::tile
