// BPE encoding of one piece (engine/bpe.hpp): start from its characters and repeatedly merge
// the adjacent pair of lowest rank (the leftmost among equals), as the `tokenizers` library
// does with its priority queue; then map each symbol to its id, falling back to <0xXX> byte
// tokens or the unknown token.
#include "bpe.hpp"

#include <cstdio>

#include "metaltile/core/error.hpp"

namespace mt::engine {

std::vector<std::size_t> utf8_starts(std::string_view s) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  return starts;
}

Bpe::Bpe(const json::Value& model, std::string_view source) {
  auto fail = [&](const std::string& what) {
    throw Error(std::string(source) + ": model: " + what);
  };
  const json::Value* type = model.find("type");
  if (type != nullptr && type->string("model type") != "BPE") {
    fail("type '" + type->string() + "' is not supported (BPE is)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "dropout"}) {
    const json::Value* v = model.find(key);
    if (v != nullptr && !v->is_null() && !(v->is_string() && v->string().empty())) {
      fail(std::string(key) + " is not supported");
    }
  }
  for (const auto& [token, id] : model.at("vocab").object("vocab")) {
    vocab_[token] = static_cast<std::uint32_t>(id.number("vocab id"));
  }
  std::size_t rank = 0;
  for (const json::Value& m : model.at("merges").array("merges")) {
    std::string left, right;
    if (m.is_string()) {
      const std::string& text = m.string();
      const std::size_t space = text.find(' ');
      if (space == std::string::npos) fail("merge '" + text + "' has no space");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {
      const json::Array& pair = m.array("merge");
      if (pair.size() != 2) fail("a merge is not a pair");
      left = pair[0].string("merge");
      right = pair[1].string("merge");
    }
    ranks_.emplace(left + '\xff' + right, rank++);
  }
  if (const json::Value* unk = model.find("unk_token"); unk != nullptr && unk->is_string()) {
    if (auto it = vocab_.find(unk->string()); it != vocab_.end()) unk_ = it->second;
  }
  auto flag = [&](const char* key) {
    const json::Value* v = model.find(key);
    return v != nullptr && !v->is_null() && v->boolean(key);
  };
  byte_fallback_ = flag("byte_fallback");
  ignore_merges_ = flag("ignore_merges");
  fuse_unk_ = flag("fuse_unk");
}

std::optional<std::size_t> Bpe::rank(const std::string& left, const std::string& right) const {
  auto it = ranks_.find(left + '\xff' + right);
  if (it == ranks_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint32_t> Bpe::id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void Bpe::encode(std::string_view piece, std::vector<std::uint32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (std::optional<std::uint32_t> whole = id(piece)) {
      out.push_back(*whole);
      return;
    }
  }
  std::vector<std::string> symbols;
  const std::vector<std::size_t> starts = utf8_starts(piece);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : piece.size();
    symbols.emplace_back(piece.substr(starts[i], end - starts[i]));
  }
  while (symbols.size() > 1) {
    std::optional<std::size_t> best;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const std::optional<std::size_t> r = rank(symbols[i], symbols[i + 1]);
      if (r && (!best || *r < *best)) {
        best = r;
        at = i;
      }
    }
    if (!best) break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + std::ptrdiff_t(at) + 1);
  }
  bool last_unknown = false;
  for (const std::string& s : symbols) {
    if (std::optional<std::uint32_t> found = id(s)) {
      out.push_back(*found);
      last_unknown = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      std::vector<std::uint32_t> bytes;
      for (unsigned char c : s) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", c);
        const std::optional<std::uint32_t> b = id(name);
        if (!b) {
          all = false;
          break;
        }
        bytes.push_back(*b);
      }
      if (all) {
        out.insert(out.end(), bytes.begin(), bytes.end());
        last_unknown = false;
        continue;
      }
    }
    if (!unk_) {
      throw Error("tokenizer: '" + s + "' is not in the vocabulary and there is no unknown token");
    }
    if (!(fuse_unk_ && last_unknown)) out.push_back(*unk_);
    last_unknown = true;
  }
}

}  // namespace mt::engine
