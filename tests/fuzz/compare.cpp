// Element-wise comparison of two runs under a policy.
#include "fuzz/compare.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "metaltile/core/scalar_eval.hpp"

namespace mt::fuzz {
namespace {

constexpr int kShownDifferences = 8;

std::uint32_t element_bits(const std::uint8_t* bytes, DType t) {
  std::uint32_t u = 0;
  for (std::size_t b = size_of(t); b-- > 0;) u = (u << 8) | bytes[b];
  return u;
}

std::string element_text(const std::uint8_t* bytes, DType t) {
  const Scalar v = read_element(bytes, t);
  char bits[16];
  std::snprintf(bits, sizeof bits, "0x%0*X", static_cast<int>(2 * size_of(t)),
                static_cast<unsigned>(element_bits(bytes, t)));
  std::ostringstream s;
  if (is_float(t)) {
    s.precision(9);
    s << v.f;
  } else {
    s << v.i;
  }
  s << " (" << bits << ")";
  return s.str();
}

bool elements_agree(const FuzzProgram& p, const std::string& name, std::size_t index, DType t,
                    const std::uint8_t* a, const std::uint8_t* b, const ComparePolicy& policy) {
  const std::uint32_t a_bits = element_bits(a, t), b_bits = element_bits(b, t);
  if (a_bits == b_bits) return true;
  if (!is_float(t)) return false;
  const double x = read_element(a, t).f, y = read_element(b, t).f;
  if (std::isnan(x) || std::isnan(y)) return policy.nan_equal && std::isnan(x) && std::isnan(y);
  if (!policy.tolerances) return false;
  const Tolerance tol = p.tolerance(name, index);
  if (tol.is_exact()) return false;
  return ulp_distance(t, a_bits, b_bits) <= static_cast<std::uint64_t>(tol.ulps) ||
         std::fabs(x - y) <= tol.absolute;
}

std::string run_text(const RunResult& r) { return r.error ? "failed: " + *r.error : "ran"; }

}  // namespace

std::string error_class(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n' || out.size() >= 160) break;
    const bool digit = c >= '0' && c <= '9';
    if (digit) {
      if (out.empty() || out.back() != '#') out += '#';
    } else {
      out += c;
    }
  }
  return out;
}

std::uint64_t ulp_distance(DType t, std::uint32_t a_bits, std::uint32_t b_bits) {
  const int width = static_cast<int>(8 * size_of(t));
  const std::uint32_t sign = 1u << (width - 1);
  const auto ordered = [&](std::uint32_t bits) -> std::int64_t {
    const std::int64_t magnitude = bits & (sign - 1);
    return (bits & sign) != 0 ? -magnitude : magnitude;
  };
  const std::int64_t d = ordered(a_bits) - ordered(b_bits);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

Comparison compare(const FuzzProgram& p, const RunResult& reference, const RunResult& candidate,
                   std::string_view candidate_name, const ComparePolicy& policy) {
  Comparison c;
  if (reference.error || candidate.error) {
    if (reference.error) {
      c.kind = "reference failed: " + error_class(*reference.error);
    } else {
      c.kind = std::string(candidate_name) + " failed: " + error_class(*candidate.error);
    }
    c.detail = "reference " + run_text(reference) + "\n" + std::string(candidate_name) + " " +
               run_text(candidate) + "\n";
    return c;
  }
  std::ostringstream detail;
  int shown = 0;
  for (const auto& [name, expected] : reference.outputs) {
    const auto it = candidate.outputs.find(name);
    if (it == candidate.outputs.end() || it->second.size() != expected.size()) {
      if (c.kind.empty()) c.kind = "output " + name + " missing or resized";
      detail << "output " << name << ": " << expected.size() << " bytes expected, "
             << (it == candidate.outputs.end() ? 0 : it->second.size()) << " got\n";
      continue;
    }
    const Param& param = p.kernel.param(p.kernel.find_param(name));
    const DType t = param.dtype;
    const std::size_t size = size_of(t), count = expected.size() / size;
    const std::uint32_t threads = p.dims.tpg[0] * p.dims.tpg[1] * p.dims.tpg[2] * p.dims.grid[0] *
                                  p.dims.grid[1] * p.dims.grid[2];
    std::size_t differing = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* a = expected.data() + i * size;
      const std::uint8_t* b = it->second.data() + i * size;
      if (elements_agree(p, name, i, t, a, b, policy)) continue;
      if (c.kind.empty()) c.kind = "output " + name + " differs";
      if (++differing > 1 && shown >= kShownDifferences) continue;
      ++shown;
      detail << name << "[" << i << "] (slot " << i / threads << ", thread " << i % threads
             << "): expected " << element_text(a, t) << ", got " << element_text(b, t) << "\n";
    }
    if (differing > 0)
      detail << name << ": " << differing << " of " << count << " elements differ\n";
  }
  c.detail = detail.str();
  return c;
}

}  // namespace mt::fuzz
