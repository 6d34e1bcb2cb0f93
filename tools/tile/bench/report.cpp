// Tables, JSON and comparisons of tile bench results.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "metaltile/core/error.hpp"

namespace mt::tile::bench {
namespace {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string fill_kind(BenchFill::Kind k) {
  switch (k) {
    case BenchFill::Kind::Default: return "default";
    case BenchFill::Kind::Uniform: return "uniform";
    case BenchFill::Kind::Below: return "below";
    case BenchFill::Kind::Iota: return "iota";
    case BenchFill::Kind::Value: return "value";
  }
  return "default";
}

json::Value const_json(const ConstValue& v) {
  return std::visit([](auto x) { return json::Value(static_cast<double>(x)); }, v);
}

// A fixed-width column: left-aligned text or right-aligned numbers.
struct Column {
  std::string title;
  int width;
  bool left;
};

void print_cells(std::ostream& out, const std::vector<Column>& columns,
                 const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out << (columns[i].left ? std::left : std::right) << std::setw(columns[i].width) << cells[i]
        << (i + 1 < columns.size() ? "  " : "\n");
  }
}

}  // namespace

Row row_of(const CaseResult& r) {
  return Row{r.info->name,    r.info->family, r.bench.label, std::string(name_of(r.bench.dtype)),
             r.timing,        r.bytes,        r.bench.flops, r.input_sets,
             r.graph_launches};
}

std::string run_title(const Run& run) {
  // The CUDA backend's description already says "unchecked".
  const bool named = run.device.find(run.variant) != std::string::npos;
  return run.device + (named ? "" : " (" + run.variant + ")");
}

json::Value to_json(const Run& run) {
  json::Array rows;
  for (const Row& r : run.rows) {
    rows.push_back(json::Object{{"kernel", r.kernel},
                                {"family", r.family},
                                {"label", r.label},
                                {"dtype", r.dtype},
                                {"median_us", r.timing.median_us},
                                {"p10_us", r.timing.p10_us},
                                {"p90_us", r.timing.p90_us},
                                {"runs", r.timing.runs},
                                {"bytes", r.bytes},
                                {"flops", r.flops},
                                {"gbps", r.gbps()},
                                {"copy_share", run.copy_gbps > 0 ? r.gbps() / run.copy_gbps : 0.0},
                                {"input_sets", r.input_sets},
                                {"graph_launches", r.graph_launches}});
  }
  return json::Object{{"device", run.device},
                      {"backend", run.backend},
                      {"variant", run.variant},
                      {"copy_gbps", run.copy_gbps},
                      {"results", std::move(rows)}};
}

Run run_from_json(const json::Value& v) {
  Run run;
  run.device = v.at("device").string("device");
  run.backend = v.at("backend").string("backend");
  run.variant = v.at("variant").string("variant");
  run.copy_gbps = v.at("copy_gbps").number("copy_gbps");
  for (const json::Value& r : v.at("results").array("results")) {
    Row row;
    row.kernel = r.at("kernel").string("kernel");
    row.family = r.at("family").string("family");
    row.label = r.at("label").string("label");
    row.dtype = r.at("dtype").string("dtype");
    row.timing.median_us = r.at("median_us").number("median_us");
    row.timing.p10_us = r.at("p10_us").number("p10_us");
    row.timing.p90_us = r.at("p90_us").number("p90_us");
    row.timing.runs = static_cast<int>(r.at("runs").number("runs"));
    row.bytes = r.at("bytes").number("bytes");
    row.flops = r.at("flops").number("flops");
    if (const json::Value* g = r.find("graph_launches")) {  // absent in older runs
      row.graph_launches = static_cast<int>(g->number("graph_launches"));
    }
    run.rows.push_back(std::move(row));
  }
  return run;
}

std::optional<ReferenceTiming> References::best(const Row& row) const {
  auto it = timings.find({row.kernel, row.label, row.dtype});
  if (it == timings.end() || it->second.empty()) return std::nullopt;
  return *std::min_element(
      it->second.begin(), it->second.end(),
      [](const ReferenceTiming& a, const ReferenceTiming& b) { return a.median_us < b.median_us; });
}

References references_from_json(const json::Value& v) {
  References refs;
  refs.device = v.at("device").string("device");
  if (const json::Value* peaks = v.find("peaks"); peaks != nullptr) {
    if (const json::Value* c = peaks->find("copy_gbps")) refs.copy_gbps = c->number("copy_gbps");
    if (const json::Value* f = peaks->find("bf16_matmul_tflops")) {
      refs.bf16_tflops = f->number("bf16_matmul_tflops");
    }
  }
  for (const json::Value& r : v.at("results").array("results")) {
    refs.timings[{r.at("kernel").string("kernel"), r.at("label").string("label"),
                  r.at("dtype").string("dtype")}]
        .push_back({r.at("reference").string("reference"), r.at("median_us").number("median_us"),
                    r.at("p10_us").number("p10_us"), r.at("p90_us").number("p90_us")});
  }
  return refs;
}

void print_table(std::ostream& out, const Run& run, const References* refs) {
  out << "tile bench on " << run_title(run) << "; device-to-device copy " << fixed(run.copy_gbps, 0)
      << " GB/s in the same run\n\n";
  std::vector<Column> columns = {{"kernel", 26, true}, {"shape", 26, true},  {"dtype", 5, true},
                                 {"us", 10, false},    {"+-%", 5, false},    {"GB/s", 7, false},
                                 {"copy%", 6, false},  {"TFLOP/s", 7, false}};
  if (refs != nullptr) {
    columns.push_back({"reference", 14, true});
    columns.push_back({"ref us", 10, false});
    columns.push_back({"speed-up", 8, false});
  }
  std::vector<std::string> titles;
  for (const Column& c : columns) titles.push_back(c.title);
  print_cells(out, columns, titles);
  for (const Row& r : run.rows) {
    std::vector<std::string> cells = {
        r.kernel,
        r.label,
        r.dtype,
        fixed(r.timing.median_us, r.timing.median_us < 100 ? 2 : 1),
        fixed(100.0 * r.timing.spread(), 1),
        fixed(r.gbps(), 0),
        run.copy_gbps > 0 ? fixed(100.0 * r.gbps() / run.copy_gbps, 1) : "-",
        r.flops > 0 ? fixed(r.tflops(), 2) : "-"};
    if (refs != nullptr) {
      const std::optional<ReferenceTiming> best = refs->best(r);
      cells.push_back(best ? best->variant : "-");
      cells.push_back(best ? fixed(best->median_us, best->median_us < 100 ? 2 : 1) : "-");
      cells.push_back(best ? fixed(best->median_us / r.timing.median_us, 2) + "x" : "-");
    }
    print_cells(out, columns, cells);
  }
  const bool graphs = std::any_of(run.rows.begin(), run.rows.end(),
                                  [](const Row& r) { return r.graph_launches > 1; });
  int runs = 0;  // a failed case has none, so the most of any row
  for (const Row& r : run.rows) runs = std::max(runs, r.timing.runs);
  out << "\nus: median device time per launch of " << runs
      << (graphs ? " event-timed replays of a graph of launches (graph_launches in the JSON)"
                 : " event-timed launches")
      << " after warm-up; +-%: half the 10-90 % range; GB/s: bytes moved / time;"
      << (refs != nullptr ? " speed-up: reference time / ours (> 1: ours is faster)." : "") << "\n";
}

int print_comparison(std::ostream& out, const Run& now, const Run& base) {
  out << "\ncompared with " << base.device << " (" << base.variant << "):\n";
  const std::vector<Column> columns = {
      {"kernel", 26, true},   {"shape", 26, true}, {"dtype", 5, true}, {"us", 10, false},
      {"base us", 10, false}, {"ratio", 7, false}, {"", 10, true}};
  print_cells(out, columns, {"kernel", "shape", "dtype", "us", "base us", "ratio", ""});
  int regressions = 0;
  for (const Row& r : now.rows) {
    auto b = std::find_if(base.rows.begin(), base.rows.end(), [&](const Row& x) {
      return x.kernel == r.kernel && x.label == r.label && x.dtype == r.dtype;
    });
    if (b == base.rows.end()) {
      print_cells(out, columns,
                  {r.kernel, r.label, r.dtype, fixed(r.timing.median_us, 2), "-", "-", "new"});
      continue;
    }
    const double ratio = r.timing.median_us / b->timing.median_us;
    // Slower by more than both runs' noise (at least 3 %) is a regression.
    const double noise = std::max(0.03, r.timing.spread() + b->timing.spread());
    std::string flag;
    if (ratio > 1.0 + noise) {
      flag = "REGRESSION";
      ++regressions;
    } else if (ratio < 1.0 - noise) {
      flag = "faster";
    }
    print_cells(out, columns,
                {r.kernel, r.label, r.dtype, fixed(r.timing.median_us, 2),
                 fixed(b->timing.median_us, 2), fixed(ratio, 3), flag});
  }
  out << regressions << " regression" << (regressions == 1 ? "" : "s")
      << " beyond the noise (ratio = now / base time)\n";
  return regressions;
}

json::Value cases_json(const std::vector<std::pair<const KernelInfo*, BenchCase>>& cases) {
  json::Array list;
  for (const auto& [info, c] : cases) {
    const Kernel& k = traced_kernel(info->name, c.dtype);
    json::Object tensors, scalars, fills;
    for (const Param& p : k.params) {
      if (p.is_tensor()) {
        tensors.emplace(p.name, json::Object{{"dtype", std::string(name_of(p.dtype))},
                                             {"elements", c.elements.at(p.name)},
                                             {"kind", std::string(param_kind_name(p.kind))}});
      } else {
        scalars.emplace(p.name, const_json(c.scalars.at(p.name)));
      }
    }
    for (const auto& [name, f] : c.fills) {
      fills.emplace(name, json::Object{{"kind", fill_kind(f.kind)},
                                       {"lo", f.lo},
                                       {"hi", f.hi},
                                       {"n", static_cast<double>(f.n)}});
    }
    list.push_back(json::Object{{"kernel", info->name},
                                {"family", info->family},
                                {"label", c.label},
                                {"dtype", std::string(name_of(c.dtype))},
                                {"tensors", std::move(tensors)},
                                {"scalars", std::move(scalars)},
                                {"fills", std::move(fills)},
                                {"bytes", c.bytes > 0 ? c.bytes : tensor_bytes(*info, c)},
                                {"flops", c.flops}});
  }
  return json::Object{{"cases", std::move(list)}};
}

}  // namespace mt::tile::bench
