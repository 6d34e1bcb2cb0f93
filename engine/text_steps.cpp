// Normalizer, pre-tokenizer and decoder steps (engine/text_steps.hpp).
#include "text_steps.hpp"

#include <array>
#include <cstdio>

#include "bpe.hpp"
#include "metaltile/core/error.hpp"

namespace mt::engine {
namespace {

// GPT-2's split pattern, which ByteLevel uses when use_regex is on.
const char* const kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

[[noreturn]] void unsupported(std::string_view source, const std::string& part,
                              const std::string& type) {
  throw Error(std::string(source) + ": " + part + " '" + type + "' is not supported");
}

std::string type_of(const json::Value& spec, std::string_view source, const char* part) {
  const json::Value* t = spec.find("type");
  if (t == nullptr) throw Error(std::string(source) + ": " + part + " without a type");
  return t->string(part);
}

bool flag(const json::Value& spec, const char* key, bool fallback) {
  const json::Value* v = spec.find(key);
  return v == nullptr || v->is_null() ? fallback : v->boolean(key);
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out.push_back(char(code));
  } else if (code < 0x800) {
    out.push_back(char(0xC0 | (code >> 6)));
    out.push_back(char(0x80 | (code & 0x3F)));
  } else {
    out.push_back(char(0xE0 | (code >> 12)));
    out.push_back(char(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(char(0x80 | (code & 0x3F)));
  }
}

// Code point of each byte in GPT-2's alphabet: printable Latin-1 bytes keep their value, the
// others (controls, space, 127-160, 173) take 256, 257, ... in byte order.
const std::array<std::uint32_t, 256>& byte_codes() {
  static const std::array<std::uint32_t, 256> codes = [] {
    std::array<std::uint32_t, 256> c{};
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      c[b] = printable ? b : next++;
    }
    return c;
  }();
  return codes;
}

std::string replace_all(std::string_view text, const std::string& from, const std::string& to) {
  if (from.empty()) return std::string(text);
  std::string out;
  std::size_t at = 0;
  for (std::size_t hit; (hit = text.find(from, at)) != std::string_view::npos;) {
    out.append(text.substr(at, hit - at)).append(to);
    at = hit + from.size();
  }
  return out.append(text.substr(at));
}

std::string pattern_string(const json::Value& pattern, std::string_view source) {
  if (const json::Value* r = pattern.find("Regex")) return r->string("Regex");
  if (const json::Value* s = pattern.find("String")) {
    // A literal: escape it for the regex engine.
    std::string out = "\\Q" + s->string("String") + "\\E";
    return out;
  }
  throw Error(std::string(source) + ": a pattern is neither Regex nor String");
}

}  // namespace

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) append_utf8(out, byte_codes()[b]);
  return out;
}

std::string byte_level_decode(std::string_view text) {
  static const std::array<int, 512> byte_of = [] {
    std::array<int, 512> m{};
    m.fill(-1);
    for (std::uint32_t b = 0; b < 256; ++b) m[byte_codes()[b]] = int(b);
    return m;
  }();
  std::string out;
  const std::vector<std::size_t> starts = utf8_starts(text);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    const std::string_view ch = text.substr(starts[i], end - starts[i]);
    std::uint32_t code = 0;
    const auto c0 = static_cast<unsigned char>(ch[0]);
    if (ch.size() == 1) code = c0;
    if (ch.size() == 2) code = (c0 & 0x1Fu) << 6 | (static_cast<unsigned char>(ch[1]) & 0x3Fu);
    if (ch.size() <= 2 && code < byte_of.size() && byte_of[code] >= 0) {
      out.push_back(char(byte_of[code]));
    } else {
      out.append(ch);  // not of the alphabet (an added token's text): kept as it is
    }
  }
  return out;
}

// --- Normalizer ---------------------------------------------------------------------------

Normalizer::Normalizer(const json::Value* spec, std::string_view source) {
  if (spec != nullptr && !spec->is_null()) add(*spec, source);
}

void Normalizer::add(const json::Value& spec, std::string_view source) {
  const std::string type = type_of(spec, source, "normalizer");
  if (type == "Sequence") {
    for (const json::Value& s : spec.at("normalizers").array("normalizers")) add(s, source);
  } else if (type == "Prepend") {
    steps_.push_back({Step::Kind::Prepend, "", spec.at("prepend").string("prepend")});
  } else if (type == "Replace") {
    const json::Value& p = spec.at("pattern");
    if (p.find("String") == nullptr) unsupported(source, "normalizer Replace pattern", "Regex");
    steps_.push_back({Step::Kind::Replace, p.at("String").string(), spec.at("content").string()});
  } else if (type == "NFC") {
    // Text that is already in NFC (almost all input) is unchanged by it; composing other text
    // needs Unicode tables this build does not carry (docs/ENGINE.md says so).
  } else {
    unsupported(source, "normalizer", type);
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  for (const Step& s : steps_) {
    if (s.kind == Step::Kind::Prepend) {
      if (!out.empty()) out = s.to + out;
    } else {
      out = replace_all(out, s.from, s.to);
    }
  }
  return out;
}

// --- PreTokenizer -------------------------------------------------------------------------

PreTokenizer::PreTokenizer(const json::Value* spec, std::string_view source) {
  if (spec != nullptr && !spec->is_null()) add(*spec, source);
}

void PreTokenizer::add(const json::Value& spec, std::string_view source) {
  const std::string type = type_of(spec, source, "pre_tokenizer");
  Step step{};
  if (type == "Sequence") {
    for (const json::Value& s : spec.at("pretokenizers").array("pretokenizers")) add(s, source);
    return;
  }
  if (type == "Split") {
    step.kind = Step::Kind::Split;
    const std::string behavior = spec.at("behavior").string("behavior");
    if (behavior != "Isolated" && behavior != "Removed") {
      unsupported(source, "Split behavior", behavior);
    }
    if (flag(spec, "invert", false)) unsupported(source, "Split", "invert");
    step.removed = behavior == "Removed";
    step.pattern = std::make_shared<SplitPattern>(pattern_string(spec.at("pattern"), source),
                                                  std::string(source));
  } else if (type == "ByteLevel") {
    step.kind = Step::Kind::ByteLevel;
    step.add_prefix_space = flag(spec, "add_prefix_space", false);
    if (flag(spec, "use_regex", true)) {
      step.pattern = std::make_shared<SplitPattern>(kByteLevelPattern, std::string(source));
    }
  } else if (type == "Metaspace") {
    step.kind = Step::Kind::Metaspace;
    step.replacement = spec.at("replacement").string("replacement");
    const json::Value* scheme = spec.find("prepend_scheme");
    const std::string name = scheme == nullptr
                                 ? (flag(spec, "add_prefix_space", true) ? "always" : "never")
                                 : scheme->string("prepend_scheme");
    step.prepend = name == "first"   ? Step::Prepend::First
                   : name == "never" ? Step::Prepend::Never
                                     : Step::Prepend::Always;
    step.split = flag(spec, "split", true);
  } else {
    unsupported(source, "pre_tokenizer", type);
  }
  steps_.push_back(std::move(step));
}

std::vector<std::string> PreTokenizer::pieces(const std::string& text, bool at_start) const {
  std::vector<std::string> current{text};
  bool first_piece_at_start = at_start;
  for (const Step& s : steps_) {
    std::vector<std::string> next;
    for (std::size_t p = 0; p < current.size(); ++p) {
      std::string piece = current[p];
      const bool starts_input = first_piece_at_start && p == 0;
      if (s.kind == Step::Kind::ByteLevel && s.add_prefix_space &&
          (piece.empty() || piece[0] != ' ')) {
        piece = " " + piece;
      }
      if (s.kind == Step::Kind::Metaspace) {
        piece = replace_all(piece, " ", s.replacement);
        const bool prepend = s.prepend == Step::Prepend::Always ||
                             (s.prepend == Step::Prepend::First && starts_input);
        if (prepend && piece.compare(0, s.replacement.size(), s.replacement) != 0) {
          piece = s.replacement + piece;
        }
        if (!s.split) {
          next.push_back(piece);
          continue;
        }
        // Each replacement starts a new piece (merged with what follows it).
        std::size_t begin = 0;
        for (std::size_t hit = piece.find(s.replacement, 1); hit != std::string::npos;
             hit = piece.find(s.replacement, hit + s.replacement.size())) {
          next.push_back(piece.substr(begin, hit - begin));
          begin = hit;
        }
        next.push_back(piece.substr(begin));
        continue;
      }
      std::vector<std::string> parts;
      if (s.pattern) {
        std::size_t at = 0;
        for (const auto& [b, e] : s.pattern->matches(piece)) {
          if (b > at) parts.push_back(piece.substr(at, b - at));
          if (!s.removed) parts.push_back(piece.substr(b, e - b));
          at = e;
        }
        if (at < piece.size()) parts.push_back(piece.substr(at));
      } else {
        parts.push_back(piece);
      }
      for (std::string& part : parts) {
        next.push_back(s.kind == Step::Kind::ByteLevel ? byte_level_encode(part) : part);
      }
    }
    current = std::move(next);
  }
  return current;
}

// --- TextDecoder ------------------------------------------------------------------------------

TextDecoder::TextDecoder(const json::Value* spec, std::string_view source) {
  if (spec != nullptr && !spec->is_null()) add(*spec, source);
}

void TextDecoder::add(const json::Value& spec, std::string_view source) {
  const std::string type = type_of(spec, source, "decoder");
  Step step{};
  if (type == "Sequence") {
    for (const json::Value& s : spec.at("decoders").array("decoders")) add(s, source);
    return;
  }
  if (type == "ByteLevel") {
    step.kind = Step::Kind::ByteLevel;
  } else if (type == "Replace") {
    step.kind = Step::Kind::Replace;
    const json::Value& p = spec.at("pattern");
    if (p.find("String") == nullptr) unsupported(source, "decoder Replace pattern", "Regex");
    step.from = p.at("String").string();
    step.to = spec.at("content").string();
  } else if (type == "ByteFallback") {
    step.kind = Step::Kind::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = Step::Kind::Fuse;
  } else if (type == "Strip") {
    step.kind = Step::Kind::Strip;
    step.from = spec.at("content").string();
    step.start = std::size_t(spec.at("start").number());
    step.stop = std::size_t(spec.at("stop").number());
  } else if (type == "Metaspace") {
    step.kind = Step::Kind::Metaspace;
    step.from = spec.at("replacement").string();
    const json::Value* scheme = spec.find("prepend_scheme");
    step.prepend =
        scheme == nullptr ? flag(spec, "add_prefix_space", true) : scheme->string() != "never";
  } else {
    unsupported(source, "decoder", type);
  }
  steps_.push_back(std::move(step));
}

std::string TextDecoder::apply(std::vector<std::string> tokens) const {
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Step::Kind::ByteLevel: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens = {byte_level_decode(all)};
        break;
      }
      case Step::Kind::Replace:
        for (std::string& t : tokens) t = replace_all(t, s.from, s.to);
        break;
      case Step::Kind::ByteFallback: {
        // Runs of <0xXX> tokens become their bytes when those are valid UTF-8, else one
        // U+FFFD per byte, as the library does.
        std::vector<std::string> out;
        std::string run;
        std::size_t run_count = 0;
        auto flush = [&] {
          if (run_count == 0) return;
          const std::vector<std::size_t> starts = utf8_starts(run);
          bool valid = true;
          for (std::size_t i = 0; i < starts.size() && valid; ++i) {
            const auto c = static_cast<unsigned char>(run[starts[i]]);
            const std::size_t len = c < 0x80    ? 1
                                    : c >= 0xF0 ? 4
                                    : c >= 0xE0 ? 3
                                    : c >= 0xC0 ? 2
                                                : 0;
            const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : run.size();
            valid = len != 0 && end - starts[i] == len;
          }
          if (valid && !run.empty() && (static_cast<unsigned char>(run[0]) & 0xC0) != 0x80) {
            out.push_back(run);
          } else {
            for (std::size_t i = 0; i < run_count; ++i) out.push_back("\xEF\xBF\xBD");
          }
          run.clear();
          run_count = 0;
        };
        for (const std::string& t : tokens) {
          unsigned value = 0;
          if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
              std::sscanf(t.c_str() + 3, "%2x", &value) == 1) {
            run.push_back(char(value));
            ++run_count;
          } else {
            flush();
            out.push_back(t);
          }
        }
        flush();
        tokens = std::move(out);
        break;
      }
      case Step::Kind::Fuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens = {all};
        break;
      }
      case Step::Kind::Strip:
        for (std::string& t : tokens) {
          for (std::size_t i = 0; i < s.start && t.compare(0, s.from.size(), s.from) == 0; ++i) {
            t.erase(0, s.from.size());
          }
          for (std::size_t i = 0; i < s.stop && t.size() >= s.from.size() &&
                                  t.compare(t.size() - s.from.size(), s.from.size(), s.from) == 0;
               ++i) {
            t.erase(t.size() - s.from.size());
          }
        }
        break;
      case Step::Kind::Metaspace:
        for (std::size_t i = 0; i < tokens.size(); ++i) {
          tokens[i] = replace_all(tokens[i], s.from, " ");
          if (i == 0 && s.prepend && !tokens[i].empty() && tokens[i][0] == ' ') {
            tokens[i].erase(0, 1);
          }
        }
        break;
    }
  }
  std::string text;
  for (const std::string& t : tokens) text += t;
  return text;
}

}  // namespace mt::engine
