// The tile CLI's option parser (tools/tile/options.hpp) on a verb declared like `tile run`:
// options before and after positionals, both value spellings, repeatable options, `--`, help,
// and every user mistake as a UsageError naming the word at fault.
#include "options.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace mt::tile {
namespace {

using Words = std::vector<std::string>;

const VerbSpec kRun{"run",
                    "launch one kernel",
                    {{"NAME", "a registered kernel"}, {"EXTRA", "more names", false, true}},
                    {{"--dtype", "D", "element type"},
                     {"--buffer", "NAME=FILE", "bind a buffer", Repeat::Many},
                     {"--cuda", "", "print CUDA"}}};

const VerbSpec kOne{"one", "exactly one name", {{"NAME", "a name"}}, {{"--raw", "", "as traced"}}};

// parse() must throw a UsageError whose message contains `part`.
void expect_usage_error(const VerbSpec& spec, const Words& args, const std::string& part) {
  try {
    parse(spec, args);
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(TileOptions, OptionsMayComeBeforeOrAfterThePositionals) {
  for (const Words& args :
       {Words{"--cuda", "--dtype", "f16", "k"}, Words{"k", "--dtype", "f16", "--cuda"},
        Words{"--dtype=f16", "k", "--cuda"}}) {
    const ParsedArgs p = parse(kRun, args);
    EXPECT_EQ(p.positionals(), Words{"k"});
    EXPECT_EQ(p.positional(0), "k");
    EXPECT_TRUE(p.has("--cuda"));
    EXPECT_EQ(p.value("--dtype"), "f16");
    EXPECT_FALSE(p.help_requested());
  }
}

TEST(TileOptions, AbsentOptionsHaveNoValueAndTheFallbackApplies) {
  const ParsedArgs p = parse(kRun, {"k"});
  EXPECT_FALSE(p.has("--cuda"));
  EXPECT_FALSE(p.has("--dtype"));
  EXPECT_EQ(p.value("--dtype"), std::nullopt);
  EXPECT_EQ(p.value_or("--dtype", "bf16"), "bf16");
  EXPECT_TRUE(p.values("--buffer").empty());
}

TEST(TileOptions, ARepeatableOptionKeepsEveryValueInOrder) {
  const ParsedArgs p =
      parse(kRun, {"--buffer", "src=a.bin", "k", "--buffer=out=b.bin", "--buffer", "x=random"});
  EXPECT_EQ(p.values("--buffer"), (Words{"src=a.bin", "out=b.bin", "x=random"}));
}

TEST(TileOptions, AVariadicPositionalTakesTheRest) {
  const ParsedArgs p = parse(kRun, {"a", "b", "--cuda", "c"});
  EXPECT_EQ(p.positionals(), (Words{"a", "b", "c"}));
}

TEST(TileOptions, DoubleDashEndsTheOptionsAndNegativeNumbersArePositional) {
  EXPECT_EQ(parse(kRun, {"--", "--cuda"}).positionals(), Words{"--cuda"});
  EXPECT_FALSE(parse(kRun, {"--", "--cuda"}).has("--cuda"));
  EXPECT_EQ(parse(kRun, {"-3"}).positionals(), Words{"-3"});
  EXPECT_EQ(parse(kRun, {"k", "--dtype=-1"}).value("--dtype"), "-1");
}

TEST(TileOptions, HelpAnywhereWinsOverEveryOtherCheck) {
  EXPECT_TRUE(parse(kOne, {"--help"}).help_requested());
  EXPECT_TRUE(parse(kOne, {"--bogus", "x", "y", "-h"}).help_requested());
  // After `--` it is a positional like any other.
  EXPECT_FALSE(parse(kOne, {"--", "--help"}).help_requested());
}

TEST(TileOptions, UserMistakesAreUsageErrorsNamingTheWord) {
  expect_usage_error(kRun, {"k", "--dtpye", "f16"}, "unknown option '--dtpye'");
  expect_usage_error(kRun, {"k", "--dtpye", "f16"}, "did you mean --dtype?");
  expect_usage_error(kRun, {"k", "--frobnicate"}, "unknown option '--frobnicate'");
  expect_usage_error(kRun, {"k", "-x"}, "unknown option '-x'");
  expect_usage_error(kRun, {"k", "--dtype"}, "option --dtype needs a value (--dtype D)");
  expect_usage_error(kRun, {"k", "--dtype", "--cuda"}, "option --dtype needs a value");
  expect_usage_error(kRun, {"k", "--cuda=yes"}, "option --cuda takes no value");
  expect_usage_error(kRun, {"k", "--dtype", "f16", "--dtype", "f32"},
                     "option --dtype given more than once");
  expect_usage_error(kRun, {"--cuda"}, "missing NAME");
  expect_usage_error(kOne, {"a", "b"}, "unexpected argument 'b'");
  expect_usage_error(kOne, {}, "missing NAME");
}

TEST(TileOptions, AskingForAnUndeclaredOptionIsOurBug) {
  const ParsedArgs p = parse(kRun, {"k"});
  EXPECT_THROW(p.has("--nope"), InternalError);
  EXPECT_THROW(p.value("--cuda"), InternalError);    // a flag has no value
  EXPECT_THROW(p.value("--buffer"), InternalError);  // repeatable: values()
  EXPECT_THROW(p.values("--cuda"), InternalError);
  EXPECT_THROW(p.positional(1), InternalError);
}

// Whether `text` has a line "  LABEL   HELP": the label, then only spaces, then the help.
bool has_row(const std::string& text, const std::string& label, const std::string& help) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("  " + label + " ") || !line.ends_with(" " + help)) continue;
    const std::string gap =
        line.substr(2 + label.size(), line.size() - help.size() - 2 - label.size());
    if (gap.find_first_not_of(' ') == std::string::npos) return true;
  }
  return false;
}

TEST(TileOptions, UsageListsTheSynopsisEveryArgumentAndEveryOption) {
  EXPECT_EQ(synopsis(kRun), "tile run [options] NAME [EXTRA ...]");
  EXPECT_EQ(synopsis(VerbSpec{"list", "all", {}, {}}), "tile list");
  const std::string text = usage(kRun);
  EXPECT_EQ(text.rfind("usage: tile run [options] NAME [EXTRA ...]\nlaunch one kernel\n", 0), 0u)
      << text;
  EXPECT_TRUE(has_row(text, "NAME", "a registered kernel")) << text;
  EXPECT_TRUE(has_row(text, "EXTRA", "more names")) << text;
  EXPECT_TRUE(has_row(text, "--dtype D", "element type")) << text;
  EXPECT_TRUE(has_row(text, "--buffer NAME=FILE", "bind a buffer (repeatable)")) << text;
  EXPECT_TRUE(has_row(text, "--cuda", "print CUDA")) << text;
  EXPECT_TRUE(has_row(text, "-h, --help", "print this help")) << text;
}

}  // namespace
}  // namespace mt::tile
