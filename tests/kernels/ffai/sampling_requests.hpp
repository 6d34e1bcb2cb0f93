// Requests to `sample` for its tests: the buffers of a request, running it by name, and rows of
// logits shaped like a language model's.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/ffai/sampling_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/bytes.hpp"

namespace mt::test::sampling {

struct Request {
  std::uint32_t vocab = 1;
  Filters filters;
  std::uint32_t seed_lo = 0, seed_hi = 0, offset = 0;
};

// `rows` rows of logits (each row its own vector) and their penalty ids (P per row).
inline mt::BufferMap buffers(const Request& r, DType t, const std::vector<float>& logits,
                             std::size_t rows, const std::vector<std::uint32_t>& penalty_ids = {}) {
  mt::BufferMap b;
  b["logits"] = mt::test::pack(logits, t);
  b["penalty_ids"] = mt::test::pack_u32(penalty_ids);
  b["out"] = mt::test::poisoned(rows, DType::U32);
  b["vocab"] = mt::test::le_bytes(r.vocab);
  b["temperature"] = le_bytes(r.filters.temperature);
  b["top_k"] = le_bytes(r.filters.top_k);
  b["top_p"] = le_bytes(r.filters.top_p);
  b["min_p"] = le_bytes(r.filters.min_p);
  b["seed_lo"] = le_bytes(r.seed_lo);
  b["seed_hi"] = le_bytes(r.seed_hi);
  b["offset"] = le_bytes(r.offset);
  b["n_penalty"] = le_bytes(static_cast<std::uint32_t>(rows == 0 ? 0 : penalty_ids.size() / rows));
  b["repetition_penalty"] = le_bytes(r.filters.repetition_penalty);
  return b;
}

inline std::vector<std::uint32_t> sample(const mt::Context& ctx, const Request& r, DType t,
                                         const std::vector<float>& logits, std::size_t rows,
                                         const std::vector<std::uint32_t>& penalty_ids = {}) {
  const mt::DispatchResult result =
      mt::kernels::run(ctx, "sample", t, buffers(r, t, logits, rows, penalty_ids));
  const std::vector<std::uint32_t> out = mt::test::unpack_u32(result.outputs.at("out"));
  EXPECT_EQ(out.size(), rows);
  return out;
}

// `rows` copies of one row.
inline std::vector<float> repeat(const std::vector<float>& row, std::size_t rows) {
  std::vector<float> all;
  for (std::size_t r = 0; r < rows; ++r) all.insert(all.end(), row.begin(), row.end());
  return all;
}

// A row shaped like a language model's logits: values in [-4, 2) rounded to T, and six strong
// tokens from 3 to 6.75.
inline std::vector<float> model_row(std::uint32_t vocab, std::uint64_t seed, DType t) {
  std::vector<float> row = mt::test::rows::random_values(vocab, seed, t, -4.0f, 2.0f);
  mt::test::rows::Rng rng(seed + 7);
  for (int i = 0; i < 6; ++i) row[rng.below(vocab)] = mt::round_to(t, 3.0f + 0.75f * float(i));
  return row;
}

}  // namespace mt::test::sampling
