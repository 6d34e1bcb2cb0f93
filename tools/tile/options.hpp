// The tile CLI's argument parser: each verb declares its positional arguments and options once
// (a VerbSpec); parse() checks a command line against the declaration and usage() prints it.
//
// Declaring a verb (see cmd_inspect.cpp for a complete one):
//
//   const VerbSpec kSpec{
//       "run", "launch one kernel from the command line",
//       {{"NAME", "a registered kernel (see tile list)"}},                  // positionals
//       {{"--dtype", "D", "element type (default: the kernel's first)"},   // takes a value
//        {"--buffer", "NAME=FILE", "bind a buffer to a file", Repeat::Many},
//        {"--verbose", "", "print each step"}}};                          // a flag
//
//   int cmd_run(const ParsedArgs& args) {
//     const std::string& name = args.positional(0);
//     const std::string dtype = args.value_or("--dtype", "f16");
//     for (const std::string& b : args.values("--buffer")) ...   // in command-line order
//     if (args.has("--verbose")) ...
//   }
//
// Rules: options and positionals may come in any order; `--opt VALUE` and `--opt=VALUE` are
// the same; `--` ends the options (what follows is positional); `-h` and `--help` are
// declared for every verb. A mistake by the user (unknown option, missing value, value given
// to a flag, a non-repeatable option given twice, a missing or extra positional) throws
// UsageError; asking ParsedArgs about an option the verb never declared is our own bug and
// throws mt::InternalError.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/error.hpp"

namespace mt::tile {

// How many times an option may be given.
enum class Repeat { Once, Many };

struct OptionSpec {
  std::string name;        // with its dashes: "--dtype"
  std::string value_name;  // shown in the usage ("D", "NAME=FILE"); empty for a flag
  std::string help;        // one line
  Repeat repeat = Repeat::Once;

  bool takes_value() const { return !value_name.empty(); }
};

struct PositionalSpec {
  std::string name;  // upper case, as the usage shows it: "NAME"
  std::string help;  // one line
  bool required = true;
  bool variadic = false;  // the last positional only: takes all that remain ("NAME ...")
};

struct VerbSpec {
  std::string name;
  std::string summary;  // one line, for `tile help`
  std::vector<PositionalSpec> positionals;
  std::vector<OptionSpec> options;
};

// A command line that matched its VerbSpec.
class ParsedArgs {
 public:
  explicit ParsedArgs(const VerbSpec& spec) : spec_(&spec) {}

  // Whether the option was given (flags and options with values alike).
  bool has(std::string_view option) const;
  // The option's value, when it was given (an option of Repeat::Once).
  std::optional<std::string> value(std::string_view option) const;
  std::string value_or(std::string_view option, std::string_view fallback) const;
  // Every value of the option, in command-line order (empty when it was not given).
  const std::vector<std::string>& values(std::string_view option) const;

  const std::vector<std::string>& positionals() const { return positionals_; }
  // The i-th positional; i must be below positionals().size() (required ones always are).
  const std::string& positional(std::size_t i) const;
  bool help_requested() const { return help_; }

 private:
  friend ParsedArgs parse(const VerbSpec& spec, const std::vector<std::string>& args);
  const OptionSpec& declared(std::string_view option) const;

  const VerbSpec* spec_;
  std::map<std::string, std::vector<std::string>, std::less<>> given_;  // flags get one ""
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// A command line that does not match its verb's declaration; main prints it with a hint
// pointing at `tile VERB --help` and exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Matches args (the words after the verb) against spec. With -h or --help anywhere before
// `--` it returns at once with help_requested() set and nothing else checked.
ParsedArgs parse(const VerbSpec& spec, const std::vector<std::string>& args);

// The verb's usage: its synopsis line, then one line per positional and per option.
std::string usage(const VerbSpec& spec);
// "tile VERB [options] NAME ...": the synopsis line alone.
std::string synopsis(const VerbSpec& spec);

}  // namespace mt::tile
