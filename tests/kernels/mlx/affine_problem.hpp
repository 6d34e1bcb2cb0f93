// A product with MLX affine weights for the quantised GEMV and GEMM tests: random weights
// quantised by the host oracle, the activations (named `x` or `a` by the kernel), their buffers,
// and launches by name (with the format's scalars specialised or not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/bytes.hpp"

namespace mt::test::affine {

struct Problem {
  DType t;
  std::uint32_t bits, group_size, m, n, k;
  Quantized q;
  std::vector<float> input;  // m rows of k activations

  std::string text() const {
    return std::string(name_of(t)) + " bits=" + std::to_string(bits) +
           " group_size=" + std::to_string(group_size) + " m=" + std::to_string(m) +
           " n=" + std::to_string(n) + " k=" + std::to_string(k);
  }
  // The weights and the shape scalars, the activations as `input_name`, a poisoned `out`.
  BufferMap buffers(const std::string& input_name) const {
    return {{input_name, pack(input, t)},
            {"wq", pack_u32(q.wq)},
            {"scales", pack(q.scales, t)},
            {"biases", pack(q.biases, t)},
            {"out", poisoned(std::size_t{m} * n, t)},
            {"n", le_bytes(n)},
            {"k", le_bytes(k)},
            {"group_size", le_bytes(group_size)},
            {"bits", le_bytes(bits)}};
  }
};

// Weights uniform in [-1, 1) and activations in [-2, 2), values of t, quantised with the host
// oracle.
inline Problem make_problem(DType t, std::uint32_t bits, std::uint32_t group_size, std::uint32_t m,
                            std::uint32_t n, std::uint32_t k, std::uint64_t seed) {
  const std::vector<float> w = rows::random_values(std::size_t{n} * k, seed, t, -1.0f, 1.0f);
  return {t,
          bits,
          group_size,
          m,
          n,
          k,
          quantize(w, group_size, bits, t),
          rows::random_values(std::size_t{m} * k, seed + 1, t, -2.0f, 2.0f)};
}

inline std::vector<float> run(const Context& ctx, const std::string& name, const Problem& p,
                              const BufferMap& b, const ConstMap& consts = {}) {
  return unpack(kernels::run(ctx, name, p.t, b, consts).outputs.at("out"), p.t);
}

// bits and group_size specialised: the kernel keeps only its branch for these bits, which the
// CPU interpreter runs several times faster (it pays per instruction of the whole kernel at
// every launch). The tests' SpecialisedScalarsGiveTheSameResult compare with the run-time form.
inline std::vector<float> run_specialised(const Context& ctx, const std::string& name,
                                          const Problem& p, BufferMap b) {
  b.erase("bits");
  b.erase("group_size");
  return run(ctx, name, p, b, {{"bits", p.bits}, {"group_size", p.group_size}});
}

}  // namespace mt::test::affine
