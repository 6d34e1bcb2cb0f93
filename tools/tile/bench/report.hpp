// The results of a `tile bench` run: the table on stdout, the JSON file, the comparison with a
// saved run, the join with reference timings (bench/references.py), and the case list that the
// references are measured at.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "json.hpp"
#include "measure.hpp"

namespace mt::tile::bench {

struct Row {
  std::string kernel, family, label, dtype;
  Timing timing;
  double bytes = 0.0, flops = 0.0;
  int input_sets = 1;
  int graph_launches = 1;  // launches per timed graph replay (1: single launches)

  double gbps() const { return timing.median_us > 0 ? bytes / (timing.median_us * 1e3) : 0.0; }
  double tflops() const { return timing.median_us > 0 ? flops / (timing.median_us * 1e6) : 0.0; }
};

struct Run {
  std::string device, backend, variant;
  double copy_gbps = 0.0;
  std::vector<Row> rows;
};

Row row_of(const CaseResult& r);
// "cuda NVIDIA H100 ... (sm_90, ..., unchecked)": the device and the variant, said once.
std::string run_title(const Run& run);
json::Value to_json(const Run& run);
Run run_from_json(const json::Value& v);

// Reference timings by (kernel, label, dtype): each variant ("torch eager", ...) with its
// median, and the roofs measured beside them.
struct ReferenceTiming {
  std::string variant;
  double median_us = 0.0, p10_us = 0.0, p90_us = 0.0;
};
struct References {
  std::string device;
  double copy_gbps = 0.0, bf16_tflops = 0.0;  // 0 when not measured
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<ReferenceTiming>> timings;
  // The fastest reference for a row, if any.
  std::optional<ReferenceTiming> best(const Row& row) const;
};
References references_from_json(const json::Value& v);

// The table: one line per row, with the reference columns when `refs` is given.
void print_table(std::ostream& out, const Run& run, const References* refs);
// Each row of `now` beside the same row of `base`: the time ratio, flagged as a regression when
// it is slower by more than the noise of both runs. Returns the number of regressions.
int print_comparison(std::ostream& out, const Run& now, const Run& base);

// The cases as `tile bench --list-cases` writes them (the input of bench/references.py).
json::Value cases_json(const std::vector<std::pair<const KernelInfo*, BenchCase>>& cases);

}  // namespace mt::tile::bench
