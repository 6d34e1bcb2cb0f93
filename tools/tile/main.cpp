// tile: the MetalTile command line. `tile help` lists the verbs.
#include <iostream>
#include <string>

#include "commands.hpp"
#include "metaltile/core/error.hpp"

namespace {

struct Verb {
  const char* name;
  int (*run)(const mt::tile::Args&);
  const char* usage;
};

constexpr Verb kVerbs[] = {
    {"list", mt::tile::cmd_list,
     "list                         registered kernels and their dtypes"},
    {"inspect", mt::tile::cmd_inspect,
     "inspect NAME [--dtype D] [--raw|--cuda [--unchecked]]  the IR after passes, as traced, or as "
     "CUDA C++"},
    {"demo", mt::tile::cmd_demo,
     "demo [--max-seq N] [--dtype D]  quantise/dequantise a KV cache with every variant"},
    {"device", mt::tile::cmd_device,
     "device                       the backend, the GPU, driver, NVRTC and compile cache"},
};

int usage(std::ostream& out) {
  out << "usage: tile <verb> [args]\n";
  for (const Verb& v : kVerbs) out << "  tile " << v.usage << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(std::cerr);
  std::string verb = argv[1];
  if (verb == "help" || verb == "--help" || verb == "-h") {
    usage(std::cout);
    return 0;
  }
  mt::tile::Args args(argv + 2, argv + argc);
  for (const Verb& v : kVerbs) {
    if (verb != v.name) continue;
    try {
      return v.run(args);
    } catch (const mt::Error& e) {
      std::cerr << "tile " << verb << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "tile: unknown verb '" << verb << "'\n";
  return usage(std::cerr);
}
