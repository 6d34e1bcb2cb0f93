// SVG drawing of the roofline (see roofline.hpp).
#include "roofline.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "metaltile/core/error.hpp"

namespace mt::tile::bench {
namespace {

constexpr double kPanelW = 560, kPanelH = 420, kMargin = 70;

// A log-scaled axis from 10^lo to 10^hi mapped onto [a, b] pixels.
struct LogAxis {
  double lo, hi, a, b;
  double at(double v) const { return a + (std::log10(v) - lo) / (hi - lo) * (b - a); }
};
struct LinearAxis {
  double lo, hi, a, b;
  double at(double v) const { return a + (v - lo) / (hi - lo) * (b - a); }
};

std::string num(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v;
  return s.str();
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out.push_back(c);
  }
  return out;
}

void text(std::ostream& o, double x, double y, const std::string& s,
          const std::string& extra = "") {
  o << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" " << extra << ">" << escape(s)
    << "</text>\n";
}

void line(std::ostream& o, double x1, double y1, double x2, double y2, const char* style) {
  o << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\""
    << num(y2) << "\" style=\"" << style << "\"/>\n";
}

void point(std::ostream& o, double x, double y, const std::string& label, int index) {
  o << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"3.5\" fill=\"#c0392b\"/>\n";
  // Alternate label offsets so neighbouring points stay readable.
  text(o, x + 6, y + (index % 2 == 0 ? -4 : 11), label, "font-size=\"9\"");
}

std::string powers_label(int p, const char* unit) {
  std::ostringstream s;
  if (p >= 0) {
    s << std::pow(10.0, p);
  } else {
    s << "1e" << p;
  }
  return s.str() + unit;
}

void log_grid_x(std::ostream& o, const LogAxis& x, double y0, double y1, const char* unit) {
  for (int p = int(std::ceil(x.lo)); p <= int(std::floor(x.hi)); ++p) {
    const double px = x.at(std::pow(10.0, p));
    line(o, px, y0, px, y1, "stroke:#ddd");
    text(o, px, y0 + 15, powers_label(p, unit), "font-size=\"10\" text-anchor=\"middle\"");
  }
}

}  // namespace

void write_roofline_svg(const std::string& path, const Run& run, double peak_tflops) {
  std::ostringstream o;
  const double width = 2 * kPanelW + 3 * kMargin, height = kPanelH + 2 * kMargin + 20;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\""
    << num(height) << "\" font-family=\"sans-serif\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  text(o, kMargin, 24,
       "tile bench on " + run_title(run) + ": copy " + num(run.copy_gbps) + " GB/s" +
           (peak_tflops > 0 ? ", bf16 matmul " + num(peak_tflops) + " TFLOP/s" : ""),
       "font-size=\"14\"");

  // Left: FLOP/s against FLOP/byte.
  const double top = kMargin, bottom = kMargin + kPanelH;
  const LogAxis ix{-2, 4, kMargin, kMargin + kPanelW};
  const LogAxis fy{-3, 4, bottom, top};  // TFLOP/s
  o << "<rect x=\"" << num(kMargin) << "\" y=\"" << num(top) << "\" width=\"" << num(kPanelW)
    << "\" height=\"" << num(kPanelH) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  log_grid_x(o, ix, bottom, top, "");
  for (int p = -3; p <= 4; ++p) {
    const double py = fy.at(std::pow(10.0, p));
    line(o, kMargin, py, kMargin + kPanelW, py, "stroke:#eee");
    text(o, kMargin - 6, py + 4, powers_label(p, ""), "font-size=\"10\" text-anchor=\"end\"");
  }
  text(o, kMargin + kPanelW / 2, bottom + 34, "arithmetic intensity (FLOP / byte moved)",
       "font-size=\"11\" text-anchor=\"middle\"");
  text(o, 16, top + kPanelH / 2, "TFLOP/s",
       "font-size=\"11\" transform=\"rotate(-90 16 " + num(top + kPanelH / 2) + ")\"");
  // Bandwidth roof: TFLOP/s = intensity * GB/s / 1000, up to the compute roof.
  const double bw_tflops_per_intensity = run.copy_gbps / 1000.0;
  const double ridge =
      peak_tflops > 0 ? peak_tflops / bw_tflops_per_intensity : std::pow(10, ix.hi);
  const double i0 = std::pow(10.0, ix.lo), i1 = std::min(ridge, std::pow(10.0, ix.hi));
  line(o, ix.at(i0), fy.at(std::max(1e-3, i0 * bw_tflops_per_intensity)), ix.at(i1),
       fy.at(i1 * bw_tflops_per_intensity), "stroke:#2c3e50;stroke-width:2");
  text(o, ix.at(i0) + 8, fy.at(std::max(1e-3, i0 * bw_tflops_per_intensity) * 3),
       "copy " + num(run.copy_gbps) + " GB/s", "font-size=\"10\" fill=\"#2c3e50\"");
  if (peak_tflops > 0 && ridge < std::pow(10.0, ix.hi)) {
    line(o, ix.at(ridge), fy.at(peak_tflops), kMargin + kPanelW, fy.at(peak_tflops),
         "stroke:#2c3e50;stroke-width:2");
    text(o, kMargin + kPanelW - 4, fy.at(peak_tflops) - 5,
         "bf16 tensor cores " + num(peak_tflops) + " TFLOP/s",
         "font-size=\"10\" text-anchor=\"end\" fill=\"#2c3e50\"");
  }
  int index = 0;
  for (const Row& r : run.rows) {
    if (r.flops <= 0 || r.bytes <= 0 || r.tflops() <= 0) continue;
    const double intensity = r.flops / r.bytes;
    point(o, ix.at(std::clamp(intensity, i0, std::pow(10.0, ix.hi))),
          fy.at(std::clamp(r.tflops(), 1e-3, 1e4)), r.kernel, index++);
  }
  if (index == 0) {
    text(o, kMargin + 10, top + 20, "no case counts FLOPs", "font-size=\"11\" fill=\"#888\"");
  }

  // Right: GB/s against bytes moved, under the copy roof.
  const double left = 2 * kMargin + kPanelW;
  const LogAxis bx{3, 10, left, left + kPanelW};  // bytes
  double max_gbps = run.copy_gbps;
  for (const Row& r : run.rows) max_gbps = std::max(max_gbps, r.gbps());
  const LinearAxis gy{0, std::max(1.0, max_gbps * 1.1), bottom, top};
  o << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(kPanelW)
    << "\" height=\"" << num(kPanelH) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  log_grid_x(o, bx, bottom, top, " B");
  for (int k = 0; k <= 5; ++k) {
    const double v = gy.hi * k / 5.0, py = gy.at(v);
    line(o, left, py, left + kPanelW, py, "stroke:#eee");
    text(o, left - 6, py + 4, num(v), "font-size=\"10\" text-anchor=\"end\"");
  }
  text(o, left + kPanelW / 2, bottom + 34, "bytes moved per launch",
       "font-size=\"11\" text-anchor=\"middle\"");
  text(o, left + kPanelW / 2, top - 8, "GB/s (every case)",
       "font-size=\"11\" text-anchor=\"middle\"");
  line(o, left, gy.at(run.copy_gbps), left + kPanelW, gy.at(run.copy_gbps),
       "stroke:#2c3e50;stroke-width:2");
  index = 0;
  for (const Row& r : run.rows) {
    if (r.bytes <= 0) continue;
    point(o, bx.at(std::clamp(r.bytes, 1e3, 1e10)), gy.at(r.gbps()), r.kernel + " " + r.dtype,
          index++);
  }
  o << "</svg>\n";

  std::ofstream out(path);
  if (!out) throw Error("cannot write " + path);
  out << o.str();
  if (!out) throw Error("writing " + path + " failed");
}

}  // namespace mt::tile::bench
