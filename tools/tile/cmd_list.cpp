// tile list: every registered kernel with its family, default mode and dtypes.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::tile {

namespace {

int run_list(const ParsedArgs&) {
  for (const KernelInfo& info : registered_kernels()) {
    std::cout << std::left << std::setw(28) << info.name << std::setw(18) << info.family
              << std::setw(12) << mode_name(info.default_mode);
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
