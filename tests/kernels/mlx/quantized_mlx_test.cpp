// The affine kernels against MLX's own output (fixtures/affine_quantized.bin, written by
// make_quantized_fixtures.py with mlx[cpu]): for every bits value, group size and dtype,
// quantize_affine gives MLX's codes, scales and biases bit for bit, dequantize_affine MLX's
// weights bit for bit, and qgemv_affine and qgemm_affine mx.quantized_matmul's product within
// tolerance. The
// plain C++ oracle (affine_oracle.hpp) is checked against the same fixtures, so the randomized
// tests that use it test MLX's format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/gemv_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

#ifndef MT_TESTS_DIR
#error "MT_TESTS_DIR must name the tests directory (tests/CMakeLists.txt defines it)"
#endif

namespace {

using mt::DType;
using mt::test::Bytes;
using mt::test::le_bytes;

// One fixture record: MLX's results for one (dtype, bits, group size).
struct Record {
  DType t = DType::F32;
  std::uint32_t bits = 0, group_size = 0, n = 0, k = 0, m = 0;
  Bytes w, wq, scales, biases, dequantized, x, y;  // raw element bytes

  std::string text() const {
    return std::string(mt::name_of(t)) + " bits=" + std::to_string(bits) +
           " group_size=" + std::to_string(group_size) + " n=" + std::to_string(n) +
           " k=" + std::to_string(k);
  }
};

class Reader {
 public:
  explicit Reader(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint32_t u16() { return static_cast<std::uint32_t>(le(2)); }
  std::uint32_t u8() { return static_cast<std::uint32_t>(le(1)); }
  Bytes take(std::size_t n) {
    if (at_ + n > bytes_.size()) throw std::runtime_error("fixture truncated");
    Bytes out(bytes_.begin() + static_cast<std::ptrdiff_t>(at_),
              bytes_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
    at_ += n;
    return out;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::uint64_t le(std::size_t n) {
    const Bytes b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | b[i];
    return v;
  }
  std::vector<std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

std::vector<Record> load_records() {
  const std::string path = std::string(MT_TESTS_DIR) + "/kernels/mlx/fixtures/affine_quantized.bin";
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  Reader r(std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {}));
  const Bytes magic = r.take(4);
  if (std::memcmp(magic.data(), "MTAQ", 4) != 0 || r.u32() != 1) {
    throw std::runtime_error(path + ": not an affine fixture of version 1");
  }
  const std::uint32_t count = r.u32();
  r.take(r.u32());  // the MLX version that wrote it
  std::vector<Record> records;
  for (std::uint32_t i = 0; i < count; ++i) {
    Record c;
    const std::uint32_t code = r.u8();
    c.t = code == 0 ? DType::F32 : code == 1 ? DType::F16 : DType::BF16;
    c.bits = r.u8();
    c.group_size = r.u16();
    c.n = r.u32();
    c.k = r.u32();
    c.m = r.u32();
    const std::size_t size = mt::size_of(c.t), nk = std::size_t{c.n} * c.k;
    c.w = r.take(nk * size);
    c.wq = r.take(nk * c.bits / 32 * 4);
    c.scales = r.take(nk / c.group_size * size);
    c.biases = r.take(nk / c.group_size * size);
    c.dequantized = r.take(nk * size);
    c.x = r.take(std::size_t{c.m} * c.k * size);
    c.y = r.take(std::size_t{c.m} * c.n * size);
    records.push_back(std::move(c));
  }
  if (!r.done()) throw std::runtime_error(path + ": bytes after the last record");
  return records;
}

const std::vector<Record>& records() {
  static const std::vector<Record> all = load_records();
  return all;
}

void expect_bytes(const Bytes& actual, const Bytes& expected, DType t, const std::string& label) {
  if (t == DType::U32) {
    mt::test::expect_equal(mt::test::unpack_u32(actual), mt::test::unpack_u32(expected), label);
    return;
  }
  // Bit for bit, shown as values; -0 and +0 differ.
  EXPECT_EQ(actual, expected) << label;
  if (actual != expected) {
    mt::test::expect_close(mt::test::unpack(actual, t), mt::test::unpack(expected, t), 0.0, 0.0,
                           label);
  }
}

mt::BufferMap format_scalars(const Record& c) {
  return {{"group_size", le_bytes(c.group_size)}, {"bits", le_bytes(c.bits)}};
}

TEST(MlxAffineFixtures, CoverEveryBitsGroupSizeAndDType) {
  std::set<std::tuple<DType, std::uint32_t, std::uint32_t>> seen;
  for (const Record& c : records()) seen.insert({c.t, c.bits, c.group_size});
  EXPECT_EQ(seen.size(),
            3u * std::size(mt::test::affine::kBits) * std::size(mt::test::affine::kGroupSizes));
}

TEST(MlxAffineFixtures, TheOracleIsMlx) {
  for (const Record& c : records()) {
    SCOPED_TRACE(c.text());
    const std::vector<float> w = mt::test::unpack(c.w, c.t);
    const mt::test::affine::Quantized q = mt::test::affine::quantize(w, c.group_size, c.bits, c.t);
    expect_bytes(mt::test::pack_u32(q.wq), c.wq, DType::U32, "wq");
    expect_bytes(mt::test::pack(q.scales, c.t), c.scales, c.t, "scales");
    expect_bytes(mt::test::pack(q.biases, c.t), c.biases, c.t, "biases");
    const std::vector<float> deq = mt::test::affine::dequantize(
        mt::test::unpack_u32(c.wq), mt::test::unpack(c.scales, c.t),
        mt::test::unpack(c.biases, c.t), c.n, c.k, c.group_size, c.bits, c.t);
    expect_bytes(mt::test::pack(deq, c.t), c.dequantized, c.t, "dequantized");
  }
}

TEST(MlxAffineFixtures, QuantizeIsBitIdenticalToMlx) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Record& c : records()) {
      SCOPED_TRACE(c.text());
      mt::BufferMap b = format_scalars(c);
      const std::size_t nk = std::size_t{c.n} * c.k;
      b["w"] = c.w;
      b["wq"] = mt::test::poisoned(nk * c.bits / 32, DType::U32);
      b["scales"] = mt::test::poisoned(nk / c.group_size, c.t);
      b["biases"] = mt::test::poisoned(nk / c.group_size, c.t);
      b["k"] = le_bytes(c.k);
      const mt::DispatchResult r = mt::kernels::run(ctx, "quantize_affine", c.t, b);
      expect_bytes(r.outputs.at("wq"), c.wq, DType::U32, "wq");
      expect_bytes(r.outputs.at("scales"), c.scales, c.t, "scales");
      expect_bytes(r.outputs.at("biases"), c.biases, c.t, "biases");
    }
  });
}

TEST(MlxAffineFixtures, DequantizeIsBitIdenticalToMlx) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Record& c : records()) {
      SCOPED_TRACE(c.text());
      mt::BufferMap b = format_scalars(c);
      b["wq"] = c.wq;
      b["scales"] = c.scales;
      b["biases"] = c.biases;
      b["out"] = mt::test::poisoned(std::size_t{c.n} * c.k, c.t);
      b["k"] = le_bytes(c.k);
      const mt::DispatchResult r = mt::kernels::run(ctx, "dequantize_affine", c.t, b);
      expect_bytes(r.outputs.at("out"), c.dequantized, c.t, "out");
    }
  });
}

// mx.quantized_matmul on the CPU accumulates f16 and bf16 in T (its own error is up to a few
// units of T's roundoff times sum |w x|), so against it the gemv tolerance gets that much
// more; against the f64 oracle the documented tolerance holds. bits and group_size are specialised
// (qgemv_test.cpp compares that with passing them at run time), which the interpreter runs
// faster.
TEST(MlxAffineFixtures, QgemvMatchesQuantizedMatmul) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Record& c : records()) {
      SCOPED_TRACE(c.text());
      mt::BufferMap b;
      b["x"] = c.x;
      b["wq"] = c.wq;
      b["scales"] = c.scales;
      b["biases"] = c.biases;
      b["out"] = mt::test::poisoned(std::size_t{c.m} * c.n, c.t);
      b["k"] = le_bytes(c.k);
      b["n"] = le_bytes(c.n);
      const mt::ConstMap consts{{"bits", c.bits}, {"group_size", c.group_size}};
      const std::vector<float> out = mt::test::unpack(
          mt::kernels::run(ctx, "qgemv_affine", c.t, b, consts).outputs.at("out"), c.t);
      const std::vector<double> w = mt::test::affine::dequantize_exact(
          mt::test::unpack_u32(c.wq), mt::test::unpack(c.scales, c.t),
          mt::test::unpack(c.biases, c.t), c.n, c.k, c.group_size, c.bits);
      const mt::test::gemv::Expected exact =
          mt::test::gemv::gemv(w, mt::test::unpack(c.x, c.t), c.n, c.k);
      mt::test::gemv::expect_within(out, exact, c.t, "out vs f64");

      const std::vector<float> mlx = mt::test::unpack(c.y, c.t);
      const double roundoff = c.t == DType::BF16 ? 0x1p-8 : c.t == DType::F16 ? 0x1p-11 : 0x1p-24;
      for (std::size_t i = 0; i < out.size(); ++i) {
        const double tol = mt::test::gemv::tolerance(c.t, exact.value[i], exact.magnitude[i]) +
                           8 * roundoff * exact.magnitude[i];
        EXPECT_LE(std::fabs(double(out[i]) - mlx[i]), tol)
            << "out[" << i << "] = " << out[i] << ", mx.quantized_matmul " << mlx[i];
      }
    }
  });
}

// qgemm_affine multiplies dequantize_affine's weights (MLX's, rounded to T), so its oracle is
// the f64 product with those, within the GEMM tolerance; against MLX's own product the slack is
// the gemv test's. bits and group_size are specialised.
TEST(MlxAffineFixtures, QgemmMatchesQuantizedMatmul) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Record& c : records()) {
      SCOPED_TRACE(c.text());
      mt::BufferMap b;
      b["a"] = c.x;
      b["wq"] = c.wq;
      b["scales"] = c.scales;
      b["biases"] = c.biases;
      b["out"] = mt::test::poisoned(std::size_t{c.m} * c.n, c.t);
      b["m"] = le_bytes(c.m);
      b["n"] = le_bytes(c.n);
      b["k"] = le_bytes(c.k);
      const mt::ConstMap consts{{"bits", c.bits}, {"group_size", c.group_size}};
      const std::vector<float> out = mt::test::unpack(
          mt::kernels::run(ctx, "qgemm_affine", c.t, b, consts).outputs.at("out"), c.t);
      const mt::test::gemv::Expected exact = mt::test::gemv::gemv(
          mt::test::unpack(c.dequantized, c.t), mt::test::unpack(c.x, c.t), c.n, c.k);
      mt::test::gemv::expect_within(out, exact, c.t, "out vs f64", mt::test::gemv::kGemmRelative);

      const std::vector<float> mlx = mt::test::unpack(c.y, c.t);
      const double roundoff = c.t == DType::BF16 ? 0x1p-8 : c.t == DType::F16 ? 0x1p-11 : 0x1p-24;
      for (std::size_t i = 0; i < out.size(); ++i) {
        const double tol = mt::test::gemv::tolerance(c.t, exact.value[i], exact.magnitude[i],
                                                     mt::test::gemv::kGemmRelative) +
                           8 * roundoff * exact.magnitude[i];
        EXPECT_LE(std::fabs(double(out[i]) - mlx[i]), tol)
            << "out[" << i << "] = " << out[i] << ", mx.quantized_matmul " << mlx[i];
      }
    }
  });
}

}  // namespace
