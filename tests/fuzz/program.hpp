// A generated test program: a kernel in the IR, the launch that runs it, the bytes of every
// tensor and the value of every scalar, and how each output is compared. The seed regenerates
// all of it (generator.hpp); describe() prints it for a report.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::fuzz {

// How closely two runs must agree on one output element. {0, 0} is bit for bit. An
// approximate element (a transcendental op's result on the GPU) may differ by `ulps` units in
// the last place of its dtype, or by `absolute` (for ops whose result can cancel, as gelu's
// 1 + erf(x) does for negative x).
struct Tolerance {
  int ulps = 0;
  double absolute = 0.0;
  bool is_exact() const { return ulps == 0 && absolute == 0.0; }
};

// Outputs are laid out slot-major: slot j of thread g is element j * threads + g, so every
// thread writes only its own elements. `slots` lists the tolerance of each slot.
struct OutputLayout {
  std::uint32_t threads = 0;
  std::vector<Tolerance> slots;
};

struct FuzzProgram {
  std::uint64_t seed = 0;
  // The metaltile_fuzz flags besides the seed that regenerate the program ("--profile gpu").
  std::string generator_flags;
  Kernel kernel;
  LaunchDims dims;
  // Initial bytes of every tensor parameter, inputs and outputs (outputs start poisoned, or
  // with the values atomics combine into), by parameter name.
  std::map<std::string, std::vector<std::uint8_t>> tensors;
  // The value of every scalar parameter, by name.
  std::map<std::string, Scalar> scalars;
  // Scalars every run specialises (they size arrays), and those the optimised run also
  // bakes in (so specialise_scalars and folding see them).
  std::set<std::string> required_constants;
  std::set<std::string> optional_constants;
  // Outputs whose elements are not all compared bit for bit (absent: bit for bit).
  std::map<std::string, OutputLayout> layouts;

  // The tolerance of element `index` of output `name`.
  Tolerance tolerance(const std::string& name, std::size_t index) const;
  // Number of instructions in the body, nested blocks included.
  std::size_t instruction_count() const;
};

// The seed, the launch, the scalars and constants, and the printed IR.
std::string describe(const FuzzProgram& p);

}  // namespace mt::fuzz
