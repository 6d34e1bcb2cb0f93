// tile run NAME --buffer name=FILE|random:N|zeros:N|iota:N ... --scalar name=VALUE ...: launches
// one library kernel by name on the current backend (the geometry from its registry entry),
// prints a summary of each output and writes them to files with --out.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>

#include "commands.hpp"
#include "kernel_args.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"

namespace mt::tile {
namespace {

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// FILE (raw little-endian elements), or random:N, zeros:N, iota:N elements of the param's type.
std::vector<std::uint8_t> make_buffer(const Param& p, const std::string& spec, std::uint32_t seed) {
  const std::size_t colon = spec.find(':');
  const std::string kind = colon == std::string::npos ? "" : spec.substr(0, colon);
  if (kind != "random" && kind != "zeros" && kind != "iota") return read_bytes(spec);
  std::size_t n = 0;
  try {
    n = std::stoull(spec.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError("--buffer " + p.name + "=" + spec + ": expected an element count");
  }
  std::vector<std::uint8_t> bytes(n * size_of(p.dtype));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    Scalar v;
    if (kind == "iota") {
      v = is_float(p.dtype) ? Scalar::of_float(double(i)) : Scalar::of_int(std::int64_t(i));
    } else if (kind == "random") {
      v = is_float(p.dtype) ? Scalar::of_float(uniform(rng)) : Scalar::of_int(rng());
    }
    write_element(bytes.data() + i * size_of(p.dtype), p.dtype, normalise(v, p.dtype));
  }
  return bytes;
}

std::vector<std::uint8_t> scalar_bytes(const Param& p, const std::string& text) {
  std::vector<std::uint8_t> bytes(size_of(p.dtype));
  Scalar v;
  try {
    v = is_float(p.dtype) ? Scalar::of_float(std::stod(text)) : Scalar::of_int(std::stoll(text));
  } catch (const std::exception&) {
    throw UsageError("--scalar " + p.name + "=" + text + ": not a number");
  }
  write_element(bytes.data(), p.dtype, normalise(v, p.dtype));
  return bytes;
}

void summarise(std::ostream& out, const std::string& name, DType t,
               const std::vector<std::uint8_t>& bytes) {
  const std::size_t n = bytes.size() / size_of(t);
  out << name << ": " << n << " " << name_of(t) << (n == 1 ? " element" : " elements");
  std::size_t nan = 0;
  double lo = INFINITY, hi = -INFINITY;
  for (std::size_t i = 0; i < n; ++i) {
    const Scalar v = read_element(bytes.data() + i * size_of(t), t);
    const double x = is_float(t) ? v.f : double(v.i);
    if (std::isnan(x)) {
      ++nan;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (n > 0) out << ", min " << lo << ", max " << hi << ", NaN " << nan;
  out << "\n  ";
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 8); ++i) {
    const Scalar v = read_element(bytes.data() + i * size_of(t), t);
    out << (is_float(t) ? v.f : double(v.i)) << " ";
  }
  out << (n > 8 ? "..." : "") << "\n";
}

int run_run(const ParsedArgs& args) {
  const KernelInfo& info = kernel_info(args.positional(0));
  const std::string dtype_name = args.value_or("--dtype", name_of(info.dtypes.front()));
  const std::optional<DType> dtype = parse_dtype(dtype_name);
  if (!dtype) throw UsageError("unknown dtype '" + dtype_name + "'");
  const Kernel& k = traced_kernel(info.name, *dtype);

  BufferMap buffers;
  std::uint32_t seed = 1;
  for (const std::string& b : args.values("--buffer")) {
    const auto [name, spec] = split_assignment(b, "--buffer");
    const Param& p = param_named(k, name, "--buffer");
    if (!p.is_tensor()) throw UsageError("--buffer " + name + ": a scalar; use --scalar");
    buffers[name] = make_buffer(p, spec, seed++);
  }
  for (const std::string& s : args.values("--scalar")) {
    const auto [name, value] = split_assignment(s, "--scalar");
    const Param& p = param_named(k, name, "--scalar");
    if (p.is_tensor()) throw UsageError("--scalar " + name + ": a tensor; use --buffer");
    buffers[name] = scalar_bytes(p, value);
  }
  const ConstMap consts = parse_specialise(k, args.values("--specialise"));

  const Context ctx = Context::create();
  const DispatchResult r = kernels::run(ctx, info.name, *dtype, buffers, consts);
  std::cout << info.name << " " << name_of(*dtype) << " on " << ctx.description() << ": "
            << std::fixed << std::setprecision(1) << r.elapsed_us << " us\n";
  std::cout.unsetf(std::ios::fixed);
  std::cout << std::setprecision(7);
  const std::optional<std::string> dir = args.value("--out");
  if (dir) std::filesystem::create_directories(*dir);
  for (const auto& [name, bytes] : r.outputs) {
    summarise(std::cout, name, k.param(k.find_param(name)).dtype, bytes);
    if (dir) {
      const std::string path = (std::filesystem::path(*dir) / (name + ".bin")).string();
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      if (!out) throw Error("cannot write " + path);
      std::cout << "  written to " << path << "\n";
    }
  }
  return 0;
}

}  // namespace

const Verb& run_verb() {
  static const Verb verb{
      {"run",
       "launch one kernel by name on the current backend and summarise (or save) its outputs",
       {{"NAME", "a registered kernel (see tile list; tile inspect NAME --doc for its buffers)"}},
       {{"--dtype", "D", "element type (default: the kernel's first)"},
        {"--buffer", "NAME=FILE|random:N|zeros:N|iota:N",
         "a tensor: raw little-endian bytes from FILE, or N generated elements", Repeat::Many},
        {"--scalar", "NAME=VALUE", "a scalar parameter", Repeat::Many},
        {"--specialise", "NAME=VALUE", "a scalar baked into the code", Repeat::Many},
        {"--out", "DIR", "write each output to DIR/NAME.bin"}}},
      run_run};
  return verb;
}

}  // namespace mt::tile
