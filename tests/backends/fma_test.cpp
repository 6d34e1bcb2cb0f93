// fma(a, b, c) traced with the DSL and run on every available backend: one rounding of the
// exact a * b + c (f16/bf16: in f32, then to the type), bit for bit what scalar_eval gives,
// on inputs where a separate multiply and add would round differently.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;

mt::Kernel fma_kernel(DType t) {
  return mt::trace("fma_" + std::string(mt::name_of(t)), mt::KernelMode::Grid3D,
                   [t](mt::KernelBuilder& k) {
                     const mt::Tensor a = k.input("a", t), b = k.input("b", t);
                     const mt::Tensor c = k.input("c", t);
                     const mt::Tensor out = k.output("out", t);
                     const mt::Val i = mt::program_id(0);
                     mt::if_(i < out.len(), [&] { out[i] = mt::fma(a[i], b[i], c[i]); });
                   });
}

TEST(Fma, RoundsOnceOnEveryBackend) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      SCOPED_TRACE(std::string(mt::name_of(t)));
      // 1 + e with e a small power of two the type holds: (1 + e)^2 - (1 + 2e) = e^2 exactly
      // when fused, 0 when the product is rounded first.
      const float e = t == DType::F32 ? 0x1p-12f : t == DType::F16 ? 0x1p-6f : 0x1p-4f;
      std::vector<float> a = {1 + e, 2, -3.5f, inf, 1e-3f, 0.1f, -0.0f};
      std::vector<float> b = {1 + e, 0.75f, 0.25f, 0, 1e-3f, 0.3f, 1};
      std::vector<float> c = {-(1 + 2 * e), 1, -0.875f, 1, 0, -0.03f, -0.0f};
      for (int i = 0; i < 40; ++i) {  // and values with no special relation
        a.push_back(0.37f * float(i) - 7.0f);
        b.push_back(1.0f / float(i + 3));
        c.push_back(float(i % 7) - 2.5f);
      }
      a.push_back(nan);
      b.push_back(1);
      c.push_back(1);
      a = mt::test::round_all(a, t);
      b = mt::test::round_all(b, t);
      c = mt::test::round_all(c, t);
      mt::BufferMap buffers;
      buffers["a"] = mt::test::pack(a, t);
      buffers["b"] = mt::test::pack(b, t);
      buffers["c"] = mt::test::pack(c, t);
      buffers["out"] = mt::test::poisoned(a.size(), t);
      const mt::DispatchResult r =
          ctx.dispatch_with_grid(fma_kernel(t), buffers, {}, {2, 1, 1}, {32, 1, 1});
      const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), t);
      ASSERT_EQ(out.size(), a.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        const float want = mt::round_to(t, std::fma(a[i], b[i], c[i]));
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(out[i])) << i;
        } else {
          EXPECT_EQ(out[i], want) << "fma(" << a[i] << ", " << b[i] << ", " << c[i] << ")";
        }
      }
      EXPECT_EQ(out[0], e * e) << "the product was rounded before the add";
      EXPECT_TRUE(std::signbit(out[6])) << "-0 * 1 + -0 is -0";
    }
  });
}

}  // namespace
