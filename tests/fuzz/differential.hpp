// One differential check of a fuzz program: the interpreter on the unoptimised kernel (the
// reference) against a candidate run of the optimised kernel, and the report of a failure.
#pragma once

#include <string>
#include <string_view>

#include "fuzz/compare.hpp"
#include "fuzz/minimise.hpp"
#include "fuzz/program.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt::fuzz {

// The reference against the interpreter on optimised_kernel(p), bit for bit but for NaN sign
// and payload (see generator.hpp). A pass that throws is a finding.
Comparison check_pipeline(const FuzzProgram& p);

// The reference against `backend` on optimised_kernel(p): NaNs agree whatever their bits, and
// approx_* outputs within their tolerances (see generator.hpp, the Gpu profile).
Comparison check_backend(const FuzzProgram& p, KernelBackend& backend, std::string_view name);

// Minimises p while `check` keeps failing with the same kind.
FuzzProgram minimise_finding(const FuzzProgram& p, const std::string& kind,
                             const std::function<Comparison(const FuzzProgram&)>& run_check,
                             int max_tries, MinimiseStats* stats = nullptr);

// A failure for a human: its kind, the program (seed, launch, IR before passes), the IR after
// passes, the differences, then the same for the minimised program when there is one.
std::string finding_report(const FuzzProgram& p, const Comparison& c,
                           const FuzzProgram* minimised = nullptr,
                           const Comparison* minimised_comparison = nullptr);

}  // namespace mt::fuzz
