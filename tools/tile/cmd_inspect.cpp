// tile inspect NAME [--dtype D] [--raw]: prints a kernel's IR after passes (or as traced).
#include <iostream>

#include "commands.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"

namespace mt::tile {

int cmd_inspect(const Args& args) {
  if (args.empty() || args[0].starts_with("--")) throw Error("expected a kernel name");
  const KernelInfo* info = find_kernel(args[0]);
  if (info == nullptr) throw Error("no kernel named '" + args[0] + "' (see tile list)");
  std::string dtype_name = option_value(args, "--dtype", std::string(name_of(info->dtypes.front())));
  std::optional<DType> dtype = parse_dtype(dtype_name);
  if (!dtype) throw Error("unknown dtype '" + dtype_name + "'");
  Kernel k = build_kernel(info->name, *dtype);
  std::cout << print(has_flag(args, "--raw") ? k : passes::optimise(std::move(k)));
  return 0;
}

}  // namespace mt::tile
