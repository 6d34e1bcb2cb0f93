// The elementwise family: one vectorised map, and one formula per op of the tables in
// elementwise.hpp.
//
// Layout of the work: each thread owns kUnroll vectors of `lanes` elements (16 bytes of the
// wider of the input and output types; 8 bytes of the narrower one when they differ), vector
// u of thread t in group g being (g * kUnroll + u) * tpg + t, so each of a warp's kUnroll
// loads reads 512 contiguous bytes and all of them are in flight before the first result is
// needed. The last len % lanes elements (the tail) belong to the vector index just past the
// whole vectors, which its thread handles one element at a time.
#include "metaltile/kernels/mlx/elementwise.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

namespace mt::kernels::mlx::elementwise {
namespace {

constexpr DType F32 = DType::F32;
constexpr std::uint32_t kUnroll = 4;  // vectors per thread
constexpr std::size_t kThreadsPerGroup = 256;

// Elements per vector for a kernel reading `in` and writing `out`.
std::uint32_t vector_lanes(DType in, DType out) {
  return static_cast<std::uint32_t>(16 / std::max(size_of(in), size_of(out)));
}

// out[i] = f({input[i] as f32 for each input}) rounded to out's type, for i < len(out); every
// input must be as long as out.
template <class F>
void map_elements(KernelBuilder& k, DType in_type, DType out_type,
                  const std::vector<std::string>& input_names, F f) {
  std::vector<Tensor> inputs;
  for (const std::string& name : input_names) inputs.push_back(k.input(name, in_type));
  Tensor out = k.output("out", out_type);
  require_1d_launch(k);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    k.require_len(inputs[i], out.len(), "len(out)");
  }
  const std::uint32_t lanes = vector_lanes(in_type, out_type);
  Val n = out.len();
  Val whole = n / lanes;  // whole vectors; the tail starts at whole * lanes
  Val first = threadgroup_id(0) * kUnroll;
  Val tpg = threads_per_threadgroup(0), t = thread_id(0);
  const auto apply = [&](const std::vector<Val>& values) { return f(values).to(out_type); };
  const auto vector_of = [&](std::uint32_t u) { return (first + u) * tpg + t; };
  std::vector<ArrayRef> results;  // per vector; both paths below use them
  for (std::uint32_t u = 0; u < kUnroll; ++u) {
    results.push_back(k.thread_array("out_vec" + std::to_string(u), out_type, lanes));
  }
  // Maps whole vector v: loads (issued first by the caller), computes, stores.
  const auto map_vector = [&](const Val& v, const std::vector<ArrayRef>& loaded, std::uint32_t u) {
    const ArrayRef& o = results[u];
    for (std::uint32_t j = 0; j < lanes; ++j) {
      std::vector<Val> values;
      for (const ArrayRef& a : loaded) values.push_back(a[j].to(F32));
      o[j] = apply(values);
    }
    store_vector(out, v * lanes, o, lanes);
  };
  const auto load_all = [&](const Val& v) {
    std::vector<ArrayRef> loaded;
    for (const Tensor& in : inputs) loaded.push_back(load_vector(in, v * lanes, lanes));
    return loaded;
  };
  // Every thread but those at the end owns kUnroll whole vectors: all its loads are issued
  // before any result is computed, with no branch between them.
  if_(vector_of(kUnroll - 1) < whole, [&] {
    std::vector<Val> vectors;
    std::vector<std::vector<ArrayRef>> loaded;
    for (std::uint32_t u = 0; u < kUnroll; ++u) {
      vectors.push_back(vector_of(u));
      loaded.push_back(load_all(vectors.back()));
    }
    for (std::uint32_t u = 0; u < kUnroll; ++u) map_vector(vectors[u], loaded[u], u);
  }).else_([&] {
    for (std::uint32_t u = 0; u < kUnroll; ++u) {
      Val v = vector_of(u);
      if_(v < whole, [&] { map_vector(v, load_all(v), u); }).else_([&] {
        if_(v == whole, [&] {
          for (Val i : range(whole * lanes, n)) {
            std::vector<Val> values;
            for (const Tensor& in : inputs) values.push_back(in[i].to(F32));
            out[i] = apply(values);
          }
        });
      });
    }
  });
}

// --- the formulas, on f32 values -----------------------------------------------------------

// NaN when either operand is NaN (a + b is then NaN), else the IR's max / min.
Val nan_or(const Val& a, const Val& b, const Val& value) {
  return select(a != a || b != b, a + b, value);
}

namespace unary_formula {
Val abs(const Val& x) { return mt::abs(x); }
Val neg(const Val& x) { return -x; }
Val sign(const Val& x) { return (x > 0.0f).to(F32) - (x < 0.0f).to(F32); }
Val square(const Val& x) { return x * x; }
Val sqrt(const Val& x) { return mt::sqrt(x); }
Val rsqrt(const Val& x) { return mt::rsqrt(x); }
Val recip(const Val& x) { return 1.0f / x; }
Val exp(const Val& x) { return mt::exp(x); }
Val exp2(const Val& x) { return mt::exp2(x); }
Val expm1(const Val& x) { return mt::expm1(x); }
Val log(const Val& x) { return mt::log(x); }
Val log2(const Val& x) { return mt::log2(x); }
Val log1p(const Val& x) { return mt::log1p(x); }
Val sin(const Val& x) { return mt::sin(x); }
Val cos(const Val& x) { return mt::cos(x); }
Val tan(const Val& x) { return mt::tan(x); }
Val tanh(const Val& x) { return mt::tanh(x); }
Val sigmoid(const Val& x) { return mt::sigmoid(x); }
Val silu(const Val& x) { return mt::silu(x); }
Val relu(const Val& x) { return select(x < 0.0f, 0.0f, x); }
Val gelu(const Val& x) { return mt::gelu(x); }
Val gelu_tanh(const Val& x) { return mt::gelu_tanh(x); }
// PyTorch's threshold: above 20, ln(1 + e^x) rounds to x in f32.
Val softplus(const Val& x) { return select(x > 20.0f, x, mt::log1p(mt::exp(x))); }
Val erf(const Val& x) { return mt::erf(x); }
Val floor(const Val& x) { return mt::floor(x); }
Val ceil(const Val& x) { return mt::ceil(x); }
Val round(const Val& x) { return mt::round_even(x); }
}  // namespace unary_formula

namespace binary_formula {
Val add(const Val& a, const Val& b) { return a + b; }
Val sub(const Val& a, const Val& b) { return a - b; }
Val mul(const Val& a, const Val& b) { return a * b; }
Val div(const Val& a, const Val& b) { return a / b; }
Val maximum(const Val& a, const Val& b) { return nan_or(a, b, mt::max(a, b)); }
Val minimum(const Val& a, const Val& b) { return nan_or(a, b, mt::min(a, b)); }
Val pow(const Val& a, const Val& b) { return mt::pow(a, b); }
Val atan2(const Val& a, const Val& b) { return mt::atan2(a, b); }
// fmod is exact; adding b where the signs differ is the one rounding.
Val remainder(const Val& a, const Val& b) {
  Val r = a % b;
  return select(r != 0.0f && (b < 0.0f) != (r < 0.0f), r + b, r);
}
}  // namespace binary_formula

namespace gated_formula {
Val swiglu(const Val& gate, const Val& up) { return mt::silu(gate) * up; }
Val geglu_tanh(const Val& gate, const Val& up) { return mt::gelu_tanh(gate) * up; }
}  // namespace gated_formula

// --- builders --------------------------------------------------------------------------------

template <Val (*F)(const Val&)>
void build_unary(KernelBuilder& k, DType t) {
  map_elements(k, t, t, {"x"}, [](const std::vector<Val>& v) { return F(v[0]); });
}

template <Val (*F)(const Val&, const Val&)>
void build_binary(KernelBuilder& k, DType t) {
  map_elements(k, t, t, {"a", "b"}, [](const std::vector<Val>& v) { return F(v[0], v[1]); });
}

template <Val (*F)(const Val&, const Val&)>
void build_gated(KernelBuilder& k, DType t) {
  map_elements(k, t, t, {"gate", "up"}, [](const std::vector<Val>& v) { return F(v[0], v[1]); });
}

void build_cast_to_f32(KernelBuilder& k, DType t) {
  map_elements(k, t, F32, {"x"}, [](const std::vector<Val>& v) { return v[0]; });
}

void build_cast_from_f32(KernelBuilder& k, DType t) {
  map_elements(k, F32, t, {"x"}, [](const std::vector<Val>& v) { return v[0]; });
}

// --- registry entries ------------------------------------------------------------------------

// Benchmarks: 64 Mi bf16 elements (the spec's goal), and the MLP activation of one decode
// token and of a 4096-token prefill of Llama 3 8B (intermediate size 14336); each tensor is
// read or written once. Smoke: a length with a tail on every dtype.
BenchShapes bench_shapes(std::vector<std::string> tensors, bool from_f32, bool to_f32) {
  return [tensors = std::move(tensors), from_f32, to_f32](BenchScale scale) {
    const bool full = scale == BenchScale::Full;
    const std::vector<std::size_t> lengths =
        full ? std::vector<std::size_t>{std::size_t{1} << 26, 14336, std::size_t{4096} * 14336}
             : std::vector<std::size_t>{1003};
    const double inputs = double(tensors.size() - 1);
    std::vector<BenchCase> cases;
    for (std::size_t n : lengths) {
      const DType t = full ? DType::BF16 : F32;
      const double in_bytes = double(size_of(from_f32 ? F32 : t));
      const double out_bytes = double(size_of(to_f32 ? F32 : t));
      BenchCase b{"n" + std::to_string(n), t, {}, {}, {}, 0.0, 0.0};
      for (const std::string& name : tensors) b.elements[name] = n;
      b.bytes = double(n) * (inputs * in_bytes + out_bytes);
      cases.push_back(b);
    }
    return cases;
  };
}

LaunchPlan geometry_for(const LaunchShape& s, DType in, DType out) {
  const std::size_t lanes = vector_lanes(in, out);
  const std::size_t vectors = geometry::ceil_div(s.elements("out"), lanes);
  return geometry::threads_1d(geometry::ceil_div(vectors, kUnroll), kThreadsPerGroup);
}

const char* const kGeometryText =
    "one thread per 4 vectors of 16 bytes (of the wider type; 4 f32 or 8 f16/bf16 elements), "
    "256 a group; the last len % lanes elements one at a time";

KernelInfo entry(void (*body)(KernelBuilder&, DType), std::string summary, std::string formula,
                 std::vector<ParamDoc> buffers, bool from_f32, bool to_f32) {
  std::vector<std::string> tensors;
  for (const ParamDoc& b : buffers) tensors.push_back(b.name);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = std::move(summary),
              .formula = std::move(formula),
              .buffers = std::move(buffers),
              .scalars = {},
              .geometry = kGeometryText},
      .geometry =
          [from_f32, to_f32](const LaunchShape& s) {
            return geometry_for(s, from_f32 ? F32 : s.dtype(), to_f32 ? F32 : s.dtype());
          },
      .bench = bench_shapes(std::move(tensors), from_f32, to_f32),
  };
}

}  // namespace

#define MT_MLX_UNARY_INFO(op, formula)                                                      \
  KernelInfo unary_##op::info() {                                                           \
    return entry(build_unary<&unary_formula::op>, "out = " #op "(x), elementwise",          \
                 std::string("out[i] = ") + formula + " at x = x[i], in f32, rounded to T", \
                 {{"x", "[n] T"}, {"out", "[n] T"}}, false, false);                         \
  }
#define MT_MLX_BINARY_INFO(op, formula)                                                 \
  KernelInfo binary_##op::info() {                                                      \
    return entry(build_binary<&binary_formula::op>, "out = " #op "(a, b), elementwise", \
                 std::string("out[i] = ") + formula +                                   \
                     " at a = a[i], b = b[i], in f32, "                                 \
                     "rounded to T",                                                    \
                 {{"a", "[n] T"}, {"b", "[n] T"}, {"out", "[n] T"}}, false, false);     \
  }
#define MT_MLX_GATED_INFO(op, formula)                                                  \
  KernelInfo op::info() {                                                               \
    return entry(build_gated<&gated_formula::op>, "out = " formula ", elementwise",     \
                 std::string("out[i] = ") + formula +                                   \
                     " at gate = gate[i], up = up[i], in f32, rounded to T",            \
                 {{"gate", "[n] T"}, {"up", "[n] T"}, {"out", "[n] T"}}, false, false); \
  }
MT_MLX_UNARY_OPS(MT_MLX_UNARY_INFO)
MT_MLX_BINARY_OPS(MT_MLX_BINARY_INFO)
MT_MLX_GATED_OPS(MT_MLX_GATED_INFO)
#undef MT_MLX_UNARY_INFO
#undef MT_MLX_BINARY_INFO
#undef MT_MLX_GATED_INFO

KernelInfo cast_to_f32::info() {
  return entry(build_cast_to_f32, "out = f32(x), elementwise", "out[i] = x[i] as f32 (exact)",
               {{"x", "[n] T"}, {"out", "[n] f32"}}, false, true);
}

KernelInfo cast_from_f32::info() {
  return entry(build_cast_from_f32, "out = T(x), elementwise",
               "out[i] = x[i] rounded to T, to nearest even (f16 overflows to inf)",
               {{"x", "[n] f32"}, {"out", "[n] T"}}, true, false);
}

}  // namespace mt::kernels::mlx::elementwise
