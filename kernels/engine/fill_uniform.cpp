// fill_uniform: pseudo-random weights made on the device, for `tile generate --random` (a
// model of a real shape without a download or a host-side fill of gigabytes):
//
//   out[i] = offset + scale * u(i),   u(i) = hash(i, seed) / 2^31 - 1  in [-1, 1)
//
// The hash is the 32-bit finaliser of MurmurHash3 applied to i ^ (seed * golden ratio): a few
// integer operations, so the fill runs at the store bandwidth. One thread per element, 256 a
// group; the values are a pure function of (i, seed), so every backend writes the same bits.
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

void build(KernelBuilder& k, DType T) {
  Tensor out = k.output("out", T);
  Val n = k.scalar_u32("n"), seed = k.scalar_u32("seed");
  require_1d_launch(k);
  k.require_len(out, n, "n");
  Val scale = k.scalar_f32("scale"), offset = k.scalar_f32("offset");
  Val i = program_id(0);
  if_(i < n, [&] {
    Val h = i ^ (seed * 0x9E3779B9u);
    h = h ^ (h >> 16u);
    h = h * 0x85EBCA6Bu;
    h = h ^ (h >> 13u);
    h = h * 0xC2B2AE35u;
    h = h ^ (h >> 16u);
    // The top 24 bits, exact in f32.
    Val u = (h >> 8u).to(F32) * f32(1.0f / 8388608.0f) - f32(1.0f);
    out[i] = (offset + scale * u).to(T);
  });
}

}  // namespace

KernelInfo fill_uniform::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build,
      .doc = {.summary = "pseudo-random uniform fill (random weights for speed measurements)",
              .formula = "out[i] = offset + scale * u, u = (murmur3_fmix32(i ^ seed * "
                         "0x9E3779B9) >> 8) / 2^23 - 1 in [-1, 1)",
              .buffers = {{"out", "[N] T"}},
              .scalars = {{"n", "u32: the element count"},
                          {"seed", "u32"},
                          {"scale", "f32: half the range's width"},
                          {"offset", "f32: the range's centre"}},
              .geometry = "one thread per element, 256 a group"},
      .geometry = [](const LaunchShape& s) { return geometry::threads_1d(s.elements("out")); },
      .bench =
          [](BenchScale scale) {
            const bool full = scale == BenchScale::Full;
            const std::size_t n = full ? std::size_t(14336) * 4096 : 100;
            const DType t = full ? DType::BF16 : DType::F32;
            BenchCase b;
            b.label = "N" + std::to_string(n);
            b.dtype = t;
            b.elements = {{"out", n}};
            b.scalars = {{"n", static_cast<std::uint32_t>(n)},
                         {"seed", 1u},
                         {"scale", 1.0f},
                         {"offset", 0.0f}};
            b.bytes = double(n * size_of(t));
            return std::vector<BenchCase>{b};
          },
  };
}

}  // namespace mt::kernels::engine::decoder
