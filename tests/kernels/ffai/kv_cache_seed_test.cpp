// The seed (the original Rust/Metal project's KV-cache test), ported test for test: int4/int8
// KV-cache round trips through quantize + bulk dequant with the original's shape, source
// generator, grids and tolerances, and the int8 "no cross-slot bleed" check.
// Deviations, all stricter: every available backend runs (not only Metal); a NaN error
// fails (Rust's `err > max` let NaN through); output buffers the seed zero-fills are poisoned.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::Bytes;
using mt::test::le_bytes;
namespace kv = mt::kernels::ffai::kv_cache;

struct Shape {
  std::size_t n_kv_heads;
  std::size_t head_dim;
  std::size_t max_seq;
  std::size_t group_size;
  std::size_t position;
  std::size_t n_positions;

  static Shape qwen_decode() { return {8, 128, 64, 32, 7, 16}; }
};

using Grid = std::array<std::size_t, 3>;

// xorshift64 as the seed writes it. `s as i64 % 20_000` reinterprets the u64 as i64 (C++20
// conversion is modular, as Rust's `as`) and takes a remainder truncated toward zero, so it
// is negative when the top bit is set: C++'s % on int64_t has the same sign rule.
std::vector<float> build_source(const Shape& shape, DType dt, std::uint64_t seed) {
  std::uint64_t s = seed;
  const std::size_t n = shape.n_kv_heads * shape.head_dim;
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float raw = static_cast<float>(static_cast<std::int64_t>(s) % 20000) / 10000.0f;
    const float group_offset = std::sin(static_cast<float>(i / shape.group_size) * 0.7f);
    out[i] = mt::round_to(dt, raw + group_offset);
  }
  return out;
}

std::pair<Grid, Grid> quantize_dispatch_grid(const Shape& shape, std::uint32_t /*bits*/) {
  const std::size_t total_groups = shape.n_kv_heads * (shape.head_dim / shape.group_size);
  return {{1, 1, 1}, {total_groups, 1, 1}};
}

std::pair<Grid, Grid> dequant_dispatch_grid(const Shape& shape) {
  const std::size_t total = shape.n_kv_heads * shape.n_positions * shape.head_dim;
  const std::size_t tpg = 256;
  const std::size_t groups = (total + tpg - 1) / tpg;
  return {{groups, 1, 1}, {tpg, 1, 1}};
}

// Quantises `source` into slot `position` with the kernel of `Bits`, then bulk-dequantises
// positions [0, n_positions) and returns the whole reconstructed cache.
template <class Quantize, class Dequant, std::uint32_t Bits>
std::vector<float> roundtrip(mt::Context& ctx, const Shape& shape, DType dt,
                             const std::vector<float>& source) {
  const std::uint32_t vals_per_pack = 32 / Bits;
  const std::size_t groups_per_head = shape.head_dim / shape.group_size;
  const std::size_t n_packed_per_slot = shape.head_dim / vals_per_pack;
  const std::size_t n_groups_per_slot = groups_per_head;
  const std::size_t w_total = shape.n_kv_heads * shape.max_seq * n_packed_per_slot;
  const std::size_t s_total = shape.n_kv_heads * shape.max_seq * n_groups_per_slot;

  mt::BufferMap buffers;
  buffers["src"] = mt::test::pack(source, dt);
  buffers["out_w"] = mt::test::poisoned(w_total, DType::U32);
  buffers["out_s"] = mt::test::poisoned(s_total, dt);
  buffers["out_b"] = mt::test::poisoned(s_total, dt);
  buffers["head_dim"] = le_bytes(static_cast<std::uint32_t>(shape.head_dim));
  buffers["max_seq"] = le_bytes(static_cast<std::uint32_t>(shape.max_seq));
  buffers["group_size"] = le_bytes(static_cast<std::uint32_t>(shape.group_size));
  buffers["position"] = le_bytes(static_cast<std::uint32_t>(shape.position));

  mt::Kernel qkernel = Quantize::kernel_ir_for(dt);
  qkernel.mode = mt::KernelMode::Grid3D;
  const auto [grid, tpg] = quantize_dispatch_grid(shape, Bits);
  mt::DispatchResult q_out = ctx.dispatch_with_grid(qkernel, buffers, {}, grid, tpg);
  Bytes w_bytes = q_out.outputs.at("out_w");
  Bytes s_bytes = q_out.outputs.at("out_s");
  Bytes b_bytes = q_out.outputs.at("out_b");

  const std::size_t recon_total = shape.n_kv_heads * shape.max_seq * shape.head_dim;
  mt::BufferMap dbuf;
  dbuf["in_w"] = std::move(w_bytes);
  dbuf["in_s"] = std::move(s_bytes);
  dbuf["in_b"] = std::move(b_bytes);
  dbuf["out"] = mt::test::poisoned(recon_total, dt);
  dbuf["head_dim"] = le_bytes(static_cast<std::uint32_t>(shape.head_dim));
  dbuf["max_seq"] = le_bytes(static_cast<std::uint32_t>(shape.max_seq));
  dbuf["group_size"] = le_bytes(static_cast<std::uint32_t>(shape.group_size));
  dbuf["n_positions"] = le_bytes(static_cast<std::uint32_t>(shape.n_positions));

  mt::Kernel dkernel = Dequant::kernel_ir_for(dt);
  dkernel.mode = mt::KernelMode::Grid3D;
  const auto [dgrid, dtpg] = dequant_dispatch_grid(shape);
  mt::DispatchResult d_out = ctx.dispatch_with_grid(dkernel, dbuf, {}, dgrid, dtpg);
  const Bytes& out_bytes = d_out.outputs.at("out");
  EXPECT_EQ(out_bytes.size(), recon_total * mt::size_of(dt)) << "out length";
  return mt::test::unpack(out_bytes, dt);
}

std::vector<float> roundtrip_int4(mt::Context& ctx, const Shape& shape, DType dt,
                                  const std::vector<float>& source) {
  return roundtrip<kv::quantize_kv_int4, kv::bulk_dequant_kv_int4, 4>(ctx, shape, dt, source);
}

std::vector<float> roundtrip_int8(mt::Context& ctx, const Shape& shape, DType dt,
                                  const std::vector<float>& source) {
  return roundtrip<kv::quantize_kv_int8, kv::bulk_dequant_kv_int8, 8>(ctx, shape, dt, source);
}

void assert_roundtrip(const Shape& shape, DType dt, const std::vector<float>& source,
                      const std::vector<float>& recon, float levels, const std::string& label) {
  ASSERT_EQ(recon.size(), shape.n_kv_heads * shape.max_seq * shape.head_dim) << label;
  float max_abs_err = 0.0f;
  std::size_t worst_h = 0, worst_d = 0;
  bool finite = true;
  for (std::size_t h = 0; h < shape.n_kv_heads; ++h) {
    for (std::size_t d = 0; d < shape.head_dim; ++d) {
      const std::size_t src_idx = h * shape.head_dim + d;
      const std::size_t cache_idx =
          h * shape.max_seq * shape.head_dim + shape.position * shape.head_dim + d;
      const float err = std::fabs(source[src_idx] - recon[cache_idx]);
      if (!std::isfinite(err)) {
        if (finite)
          ADD_FAILURE() << label << ": non-finite reconstruction " << recon[cache_idx]
                        << " at (h=" << h << ", d=" << d << ")";
        finite = false;
      } else if (err > max_abs_err) {
        max_abs_err = err;
        worst_h = h;
        worst_d = d;
      }
    }
  }
  const float group_range_ub = 4.0f;
  const float step = group_range_ub / levels;
  const float dtype_slack = dt == DType::F32 ? 0.0f : dt == DType::F16 ? 1e-3f : 1e-2f;
  const float tol = step * 1.5f + dtype_slack;
  EXPECT_LE(max_abs_err, tol) << label << ": max abs err = " << max_abs_err << " > tol " << tol
                              << " at (h=" << worst_h << ", d=" << worst_d << ")";
}

TEST(KvCacheSeed, kv_cache_int4_roundtrip_f32) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::F32, 0x9E3779B9);
    const std::vector<float> recon = roundtrip_int4(ctx, shape, DType::F32, source);
    assert_roundtrip(shape, DType::F32, source, recon, 15.0f, "int4 f32");
  });
}

TEST(KvCacheSeed, kv_cache_int4_roundtrip_f16) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::F16, 0xDEADBEEF);
    const std::vector<float> recon = roundtrip_int4(ctx, shape, DType::F16, source);
    assert_roundtrip(shape, DType::F16, source, recon, 15.0f, "int4 f16");
  });
}

TEST(KvCacheSeed, kv_cache_int4_roundtrip_bf16) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::BF16, 0xCAFEBABE);
    const std::vector<float> recon = roundtrip_int4(ctx, shape, DType::BF16, source);
    assert_roundtrip(shape, DType::BF16, source, recon, 15.0f, "int4 bf16");
  });
}

TEST(KvCacheSeed, kv_cache_int8_roundtrip_f32) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::F32, 0x9E3779B9);
    const std::vector<float> recon = roundtrip_int8(ctx, shape, DType::F32, source);
    assert_roundtrip(shape, DType::F32, source, recon, 255.0f, "int8 f32");
  });
}

TEST(KvCacheSeed, kv_cache_int8_roundtrip_f16) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::F16, 0xDEADBEEF);
    const std::vector<float> recon = roundtrip_int8(ctx, shape, DType::F16, source);
    assert_roundtrip(shape, DType::F16, source, recon, 255.0f, "int8 f16");
  });
}

TEST(KvCacheSeed, kv_cache_int8_roundtrip_bf16) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const std::vector<float> source = build_source(shape, DType::BF16, 0xCAFEBABE);
    const std::vector<float> recon = roundtrip_int8(ctx, shape, DType::BF16, source);
    assert_roundtrip(shape, DType::BF16, source, recon, 255.0f, "int8 bf16");
  });
}

TEST(KvCacheSeed, kv_cache_int8_does_not_touch_other_slots_f32) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Shape shape = Shape::qwen_decode();
    const DType dt = DType::F32;
    const std::uint32_t bits = 8;
    const std::uint32_t vals_per_pack = 32 / bits;
    const std::size_t groups_per_head = shape.head_dim / shape.group_size;
    const std::size_t n_packed_per_slot = shape.head_dim / vals_per_pack;
    const std::size_t n_groups_per_slot = groups_per_head;
    const std::size_t w_total = shape.n_kv_heads * shape.max_seq * n_packed_per_slot;
    const std::size_t s_total = shape.n_kv_heads * shape.max_seq * n_groups_per_slot;

    std::vector<std::uint32_t> sentinel_w(w_total);
    for (std::size_t i = 0; i < w_total; ++i) {
      sentinel_w[i] = 0xDEAD0000u | (static_cast<std::uint32_t>(i) & 0xFFFFu);
    }
    const std::vector<float> sentinel_s(s_total, 1.5f);
    const std::vector<float> sentinel_b(s_total, -0.25f);
    const std::vector<float> source = build_source(shape, dt, 0x12345678);

    mt::BufferMap buffers;
    buffers["src"] = mt::test::pack(source, dt);
    buffers["out_w"] = mt::test::pack_u32(sentinel_w);
    buffers["out_s"] = mt::test::pack(sentinel_s, dt);
    buffers["out_b"] = mt::test::pack(sentinel_b, dt);
    buffers["head_dim"] = le_bytes(static_cast<std::uint32_t>(shape.head_dim));
    buffers["max_seq"] = le_bytes(static_cast<std::uint32_t>(shape.max_seq));
    buffers["group_size"] = le_bytes(static_cast<std::uint32_t>(shape.group_size));
    buffers["position"] = le_bytes(static_cast<std::uint32_t>(shape.position));

    mt::Kernel qkernel = kv::quantize_kv_int8::kernel_ir_for(dt);
    qkernel.mode = mt::KernelMode::Grid3D;
    const auto [grid, tpg] = quantize_dispatch_grid(shape, bits);
    mt::DispatchResult q_out = ctx.dispatch_with_grid(qkernel, buffers, {}, grid, tpg);

    const std::vector<std::uint32_t> w_after = mt::test::unpack_u32(q_out.outputs.at("out_w"));
    const std::vector<float> s_after = mt::test::unpack(q_out.outputs.at("out_s"), dt);
    const std::vector<float> b_after = mt::test::unpack(q_out.outputs.at("out_b"), dt);
    ASSERT_EQ(w_after.size(), w_total);
    ASSERT_EQ(s_after.size(), s_total);
    ASSERT_EQ(b_after.size(), s_total);

    for (std::size_t h = 0; h < shape.n_kv_heads; ++h) {
      for (std::size_t p = 0; p < shape.max_seq; ++p) {
        if (p == shape.position) continue;
        for (std::size_t w = 0; w < n_packed_per_slot; ++w) {
          const std::size_t idx = (h * shape.max_seq + p) * n_packed_per_slot + w;
          ASSERT_EQ(w_after[idx], sentinel_w[idx])
              << "weight cross-slot bleed at (h=" << h << ", p=" << p << ", w=" << w << ")";
        }
        for (std::size_t g = 0; g < n_groups_per_slot; ++g) {
          const std::size_t idx = (h * shape.max_seq + p) * n_groups_per_slot + g;
          ASSERT_TRUE(std::fabs(s_after[idx] - sentinel_s[idx]) < 1e-6f)
              << "scale cross-slot bleed at (h=" << h << ", p=" << p << ", g=" << g << ")";
          ASSERT_TRUE(std::fabs(b_after[idx] - sentinel_b[idx]) < 1e-6f)
              << "bias cross-slot bleed at (h=" << h << ", p=" << p << ", g=" << g << ")";
        }
      }
    }
  });
}

}  // namespace
