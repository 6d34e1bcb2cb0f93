// tile list: every registered kernel with its family, default mode and dtypes.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::tile {

namespace {

int run_list(const ParsedArgs&) {
  // Columns as wide as the longest name and family, plus two spaces.
  std::size_t name_width = 0, family_width = 0;
  for (const KernelInfo& info : registered_kernels()) {
    name_width = std::max(name_width, info.name.size() + 2);
    family_width = std::max(family_width, info.family.size() + 2);
  }
  for (const KernelInfo& info : registered_kernels()) {
    std::cout << std::left << std::setw(int(name_width)) << info.name
              << std::setw(int(family_width)) << info.family << std::setw(12)
              << mode_name(info.default_mode);
    for (std::size_t i = 0; i < info.dtypes.size(); ++i) {
      std::cout << (i ? "," : "") << name_of(info.dtypes[i]);
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

const Verb& list_verb() {
  static const Verb verb{{"list", "registered kernels with their family, mode and dtypes", {}, {}},
                         run_list};
  return verb;
}

}  // namespace mt::tile
