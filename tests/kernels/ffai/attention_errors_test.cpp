// Every user error of the decode-attention kernels is an mt::Error naming the kernel and the
// parameter: bad scalars, buffers of the wrong length, quantisation layouts the kernels cannot
// read, split counts, and (checked mode, reported from the device) a length of 0 or above
// max_seq. The context stays usable: a good request runs after each error.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/attention_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
using mt::test::attn::Problem;
namespace attn = mt::test::attn;
namespace attention = mt::kernels::ffai::attention;

struct BadCase {
  std::string what;
  std::function<void(mt::BufferMap&)> change;
  std::vector<std::string> mentions;  // besides the kernel's name
};

// What a length error of `param` mentions: the buffer, its expected and its actual count.
std::vector<std::string> length_error(const std::string& param, std::size_t expected,
                                      std::size_t got) {
  return {"param '" + param + "': expected " + std::to_string(expected) + " elements (",
          ", got " + std::to_string(got) + " elements ("};
}

Problem small_problem() {
  Problem p;
  p.lengths = {3, 8};
  p.kv_heads = 2;
  p.q_heads = 4;
  p.head_dim = 32;
  p.max_seq = 8;
  return p;
}

// Runs each bad case on every backend (one-pass and split entries) and a good request after
// each, which must still match the oracle.
void expect_errors(const std::string& kernel, const mt::BufferMap& good,
                   const std::vector<BadCase>& cases,
                   const std::function<void(const mt::BufferMap&, mt::Context&)>& run_good) {
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (const auto& [label, entry] : std::vector<std::pair<std::string, mt::KernelInfo>>{
             {"1 split", attention::with_split_count(kernel, 1)},
             {"2 splits merged by the last",
              attention::with_split_count(kernel, 2, attention::SplitMerge::LastSplit)},
             {"2 splits and the combine",
              attention::with_split_count(kernel, 2, attention::SplitMerge::CombineKernel)}}) {
      for (const BadCase& c : cases) {
        SCOPED_TRACE(c.what + ", " + label);
        mt::BufferMap bad = good;
        c.change(bad);
        const std::string message =
            mt::test::error_of([&] { mt::kernels::run(ctx, entry, DType::F16, bad); });
        std::vector<std::string> parts = c.mentions;
        parts.push_back(kernel);
        mt::test::expect_mentions(message, parts);
        run_good(good, ctx);
      }
    }
  });
}

TEST(AttentionDecodeErrors, BadScalarsAndBufferLengths) {
  const Problem p = small_problem();
  const attn::Inputs in = attn::random_inputs(p, DType::F16, 1);
  const mt::BufferMap good = attn::raw_buffers(p, in, DType::F16);
  auto set = [](const char* name, auto value) {
    return [=](mt::BufferMap& b) { b[name] = le_bytes(value); };
  };
  auto resize = [](const char* name, std::ptrdiff_t elements, std::size_t element_size) {
    return [=](mt::BufferMap& b) {
      b[name].resize(std::size_t(std::ptrdiff_t(b[name].size()) + elements * element_size));
    };
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<BadCase> cases = {
      {"head_dim 48", set("head_dim", 48u), {"head_dim", "head_dim is 16, 32, 64"}},
      {"head_dim 8", set("head_dim", 8u), {"head_dim", "head_dim is 16, 32, 64"}},
      {"head_dim 512", set("head_dim", 512u), {"head_dim", "head_dim is 16, 32, 64"}},
      {"head_dim 0", set("head_dim", 0u), {"head_dim"}},
      {"no KV heads", set("n_kv_heads", 0u), {"n_kv_heads", "n_kv_heads > 0"}},
      {"GQA not a multiple", set("n_q_heads", 3u), {"n_q_heads", "multiple of n_kv_heads"}},
      {"max_seq 0", set("max_seq", 0u), {"max_seq", "max_seq > 0"}},
      {"negative softcap", set("softcap", -1.0f), {"softcap", "softcap >= 0"}},
      {"NaN softcap", set("softcap", nan), {"softcap", "softcap >= 0"}},
      {"has_sinks 2", set("has_sinks", 2u), {"has_sinks", "0 or 1"}},
      {"no sequences",
       [](mt::BufferMap& b) { b["lengths"].clear(); },
       {"lengths", "len(lengths) > 0"}},
      {"sinks missing while on",
       [](mt::BufferMap& b) {
         b["sinks"].clear();
         b["has_sinks"] = le_bytes(1u);
       },
       length_error("sinks", 4, 0)},
      {"sinks too short", resize("sinks", -1, 4), length_error("sinks", 4, 3)},
      // q [2, 4, 32], k and v [2, 2, 8, 32]
      {"q too short", resize("q", -8, 2), length_error("q", 256, 248)},
      {"k too long", resize("k", 8, 2), length_error("k", 1024, 1032)},
      {"v too short", resize("v", -32, 2), length_error("v", 1024, 992)},
      {"out too long", resize("out", 32, 2), length_error("out", 256, 288)},
      {"a buffer missing", [](mt::BufferMap& b) { b.erase("v"); }, {"'v'", "missing"}},
  };
  expect_errors("attention_decode", good, cases, [&](const mt::BufferMap& b, mt::Context& ctx) {
    attn::expect_attention_close(
        mt::test::unpack(mt::kernels::run(ctx, "attention_decode", DType::F16, b).outputs.at("out"),
                         DType::F16),
        attn::oracle(p, in), DType::F16, attn::max_abs(in.v), "out after the error");
  });
}

TEST(AttentionDecodeErrors, LengthZeroOrAboveMaxSeqIsReportedFromTheDevice) {
  const Problem p = small_problem();
  const attn::Inputs in = attn::random_inputs(p, DType::F16, 2);
  const mt::BufferMap good = attn::raw_buffers(p, in, DType::F16);
  auto lengths = [](std::vector<std::uint32_t> v) {
    return [=](mt::BufferMap& b) { b["lengths"] = mt::test::pack_u32(v); };
  };
  const std::vector<BadCase> cases = {
      {"length 0", lengths({3, 0}), {"lengths", "out of bounds"}},
      {"length above max_seq", lengths({9, 8}), {"lengths", "out of bounds"}},
      {"length far above max_seq", lengths({1, 0xFFFFFFFFu}), {"lengths", "out of bounds"}},
  };
  expect_errors("attention_decode", good, cases, [&](const mt::BufferMap& b, mt::Context& ctx) {
    attn::expect_attention_close(
        mt::test::unpack(mt::kernels::run(ctx, "attention_decode", DType::F16, b).outputs.at("out"),
                         DType::F16),
        attn::oracle(p, in), DType::F16, attn::max_abs(in.v), "out after the error");
  });
}

TEST(AttentionDecodeErrors, QuantisedLayouts) {
  const Problem p = small_problem();
  const attn::Inputs in = attn::random_inputs(p, DType::F16, 3);
  mt::BufferMap good = attn::raw_buffers(p, in, DType::F16);
  good.erase("k");
  good.erase("v");
  const std::size_t rows = p.cache_rows(), group = 16;
  for (const char* x : {"k", "v"}) {
    good[std::string(x) + "_w"] =
        mt::test::pack_u32(std::vector<std::uint32_t>(rows * 8, 0x12345678u));
    good[std::string(x) + "_s"] = mt::test::pack(std::vector<float>(rows * 2, 0.01f), DType::F16);
    good[std::string(x) + "_b"] = mt::test::pack(std::vector<float>(rows * 2, -1.0f), DType::F16);
  }
  good["group_size"] = le_bytes(std::uint32_t(group));
  auto set = [](const char* name, std::uint32_t value) {
    return [=](mt::BufferMap& b) { b[name] = le_bytes(value); };
  };
  auto shorten = [](const char* name, std::size_t bytes) {
    return [=](mt::BufferMap& b) { b[name].resize(b[name].size() - bytes); };
  };
  const std::vector<BadCase> cases = {
      {"group 8", set("group_size", 8u), {"group_size", "multiple of 16"}},
      {"group 0", set("group_size", 0u), {"group_size", "multiple of 16"}},
      {"group 48", set("group_size", 48u), {"group_size", "head_dim % group_size == 0"}},
      // 32 cache rows: 8 code words and 2 groups each
      {"k_w short", shorten("k_w", 4), length_error("k_w", 256, 255)},
      {"k_s short", shorten("k_s", 2), length_error("k_s", 64, 63)},
      {"v_b short", shorten("v_b", 2), length_error("v_b", 64, 63)},
      {"k_b missing", [](mt::BufferMap& b) { b.erase("k_b"); }, {"'k_b'", "missing"}},
      {"length 0",
       [](mt::BufferMap& b) {
         b["lengths"] = mt::test::pack_u32(std::vector<std::uint32_t>{0u, 1u});
       },
       {"lengths", "out of bounds"}},
  };
  expect_errors("attention_decode_int8", good, cases, [](const mt::BufferMap& b, mt::Context& ctx) {
    const std::vector<float> out = mt::test::unpack(
        mt::kernels::run(ctx, "attention_decode_int8", DType::F16, b).outputs.at("out"),
        DType::F16);
    for (float x : out) ASSERT_TRUE(std::isfinite(x));
  });
}

TEST(AttentionDecodeErrors, SplitCountsDTypesAndNames) {
  mt::test::expect_mentions(
      mt::test::error_of([] { attention::with_split_count("attention_decode", 0); }),
      {"attention_decode", "n_splits"});
  mt::test::expect_mentions(mt::test::error_of([] { attention::with_split_count("softmax", 2); }),
                            {"softmax", "attention_decode"});
  const Problem p = small_problem();
  const attn::Inputs in = attn::random_inputs(p, DType::F32, 4);
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b = attn::raw_buffers(p, in, DType::F32);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "attention_decode", DType::I32, b); }),
        {"attention_decode", "i32"});
    // The partial and combine kernels check their own sizes.
    mt::BufferMap partial = b;
    partial.erase("out");
    partial["n_splits"] = le_bytes(0u);
    partial["part_o"] = partial["part_m"] = partial["part_l"] = {};
    mt::test::expect_mentions(
        mt::test::error_of(
            [&] { mt::kernels::run(ctx, "attention_decode_partial", DType::F32, partial); }),
        {"attention_decode_partial", "n_splits > 0"});
    partial["n_splits"] = le_bytes(2u);
    partial["part_m"] = mt::test::poisoned(p.sequences() * p.q_heads * 2, DType::F32);
    partial["part_l"] = partial["part_m"];
    // part_o [2 sequences, 4 heads, 2 splits, 32]
    mt::test::expect_length_error(
        mt::test::error_of(
            [&] { mt::kernels::run(ctx, "attention_decode_partial", DType::F32, partial); }),
        "attention_decode_partial", "part_o", "512", 0);
    mt::BufferMap combine;
    for (const char* name :
         {"lengths", "sinks", "out", "head_dim", "n_q_heads", "max_seq", "window", "has_sinks"}) {
      combine[name] = b.at(name);
    }
    combine["n_splits"] = le_bytes(2u);
    combine["part_o"] = mt::test::poisoned(p.q_elements() * 2, DType::F32);
    combine["part_m"] = mt::test::poisoned(p.sequences() * p.q_heads * 3, DType::F32);
    combine["part_l"] = combine["part_m"];
    mt::test::expect_length_error(
        mt::test::error_of(
            [&] { mt::kernels::run(ctx, "attention_decode_combine", DType::F32, combine); }),
        "attention_decode_combine", "part_m", "16", 24);
    const std::vector<float> out = mt::test::unpack(
        mt::kernels::run(ctx, "attention_decode", DType::F32, b).outputs.at("out"), DType::F32);
    attn::expect_attention_close(out, attn::oracle(p, in), DType::F32, attn::max_abs(in.v),
                                 "out after the errors");
  });
}

}  // namespace
