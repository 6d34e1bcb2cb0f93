// tokenizer.json (include/metaltile/engine/tokenizer.hpp). Encoding follows the `tokenizers`
// pipeline: cut out added tokens (longest match first), then for each remaining segment the
// normalizer, the pre-tokenizer steps (split pattern, byte-level mapping, metaspace) and BPE
// per piece; finally the post-processor's template. Decoding maps ids to token texts and runs
// the decoder steps.
#include "metaltile/engine/tokenizer.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "bpe.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/engine/json.hpp"
#include "split_pattern.hpp"
#include "text_steps.hpp"

namespace mt::engine {

struct Tokenizer::State {
  std::string source;
  std::unique_ptr<Bpe> bpe;
  struct Added {
    std::string content;
    std::uint32_t id;
    bool special;
  };
  std::vector<Added> added;  // longest first
  std::map<std::uint32_t, std::size_t> added_by_id;
  std::vector<std::string> tokens;  // id -> text
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  TextDecoder decoder;
  std::vector<std::uint32_t> prefix, suffix;  // the post-processor's single template
};

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer '" + path + "': cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The special-token ids around the sequence in a TemplateProcessing "single" template.
void read_template(const json::Value& p, const std::string& source,
                   std::vector<std::uint32_t>& prefix, std::vector<std::uint32_t>& suffix) {
  const std::string type = p.at("type").string("post_processor type");
  if (type == "Sequence") {
    for (const json::Value& step : p.at("processors").array("processors")) {
      read_template(step, source, prefix, suffix);
    }
    return;
  }
  if (type == "ByteLevel") return;  // offsets only
  if (type != "TemplateProcessing") {
    throw Error(source + ": post_processor '" + type + "' is not supported");
  }
  const json::Object& specials = p.at("special_tokens").object("special_tokens");
  bool after = false;
  for (const json::Value& item : p.at("single").array("single")) {
    if (item.find("Sequence") != nullptr) {
      after = true;
      continue;
    }
    const std::string& name = item.at("SpecialToken").at("id").string("SpecialToken id");
    auto it = specials.find(name);
    if (it == specials.end()) throw Error(source + ": template names unknown token " + name);
    for (const json::Value& id : it->second.at("ids").array("ids")) {
      (after ? suffix : prefix).push_back(static_cast<std::uint32_t>(id.number()));
    }
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const std::string& path) {
  if (!tokenizer_available()) {
    throw Error("tokenizer '" + path +
                "': this build has no PCRE2, which tokenizers need for their split patterns "
                "(install libpcre2-dev and rebuild; tile generate --prompt-ids takes token ids "
                "without it)");
  }
  auto s = std::make_unique<State>();
  s->source = "tokenizer '" + path + "'";
  const json::Value root = json::parse(read_text(path), path);
  s->bpe = std::make_unique<Bpe>(root.at("model"), s->source);
  std::uint32_t max_id = 0;
  for (const auto& [token, id] : s->bpe->vocab()) max_id = std::max(max_id, id);
  if (const json::Value* added = root.find("added_tokens"); added && !added->is_null()) {
    for (const json::Value& a : added->array("added_tokens")) {
      State::Added t{a.at("content").string("content"),
                     static_cast<std::uint32_t>(a.at("id").number("id")),
                     a.find("special") != nullptr && a.at("special").boolean("special")};
      max_id = std::max(max_id, t.id);
      s->added.push_back(t);
    }
  }
  std::stable_sort(s->added.begin(), s->added.end(), [](const auto& a, const auto& b) {
    return a.content.size() > b.content.size();
  });
  for (std::size_t i = 0; i < s->added.size(); ++i) s->added_by_id[s->added[i].id] = i;
  s->tokens.assign(std::size_t(max_id) + 1, std::string());
  for (const auto& [token, id] : s->bpe->vocab()) s->tokens[id] = token;
  for (const State::Added& a : s->added) s->tokens[a.id] = a.content;
  s->normalizer = Normalizer(root.find("normalizer"), s->source);
  s->pre_tokenizer = PreTokenizer(root.find("pre_tokenizer"), s->source);
  s->decoder = TextDecoder(root.find("decoder"), s->source);
  if (const json::Value* p = root.find("post_processor"); p && !p->is_null()) {
    read_template(*p, s->source, s->prefix, s->suffix);
  }
  return Tokenizer(std::move(s));
}

std::vector<std::uint32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const State& s = *state_;
  std::vector<std::uint32_t> ids;
  if (add_special_tokens) ids = s.prefix;
  std::size_t segment = 0;  // start of the text not yet encoded
  auto flush = [&](std::size_t end) {
    if (end > segment) {
      const std::string normal = s.normalizer.apply(text.substr(segment, end - segment));
      for (const std::string& piece : s.pre_tokenizer.pieces(normal, segment == 0)) {
        s.bpe->encode(piece, ids);
      }
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    const State::Added* match = nullptr;
    for (const State::Added& a : s.added) {
      if (!a.content.empty() && text.compare(i, a.content.size(), a.content) == 0) {
        match = &a;
        break;  // longest first
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    flush(i);
    ids.push_back(match->id);
    i += match->content.size();
    segment = i;
  }
  flush(text.size());
  if (add_special_tokens) ids.insert(ids.end(), s.suffix.begin(), s.suffix.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::uint32_t>& ids,
                              bool skip_special_tokens) const {
  const State& s = *state_;
  std::vector<std::string> tokens;
  for (std::uint32_t id : ids) {
    if (id >= s.tokens.size()) {
      throw Error(s.source + ": decode: id " + std::to_string(id) + " is outside the vocabulary (" +
                  std::to_string(s.tokens.size()) + " tokens)");
    }
    if (auto a = s.added_by_id.find(id); a != s.added_by_id.end()) {
      if (skip_special_tokens && s.added[a->second].special) continue;
    }
    tokens.push_back(s.tokens[id]);
  }
  return s.decoder.apply(std::move(tokens));
}

std::optional<std::uint32_t> Tokenizer::token_id(std::string_view token) const {
  for (const State::Added& a : state_->added) {
    if (a.content == token) return a.id;
  }
  return state_->bpe->id(token);
}

std::size_t Tokenizer::vocab_size() const { return state_->tokens.size(); }

}  // namespace mt::engine
