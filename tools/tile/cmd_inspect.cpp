// tile inspect NAME [--dtype D] [--raw | --cuda [--unchecked]]: prints a kernel's IR after
// passes, as traced (--raw), or the CUDA C++ generated from it (--cuda).
#include <iostream>

#include "commands.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"

namespace mt::tile {

int cmd_inspect(const Args& args) {
  if (args.empty() || args[0].starts_with("--")) throw Error("expected a kernel name");
  const KernelInfo* info = find_kernel(args[0]);
  if (info == nullptr) throw Error("no kernel named '" + args[0] + "' (see tile list)");
  std::string dtype_name =
      option_value(args, "--dtype", std::string(name_of(info->dtypes.front())));
  std::optional<DType> dtype = parse_dtype(dtype_name);
  if (!dtype) throw Error("unknown dtype '" + dtype_name + "'");
  Kernel k = build_kernel(info->name, *dtype);
  if (has_flag(args, "--raw")) {
    std::cout << print(k);
  } else if (has_flag(args, "--cuda")) {
    std::cout << cuda_source(passes::optimise(std::move(k)), !has_flag(args, "--unchecked"));
  } else {
    std::cout << print(passes::optimise(std::move(k)));
  }
  return 0;
}

}  // namespace mt::tile
