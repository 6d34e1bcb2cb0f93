// The report: a table on stdout and a JSON or CSV file, plus the timing helpers.
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bench.hpp"
#include "metaltile/core/error.hpp"

namespace mt::bench {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

}  // namespace

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double time_us(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

void Report::print(const Setup& setup) const {
  std::cout << "\nmetaltile_bench on " << setup.device << (setup.options.quick ? " (quick)" : "")
            << "\n\n";
  std::cout << std::left << std::setw(9) << "section" << std::setw(56) << "measurement"
            << std::setw(12) << "variant" << std::right << std::setw(12) << "value"
            << "  " << std::left << std::setw(6) << "unit"
            << "note\n";
  std::cout << std::string(120, '-') << "\n";
  for (const Row& r : rows_) {
    std::cout << std::left << std::setw(9) << r.section << std::setw(56) << r.name + " "
              << std::setw(12) << r.variant << std::right << std::setw(12) << std::fixed
              << std::setprecision(3) << r.value << "  " << std::left << std::setw(6) << r.unit
              << r.note << "\n";
  }
  std::cout.unsetf(std::ios::fixed);
  std::cout << std::endl;
}

void Report::write(const Setup& setup, const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw Error("metaltile_bench: cannot write " + path);
  const bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (json) {
    out << "{\n  \"device\": " << json_string(setup.device)
        << ",\n  \"backend\": " << json_string(setup.cuda ? "cuda" : "cpu")
        << ",\n  \"quick\": " << (setup.options.quick ? "true" : "false")
        << ",\n  \"runs\": " << setup.options.runs << ",\n  \"rows\": [\n";
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& r = rows_[i];
      out << "    {\"section\": " << json_string(r.section) << ", \"name\": " << json_string(r.name)
          << ", \"variant\": " << json_string(r.variant) << ", \"value\": " << number(r.value)
          << ", \"unit\": " << json_string(r.unit) << ", \"note\": " << json_string(r.note) << "}"
          << (i + 1 < rows_.size() ? ",\n" : "\n");
    }
    out << "  ]\n}\n";
  } else {
    out << "section,name,variant,value,unit,note\n";
    for (const Row& r : rows_) {
      out << csv_field(r.section) << "," << csv_field(r.name) << "," << csv_field(r.variant) << ","
          << number(r.value) << "," << csv_field(r.unit) << "," << csv_field(r.note) << "\n";
    }
  }
  out.close();
  if (!out) throw Error("metaltile_bench: writing " + path + " failed");
}

}  // namespace mt::bench
