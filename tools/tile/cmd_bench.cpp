// tile bench [NAME|FAMILY ...]: measures registered kernels at their benchmark shapes on the
// current backend (unchecked CUDA by default; tiny smoke shapes on the CPU interpreter), beside
// the device-to-device copy bandwidth of the same run; prints a table, and optionally writes
// JSON, compares with a saved run, joins reference timings and draws the roofline.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "bench/json.hpp"
#include "bench/measure.hpp"
#include "bench/overheads.hpp"
#include "bench/report.hpp"
#include "bench/roofline.hpp"
#include "commands.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::tile {
namespace {

using bench::CaseResult;
using CaseList = std::vector<std::pair<const KernelInfo*, BenchCase>>;

// NAME matches a kernel; FAMILY matches a family ("mlx::rows") or every family under a prefix
// ("mlx"). No names: every registered kernel.
std::vector<const KernelInfo*> select_kernels(const std::vector<std::string>& names) {
  std::vector<const KernelInfo*> chosen;
  for (const KernelInfo& info : registered_kernels()) {
    const bool wanted =
        names.empty() || std::any_of(names.begin(), names.end(), [&](auto& n) {
          return info.name == n || info.family == n || info.family.starts_with(n + "::");
        });
    if (wanted) chosen.push_back(&info);
  }
  for (const std::string& n : names) {
    const bool known = std::any_of(
        registered_kernels().begin(), registered_kernels().end(), [&](const KernelInfo& i) {
          return i.name == n || i.family == n || i.family.starts_with(n + "::");
        });
    if (!known) throw UsageError("no kernel or family named '" + n + "' (see tile list)");
  }
  return chosen;
}

std::set<DType> parse_dtypes(const std::vector<std::string>& values) {
  std::set<DType> dtypes;
  for (const std::string& value : values) {
    std::stringstream list(value);
    for (std::string name; std::getline(list, name, ',');) {
      const std::optional<DType> t = parse_dtype(name);
      if (!t) throw UsageError("unknown dtype '" + name + "'");
      dtypes.insert(*t);
    }
  }
  return dtypes;
}

// --specialise NAME=VALUE: a u32 (digits), i32 (leading '-') or f32 (with '.' or 'e').
ConstMap parse_specialise(const std::vector<std::string>& values) {
  ConstMap consts;
  for (const std::string& v : values) {
    const std::size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--specialise wants NAME=VALUE");
    const std::string name = v.substr(0, eq), text = v.substr(eq + 1);
    try {
      if (text.find_first_of(".eE") != std::string::npos) {
        consts[name] = std::stof(text);
      } else if (text.starts_with("-")) {
        consts[name] = static_cast<std::int32_t>(std::stol(text));
      } else {
        consts[name] = static_cast<std::uint32_t>(std::stoul(text));
      }
    } catch (const std::exception&) {
      throw UsageError("--specialise " + v + ": not a number");
    }
  }
  return consts;
}

CaseList gather_cases(const std::vector<const KernelInfo*>& kernels, BenchScale scale,
                      const std::set<DType>& dtypes) {
  CaseList cases;
  for (const KernelInfo* info : kernels) {
    for (BenchCase& c : info->bench(scale)) {
      if (dtypes.empty() || dtypes.count(c.dtype) != 0) cases.emplace_back(info, std::move(c));
    }
  }
  return cases;
}

int report(const ParsedArgs& args, const bench::Run& run,
           const std::optional<bench::References>& refs);

int run_bench(const ParsedArgs& args) {
  const std::vector<const KernelInfo*> kernels = select_kernels(args.positionals());
  const std::set<DType> dtypes = parse_dtypes(args.values("--dtype"));

  bench::Settings settings;
  settings.specialise = parse_specialise(args.values("--specialise"));
  settings.graph = !args.has("--no-graph");
  if (auto runs = args.value("--runs")) {
    settings.runs = std::atoi(runs->c_str());
    if (settings.runs < 1) throw UsageError("--runs needs a positive count");
  }

  // The case list needs no device: references.py measures at exactly these shapes.
  if (auto path = args.value("--list-cases")) {
    const BenchScale scale = args.has("--smoke") ? BenchScale::Smoke : BenchScale::Full;
    const CaseList cases = gather_cases(kernels, scale, dtypes);
    json::write_file(*path, bench::cases_json(cases));
    std::cerr << "tile bench: " << cases.size() << " cases written to " << *path << "\n";
    return 0;
  }

  std::optional<bench::References> refs;
  if (auto path = args.value("--references")) {
    refs = bench::references_from_json(json::read_file(*path));
  }

  // A saved run, shown again (joined with references, plotted, compared) without measuring.
  if (auto path = args.value("--from")) {
    bench::Run saved = bench::run_from_json(json::read_file(*path));
    if (!args.positionals().empty()) {
      std::set<std::string> chosen;
      for (const KernelInfo* info : kernels) chosen.insert(info->name);
      std::erase_if(saved.rows, [&](const bench::Row& r) { return chosen.count(r.kernel) == 0; });
    }
    if (!dtypes.empty()) {
      std::erase_if(saved.rows, [&](const bench::Row& r) {
        return std::none_of(dtypes.begin(), dtypes.end(),
                            [&](DType t) { return name_of(t) == r.dtype; });
      });
    }
    return report(args, saved, refs);
  }

  const bench::Target target = bench::make_target(args.has("--checked"));
  const BenchScale scale =
      target.gpu && !args.has("--smoke") ? BenchScale::Full : BenchScale::Smoke;
  if (!target.gpu) {
    std::cerr << "tile bench: the CPU interpreter runs the smoke shapes only\n";
    settings.runs = std::min(settings.runs, 3);
    settings.warm_up = 1;
  }
  const CaseList cases = gather_cases(kernels, scale, dtypes);
  if (cases.empty()) throw Error("no benchmark case matches (see tile list)");

  bench::Run run{target.device, target.backend, target.variant, 0.0, {}};
  std::cerr << "tile bench: measuring the copy bandwidth\n";
  run.copy_gbps = bench::measure_copy_gbps(target, settings);
  int failures = 0;
  const bool terminal = isatty(STDERR_FILENO) != 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [info, c] = cases[i];
    // One line rewritten in place on a terminal; one line a case in a log.
    std::cerr << (terminal ? "\r" : "") << "tile bench: [" << i + 1 << "/" << cases.size() << "] "
              << info->name << " " << c.label << " " << name_of(c.dtype)
              << (terminal ? "\033[K" : "\n") << std::flush;
    try {
      run.rows.push_back(bench::row_of(bench::measure_case(target, *info, c, settings)));
    } catch (const Error& e) {
      ++failures;
      std::cerr << "\ntile bench: " << info->name << " " << c.label << ": FAILED: " << e.what()
                << "\n";
    }
  }
  if (terminal) std::cerr << "\n";

  const int status = report(args, run, refs);
  if (args.has("--overheads")) bench::print_overheads(std::cout, target, settings);
  if (failures > 0) {
    std::cerr << "tile bench: " << failures << " case" << (failures == 1 ? "" : "s") << " failed\n";
    return 1;
  }
  return status;
}

// The table, then what the options ask for: the JSON, the comparison with a saved run, the
// roofline picture.
int report(const ParsedArgs& args, const bench::Run& run,
           const std::optional<bench::References>& refs) {
  bench::print_table(std::cout, run, refs ? &*refs : nullptr);
  if (auto path = args.value("--json")) {
    json::write_file(*path, bench::to_json(run));
    std::cerr << "tile bench: wrote " << *path << "\n";
  }
  if (auto path = args.value("--compare")) {
    bench::print_comparison(std::cout, run, bench::run_from_json(json::read_file(*path)));
  }
  if (auto path = args.value("--plot")) {
    bench::write_roofline_svg(*path, run, refs ? refs->bf16_tflops : 0.0);
    std::cerr << "tile bench: wrote " << *path << "\n";
  }
  return 0;
}

}  // namespace

const Verb& bench_verb() {
  static const Verb verb{
      {"bench",
       "measure kernels at their benchmark shapes against the copy bandwidth (and references)",
       {{"NAME", "kernels or families to measure (default: all; see tile list)", false, true}},
       {{"--dtype", "D[,D]", "only cases of these dtypes", Repeat::Many},
        {"--json", "FILE", "write the results as JSON"},
        {"--compare", "BASE.json", "print each time's ratio to a saved run, flagging regressions"},
        {"--references", "REFS.json", "join reference timings (bench/references.py)"},
        {"--plot", "FILE.svg", "write the roofline picture"},
        {"--from", "RUN.json",
         "show a saved run (--json) instead of measuring: the table, joined with --references, "
         "--plot, --compare"},
        {"--list-cases", "FILE", "write the cases as JSON (for bench/references.py) and stop"},
        {"--checked", "", "measure checked mode (default: unchecked, as production runs)"},
        {"--smoke", "", "the tiny smoke shapes even on a GPU"},
        {"--runs", "N", "timed launches (graph replays on a GPU) per case (default 50)"},
        {"--no-graph", "", "time single launches, host enqueue included, instead of graphs"},
        {"--specialise", "NAME=VALUE", "bake a scalar into the code where a kernel has it",
         Repeat::Many},
        {"--overheads", "", "also time compiles (cold, disk, memory) and launch overheads"}}},
      run_bench};
  return verb;
}

}  // namespace mt::tile
