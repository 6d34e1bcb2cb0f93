// The decode step's fused GEMVs (rms_norm_gemv, rms_norm_gemv_swiglu, residual_gemv) x {f32,
// f16, bf16} on every backend against f64 oracles, over the dense GEMV's shapes (odd N, K not a
// multiple of the vector width, K with and without a remainder after the unrolled loop);
// weight_offset 0 and 1; the device-resident path; over-dispatch; the precondition errors. The
// quantised forms (rms_norm_qgemv, rms_norm_qgemv_swiglu, residual_qgemv) over MLX affine
// weights of 2, 3, 4 and 8 bits against the same oracles on the exactly dequantised weights,
// with rows whose last step is partial (units past the row's end must add nothing, not even to
// the norm's sum of squares).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/gemv_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "metaltile/kernels/run.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace oracle = mt::test::gemv;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr float kEps = 1e-5f;

struct Shape {
  std::uint32_t n, k;
  std::string text() const { return "n=" + std::to_string(n) + " k=" + std::to_string(k); }
};

// K = 1 and 7 (never vectorised), 100 (f32 vectors only), 264 (vectors, no full unrolled
// step), 1032 (an unrolled step and a remainder), 1030 (element path over several steps).
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {{1, 1},    {3, 7},    {5, 100}, {17, 264},
                                         {9, 1032}, {7, 1030}, {35, 64}};
  return all;
}

// The inputs of all three kernels; w has 2n rows (the swiglu kernel's gate and up).
struct Inputs {
  std::vector<float> w, h, norm, residual;
};

Inputs inputs(const Shape& s, DType t, std::uint64_t seed) {
  using mt::test::rows::random_values;
  return {random_values(2 * std::size_t{s.n} * s.k, seed, t, -1.0f, 1.0f),
          random_values(s.k, seed + 1, t, -2.0f, 2.0f), random_values(s.k, seed + 2, t, 0.5f, 1.5f),
          random_values(s.n, seed + 3, t, -4.0f, 4.0f)};
}

// sum_k w[row, k] * x[k] and sum_k |w x| in f64.
struct Dot {
  double value = 0, magnitude = 0;
};

// w: the weight's rows as f64 (dense values, or scale * q + bias).
Dot dot(const std::vector<double>& w, const std::vector<double>& x, std::size_t row) {
  Dot d;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double p = w[row * x.size() + i] * x[i];
    d.value += p;
    d.magnitude += std::fabs(p);
  }
  return d;
}

// h * (norm + offset) and the inverse RMS of h, in f64.
std::vector<double> normed_input(const Inputs& in, float offset, double& r) {
  double squares = 0;
  for (float v : in.h) squares += double(v) * v;
  r = 1.0 / std::sqrt(squares / double(in.h.size()) + kEps);
  std::vector<double> x;
  for (std::size_t i = 0; i < in.h.size(); ++i)
    x.push_back(double(in.h[i]) * (in.norm[i] + offset));
  return x;
}

// The kernels sum h^2 in f32 as they go and take an f32 rsqrt: the norm's factor carries a
// relative error of about 2^-20, charged as 2 |value| of magnitude (2^-18 relative) on top of
// the GEMV tolerance.
oracle::Expected rms_norm_gemv(const Inputs& in, const std::vector<double>& w, std::uint32_t n,
                               float offset) {
  double r = 0;
  const std::vector<double> x = normed_input(in, offset, r);
  oracle::Expected e;
  for (std::size_t row = 0; row < n; ++row) {
    const Dot d = dot(w, x, row);
    e.value.push_back(r * d.value);
    e.magnitude.push_back(r * d.magnitude + 2 * std::fabs(r * d.value));
  }
  return e;
}

// out = silu(a) b: the errors of a and b carried through silu'(a) b and silu(a), plus silu's
// own f32 error.
oracle::Expected rms_norm_gemv_swiglu(const Inputs& in, const std::vector<double>& w,
                                      std::uint32_t n, float offset) {
  double r = 0;
  const std::vector<double> x = normed_input(in, offset, r);
  oracle::Expected e;
  for (std::size_t j = 0; j < n; ++j) {
    const Dot g = dot(w, x, j), u = dot(w, x, n + j);
    const double a = r * g.value, b = r * u.value;
    const double a_mag = r * g.magnitude + 2 * std::fabs(a),
                 b_mag = r * u.magnitude + 2 * std::fabs(b);
    const double sig = 1.0 / (1.0 + std::exp(-a)), silu = a * sig;
    const double slope = sig * (1.0 + a * (1.0 - sig));
    e.value.push_back(silu * b);
    e.magnitude.push_back(std::fabs(slope * b) * a_mag + std::fabs(silu) * b_mag +
                          4 * std::fabs(silu * b));
  }
  return e;
}

oracle::Expected residual_gemv(const Inputs& in, const std::vector<double>& w, std::uint32_t n) {
  const std::vector<double> x(in.h.begin(), in.h.end());
  oracle::Expected e;
  for (std::size_t row = 0; row < n; ++row) {
    const Dot d = dot(w, x, row);
    e.value.push_back(in.residual[row] + d.value);
    e.magnitude.push_back(d.magnitude + std::fabs(in.residual[row]));
  }
  return e;
}

// The buffers of `kernel` (h doubles as residual_gemv's x; w's first n rows for the plain forms).
mt::BufferMap buffers(const std::string& kernel, const Shape& s, DType t, const Inputs& in,
                      float offset) {
  using mt::test::pack;
  const bool swiglu = kernel == "rms_norm_gemv_swiglu";
  const std::vector<float> w(in.w.begin(),
                             in.w.begin() + std::ptrdiff_t(swiglu ? 2 : 1) * s.n * s.k);
  mt::BufferMap b{{"w", pack(w, t)},
                  {"out", mt::test::poisoned(s.n, t)},
                  {"k", le_bytes(s.k)},
                  {"n", le_bytes(s.n)}};
  if (kernel == "residual_gemv") {
    b["x"] = pack(in.h, t);
    b["residual"] = pack(in.residual, t);
  } else {
    b["h"] = pack(in.h, t);
    b["norm"] = pack(in.norm, t);
    b["eps"] = le_bytes(kEps);
    b["weight_offset"] = le_bytes(offset);
  }
  return b;
}

// The oracle of `kernel` (or of its quantised form) over the weight rows w.
oracle::Expected expected(const std::string& kernel, const std::vector<double>& w, const Shape& s,
                          const Inputs& in, float offset) {
  if (kernel.starts_with("rms_norm") && kernel.ends_with("swiglu")) {
    return rms_norm_gemv_swiglu(in, w, s.n, offset);
  }
  if (kernel.starts_with("rms_norm")) return rms_norm_gemv(in, w, s.n, offset);
  return residual_gemv(in, w, s.n);
}

oracle::Expected expected(const std::string& kernel, const Shape& s, const Inputs& in,
                          float offset) {
  return expected(kernel, std::vector<double>(in.w.begin(), in.w.end()), s, in, offset);
}

const std::vector<std::string>& kernels() {
  static const std::vector<std::string> all = {"rms_norm_gemv", "rms_norm_gemv_swiglu",
                                               "residual_gemv"};
  return all;
}

TEST(DecodeGemv, EveryKernelMatchesTheOracleOnEveryShape) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 31;
    for (DType t : kDTypes) {
      for (const Shape& s : shapes()) {
        const Inputs in = inputs(s, t, seed += 4);
        for (const std::string& kernel : kernels()) {
          for (float offset : {0.0f, 1.0f}) {
            SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " " + kernel +
                         " weight_offset " + std::to_string(offset));
            const mt::DispatchResult r =
                mt::kernels::run(ctx, kernel, t, buffers(kernel, s, t, in, offset));
            oracle::expect_within(mt::test::unpack(r.outputs.at("out"), t),
                                  expected(kernel, s, in, offset), t, "out");
          }
        }
      }
    }
  });
}

// The decoder's path: device buffers and a KernelRunner.
TEST(DecodeGemv, DeviceResidentLaunchMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Shape s{17, 264};
    const Inputs in = inputs(s, t, 5);
    const mt::Stream stream = ctx.create_stream();
    for (const std::string& kernel : kernels()) {
      SCOPED_TRACE(kernel);
      mt::kernels::KernelRunner runner(ctx, kernel, t);
      mt::DeviceBindings bindings;
      mt::DeviceBuffer out;
      for (const auto& [name, bytes] : buffers(kernel, s, t, in, 0.0f)) {
        if (name == "k" || name == "n" || name == "eps" || name == "weight_offset") continue;
        mt::DeviceBuffer buffer = ctx.upload(bytes);
        if (name == "out") out = buffer;
        bindings[name] = buffer;
      }
      bindings["k"] = s.k;
      bindings["n"] = s.n;
      if (kernel != "residual_gemv") {
        bindings["eps"] = kEps;
        bindings["weight_offset"] = 0.0f;
      }
      runner.launch(bindings, stream);
      stream.synchronize();
      oracle::expect_within(mt::test::unpack(out.download(), t), expected(kernel, s, in, 0.0f), t,
                            "out");
    }
  });
}

// More threadgroups than outputs: the extra warps write nothing (the interpreter would report
// any access past a buffer) and the outputs that exist are still right.
TEST(DecodeGemv, OverDispatchWritesNothingPastTheRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Shape s{6, 264};
    const Inputs in = inputs(s, t, 9);
    for (const std::string& kernel : kernels()) {
      SCOPED_TRACE(kernel + " 7 groups");
      const mt::DispatchResult r = ctx.dispatch_with_grid(
          mt::build_kernel(kernel, t), buffers(kernel, s, t, in, 0.0f), {}, {7, 1, 1}, {128, 1, 1});
      oracle::expect_within(mt::test::unpack(r.outputs.at("out"), t), expected(kernel, s, in, 0.0f),
                            t, "out");
    }
  });
}

// Each bad request is an mt::Error naming the kernel and the buffer or condition; the context
// stays usable.
TEST(DecodeGemv, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Shape s{5, 16};
    const Inputs in = inputs(s, t, 1);
    const auto error = [&](const std::string& kernel, const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, kernel, t, b); });
    };
    for (const std::string& kernel :
         {std::string("rms_norm_gemv"), std::string("rms_norm_gemv_swiglu")}) {
      SCOPED_TRACE(kernel);
      const mt::BufferMap good = buffers(kernel, s, t, in, 0.0f);
      mt::BufferMap bad = good;
      bad["norm"] = mt::test::poisoned(15, t);
      mt::test::expect_length_error(error(kernel, bad), kernel, "norm", "16", 15);
      bad = good;
      bad["h"] = mt::test::pack(std::vector<float>(32, 1.0f), t);  // two rows
      mt::test::expect_mentions(error(kernel, bad),
                                {"kernel '" + kernel + "'", "1 <= len(h) / k <= 1"});
      bad = good;
      bad["eps"] = le_bytes(-1.0f);
      mt::test::expect_mentions(error(kernel, bad), {"kernel '" + kernel + "'", "eps >= 0"});
      bad = good;
      bad["w"] = mt::test::poisoned(kernel == "rms_norm_gemv" ? 2 * 5 * 16 : 5 * 16, t);
      mt::test::expect_mentions(error(kernel, bad), {"kernel '" + kernel + "'", "'w'"});
    }
    const mt::BufferMap good = buffers("residual_gemv", s, t, in, 0.0f);
    mt::BufferMap bad = good;
    bad["residual"] = mt::test::poisoned(4, t);
    mt::test::expect_length_error(error("residual_gemv", bad), "residual_gemv", "residual", "5", 4);
    bad = good;
    bad["out"] = mt::test::poisoned(6, t);
    mt::test::expect_length_error(error("residual_gemv", bad), "residual_gemv", "out", "5", 6);
    for (const std::string& kernel : kernels()) {
      const mt::DispatchResult r =
          mt::kernels::run(ctx, kernel, t, buffers(kernel, s, t, in, 0.0f));
      oracle::expect_within(mt::test::unpack(r.outputs.at("out"), t), expected(kernel, s, in, 0.0f),
                            t, "out");
    }
  });
}

// --- over MLX affine weights ---------------------------------------------------------------

struct QuantCase {
  Shape shape;
  std::uint32_t bits, group_size;
  std::string text() const {
    return shape.text() + " bits=" + std::to_string(bits) + " g=" + std::to_string(group_size);
  }
};

// Units (32 codes) of K: 2 (one partial step), 66 and 130 (a full step of four-row warps, 64
// units at 4 bits, or of the SwiGLU form's two-row warps, 128 units, then lanes 0 and 1 with
// their second unit past the row's end); 3 and 8 bits, group sizes 32 to 128.
std::vector<QuantCase> quant_cases() {
  return {{{5, 64}, 4, 32},   {{3, 2112}, 4, 64}, {{3, 4160}, 4, 64},
          {{7, 384}, 8, 128}, {{4, 256}, 3, 32},  {{9, 256}, 2, 64}};
}

// The dense buffers with w replaced by its quantisation (its first `rows` rows).
mt::BufferMap quant_buffers(const std::string& kernel, const QuantCase& c, DType t,
                            const Inputs& in, const mt::test::affine::Quantized& q,
                            std::uint32_t rows, float offset) {
  const std::string dense =
      kernel.substr(0, kernel.find("qgemv")) + "gemv" + kernel.substr(kernel.find("qgemv") + 5);
  mt::BufferMap b = buffers(dense, c.shape, t, in, offset);
  b.erase("w");
  const std::size_t words = std::size_t{rows} * c.shape.k / 32 * c.bits;
  const std::size_t groups = std::size_t{rows} * c.shape.k / c.group_size;
  b["wq"] = mt::test::pack_u32(std::vector<std::uint32_t>(q.wq.begin(), q.wq.begin() + words));
  b["scales"] = mt::test::pack(std::vector<float>(q.scales.begin(), q.scales.begin() + groups), t);
  b["biases"] = mt::test::pack(std::vector<float>(q.biases.begin(), q.biases.begin() + groups), t);
  return b;
}

TEST(DecodeQgemv, EveryKernelMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 71;
    for (DType t : kDTypes) {
      for (const QuantCase& c : quant_cases()) {
        const Inputs in = inputs(c.shape, t, seed += 4);
        const std::uint32_t n = c.shape.n, k = c.shape.k;
        const mt::test::affine::Quantized q =
            mt::test::affine::quantize(in.w, c.group_size, c.bits, t);
        const std::vector<double> exact = mt::test::affine::dequantize_exact(
            q.wq, q.scales, q.biases, 2 * n, k, c.group_size, c.bits);
        for (const std::string kernel :
             {"rms_norm_qgemv", "rms_norm_qgemv_swiglu", "residual_qgemv"}) {
          const float offset = kernel == "rms_norm_qgemv" ? 1.0f : 0.0f;
          SCOPED_TRACE(std::string(mt::name_of(t)) + " " + c.text() + " " + kernel);
          const std::uint32_t rows = kernel.ends_with("swiglu") ? 2 * n : n;
          // bits and group_size at run time: one compiled kernel per dtype on CUDA serves
          // every format (RunTimeFormatAndErrors compares with the specialised form).
          mt::BufferMap b = quant_buffers(kernel, c, t, in, q, rows, offset);
          b["bits"] = le_bytes(c.bits);
          b["group_size"] = le_bytes(c.group_size);
          const mt::DispatchResult r = mt::kernels::run(ctx, kernel, t, b);
          oracle::expect_within(mt::test::unpack(r.outputs.at("out"), t),
                                expected(kernel, exact, c.shape, in, offset), t, "out");
        }
      }
    }
  });
}

// The scalars at run time give the same bits as specialised; a weight of the wrong length or a
// K outside whole groups is an error naming kernel and parameter.
TEST(DecodeQgemv, RunTimeFormatAndErrors) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const QuantCase c{{5, 64}, 4, 32};
    const Inputs in = inputs(c.shape, t, 3);
    const mt::test::affine::Quantized q = mt::test::affine::quantize(in.w, 32, 4, t);
    for (const std::string kernel : {"rms_norm_qgemv", "rms_norm_qgemv_swiglu", "residual_qgemv"}) {
      SCOPED_TRACE(kernel);
      const std::uint32_t rows = kernel.ends_with("swiglu") ? 10 : 5;
      mt::BufferMap b = quant_buffers(kernel, c, t, in, q, rows, 0.0f);
      b["bits"] = le_bytes(4u);
      b["group_size"] = le_bytes(32u);
      const std::vector<float> plain =
          mt::test::unpack(mt::kernels::run(ctx, kernel, t, b).outputs.at("out"), t);
      mt::BufferMap s = b;
      s.erase("bits");
      s.erase("group_size");
      const std::vector<float> specialised =
          mt::test::unpack(mt::kernels::run(ctx, kernel, t, s, {{"bits", 4u}, {"group_size", 32u}})
                               .outputs.at("out"),
                           t);
      mt::test::expect_close(specialised, plain, 0.0, 0.0, "out");
      mt::BufferMap bad = b;
      bad["wq"] = mt::test::pack_u32(std::vector<std::uint32_t>(rows * 64 / 8 - 1, 0u));
      mt::test::expect_mentions(mt::test::error_of([&] { mt::kernels::run(ctx, kernel, t, bad); }),
                                {"kernel '" + kernel + "'", "'wq'"});
      bad = b;
      bad["group_size"] = le_bytes(128u);
      mt::test::expect_mentions(mt::test::error_of([&] { mt::kernels::run(ctx, kernel, t, bad); }),
                                {"kernel '" + kernel + "'", "k % group_size == 0"});
    }
  });
}

}  // namespace
