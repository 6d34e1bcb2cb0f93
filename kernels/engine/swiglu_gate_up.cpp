// swiglu_gate_up: the MLP activation of Llama-family decoders on the output of one fused
// gate/up projection. Row t of gate_up holds gate (columns 0..F-1) then up (F..2F-1), as the
// projection with the two weights stacked row-wise writes them:
//
//   out[t, j] = silu(gate_up[t, j]) * gate_up[t, F + j]      (f32, rounded to T once)
//
// One thread per 16-byte vector of out (per element when F is not a multiple of the vector
// width), 256 a group.
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/engine/decoder.hpp"

namespace mt::kernels::engine::decoder {
namespace {

constexpr DType F32 = DType::F32;

std::uint32_t vector_lanes(DType t) { return static_cast<std::uint32_t>(16 / size_of(t)); }

Val swiglu(const Val& gate, const Val& up, DType T) {
  return (silu(gate.to(F32)) * up.to(F32)).to(T);
}

void build(KernelBuilder& k, DType T) {
  Tensor gate_up = k.input("gate_up", T);
  Tensor out = k.output("out", T);
  Val n = k.scalar_u32("n");
  require_1d_launch(k);
  k.require(n > 0u, "n > 0");
  k.require_len_multiple(gate_up, 2u * n, "2 * n (rows of gate then up)");
  k.require_len(out, gate_up.len() / 2u, "len(gate_up) / 2");

  const std::uint32_t lanes = vector_lanes(T);
  Val vectorised = n % lanes == 0u;
  Val per_row = select(vectorised, n / lanes, n);
  Val tid = program_id(0);
  Val t = tid / per_row, c = tid - t * per_row;
  if_(t < out.len() / n, [&] {
    if_(vectorised, [&] {
      ArrayRef g = load_vector(gate_up, t * 2u * n + c * lanes, lanes);
      ArrayRef u = load_vector(gate_up, t * 2u * n + n + c * lanes, lanes);
      ArrayRef r = k.thread_array("swiglu", T, lanes);
      for (std::uint32_t l = 0; l < lanes; ++l) r[l] = swiglu(g[l], u[l], T);
      store_vector(out, t * n + c * lanes, r, lanes);
    }).else_([&] {
      out[t * n + c] = swiglu(gate_up[t * 2u * n + c], gate_up[t * 2u * n + n + c], T);
    });
  });
}

}  // namespace

KernelInfo swiglu_gate_up::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build,
      .doc = {.summary = "SwiGLU on a fused gate/up projection: silu(gate) * up",
              .formula = "out[t, j] = silu(gate_up[t, j]) * gate_up[t, n + j] (f32, one "
                         "rounding to T)",
              .buffers = {{"gate_up", "[T, 2n] T: gate columns, then up columns"},
                          {"out", "[T, n] T"}},
              .scalars = {{"n", "u32: the MLP's intermediate size (> 0)"}},
              .geometry = "one thread per 16-byte vector of out (per element when n is not a "
                          "multiple of the vector width), 256 a group"},
      .geometry =
          [](const LaunchShape& s) {
            const std::size_t n = s.u32("n"), lanes = vector_lanes(s.dtype());
            const std::size_t per_row = n % lanes == 0 ? n / lanes : n;
            return geometry::threads_1d(s.elements("out") / n * per_row);
          },
      .bench =
          [](BenchScale scale) {
            const bool full = scale == BenchScale::Full;
            // Llama 3.1 8B's MLP (F = 14336): one decode token and a 16-token chunk.
            const std::vector<std::size_t> tokens =
                full ? std::vector<std::size_t>{1, 16} : std::vector<std::size_t>{3};
            const std::size_t n = full ? 14336 : 20;
            const DType t = full ? DType::BF16 : DType::F32;
            std::vector<BenchCase> cases;
            for (std::size_t tok : tokens) {
              BenchCase b;
              b.label = "T" + std::to_string(tok) + " F" + std::to_string(n);
              b.dtype = t;
              b.elements = {{"gate_up", tok * 2 * n}, {"out", tok * n}};
              b.scalars = {{"n", std::uint32_t(n)}};
              b.bytes = double(tok * 3 * n * size_of(t));
              cases.push_back(b);
            }
            return cases;
          },
  };
}

}  // namespace mt::kernels::engine::decoder
