// Valid buffers for any KV-cache kernel on a given cache shape: the starting point of the tests
// that spoil one buffer or scalar and expect a clear error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_oracle.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/bytes.hpp"

namespace mt::test::kv {

// Bits per code of a quantised KV-cache kernel (8 for fp8 and int8, 4 for int4).
inline std::uint32_t code_bits(const std::string& name) {
  return name.find("int4") != std::string::npos ? 4 : 8;
}

// Buffers and scalars for one launch of kernel `name` on cache shape s: a token of s's heads
// (update_many: two rows) for the updates and quantisers, the whole cache for the dequantisers.
inline BufferMap valid_buffers(const std::string& name, DType t, const CacheShape& s) {
  BufferMap b;
  b["head_dim"] = le_bytes(s.head_dim);
  b["max_seq"] = le_bytes(s.max_seq);
  if (name == "kv_cache_update" || name == "kv_cache_update_many") {
    const std::size_t rows = name == "kv_cache_update" ? 1 : 2;
    b["src"] = pack(random_values(rows * s.token_elements(), 3, t), t);
    b["out"] = poisoned(s.raw_elements(), t);
    if (rows == 1) b["position"] = le_bytes(1u);
    if (rows == 2) b["positions"] = pack_u32(std::vector<std::uint32_t>{3u, 0u});
    if (rows == 2) b["n_kv_heads_x_head_dim"] = le_bytes(std::uint32_t(s.token_elements()));
    return b;
  }
  const bool fp8 = name.find("fp8") != std::string::npos;
  const std::uint32_t bits = code_bits(name);
  b["group_size"] = le_bytes(s.group_size);
  if (name.starts_with("quantize")) {
    b["src"] = pack(random_values(s.token_elements(), 3, t), t);
    b["out_w"] = poisoned(s.word_elements(bits), DType::U32);
    b["out_s"] = poisoned(s.param_elements(), t);
    if (!fp8) b["out_b"] = poisoned(s.param_elements(), t);
    b["position"] = le_bytes(s.max_seq - 1);
  } else {
    b["in_w"] = pack_u32(std::vector<std::uint32_t>(s.word_elements(bits), 0x01020304u));
    b["in_s"] = pack(std::vector<float>(s.param_elements(), 0.5f), t);
    if (!fp8) b["in_b"] = pack(std::vector<float>(s.param_elements(), -1.0f), t);
    b["out"] = poisoned(s.raw_elements(), t);
    b["n_positions"] = le_bytes(s.max_seq);
  }
  return b;
}

}  // namespace mt::test::kv
