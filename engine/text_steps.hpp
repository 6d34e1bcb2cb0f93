// The text steps of a tokenizer.json around its BPE model: the normalizer (Prepend, Replace,
// NFC), the pre-tokenizer (Split, ByteLevel, Metaspace) and the decoder (ByteLevel, Replace,
// ByteFallback, Fuse, Strip, Metaspace), each a Sequence of such steps or one alone. A type
// not listed is an mt::Error naming the tokenizer and the step, so nothing is silently skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/engine/json.hpp"
#include "split_pattern.hpp"

namespace mt::engine {

class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(const json::Value* spec, std::string_view source);  // null: identity
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    enum class Kind { Prepend, Replace } kind;
    std::string from, to;
  };
  void add(const json::Value& spec, std::string_view source);
  std::vector<Step> steps_;
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  PreTokenizer(const json::Value* spec, std::string_view source);  // null: the whole text
  // The pieces of a normalized segment; `at_start` when the segment begins the input (for
  // Metaspace's prepend_scheme "first").
  std::vector<std::string> pieces(const std::string& text, bool at_start) const;

 private:
  struct Step {
    enum class Kind { Split, ByteLevel, Metaspace } kind;
    std::shared_ptr<SplitPattern> pattern;  // Split, ByteLevel with use_regex
    bool removed = false;                   // Split: drop the matches (else keep them isolated)
    bool add_prefix_space = false;          // ByteLevel
    std::string replacement;                // Metaspace
    enum class Prepend { Always, First, Never } prepend = Prepend::Always;
    bool split = false;  // Metaspace
  };
  void add(const json::Value& spec, std::string_view source);
  std::vector<Step> steps_;
};

class TextDecoder {
 public:
  TextDecoder() = default;
  TextDecoder(const json::Value* spec, std::string_view source);  // null: concatenation
  std::string apply(std::vector<std::string> tokens) const;

 private:
  struct Step {
    enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
    std::string from, to;             // Replace; Strip's content in `from`; Metaspace's replacement
    std::size_t start = 0, stop = 0;  // Strip
    bool prepend = true;              // Metaspace: strip the first token's leading space
  };
  void add(const json::Value& spec, std::string_view source);
  std::vector<Step> steps_;
};

// GPT-2's byte-level alphabet: byte b as the UTF-8 of a printable code point, and back.
std::string byte_level_encode(std::string_view bytes);
std::string byte_level_decode(std::string_view text);

}  // namespace mt::engine
