// Runs a fuzz program's kernel on a backend, before or after the pass pipeline, and collects
// its outputs or the error it raised.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/program.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt::fuzz {

struct RunResult {
  std::optional<std::string> error;  // what the compile or the launch threw, if anything
  std::map<std::string, std::vector<std::uint8_t>> outputs;
};

// The kernel every run starts from: the required constants (array sizes) specialised, no
// passes. The interpreter on this kernel is the reference.
Kernel reference_kernel(const FuzzProgram& p);
// The kernel as the runtime compiles it: every constant the program lists (required and
// optional) specialised, then passes::optimise. Throws what the passes throw.
Kernel optimised_kernel(const FuzzProgram& p);

// Compiles and launches k (derived from p.kernel, so its parameters are a subset of p's, bound
// by name) with p's tensors and scalars. Never throws: errors are returned.
RunResult run(KernelBackend& backend, const Kernel& k, const FuzzProgram& p);

}  // namespace mt::fuzz
