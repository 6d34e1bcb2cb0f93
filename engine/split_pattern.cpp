// SplitPattern on PCRE2 (engine/split_pattern.hpp); without PCRE2 every pattern is an error.
#include "split_pattern.hpp"

#include "metaltile/core/error.hpp"
#include "metaltile/engine/tokenizer.hpp"

#if METALTILE_HAS_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace mt::engine {

#if METALTILE_HAS_PCRE2

bool tokenizer_available() { return true; }

struct SplitPattern::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

SplitPattern::SplitPattern(const std::string& pattern, std::string_view source)
    : compiled_(std::make_unique<Compiled>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error(std::string(source) + ": split pattern does not compile at offset " +
                std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
  }
  // JIT when available; the interpreter matches the same strings.
  (void)pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

std::vector<std::pair<std::size_t, std::size_t>> SplitPattern::matches(
    std::string_view text) const {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  std::size_t at = 0;
  while (at <= text.size()) {
    const int rc = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                               text.size(), at, 0, data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(data);
      throw Error("tokenizer: split pattern failed on the text (PCRE2 error " + std::to_string(rc) +
                  "; is it valid UTF-8?)");
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const std::size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {
      // An empty match: step over one whole character.
      at = end + 1;
      while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
      continue;
    }
    out.emplace_back(begin, end);
    at = end;
  }
  pcre2_match_data_free(data);
  return out;
}

#else

bool tokenizer_available() { return false; }

struct SplitPattern::Compiled {};

SplitPattern::SplitPattern(const std::string&, std::string_view source) {
  throw Error(std::string(source) +
              ": this build has no PCRE2, which the tokenizer's split pattern needs (install "
              "libpcre2-dev and rebuild; tile generate --prompt-ids takes token ids without it)");
}

std::vector<std::pair<std::size_t, std::size_t>> SplitPattern::matches(std::string_view) const {
  return {};
}

#endif

SplitPattern::~SplitPattern() = default;
SplitPattern::SplitPattern(SplitPattern&&) noexcept = default;
SplitPattern& SplitPattern::operator=(SplitPattern&&) noexcept = default;

}  // namespace mt::engine
