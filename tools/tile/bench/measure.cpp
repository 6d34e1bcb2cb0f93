// Targets, input filling, event timing and the measurement of one benchmark case.
#include "measure.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "metaltile/backends/cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/run.hpp"

namespace mt::tile::bench {
namespace {

// Inputs smaller than this are copied and rotated through, so that repeated launches read from
// memory rather than from the L2 cache (50 MB on an H100, 60 MB on an H200).
constexpr double kRotateBelowBytes = 256.0 * (1 << 20);
constexpr int kMaxInputSets = 8;
// A timed graph replay lasts about this long (launches per graph: at most kMaxGraphLaunches).
constexpr double kGraphMicroseconds = 500.0;
constexpr int kMaxGraphLaunches = 64;

// A 32-bit hash of the element index and a seed: random-looking, reproducible, and computed on
// the device, so filling a gigabyte costs a few milliseconds.
Val mix(Val h) {
  h = h ^ (h >> 16u);
  h = h * 0x85EBCA6Bu;
  h = h ^ (h >> 13u);
  h = h * 0xC2B2AE35u;
  return h ^ (h >> 16u);
}

// out[i] for every i, as BenchFill `kind` says, for a tensor of dtype t.
Kernel fill_kernel(DType t, BenchFill::Kind kind) {
  using Kind = BenchFill::Kind;
  return trace("bench_fill", KernelMode::Grid3D, [&](KernelBuilder& k) {
    Tensor out = k.output("out", t);
    Val seed = k.scalar_u32("seed"), n = k.scalar_u32("n");
    Val lo = k.scalar_f32("lo"), hi = k.scalar_f32("hi");
    Val i = program_id(0);
    if_(i < out.len(), [&] {
      const Val h = mix(i * 0x9E3779B1u ^ seed);
      if (is_float(t)) {
        const Val unit = (h >> 8u).to(DType::F32) * (1.0f / 16777216.0f);
        out[i] = (lo + (hi - lo) * unit).to(t);
        return;
      }
      Val v = h;
      if (kind == Kind::Below) v = h % max(n, 1u);
      if (kind == Kind::Iota) v = i % max(n, 1u);
      if (kind == Kind::Value) v = n;
      out[i] = t == DType::U32 ? v : v.bitcast(DType::I32).to(t);
    });
  });
}

// The fill kernels, prepared once per (target backend, dtype, kind).
const PreparedKernel& prepared_fill(const Target& t, DType dtype, BenchFill::Kind kind) {
  static std::mutex mutex;
  static std::map<std::tuple<const KernelBackend*, DType, BenchFill::Kind>, PreparedKernel> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(t.kernel_backend.get(), dtype, kind);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, t.ctx.prepare(fill_kernel(dtype, kind))).first;
  return it->second;
}

void fill(const Target& t, const Stream& stream, const DeviceBuffer& buffer, DType dtype,
          const BenchFill& f, std::uint32_t seed) {
  if (is_float(dtype) && f.kind != BenchFill::Kind::Default && f.kind != BenchFill::Kind::Uniform) {
    throw Error("tile bench: only uniform fills apply to a float tensor");
  }
  if (!is_float(dtype) && dtype != DType::U32 && dtype != DType::I32) {
    throw Error("tile bench: cannot fill a tensor of " + std::string(name_of(dtype)));
  }
  const std::size_t elements = buffer.size() / size_of(dtype);
  const PreparedKernel& k = prepared_fill(t, dtype, f.kind);
  const bool uniform = f.kind == BenchFill::Kind::Uniform;
  t.ctx.launch(k,
               {{"out", buffer},
                {"seed", seed},
                {"n", f.n},
                {"lo", static_cast<float>(uniform ? f.lo : -1.0)},
                {"hi", static_cast<float>(uniform ? f.hi : 1.0)}},
               {std::max<std::size_t>(1, (elements + 255) / 256), 1, 1}, {256, 1, 1}, stream);
}

DeviceArg device_arg(const ConstValue& v) {
  return std::visit([](auto x) { return DeviceArg(x); }, v);
}

double percentile(const std::vector<double>& sorted, double q) {
  const std::size_t i = static_cast<std::size_t>(q * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

Target make_target(bool checked) {
  const char* forced = std::getenv("MT_BACKEND");
  const std::string choice = forced != nullptr ? forced : "";
  if (choice != "cpu") {
    try {
      CudaOptions options = cuda_options_from_env();
      options.checked = checked;
      std::shared_ptr<KernelBackend> backend = make_cuda_backend(options);
      Context ctx(backend);
      return Target{"cuda", checked ? "checked" : "unchecked", ctx.description(), backend, ctx,
                    true};
    } catch (const Error&) {
      if (choice == "cuda") throw;
    }
  }
  std::shared_ptr<KernelBackend> cpu = make_cpu_backend();
  Context ctx(cpu);
  return Target{"cpu", "interpreter", ctx.description(), cpu, ctx, false};
}

Timing time_launches(const Target& t, const Stream& stream, const Settings& s,
                     const std::function<void(int)>& launch) {
  for (int i = 0; i < s.warm_up; ++i) launch(i);
  stream.synchronize();
  std::vector<std::pair<std::shared_ptr<EventHandle>, std::shared_ptr<EventHandle>>> events;
  for (int i = 0; i < s.runs; ++i) {
    std::shared_ptr<EventHandle> start = t.kernel_backend->device().record_event(stream.handle());
    launch(s.warm_up + i);
    events.emplace_back(std::move(start), t.kernel_backend->device().record_event(stream.handle()));
  }
  stream.synchronize();
  std::vector<double> us;
  for (auto& [start, end] : events)
    us.push_back(1e3 * t.kernel_backend->device().elapsed_ms(*start, *end));
  std::sort(us.begin(), us.end());
  Timing timing;
  timing.runs = static_cast<int>(us.size());
  timing.median_us = percentile(us, 0.5);
  timing.p10_us = percentile(us, 0.1);
  timing.p90_us = percentile(us, 0.9);
  return timing;
}

double measure_copy_gbps(const Target& t, const Settings& s) {
  const std::size_t bytes = t.gpu ? (std::size_t{1} << 30) : (std::size_t{16} << 20);
  const Stream stream = t.ctx.create_stream();
  const DeviceBuffer a = t.ctx.allocate(bytes), b = t.ctx.allocate(bytes);
  fill(t, stream, a, DType::U32, BenchFill{}, 1);
  auto& dst = const_cast<DeviceMemory&>(b.memory());  // the backend's copy writes through it
  const Timing timing = time_launches(t, stream, s, [&](int) {
    t.kernel_backend->device().copy(dst, a.memory(), bytes, stream.handle());
  });
  return 2.0 * double(bytes) / (timing.median_us * 1e3);
}

double tensor_bytes(const KernelInfo& info, const BenchCase& c) {
  double bytes = 0.0;
  for (const Param& p : traced_kernel(info.name, c.dtype).params) {
    if (p.is_tensor()) bytes += double(c.elements.at(p.name)) * double(size_of(p.dtype));
  }
  return bytes;
}

CaseResult measure_case(const Target& t, const KernelInfo& info, const BenchCase& c,
                        const Settings& s) {
  const Kernel& k = traced_kernel(info.name, c.dtype);
  kernels::KernelRunner runner(t.ctx, info, c.dtype, s.specialise);
  const Stream stream = t.ctx.create_stream();

  double input_bytes = 0.0;
  for (const Param& p : k.params) {
    if (p.kind == ParamKind::Input) input_bytes += double(c.elements.at(p.name)) * size_of(p.dtype);
  }
  const int sets =
      s.rotate && t.gpu && input_bytes > 0
          ? std::clamp(int(std::ceil(kRotateBelowBytes / input_bytes)), 1, kMaxInputSets)
          : 1;

  std::vector<DeviceBindings> bindings(sets);
  std::uint32_t seed = 1;
  for (const Param& p : k.params) {
    if (!p.is_tensor()) {
      auto v = c.scalars.find(p.name);
      if (v == c.scalars.end()) throw param_error(info.name, p.name, "no value in bench case");
      if (s.specialise.count(p.name) != 0) continue;
      for (DeviceBindings& b : bindings) b.emplace(p.name, device_arg(v->second));
      continue;
    }
    const std::size_t bytes = c.elements.at(p.name) * size_of(p.dtype);
    auto f = c.fills.find(p.name);
    const BenchFill how = f == c.fills.end() ? BenchFill{} : f->second;
    // Outputs are shared by the sets; each set gets its own inputs.
    DeviceBuffer shared;
    for (DeviceBindings& b : bindings) {
      if (p.kind == ParamKind::Output && shared.valid()) {
        b.emplace(p.name, shared);
        continue;
      }
      DeviceBuffer buffer = t.ctx.allocate(bytes);  // an absent optional buffer is empty
      if (bytes > 0) fill(t, stream, buffer, p.dtype, how, seed++ * 0x2545F491u);
      if (p.kind == ParamKind::Output) shared = buffer;
      b.emplace(p.name, buffer);
    }
  }
  stream.synchronize();

  CaseResult result;
  result.info = &info;
  result.bench = c;
  result.input_sets = sets;
  result.bytes = c.bytes > 0 ? c.bytes : tensor_bytes(info, c);
  const auto launch = [&](int i) { runner.launch(bindings[i % sets], stream); };
  if (!t.gpu || !s.graph) {
    result.timing = time_launches(t, stream, s, launch);
    return result;
  }
  // Enough launches per graph that a replay lasts kGraphMicroseconds (at least one pass over the
  // input sets); the eager warm-up also allocates the runner's scratch, which a capture cannot.
  Settings probe = s;
  probe.runs = std::max(1, s.warm_up);
  const double eager_us = std::max(time_launches(t, stream, probe, launch).median_us, 1.0);
  int batch = std::clamp(int(std::ceil(kGraphMicroseconds / eager_us)), 1, kMaxGraphLaunches);
  batch = (batch + sets - 1) / sets * sets;
  std::optional<Graph> captured;
  try {
    captured = t.ctx.capture(stream, [&] {
      for (int i = 0; i < batch; ++i) launch(i);
    });
  } catch (const Error& e) {
    std::cerr << "tile bench: " << info.name << " " << c.label
              << ": timing single launches, the graph capture failed: " << e.what() << "\n";
    result.timing = time_launches(t, stream, s, launch);
    return result;
  }
  const Graph& graph = *captured;
  Timing replays = time_launches(t, stream, s, [&](int) { graph.replay(stream); });
  replays.median_us /= batch;
  replays.p10_us /= batch;
  replays.p90_us /= batch;
  result.timing = replays;
  result.graph_launches = batch;
  return result;
}

}  // namespace mt::tile::bench
