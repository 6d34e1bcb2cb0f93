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
namespace {

int run_inspect(const ParsedArgs& args) {
  const bool raw = args.has("--raw"), cuda = args.has("--cuda");
  if (raw && cuda) throw UsageError("--raw and --cuda exclude each other");
  if (args.has("--unchecked") && !cuda) throw UsageError("--unchecked applies to --cuda only");

  const std::string& name = args.positional(0);
  const KernelInfo* info = find_kernel(name);
  if (info == nullptr) throw Error("no kernel named '" + name + "' (see tile list)");
  const std::string dtype_name = args.value_or("--dtype", name_of(info->dtypes.front()));
  const std::optional<DType> dtype = parse_dtype(dtype_name);
  if (!dtype) throw Error("unknown dtype '" + dtype_name + "'");
  Kernel k = build_kernel(info->name, *dtype);
  if (raw) {
    std::cout << print(k);
  } else if (cuda) {
    std::cout << cuda_source(passes::optimise(std::move(k)), !args.has("--unchecked"));
  } else {
    std::cout << print(passes::optimise(std::move(k)));
  }
  return 0;
}

}  // namespace

const Verb& inspect_verb() {
  static const Verb verb{
      {"inspect",
       "a kernel's IR after the passes (default), as traced, or as generated CUDA C++",
       {{"NAME", "a registered kernel (see tile list)"}},
       {{"--dtype", "D", "element type: f32, f16 or bf16 (default: the kernel's first)"},
        {"--raw", "", "the IR as traced, before the passes"},
        {"--cuda", "", "the CUDA C++ generated from the optimised IR"},
        {"--unchecked", "", "with --cuda: without the bounds checks of checked mode"}}},
      run_inspect};
  return verb;
}

}  // namespace mt::tile
