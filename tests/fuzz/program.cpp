// FuzzProgram's tolerances and its printed form.
#include "fuzz/program.hpp"

#include <sstream>

#include "metaltile/core/print.hpp"

namespace mt::fuzz {
namespace {

std::size_t count(const Block& b) {
  std::size_t n = 0;
  for (const Instr& in : b.instrs) {
    ++n;
    for (const Block& inner : in.blocks) n += count(inner);
  }
  return n;
}

std::string scalar_text(const Kernel& k, const std::string& name, Scalar v) {
  const ParamId p = k.find_param(name);
  if (p.valid() && is_float(k.param(p).dtype)) {
    std::ostringstream s;
    s << v.f;
    return s.str();
  }
  return std::to_string(v.i);
}

}  // namespace

Tolerance FuzzProgram::tolerance(const std::string& name, std::size_t index) const {
  auto it = layouts.find(name);
  if (it == layouts.end() || it->second.threads == 0) return {};
  const std::size_t slot = index / it->second.threads;
  return slot < it->second.slots.size() ? it->second.slots[slot] : Tolerance{};
}

std::size_t FuzzProgram::instruction_count() const { return count(kernel.body); }

std::string describe(const FuzzProgram& p) {
  std::ostringstream s;
  const LaunchDims& d = p.dims;
  s << "seed " << p.seed << " (regenerate: metaltile_fuzz --seed " << p.seed << " --count 1"
    << p.generator_flags << " --print)\n";
  s << "launch: mode=" << mode_name(p.kernel.mode) << " grid=[" << d.grid[0] << ", " << d.grid[1]
    << ", " << d.grid[2] << "] tpg=[" << d.tpg[0] << ", " << d.tpg[1] << ", " << d.tpg[2] << "]\n";
  for (const auto& [name, value] : p.scalars) {
    if (!p.kernel.find_param(name).valid()) continue;  // minimised away
    s << "scalar " << name << " = " << scalar_text(p.kernel, name, value);
    if (p.required_constants.contains(name)) s << " (specialised in every run)";
    if (p.optional_constants.contains(name)) s << " (specialised in the optimised run)";
    s << "\n";
  }
  s << print(p.kernel);
  return s.str();
}

}  // namespace mt::fuzz
