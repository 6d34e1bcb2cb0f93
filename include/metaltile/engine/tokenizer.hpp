// Text <-> token ids from a Hugging Face `tokenizer.json`: byte-level BPE (GPT-2, Llama 3,
// Qwen 2/3: a split pattern, bytes mapped to printable characters, merges by rank) and
// SentencePiece-style BPE (Llama 2, Mistral: "▁" for spaces, byte fallback), with added and
// special tokens. Encoding and decoding give the ids and text of the `tokenizers` library.
//
// The split patterns are Unicode regular expressions, run with PCRE2. A build without PCRE2
// (tokenizer_available() is false) loads no tokenizer: Tokenizer::load explains why.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mt::engine {

// Whether this build can load tokenizers (it was built with PCRE2).
bool tokenizer_available();

class Tokenizer {
 public:
  // Reads a tokenizer.json. An mt::Error naming the file and the part for a model, normalizer,
  // pre-tokenizer or decoder type that is not implemented, and when PCRE2 is absent.
  static Tokenizer load(const std::string& path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // The ids of `text`; with `add_special_tokens`, the post-processor's template (a BOS token)
  // is applied as `tokenizers` does by default.
  std::vector<std::uint32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // The text of `ids`; special tokens are left out when `skip_special_tokens` (the library's
  // default). Ids outside the vocabulary are an mt::Error.
  std::string decode(const std::vector<std::uint32_t>& ids, bool skip_special_tokens = true) const;

  // The id of a token's exact text (an added token or a vocabulary entry), if it has one.
  std::optional<std::uint32_t> token_id(std::string_view token) const;
  std::size_t vocab_size() const;

 private:
  struct State;
  explicit Tokenizer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mt::engine
