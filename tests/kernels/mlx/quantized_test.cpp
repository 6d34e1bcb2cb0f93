// quantize_affine, dequantize_affine and embedding_affine x {f32, f16, bf16} on every backend
// against the plain C++ oracle of affine_oracle.hpp (itself checked against MLX by
// quantized_mlx_test.cpp), bit for bit, for every bits value and group size on random weights
// of several ranges, constant and tiny groups; specialised scalars; a round trip; embedding
// lookups with repeated ids; every precondition error and an out-of-range id.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace affine = mt::test::affine;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct Format {
  DType t;
  std::uint32_t bits, group_size;
  std::string text() const {
    return std::string(mt::name_of(t)) + " bits=" + std::to_string(bits) +
           " group_size=" + std::to_string(group_size);
  }
};

// Every dtype x bits x group size.
std::vector<Format> formats() {
  std::vector<Format> all;
  for (DType t : kDTypes) {
    for (std::uint32_t bits : affine::kBits) {
      for (std::uint32_t g : affine::kGroupSizes) all.push_back({t, bits, g});
    }
  }
  return all;
}

// n = 3 rows of 2 groups (3 for group size 32: K = 96 is no multiple of 64 or 128). Row 0 is
// uniform in [-1, 1], row 1 in [250, 350] (a bias far from zero), row 2 alternates a constant
// group and values within 10^-6 of zero (the scale floors at 1e-7).
std::vector<float> weights(const Format& f, std::uint32_t k, std::uint64_t seed) {
  std::vector<float> w = mt::test::rows::random_values(3 * k, seed, DType::F32, -1.0f, 1.0f);
  for (std::uint32_t i = 0; i < k; ++i) {
    w[k + i] = 300.0f + 50.0f * w[k + i];
    const bool constant_group = (i / f.group_size) % 2 == 0;
    w[2 * k + i] = constant_group ? -0.75f : 1e-6f * w[2 * k + i];
  }
  return mt::test::round_all(w, f.t);
}

std::uint32_t row_length(const Format& f) { return f.group_size == 32 ? 96 : 2 * f.group_size; }

mt::BufferMap format_scalars(const Format& f, std::uint32_t k, const std::string& length_name) {
  return {{"group_size", le_bytes(f.group_size)},
          {"bits", le_bytes(f.bits)},
          {length_name, le_bytes(k)}};
}

mt::BufferMap quantize_buffers(const Format& f, std::uint32_t k, const std::vector<float>& w) {
  mt::BufferMap b = format_scalars(f, k, "k");
  b["w"] = mt::test::pack(w, f.t);
  b["wq"] = mt::test::poisoned(w.size() / 32 * f.bits, DType::U32);
  b["scales"] = mt::test::poisoned(w.size() / f.group_size, f.t);
  b["biases"] = mt::test::poisoned(w.size() / f.group_size, f.t);
  return b;
}

mt::BufferMap dequantize_buffers(const Format& f, std::uint32_t k, const affine::Quantized& q) {
  mt::BufferMap b = format_scalars(f, k, "k");
  b["wq"] = mt::test::pack_u32(q.wq);
  b["scales"] = mt::test::pack(q.scales, f.t);
  b["biases"] = mt::test::pack(q.biases, f.t);
  b["out"] = mt::test::poisoned(q.scales.size() * f.group_size, f.t);
  return b;
}

void expect_quantized(const mt::DispatchResult& r, const affine::Quantized& want, DType t) {
  mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("wq")), want.wq, "wq");
  EXPECT_EQ(r.outputs.at("scales"), mt::test::pack(want.scales, t)) << "scales";
  EXPECT_EQ(r.outputs.at("biases"), mt::test::pack(want.biases, t)) << "biases";
}

TEST(MlxAffine, QuantizeMatchesTheOracleBitForBit) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 100;
    for (const Format& f : formats()) {
      SCOPED_TRACE(f.text());
      const std::uint32_t k = row_length(f);
      const std::vector<float> w = weights(f, k, ++seed);
      const mt::DispatchResult r =
          mt::kernels::run(ctx, "quantize_affine", f.t, quantize_buffers(f, k, w));
      expect_quantized(r, affine::quantize(w, f.group_size, f.bits, f.t), f.t);
    }
  });
}

TEST(MlxAffine, DequantizeMatchesTheOracleBitForBit) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 200;
    for (const Format& f : formats()) {
      SCOPED_TRACE(f.text());
      const std::uint32_t k = row_length(f);
      const affine::Quantized q =
          affine::quantize(weights(f, k, ++seed), f.group_size, f.bits, f.t);
      const mt::DispatchResult r =
          mt::kernels::run(ctx, "dequantize_affine", f.t, dequantize_buffers(f, k, q));
      const std::vector<float> want =
          affine::dequantize(q.wq, q.scales, q.biases, 3, k, f.group_size, f.bits, f.t);
      EXPECT_EQ(r.outputs.at("out"), mt::test::pack(want, f.t));
    }
  });
}

// Specialised bits, group_size and k leave one branch in each kernel; the results agree.
TEST(MlxAffine, SpecialisedScalarsGiveTheSameBits) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Format& f :
         {Format{DType::BF16, 4, 64}, Format{DType::F16, 3, 32}, Format{DType::F32, 6, 128}}) {
      SCOPED_TRACE(f.text() + " specialised");
      const std::uint32_t k = row_length(f);
      const std::vector<float> w = weights(f, k, 7);
      mt::BufferMap b = quantize_buffers(f, k, w);
      for (const char* s : {"bits", "group_size", "k"}) b.erase(s);
      const mt::ConstMap consts{{"bits", f.bits}, {"group_size", f.group_size}, {"k", k}};
      const affine::Quantized want = affine::quantize(w, f.group_size, f.bits, f.t);
      expect_quantized(mt::kernels::run(ctx, "quantize_affine", f.t, b, consts), want, f.t);
      mt::BufferMap d = dequantize_buffers(f, k, want);
      for (const char* s : {"bits", "group_size", "k"}) d.erase(s);
      EXPECT_EQ(mt::kernels::run(ctx, "dequantize_affine", f.t, d, consts).outputs.at("out"),
                mt::test::pack(affine::dequantize(want.wq, want.scales, want.biases, 3, k,
                                                  f.group_size, f.bits, f.t),
                               f.t));
    }
  });
}

// quantize then dequantize with the kernels: each weight comes back within 1.5 steps (|scale|)
// plus the rounding of the scale and bias to T and of the result. Half a step is the rounding
// of the code; MLX keeps the larger-magnitude end of each group exact (scale = edge / q0), so
// the other end may lie up to a step past the last code and be clamped.
TEST(MlxAffine, RoundTripIsWithinOneAndAHalfSteps) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Format& f : formats()) {
      SCOPED_TRACE(f.text());
      const std::uint32_t k = row_length(f);
      const std::vector<float> w =
          mt::test::rows::random_values(3 * k, 300 + f.bits, f.t, -2.0f, 2.0f);
      const mt::DispatchResult q =
          mt::kernels::run(ctx, "quantize_affine", f.t, quantize_buffers(f, k, w));
      mt::BufferMap b = format_scalars(f, k, "k");
      for (const char* name : {"wq", "scales", "biases"}) b[name] = q.outputs.at(name);
      b["out"] = mt::test::poisoned(w.size(), f.t);
      const std::vector<float> back = mt::test::unpack(
          mt::kernels::run(ctx, "dequantize_affine", f.t, b).outputs.at("out"), f.t);
      const std::vector<float> scales = mt::test::unpack(q.outputs.at("scales"), f.t);
      const double roundoff = f.t == DType::BF16 ? 0x1p-8 : f.t == DType::F16 ? 0x1p-11 : 0x1p-24;
      ASSERT_EQ(back.size(), w.size());
      for (std::size_t i = 0; i < w.size(); ++i) {
        const double step = std::fabs(scales[i / f.group_size]);
        const double tol = 1.5 * step + 2 * roundoff * (4.0 + step * (1u << f.bits));
        ASSERT_LE(std::fabs(double(back[i]) - w[i]), tol) << "element " << i;
      }
    }
  });
}

// --- embedding_affine ---------------------------------------------------------------------

struct Table {
  std::uint32_t vocab, dim;
  affine::Quantized q;
  std::vector<float> rows;  // the dequantised table, [vocab, dim]
};

Table table(const Format& f, std::uint64_t seed) {
  Table tb{7, row_length(f), {}, {}};
  const std::vector<float> w =
      mt::test::rows::random_values(std::size_t{tb.vocab} * tb.dim, seed, f.t, -1.0f, 1.0f);
  tb.q = affine::quantize(w, f.group_size, f.bits, f.t);
  tb.rows = affine::dequantize(tb.q.wq, tb.q.scales, tb.q.biases, tb.vocab, tb.dim, f.group_size,
                               f.bits, f.t);
  return tb;
}

mt::BufferMap embedding_buffers(const Format& f, const Table& tb,
                                const std::vector<std::uint32_t>& ids) {
  mt::BufferMap b = format_scalars(f, tb.dim, "dim");
  b["ids"] = mt::test::pack_u32(ids);
  b["wq"] = mt::test::pack_u32(tb.q.wq);
  b["scales"] = mt::test::pack(tb.q.scales, f.t);
  b["biases"] = mt::test::pack(tb.q.biases, f.t);
  b["out"] = mt::test::poisoned(ids.size() * tb.dim, f.t);
  return b;
}

TEST(MlxAffine, EmbeddingGivesTheDequantisedRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::vector<std::uint32_t> ids = {6, 0, 3, 3, 1, 6};  // repeats, first and last row
    for (const Format& f : formats()) {
      SCOPED_TRACE(f.text());
      const Table tb = table(f, 400 + f.bits * 3 + f.group_size);
      std::vector<float> want;
      for (std::uint32_t id : ids) {
        want.insert(want.end(), tb.rows.begin() + std::ptrdiff_t{id} * tb.dim,
                    tb.rows.begin() + std::ptrdiff_t{id + 1} * tb.dim);
      }
      const mt::DispatchResult r =
          mt::kernels::run(ctx, "embedding_affine", f.t, embedding_buffers(f, tb, ids));
      EXPECT_EQ(r.outputs.at("out"), mt::test::pack(want, f.t));
    }
  });
}

// An id past the table is an error naming the kernel and `ids` (checked mode, the default);
// the context stays usable.
TEST(MlxAffine, EmbeddingIdOutOfRangeIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Format f{DType::BF16, 4, 32};
    const Table tb = table(f, 9);
    const std::string message = mt::test::error_of([&] {
      mt::kernels::run(ctx, "embedding_affine", f.t, embedding_buffers(f, tb, {2, 7, 1}));
    });
    mt::test::expect_mentions(message, {"kernel 'embedding_affine'", "param 'ids'", "7"});
    const mt::DispatchResult r =
        mt::kernels::run(ctx, "embedding_affine", f.t, embedding_buffers(f, tb, {2}));
    EXPECT_EQ(r.outputs.at("out"), mt::test::pack(std::vector<float>(tb.rows.begin() + 2 * tb.dim,
                                                                     tb.rows.begin() + 3 * tb.dim),
                                                  f.t));
  });
}

// --- preconditions ----------------------------------------------------------------------------

TEST(MlxAffine, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Format f{DType::F16, 4, 32};
    const std::uint32_t k = 64;
    const std::vector<float> w = weights(f, k, 1);
    const mt::BufferMap good = quantize_buffers(f, k, w);
    const auto error = [&](const std::string& kernel, const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, kernel, f.t, b); });
    };
    mt::BufferMap bad = good;
    bad["bits"] = le_bytes(7u);
    mt::test::expect_mentions(
        error("quantize_affine", bad),
        {"kernel 'quantize_affine'", "param 'bits'", "bits in {2, 3, 4, 5, 6, 8}", "bits=7"});
    bad["bits"] = le_bytes(1u);
    mt::test::expect_mentions(error("quantize_affine", bad), {"bits in {2, 3, 4, 5, 6, 8}"});
    bad = good;
    bad["group_size"] = le_bytes(16u);
    mt::test::expect_mentions(
        error("quantize_affine", bad),
        {"kernel 'quantize_affine'", "param 'group_size'", "group_size in {32, 64, 128}"});
    bad = good;
    bad["k"] = le_bytes(48u);
    mt::test::expect_mentions(error("quantize_affine", bad),
                              {"kernel 'quantize_affine'", "k % group_size == 0", "k=48"});
    bad = good;
    bad["k"] = le_bytes(128u);  // 3 * 64 weights are no whole rows of 128
    mt::test::expect_length_error(error("quantize_affine", bad), "quantize_affine", "w",
                                  "a multiple of 128", 192);
    bad = good;
    bad["wq"] = mt::test::poisoned(23, DType::U32);
    mt::test::expect_length_error(error("quantize_affine", bad), "quantize_affine", "wq", "24", 23);
    bad = good;
    bad["scales"] = mt::test::poisoned(5, f.t);
    mt::test::expect_length_error(error("quantize_affine", bad), "quantize_affine", "scales", "6",
                                  5);
    bad = good;
    bad["biases"] = mt::test::poisoned(7, f.t);
    mt::test::expect_length_error(error("quantize_affine", bad), "quantize_affine", "biases", "6",
                                  7);

    const affine::Quantized q = affine::quantize(w, f.group_size, f.bits, f.t);
    const mt::BufferMap dgood = dequantize_buffers(f, k, q);
    bad = dgood;
    bad["out"] = mt::test::poisoned(3 * k + 32, f.t);
    mt::test::expect_length_error(error("dequantize_affine", bad), "dequantize_affine", "out",
                                  "a multiple of 64", 3 * k + 32);
    bad = dgood;
    bad["wq"] = mt::test::poisoned(q.wq.size() + 4, DType::U32);
    mt::test::expect_length_error(error("dequantize_affine", bad), "dequantize_affine", "wq",
                                  std::to_string(q.wq.size()), q.wq.size() + 4);
    bad = dgood;
    bad["scales"] = mt::test::poisoned(q.scales.size() - 1, f.t);
    mt::test::expect_length_error(error("dequantize_affine", bad), "dequantize_affine", "scales",
                                  std::to_string(q.scales.size()), q.scales.size() - 1);
    bad = dgood;
    bad["bits"] = le_bytes(9u);
    mt::test::expect_mentions(error("dequantize_affine", bad),
                              {"kernel 'dequantize_affine'", "bits in {2, 3, 4, 5, 6, 8}"});

    const Table tb = table(f, 3);
    const mt::BufferMap egood = embedding_buffers(f, tb, {1, 2});
    bad = egood;
    bad["dim"] = le_bytes(80u);
    mt::test::expect_mentions(error("embedding_affine", bad),
                              {"kernel 'embedding_affine'", "dim % group_size == 0", "dim=80"});
    bad = egood;
    bad["wq"] = mt::test::poisoned(tb.q.wq.size() + 1, DType::U32);
    mt::test::expect_length_error(error("embedding_affine", bad), "embedding_affine", "wq",
                                  "a multiple of " + std::to_string(tb.dim * f.bits / 32),
                                  tb.q.wq.size() + 1);
    bad = egood;
    bad["scales"] = mt::test::poisoned(tb.q.scales.size() + 3, f.t);
    mt::test::expect_length_error(error("embedding_affine", bad), "embedding_affine", "scales",
                                  std::to_string(tb.q.scales.size()), tb.q.scales.size() + 3);
    bad = egood;
    bad["biases"] = mt::test::poisoned(tb.q.biases.size() - 3, f.t);
    mt::test::expect_length_error(error("embedding_affine", bad), "embedding_affine", "biases",
                                  std::to_string(tb.q.biases.size()), tb.q.biases.size() - 3);
    bad = egood;
    bad["out"] = mt::test::poisoned(tb.dim, f.t);
    mt::test::expect_length_error(error("embedding_affine", bad), "embedding_affine", "out",
                                  std::to_string(2 * tb.dim), tb.dim);

    // The context is still usable.
    expect_quantized(mt::kernels::run(ctx, "quantize_affine", f.t, good), q, f.t);
  });
}

}  // namespace
