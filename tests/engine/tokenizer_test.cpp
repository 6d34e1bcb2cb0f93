// The tokenizer against the `tokenizers` library: for tokenizers it trained (byte-level BPE as
// Llama 3 and GPT-2 build them, SentencePiece-style BPE with byte fallback as Llama 2,
// Metaspace), the ids of a varied corpus (Unicode, digits, code, whitespace runs, added
// special tokens) with and without the BOS template, and the decoded text with and without
// special tokens, all exactly as the library gave them (fixtures/tokenizers/*/cases.json).
#include "metaltile/engine/tokenizer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/json.hpp"
#include "support/errors.hpp"

namespace mt::engine {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(MT_TESTS_DIR) + "/engine/fixtures/tokenizers";

std::vector<std::uint32_t> ids_of(const json::Value& v) {
  std::vector<std::uint32_t> ids;
  for (const json::Value& id : v.array("ids")) ids.push_back(std::uint32_t(id.number()));
  return ids;
}

#define MT_SKIP_WITHOUT_TOKENIZER()                                                      \
  if (!tokenizer_available()) {                                                          \
    GTEST_SKIP() << "this build has no PCRE2 (libpcre2-dev), which the tokenizer needs"; \
  }

class TokenizerFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixture, MatchesTheTokenizersLibrary) {
  MT_SKIP_WITHOUT_TOKENIZER();
  const std::string dir = kDir + "/" + GetParam();
  const Tokenizer tok = Tokenizer::load(dir + "/tokenizer.json");
  const json::Value cases = json::read_file(dir + "/cases.json");
  ASSERT_GE(cases.array().size(), 20u);
  for (const json::Value& c : cases.array()) {
    const std::string& text = c.at("text").string();
    SCOPED_TRACE("text: \"" + text + "\"");
    EXPECT_EQ(tok.encode(text, false), ids_of(c.at("ids")));
    EXPECT_EQ(tok.encode(text, true), ids_of(c.at("ids_with_special")));
    EXPECT_EQ(tok.decode(ids_of(c.at("ids"))), c.at("decoded").string());
    EXPECT_EQ(tok.decode(ids_of(c.at("ids")), false), c.at("decoded_with_special").string());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerFixture,
                         ::testing::Values("byte-level-llama3", "byte-level-gpt2",
                                           "sentencepiece-llama2", "metaspace"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

TEST(Tokenizer, TokenIdsAndErrors) {
  MT_SKIP_WITHOUT_TOKENIZER();
  const std::string path = kDir + "/byte-level-llama3/tokenizer.json";
  const Tokenizer tok = Tokenizer::load(path);
  EXPECT_EQ(tok.token_id("<|begin_of_text|>"), 0u);
  EXPECT_EQ(tok.token_id("<|eot_id|>"), 2u);
  EXPECT_FALSE(tok.token_id("no such token").has_value());
  test::expect_mentions(test::error_of([&] {
                          tok.decode({5, 100000});
                        }),
                        {"id 100000", "outside the vocabulary"});

  const fs::path bad = fs::temp_directory_path() / "mt_tokenizer_test_unigram.json";
  std::ofstream(bad) << R"({"model": {"type": "Unigram", "vocab": []}})";
  test::expect_mentions(test::error_of([&] { Tokenizer::load(bad.string()); }),
                        {"mt_tokenizer_test_unigram.json", "Unigram", "not supported"});
  std::ofstream(bad) << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                           "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["},
                                             "behavior": "Isolated", "invert": false}})";
  test::expect_mentions(test::error_of([&] { Tokenizer::load(bad.string()); }),
                        {"split pattern does not compile"});
  std::ofstream(bad) << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                           "normalizer": {"type": "Lowercase"}})";
  test::expect_mentions(test::error_of([&] { Tokenizer::load(bad.string()); }),
                        {"normalizer", "Lowercase", "not supported"});
  fs::remove(bad);
  test::expect_mentions(test::error_of([&] { Tokenizer::load(kDir + "/absent.json"); }),
                        {"absent.json"});
}

TEST(Tokenizer, WithoutPcre2LoadingExplainsWhy) {
  if (tokenizer_available()) {
    GTEST_SKIP() << "this build has PCRE2; the message for builds without it is not reachable";
  }
  test::expect_mentions(
      test::error_of([&] { Tokenizer::load(kDir + "/byte-level-llama3/tokenizer.json"); }),
      {"PCRE2", "libpcre2-dev"});
}

}  // namespace
}  // namespace mt::engine
