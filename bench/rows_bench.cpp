// Benchmark of the MLX row kernels (softmax, rms_norm, layer_norm, argmax, row_sum, row_max)
// against a 16-byte-vector copy of the same bytes, on the device-resident API: the median over
// batches of the mean time of one launch, and GB/s = (bytes read + written) / time.
//
//   rows_bench [--rows R] [--n N] [--dtype f32|f16|bf16] [--tpg 256,1024] [--reps 50]
//              [--batches 7] [--kernels softmax,argmax] [--graph] [--out result.json]
//
// Each kernel runs with n bound at launch and with n specialised (baked into the code).
// Timing is std::chrono around `reps` launches and a synchronize (or, with --graph, one replay
// of a graph of `reps` captured launches), so host launch cost counts if it exceeds the GPU's.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "metaltile/kernels/mlx/rows.hpp"
#include "metaltile/metaltile.hpp"

namespace {

namespace mlx = mt::kernels::mlx::rows;

struct Options {
  std::uint32_t rows = 32768;
  std::uint32_t n = 4096;
  bool rows_given = false;
  mt::DType dtype = mt::DType::BF16;
  std::vector<std::uint32_t> tpgs = {256, 1024};
  int reps = 50;
  int batches = 7;
  std::vector<std::string> kernels;  // empty: all
  bool graph = false;
  std::string out;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--rows") {
      o.rows = static_cast<std::uint32_t>(std::stoul(value()));
      o.rows_given = true;
    } else if (arg == "--n") {
      o.n = static_cast<std::uint32_t>(std::stoul(value()));
    } else if (arg == "--dtype") {
      const std::string d = value();
      if (d == "f32")
        o.dtype = mt::DType::F32;
      else if (d == "f16")
        o.dtype = mt::DType::F16;
      else if (d == "bf16")
        o.dtype = mt::DType::BF16;
      else
        throw std::runtime_error("--dtype must be f32, f16 or bf16, got " + d);
    } else if (arg == "--tpg") {
      o.tpgs.clear();
      for (const std::string& t : split(value())) o.tpgs.push_back(std::stoul(t));
    } else if (arg == "--reps") {
      o.reps = std::stoi(value());
    } else if (arg == "--batches") {
      o.batches = std::stoi(value());
    } else if (arg == "--kernels") {
      o.kernels = split(value());
    } else if (arg == "--graph") {
      o.graph = true;
    } else if (arg == "--out") {
      o.out = value();
    } else {
      throw std::runtime_error("unknown argument " + arg +
                               " (see the comment atop rows_bench.cpp)");
    }
  }
  if (o.reps < 1 || o.batches < 1) throw std::runtime_error("--reps and --batches must be >= 1");
  return o;
}

// Deterministic values in [-4, 4) as little-endian elements of t.
std::vector<std::uint8_t> random_bytes(std::size_t count, mt::DType t, std::uint64_t seed) {
  std::vector<float> v(count);
  std::uint64_t s = seed | 1;
  for (float& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = -4.0f + 8.0f * static_cast<float>(s >> 40) / 16777216.0f;
  }
  std::vector<std::uint8_t> bytes(count * mt::size_of(t));
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits = 0;
    if (t == mt::DType::F32) std::memcpy(&bits, &v[i], 4);
    if (t == mt::DType::F16) bits = mt::f32_to_f16_bits(v[i]);
    if (t == mt::DType::BF16) bits = mt::f32_to_bf16_bits(v[i]);
    for (std::size_t b = 0; b < mt::size_of(t); ++b) {
      bytes[i * mt::size_of(t) + b] = static_cast<std::uint8_t>(bits >> (8 * b));
    }
  }
  return bytes;
}

// The reference: every thread copies 16 bytes (4 u32 words) with one vector load and store.
mt::Kernel copy_kernel() {
  return mt::trace("copy_u32x4", mt::KernelMode::Elementwise, [](mt::KernelBuilder& k) {
    mt::Tensor x = k.input("x", mt::DType::U32);
    mt::Tensor out = k.output("out", mt::DType::U32);
    mt::Val i = mt::program_id(0) * 4u;
    mt::if_(i < x.len(), [&] { mt::store_vector(out, i, mt::load_vector(x, i, 4), 4); });
  });
}

struct Result {
  std::string kernel;
  std::string variant;  // "n runtime", "n specialised", "copy"
  std::uint32_t tpg = 0;
  double us = 0.0;
  double bytes = 0.0;
  std::string error;
  double gbps() const { return us > 0.0 ? bytes / (us * 1e3) : 0.0; }
};

// Median over batches of the mean time of one launch, in microseconds.
double time_launches(const mt::Context& ctx, const mt::Stream& stream, const Options& o,
                     const std::function<void()>& launch) {
  for (int i = 0; i < 3; ++i) launch();  // warm-up: first-launch costs, caches, clocks
  stream.synchronize();
  mt::Graph graph;
  if (o.graph) {
    graph = ctx.capture(stream, [&] {
      for (int r = 0; r < o.reps; ++r) launch();
    });
    graph.replay(stream);
    stream.synchronize();
  }
  std::vector<double> per_launch;
  for (int b = 0; b < o.batches; ++b) {
    const auto start = std::chrono::steady_clock::now();
    if (o.graph) {
      graph.replay(stream);
    } else {
      for (int r = 0; r < o.reps; ++r) launch();
    }
    stream.synchronize();
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    per_launch.push_back(took.count() / o.reps);
  }
  std::sort(per_launch.begin(), per_launch.end());
  return per_launch[per_launch.size() / 2];
}

bool wanted(const Options& o, std::string_view name) {
  return o.kernels.empty() ||
         std::find(o.kernels.begin(), o.kernels.end(), std::string(name)) != o.kernels.end();
}

std::vector<Result> run(const mt::Context& ctx, const Options& o) {
  const mt::DType t = o.dtype;
  const std::size_t elements = std::size_t{o.rows} * o.n, size = mt::size_of(t);
  const double x_bytes = double(elements) * size, w_bytes = double(o.n) * size;
  const mt::DeviceBuffer x = ctx.upload(random_bytes(elements, t, 1));
  const mt::DeviceBuffer w = ctx.upload(random_bytes(o.n, t, 2));
  const mt::DeviceBuffer b = ctx.upload(random_bytes(o.n, t, 3));
  const mt::DeviceBuffer out = ctx.allocate(elements * size);
  const mt::DeviceBuffer out_row = ctx.allocate(std::size_t{o.rows} * 4);  // one T or u32 a row
  const mt::Stream stream = ctx.create_stream();
  std::vector<Result> results;

  if (wanted(o, "copy") && std::size_t(x_bytes) % 16 == 0) {
    for (std::uint32_t tpg : o.tpgs) {
      Result r{"copy", "u32x4", tpg, 0.0, 2 * x_bytes, ""};
      try {
        const mt::PreparedKernel k = ctx.prepare(copy_kernel());
        const std::size_t threads = std::size_t(x_bytes) / 16;
        const std::array<std::size_t, 3> grid{(threads + tpg - 1) / tpg, 1, 1};
        r.us = time_launches(ctx, stream, o, [&] {
          ctx.launch(k, {{"x", x}, {"out", out}}, grid, {tpg, 1, 1}, stream);
        });
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      results.push_back(r);
    }
  }

  struct Spec {
    std::string_view name;
    mt::Kernel (*build)(mt::DType);
    double bytes;
    mt::DeviceBindings bindings;
  };
  const double row_out = double(o.rows) * size;
  const std::vector<Spec> specs = {
      {mlx::softmax::name, mlx::softmax::kernel_ir_for, 2 * x_bytes, {{"x", x}, {"out", out}}},
      {mlx::rms_norm::name,
       mlx::rms_norm::kernel_ir_for,
       2 * x_bytes + w_bytes,
       {{"x", x}, {"w", w}, {"out", out}, {"eps", 1e-5f}}},
      {mlx::layer_norm::name,
       mlx::layer_norm::kernel_ir_for,
       2 * x_bytes + 2 * w_bytes,
       {{"x", x}, {"w", w}, {"b", b}, {"out", out}, {"eps", 1e-5f}}},
      {mlx::argmax::name,
       mlx::argmax::kernel_ir_for,
       x_bytes + 4.0 * o.rows,
       {{"x", x}, {"out", out_row}}},
      {mlx::row_sum::name,
       mlx::row_sum::kernel_ir_for,
       x_bytes + row_out,
       {{"x", x}, {"out", out_row}}},
      {mlx::row_max::name,
       mlx::row_max::kernel_ir_for,
       x_bytes + row_out,
       {{"x", x}, {"out", out_row}}},
  };
  for (const Spec& spec : specs) {
    if (!wanted(o, spec.name)) continue;
    for (bool specialise : {false, true}) {
      for (std::uint32_t tpg : o.tpgs) {
        Result r{std::string(spec.name),
                 specialise ? "n specialised" : "n runtime",
                 tpg,
                 0.0,
                 spec.bytes,
                 ""};
        try {
          mt::ConstMap consts;
          mt::DeviceBindings bindings = spec.bindings;
          if (specialise) {
            consts["n"] = o.n;
          } else {
            bindings["n"] = o.n;
          }
          const mt::PreparedKernel k = ctx.prepare(spec.build(t), consts);
          r.us = time_launches(ctx, stream, o, [&] {
            ctx.launch(k, bindings, {o.rows, 1, 1}, {tpg, 1, 1}, stream);
          });
        } catch (const std::exception& e) {
          r.error = e.what();
        }
        results.push_back(r);
      }
    }
  }
  return results;
}

void report(const std::vector<Result>& results, const Options& o, const std::string& device) {
  double copy_gbps = 0.0;
  for (const Result& r : results) {
    if (r.kernel == "copy" && r.error.empty()) copy_gbps = std::max(copy_gbps, r.gbps());
  }
  std::printf("%-12s %-14s %5s %11s %9s %9s\n", "kernel", "variant", "tpg", "time (us)", "GB/s",
              "of copy");
  for (const Result& r : results) {
    if (!r.error.empty()) {
      std::printf("%-12s %-14s %5u  failed: %s\n", r.kernel.c_str(), r.variant.c_str(), r.tpg,
                  r.error.c_str());
      continue;
    }
    std::printf("%-12s %-14s %5u %11.1f %9.1f %8.1f%%\n", r.kernel.c_str(), r.variant.c_str(),
                r.tpg, r.us, r.gbps(), copy_gbps > 0.0 ? 100.0 * r.gbps() / copy_gbps : 0.0);
  }
  if (o.out.empty()) return;
  std::ofstream json(o.out);
  std::string escaped;
  for (char c : device)
    escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  json << "{\n  \"device\": \"" << escaped << "\",\n  \"rows\": " << o.rows << ",\n  \"n\": " << o.n
       << ",\n  \"dtype\": \"" << mt::name_of(o.dtype) << "\",\n  \"reps\": " << o.reps
       << ",\n  \"batches\": " << o.batches << ",\n  \"graph\": " << (o.graph ? "true" : "false")
       << ",\n  \"results\": [";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    json << (i ? "," : "") << "\n    {\"kernel\": \"" << r.kernel << "\", \"variant\": \""
         << r.variant << "\", \"tpg\": " << r.tpg << ", \"us\": " << r.us
         << ", \"bytes\": " << r.bytes << ", \"gbps\": " << r.gbps()
         << ", \"ok\": " << (r.error.empty() ? "true" : "false") << "}";
  }
  json << "\n  ]\n}\n";
  std::printf("wrote %s\n", o.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse(argc, argv);
    const mt::Context ctx = mt::Context::create();
    if (ctx.backend() == mt::Backend::Cpu && !o.rows_given) {
      // The interpreter would take hours over 32768 rows; say what runs instead.
      o.rows = 16;
      o.reps = std::min(o.reps, 2);
      o.batches = std::min(o.batches, 3);
      std::printf("backend cpu: rows reduced to 16, reps %d, batches %d (pass --rows to choose)\n",
                  o.reps, o.batches);
    }
    std::printf("device: %s\nshape: %u rows x %u %s, tpg", ctx.description().c_str(), o.rows, o.n,
                std::string(mt::name_of(o.dtype)).c_str());
    for (std::uint32_t t : o.tpgs) std::printf(" %u", t);
    std::printf(", %d launches x %d batches%s\n", o.reps, o.batches, o.graph ? " (graph)" : "");
    report(run(ctx, o), o, ctx.description());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rows_bench: %s\n", e.what());
    return 1;
  }
}
