// metaltile_bench: what every measurement shares — the options, the backends under test (checked
// and, on CUDA, unchecked), the report rows, and the timing helpers.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt::bench {

struct Options {
  bool quick = false;  // tiny shapes and few runs (CI smoke test; forced on the CPU backend)
  int runs = 50;       // timed runs per event-timed measurement, after warm-up (>= 50)
  std::string out;     // .json or .csv path for the table ("" = none)
};

// One backend under test and a Context on it.
struct Target {
  std::string variant;  // "checked", "unchecked" (CUDA) or "interpreter" (CPU)
  std::shared_ptr<KernelBackend> backend;
  Context ctx;
};

struct Setup {
  Options options;
  bool cuda = false;
  std::string device;           // the checked backend's description
  std::vector<Target> targets;  // checked first
};

struct Row {
  std::string section;  // "compile", "launch", "dequant", "copy"
  std::string name;
  std::string variant;
  double value = 0.0;
  std::string unit;
  std::string note;
};

class Report {
 public:
  void add(Row row) { rows_.push_back(std::move(row)); }
  const std::vector<Row>& rows() const { return rows_; }
  // The table on stdout.
  void print(const Setup& setup) const;
  // JSON (path ending in .json) or CSV (anything else); mt::Error if it cannot be written.
  void write(const Setup& setup, const std::string& path) const;

 private:
  std::vector<Row> rows_;
};

// Median of the values (not empty).
double median(std::vector<double> values);
// Wall time of f(), in microseconds.
double time_us(const std::function<void()>& f);

void measure_compile(const Setup& setup, Report& report);
void measure_launch(const Setup& setup, Report& report);
// Returns false if a result failed validation.
bool measure_dequant(const Setup& setup, Report& report);

}  // namespace mt::bench
