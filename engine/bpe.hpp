// The BPE model of a tokenizer.json: a vocabulary, merges by rank, byte fallback and the
// unknown token. Turns one pre-tokenized piece into ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metaltile/engine/json.hpp"

namespace mt::engine {

class Bpe {
 public:
  // From the "model" object; an mt::Error naming `source` for another model type or an
  // unsupported option (a continuing-subword prefix, an end-of-word suffix, dropout).
  Bpe(const json::Value& model, std::string_view source);

  void encode(std::string_view piece, std::vector<std::uint32_t>& out) const;
  std::optional<std::uint32_t> id(std::string_view token) const;
  const std::unordered_map<std::string, std::uint32_t>& vocab() const { return vocab_; }

 private:
  std::optional<std::size_t> rank(const std::string& left, const std::string& right) const;

  std::unordered_map<std::string, std::uint32_t> vocab_;
  std::unordered_map<std::string, std::size_t> ranks_;  // left + '\xff' + right -> rank
  std::optional<std::uint32_t> unk_;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  bool fuse_unk_ = false;
};

// The i-th UTF-8 character boundaries of s: the byte offsets where characters start.
std::vector<std::size_t> utf8_starts(std::string_view s);

}  // namespace mt::engine
