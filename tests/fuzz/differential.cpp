// The reference run, the candidate run, their comparison and the failure report.
#include "fuzz/differential.hpp"

#include <exception>
#include <memory>
#include <sstream>

#include "fuzz/runner.hpp"
#include "metaltile/core/print.hpp"

namespace mt::fuzz {
namespace {

Comparison check(const FuzzProgram& p, KernelBackend& candidate, std::string_view name,
                 const ComparePolicy& policy) {
  const std::unique_ptr<KernelBackend> interpreter = make_cpu_backend();
  RunResult reference;
  Kernel optimised;
  try {
    reference = run(*interpreter, reference_kernel(p), p);
    optimised = optimised_kernel(p);
  } catch (const std::exception& e) {
    return Comparison{"optimise failed: " + error_class(e.what()), e.what()};
  }
  return compare(p, reference, run(candidate, optimised, p), name, policy);
}

std::string optimised_text(const FuzzProgram& p) {
  try {
    return print(optimised_kernel(p));
  } catch (const std::exception& e) {
    return std::string("(the passes failed: ") + e.what() + ")\n";
  }
}

}  // namespace

Comparison check_pipeline(const FuzzProgram& p) {
  const std::unique_ptr<KernelBackend> interpreter = make_cpu_backend();
  return check(p, *interpreter, "optimised run", ComparePolicy{.nan_equal = true});
}

Comparison check_backend(const FuzzProgram& p, KernelBackend& backend, std::string_view name) {
  return check(p, backend, name, ComparePolicy{.nan_equal = true, .tolerances = true});
}

FuzzProgram minimise_finding(const FuzzProgram& p, const std::string& kind,
                             const std::function<Comparison(const FuzzProgram&)>& run_check,
                             int max_tries, MinimiseStats* stats) {
  return minimise(
      p, [&](const FuzzProgram& candidate) { return run_check(candidate).kind == kind; }, max_tries,
      stats);
}

std::string finding_report(const FuzzProgram& p, const Comparison& c, const FuzzProgram* minimised,
                           const Comparison* minimised_comparison) {
  std::ostringstream s;
  s << "=== " << c.kind << " ===\n" << describe(p) << "after passes:\n" << optimised_text(p);
  s << "differences:\n" << c.detail;
  if (minimised != nullptr) {
    s << "--- minimised reproducer (" << minimised->instruction_count() << " instructions, from "
      << p.instruction_count() << ") ---\n"
      << describe(*minimised) << "after passes:\n"
      << optimised_text(*minimised);
    if (minimised_comparison != nullptr) s << "differences:\n" << minimised_comparison->detail;
  }
  return s.str();
}

}  // namespace mt::fuzz
