// (c) Bandwidth of bulk_dequant_kv_int4 / _int8 (f16; 8 KV heads, max_seq = n_positions = 32768,
// head_dim 128; groups of 32 and 64) as (bytes read + written) / time, timed with events, median
// of the runs after warm-up, checked and unchecked, against the device-to-device copy bandwidth
// measured in the same run (bytes read + written). Each configuration's output is validated
// against a host oracle before it is timed.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::bench {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Shape {
  std::uint32_t heads, max_seq, n_positions, head_dim, group;
  std::size_t elements() const { return std::size_t{heads} * max_seq * head_dim; }
  std::string text() const {
    return std::to_string(heads) + "x" + std::to_string(max_seq) + "x" + std::to_string(head_dim) +
           " g" + std::to_string(group);
  }
};

Bytes words_to_bytes(const std::vector<std::uint32_t>& w) {
  Bytes b(w.size() * 4);
  for (std::size_t i = 0; i < w.size(); ++i) {
    for (int j = 0; j < 4; ++j) b[4 * i + j] = static_cast<std::uint8_t>(w[i] >> (8 * j));
  }
  return b;
}

Bytes halves_to_bytes(const std::vector<std::uint16_t>& h) {
  Bytes b(h.size() * 2);
  for (std::size_t i = 0; i < h.size(); ++i) {
    b[2 * i] = static_cast<std::uint8_t>(h[i]);
    b[2 * i + 1] = static_cast<std::uint8_t>(h[i] >> 8);
  }
  return b;
}

std::uint16_t half_at(const Bytes& b, std::size_t i) {
  return static_cast<std::uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

// Median milliseconds of `runs` event-timed calls of `work` on `stream`, after `warm_up` calls.
double time_ms(const Target& t, const Stream& stream, int warm_up, int runs,
               const std::function<void()>& work) {
  for (int i = 0; i < warm_up; ++i) work();
  stream.synchronize();
  std::vector<std::pair<std::shared_ptr<EventHandle>, std::shared_ptr<EventHandle>>> events;
  for (int i = 0; i < runs; ++i) {
    std::shared_ptr<EventHandle> start = t.backend->device().record_event(stream.handle());
    work();
    events.emplace_back(std::move(start), t.backend->device().record_event(stream.handle()));
  }
  stream.synchronize();
  std::vector<double> ms;
  for (auto& [start, end] : events) ms.push_back(t.backend->device().elapsed_ms(*start, *end));
  return median(ms);
}

}  // namespace

bool measure_dequant(const Setup& setup, Report& report) {
  const bool quick = setup.options.quick;
  const int runs = setup.options.runs, warm_up = quick ? 1 : 5;
  const Target& first = setup.targets.front();

  // The roofline: a device-to-device copy of >= 1 GiB (16 MiB when quick).
  const std::size_t copy_bytes = quick ? (std::size_t{16} << 20) : (std::size_t{1} << 30);
  double copy_gbs = 0.0;
  {
    const Stream stream = first.ctx.create_stream();
    const DeviceBuffer a = first.ctx.allocate(copy_bytes), b = first.ctx.allocate(copy_bytes);
    auto& dst = const_cast<DeviceMemory&>(b.memory());
    const double ms = time_ms(first, stream, warm_up, runs, [&] {
      first.backend->device().copy(dst, a.memory(), copy_bytes, stream.handle());
    });
    copy_gbs = 2.0 * double(copy_bytes) / (ms * 1e6);
    report.add({"copy", "device-to-device copy, " + std::to_string(copy_bytes >> 20) + " MiB", "-",
                copy_gbs, "GB/s",
                "read + write; median " + fixed(ms, 3) + " ms of " + std::to_string(runs)});
  }

  bool all_valid = true;
  std::mt19937 rng(12345);
  for (std::uint32_t bits : {4u, 8u}) {
    for (std::uint32_t group : {32u, 64u}) {
      const Shape s = quick ? Shape{1, 64, 64, 128, group} : Shape{8, 32768, 32768, 128, group};
      const std::uint32_t vpp = 32 / bits, maxq = (1u << bits) - 1;
      const std::size_t n_words = s.elements() / vpp, n_groups = s.elements() / group;
      std::vector<std::uint32_t> w(n_words);
      for (std::uint32_t& x : w) x = static_cast<std::uint32_t>(rng());
      std::uniform_real_distribution<float> scale(0.001f, 0.05f), bias(-1.0f, 1.0f);
      std::vector<std::uint16_t> sc(n_groups), bi(n_groups);
      for (std::uint16_t& x : sc) x = f32_to_f16_bits(scale(rng));
      for (std::uint16_t& x : bi) x = f32_to_f16_bits(bias(rng));
      const Bytes w_bytes = words_to_bytes(w), s_bytes = halves_to_bytes(sc),
                  b_bytes = halves_to_bytes(bi);
      const std::size_t out_bytes = s.elements() * 2;
      const double moved = double(w_bytes.size() + s_bytes.size() + b_bytes.size() + out_bytes);
      // The one-element-per-thread kernel and its eight-elements-per-thread variant.
      for (const std::uint32_t per_thread : {1u, 8u}) {
        const std::string kernel_name =
            "bulk_dequant_kv_int" + std::to_string(bits) + (per_thread == 8 ? "_x8" : "");
        const Kernel k = build_kernel(kernel_name, DType::F16);
        const std::size_t threads = std::size_t{s.heads} * s.n_positions * s.head_dim / per_thread;
        const std::array<std::size_t, 3> grid{(threads + 255) / 256, 1, 1}, tpg{256, 1, 1};

        // Each backend, with the shape passed at run time and specialised (baked into the code).
        for (const Target& t : setup.targets) {
          for (const bool specialised : {false, true}) {
            const Context& ctx = t.ctx;
            const ConstMap consts = specialised ? ConstMap{{"head_dim", s.head_dim},
                                                           {"max_seq", s.max_seq},
                                                           {"group_size", s.group},
                                                           {"n_positions", s.n_positions}}
                                                : ConstMap{};
            const PreparedKernel prepared = ctx.prepare(k, consts);
            const Stream stream = ctx.create_stream();
            const DeviceBuffer in_w = ctx.upload(w_bytes), in_s = ctx.upload(s_bytes),
                               in_b = ctx.upload(b_bytes);
            const DeviceBuffer out = ctx.allocate(out_bytes);
            DeviceBindings bindings{{"in_w", in_w}, {"in_s", in_s}, {"in_b", in_b}, {"out", out}};
            if (!specialised) {
              bindings.insert({{"head_dim", s.head_dim},
                               {"max_seq", s.max_seq},
                               {"group_size", s.group},
                               {"n_positions", s.n_positions}});
            }
            ctx.launch(prepared, bindings, grid, tpg, stream);
            stream.synchronize();

            // Validate a sample against the formula, bit for bit (f32 multiply and add, then f16).
            const Bytes got = out.download();
            std::size_t bad = 0, checked_count = 0;
            std::string first_bad;
            for (std::size_t e = 0; e < s.elements(); e += quick ? 97 : 997) {
              const std::size_t d = e % s.head_dim, slot = e / s.head_dim;
              const std::uint32_t word = w[slot * (s.head_dim / vpp) + d / vpp];
              const std::uint32_t q = (word >> ((d % vpp) * bits)) & maxq;
              const std::size_t g = slot * (s.head_dim / group) + d / group;
              const float v = float(q) * f16_bits_to_f32(sc[g]) + f16_bits_to_f32(bi[g]);
              ++checked_count;
              if (half_at(got, e) != f32_to_f16_bits(v)) {
                if (bad++ == 0) {
                  first_bad = "element " + std::to_string(e) + ": expected " +
                              std::to_string(f16_bits_to_f32(f32_to_f16_bits(v))) + ", got " +
                              std::to_string(f16_bits_to_f32(half_at(got, e)));
                }
              }
            }
            const std::string name = kernel_name + " f16 " + s.text() +
                                     (specialised ? ", specialised" : ", runtime shape");
            if (bad > 0) {
              all_valid = false;
              report.add({"dequant", name, t.variant, 0.0, "GB/s",
                          "VALIDATION FAILED: " + std::to_string(bad) + " of " +
                              std::to_string(checked_count) + " sampled elements differ; " +
                              first_bad});
              continue;
            }
            const double ms = time_ms(t, stream, warm_up, runs,
                                      [&] { ctx.launch(prepared, bindings, grid, tpg, stream); });
            const double gbs = moved / (ms * 1e6);
            report.add({"dequant", name, t.variant, gbs, "GB/s",
                        fixed(100.0 * gbs / copy_gbs, 1) + "% of copy; median " + fixed(ms, 4) +
                            " ms of " + std::to_string(runs) + "; " +
                            fixed(moved / 1e6, quick ? 3 : 1) + " MB moved; validated " +
                            std::to_string(checked_count) + " samples"});
          }
        }
      }
    }
  }
  return all_valid;
}

}  // namespace mt::bench
