// A pre-tokenizer's split pattern: a Unicode regular expression (PCRE2, UTF and Unicode
// properties on) that cuts text into the pieces BPE merges within.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mt::engine {

class SplitPattern {
 public:
  // An mt::Error naming `source` with PCRE2's message when the pattern does not compile, or
  // saying that the build has no PCRE2.
  SplitPattern(const std::string& pattern, std::string_view source);
  ~SplitPattern();
  SplitPattern(SplitPattern&&) noexcept;
  SplitPattern& operator=(SplitPattern&&) noexcept;

  // The [begin, end) byte ranges of every non-overlapping match, left to right.
  std::vector<std::pair<std::size_t, std::size_t>> matches(std::string_view text) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace mt::engine
