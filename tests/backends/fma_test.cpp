// The fused multiply-add op traced with the DSL and run on every available backend: one f32
// rounding (bit-identical to std::fma) and then the operands' type, on random and hand-picked
// operands where a multiply followed by an add would round differently.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;

// out[i] = fma(a[i], b[i], c[i]) in T, one element per thread.
mt::Kernel fma_kernel(DType t) {
  return mt::trace("fma_" + std::string(mt::name_of(t)), mt::KernelMode::Grid3D,
                   [t](mt::KernelBuilder& k) {
                     mt::Tensor a = k.input("a", t), b = k.input("b", t), c = k.input("c", t);
                     mt::Tensor out = k.output("out", t);
                     mt::Val i = mt::program_id(0);
                     mt::if_(i < out.len(), [&] { out[i] = mt::fma(a[i], b[i], c[i]); });
                   });
}

TEST(Fma, RoundsOnceInF32ThenToTheTypeOnEveryBackend) {
  const std::size_t n = 1000;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      SCOPED_TRACE(mt::name_of(t));
      std::vector<float> a(n), b(n), c(n);
      for (std::size_t i = 0; i < n; ++i) {
        a[i] = u(rng);
        b[i] = u(rng);
        c[i] = -a[i] * b[i] + u(rng) * 1e-3f;  // cancellation: the low product bits count
      }
      // (1 + 2^-12)^2 - (1 + 2^-11) = 2^-24 exactly; a product rounded first gives 0.
      a[0] = b[0] = 1.0f + 0x1p-12f;
      c[0] = -(1.0f + 0x1p-11f);
      a = mt::test::round_all(a, t);
      b = mt::test::round_all(b, t);
      c = mt::test::round_all(c, t);
      mt::BufferMap buffers{{"a", mt::test::pack(a, t)},
                            {"b", mt::test::pack(b, t)},
                            {"c", mt::test::pack(c, t)},
                            {"out", mt::test::poisoned(n, t)}};
      const mt::DispatchResult r =
          ctx.dispatch_with_grid(fma_kernel(t), buffers, {}, {(n + 127) / 128, 1, 1}, {128, 1, 1});
      const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), t);
      ASSERT_EQ(out.size(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const float want = mt::round_to(t, std::fma(a[i], b[i], c[i]));
        ASSERT_EQ(std::bit_cast<std::uint32_t>(out[i]), std::bit_cast<std::uint32_t>(want))
            << "element " << i << ": fma(" << a[i] << ", " << b[i] << ", " << c[i] << ") gave "
            << out[i] << ", expected " << want;
      }
      if (t == DType::F32) {
        EXPECT_EQ(out[0], 0x1p-24f);
      }
    }
  });
}

}  // namespace
