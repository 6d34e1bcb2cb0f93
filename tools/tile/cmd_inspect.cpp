// tile inspect NAME [--dtype D] [--raw | --cuda [--unchecked]] [--specialise NAME=VALUE ...]:
// prints a kernel's IR after passes, as traced (--raw), or the CUDA C++ generated from it
// (--cuda), with the scalars named by --specialise baked in.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "kernel_args.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "runtime/bindings.hpp"

namespace mt::tile {
namespace {

// The registry entry's documentation: what the kernel computes, its buffers and scalars, and
// the geometry rule `tile run` and mt::kernels::run launch it with.
void print_doc(std::ostream& out, const KernelInfo& info) {
  out << info.name << " (" << info.family << ", " << mode_name(info.default_mode) << "; ";
  for (std::size_t i = 0; i < info.dtypes.size(); ++i) {
    out << (i ? ", " : "") << name_of(info.dtypes[i]);
  }
  out << ")\n  " << info.doc.summary << "\n";
  if (!info.doc.formula.empty()) out << "\nformula:\n  " << info.doc.formula << "\n";
  auto params = [&](const char* title, const std::vector<ParamDoc>& docs) {
    if (docs.empty()) return;
    out << "\n" << title << ":\n";
    for (const ParamDoc& d : docs) {
      out << "  " << std::left << std::setw(24) << d.name << d.text << "\n";
    }
  };
  params("buffers", info.doc.buffers);
  params("scalars", info.doc.scalars);
  out << "\ngeometry (mt::kernels::run, tile run):\n  " << info.doc.geometry << "\n";
}

int run_inspect(const ParsedArgs& args) {
  const bool raw = args.has("--raw"), cuda = args.has("--cuda"), doc = args.has("--doc");
  if (raw + cuda + doc > 1) throw UsageError("--raw, --cuda and --doc exclude each other");
  if (args.has("--unchecked") && !cuda) throw UsageError("--unchecked applies to --cuda only");

  const std::string& name = args.positional(0);
  const KernelInfo* info = find_kernel(name);
  if (info == nullptr) throw Error("no kernel named '" + name + "' (see tile list)");
  const std::string dtype_name = args.value_or("--dtype", name_of(info->dtypes.front()));
  const std::optional<DType> dtype = parse_dtype(dtype_name);
  if (!dtype) throw Error("unknown dtype '" + dtype_name + "'");
  if (doc) {
    print_doc(std::cout, *info);
    return 0;
  }
  Kernel k = build_kernel(info->name, *dtype);
  const ConstMap consts = parse_specialise(k, args.values("--specialise"));
  if (!consts.empty()) k = passes::specialise_scalars(std::move(k), check_consts(k, consts));
  if (raw) {
    std::cout << print(k);
  } else if (cuda) {
    std::cout << cuda_source(passes::optimise(std::move(k)), !args.has("--unchecked"));
  } else {
    print_doc(std::cout, *info);
    std::cout << "\nIR after the passes (" << name_of(*dtype) << "):\n"
              << print(passes::optimise(std::move(k)));
  }
  return 0;
}

}  // namespace

const Verb& inspect_verb() {
  static const Verb verb{
      {"inspect",
       "a kernel's documentation and geometry with its IR after the passes (default), the IR "
       "as traced, or the generated CUDA C++",
       {{"NAME", "a registered kernel (see tile list)"}},
       {{"--dtype", "D", "element type: f32, f16 or bf16 (default: the kernel's first)"},
        {"--doc", "", "the documentation and geometry rule only"},
        {"--raw", "", "the IR as traced, before the passes"},
        {"--cuda", "", "the CUDA C++ generated from the optimised IR"},
        {"--unchecked", "", "with --cuda: without the bounds checks of checked mode"},
        {"--specialise", "NAME=VALUE",
         "a scalar baked into the code, as a runner's consts do (k=4096 bits=4: the CUDA a "
         "decoder's GEMV compiles to)",
         Repeat::Many}}},
      run_inspect};
  return verb;
}

}  // namespace mt::tile
