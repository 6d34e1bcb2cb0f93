// Bad data on an unchecked CUDA build (MT_CUDA_CHECKED=0, as benchmarks and production run):
// embedding with an id past the table and sample with a penalty id past the vocabulary raise
// nothing, touch nothing out of bounds, and leave the rest correct (embedding: the bad row of
// out keeps its contents; sample: the bad id is ignored). Checked mode reports both as errors
// (embedding_test.cpp, sampling_test.cpp). Every test here needs a GPU; without one the binary
// is skipped, and ctest says so.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;

// An unchecked CUDA context (made once), or nullptr and the reason there is none.
const mt::Context* unchecked_cuda(std::string* why) {
  static std::string reason;
  static const std::optional<mt::Context> ctx = []() -> std::optional<mt::Context> {
    try {
      mt::CudaOptions options;
      options.checked = false;
      return mt::Context(std::shared_ptr<mt::KernelBackend>(mt::make_cuda_backend(options)));
    } catch (const mt::Error& e) {
      reason = e.what();
      return std::nullopt;
    }
  }();
  *why = reason;
  return ctx ? &*ctx : nullptr;
}

#define MT_REQUIRE_UNCHECKED_GPU(ctx)                                                 \
  std::string why_;                                                                   \
  const mt::Context* ctx = unchecked_cuda(&why_);                                     \
  if (ctx == nullptr) {                                                               \
    std::cout << "\n*** SKIPPED: no CUDA device (" << why_ << ") ***\n" << std::endl; \
    GTEST_SKIP() << "no CUDA device (" << why_ << ")";                                \
  }

TEST(UncheckedCuda, EmbeddingSkipsABadIdAndWritesTheOtherRows) {
  MT_REQUIRE_UNCHECKED_GPU(ctx);
  const std::uint32_t dim = 64, vocab = 100;
  std::vector<float> table(vocab * dim);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = float(i % 977) * 0.25f;
  const std::vector<std::uint32_t> ids = {3, 4000000000u, 99, 100};
  mt::BufferMap b;
  b["ids"] = mt::test::pack_u32(ids);
  b["table"] = mt::test::pack(table, DType::F32);
  b["out"] = mt::test::poisoned(ids.size() * dim, DType::F32);
  b["dim"] = le_bytes(dim);
  const mt::test::Bytes poison = b["out"];
  const mt::DispatchResult r = mt::kernels::run(*ctx, "embedding", DType::F32, b);
  const mt::test::Bytes& out = r.outputs.at("out");
  const std::size_t row = dim * 4;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const std::uint8_t* got = out.data() + t * row;
    if (ids[t] < vocab) {
      EXPECT_EQ(std::memcmp(got, b["table"].data() + ids[t] * row, row), 0) << "row " << t;
    } else {
      EXPECT_EQ(std::memcmp(got, poison.data() + t * row, row), 0) << "bad row " << t << " written";
    }
  }
}

TEST(UncheckedCuda, SampleIgnoresAPenaltyIdPastTheVocabulary) {
  MT_REQUIRE_UNCHECKED_GPU(ctx);
  const std::uint32_t vocab = 50;
  std::vector<float> logits(vocab, 0.0f);
  logits[7] = 5.0f;
  logits[8] = 4.9f;
  for (std::uint32_t top_k : {5u, 0u}) {
    mt::BufferMap b;
    b["logits"] = mt::test::pack(logits, DType::F32);
    b["penalty_ids"] = mt::test::pack_u32(std::vector<std::uint32_t>{123456789u, 9, 50});
    b["out"] = mt::test::poisoned(1, DType::U32);
    b["vocab"] = le_bytes(vocab);
    b["temperature"] = le_bytes(0.0f);
    b["top_k"] = le_bytes(top_k);
    b["top_p"] = le_bytes(1.0f);
    b["min_p"] = le_bytes(0.0f);
    b["seed_lo"] = le_bytes(1u);
    b["seed_hi"] = le_bytes(2u);
    b["offset"] = le_bytes(3u);
    b["n_penalty"] = le_bytes(3u);
    b["repetition_penalty"] = le_bytes(2.0f);
    const mt::DispatchResult r = mt::kernels::run(*ctx, "sample", DType::F32, b);
    EXPECT_EQ(mt::test::unpack_u32(r.outputs.at("out")), std::vector<std::uint32_t>{7})
        << "top_k " << top_k;
  }
}

}  // namespace
