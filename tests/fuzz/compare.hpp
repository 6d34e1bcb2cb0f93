// Compares two runs of a fuzz program element by element and names how they differ.
#pragma once

#include <string>
#include <string_view>

#include "fuzz/program.hpp"
#include "fuzz/runner.hpp"

namespace mt::fuzz {

struct ComparePolicy {
  // Two NaNs of a float type agree whatever their sign and payload, which the IR leaves
  // unspecified (only a bitcast could observe them, and the generator canonicalises first).
  bool nan_equal = false;
  // Elements of approx_* outputs may differ within the program's tolerances.
  bool tolerances = false;
};

struct Comparison {
  // Empty when the runs agree; else a short class for counting and for keeping a minimised
  // program on the same failure: "output out_f16 differs", "optimised run failed: ...".
  std::string kind;
  // The errors, or the first differing elements with index, slot, both values and bits.
  std::string detail;
  bool agree() const { return kind.empty(); }
};

// `reference` is the interpreter on the unoptimised kernel; `candidate_name` says what ran the
// candidate ("optimised run", "cuda"). A reference that failed is a finding too: the
// generator promises programs free of errors.
Comparison compare(const FuzzProgram& p, const RunResult& reference, const RunResult& candidate,
                   std::string_view candidate_name, const ComparePolicy& policy);

// An error message with numbers replaced by '#' and cut at its first line: the same failure in
// two programs gives the same text.
std::string error_class(std::string_view message);

// Distance in units in the last place between two values of float type t given as element
// bits (adjacent representable values are 1 apart; +0 and -0 are 0 apart).
std::uint64_t ulp_distance(DType t, std::uint32_t a_bits, std::uint32_t b_bits);

}  // namespace mt::fuzz
