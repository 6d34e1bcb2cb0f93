// The tile CLI's argument parser (see options.hpp).
#include "options.hpp"

#include <algorithm>
#include <sstream>

namespace mt::tile {
namespace {

const OptionSpec* find_option(const VerbSpec& spec, std::string_view name) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// "-x", "--long" and "--long=value" are options; "-" alone and negative numbers ("-3") are not.
bool is_option(const std::string& word) {
  return word.size() > 1 && word[0] == '-' && !(word[1] >= '0' && word[1] <= '9');
}

bool is_help(const std::string& word) { return word == "-h" || word == "--help"; }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean --dtype?)" when one declared option is a likely typo of `name`, else "".
std::string suggestion(const VerbSpec& spec, std::string_view name) {
  const OptionSpec* best = nullptr;
  std::size_t best_distance = 3;  // more than two edits away is no longer a typo
  for (const OptionSpec& o : spec.options) {
    const std::size_t d = edit_distance(name, o.name);
    if (d < best_distance) {
      best = &o;
      best_distance = d;
    }
  }
  return best ? " (did you mean " + best->name + "?)" : "";
}

// Stores one occurrence of option `word` (args[i], possibly "--name=value"), taking its value
// from args[i + 1] when needed; returns the index of the last word consumed.
std::size_t take_option(const VerbSpec& spec, const std::vector<std::string>& args, std::size_t i,
                        std::map<std::string, std::vector<std::string>, std::less<>>& given) {
  const std::string& word = args[i];
  const std::size_t eq = word.find('=');
  const std::string name = word.substr(0, eq);
  const OptionSpec* o = find_option(spec, name);
  if (o == nullptr) throw UsageError("unknown option '" + name + "'" + suggestion(spec, name));
  std::string value;
  if (!o->takes_value()) {
    if (eq != std::string::npos) throw UsageError("option " + name + " takes no value");
  } else if (eq != std::string::npos) {
    value = word.substr(eq + 1);
  } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
    value = args[++i];
  } else {
    throw UsageError("option " + name + " needs a value (" + name + " " + o->value_name + ")");
  }
  std::vector<std::string>& values = given[o->name];
  if (!values.empty() && o->repeat == Repeat::Once) {
    throw UsageError("option " + name + " given more than once");
  }
  values.push_back(std::move(value));
  return i;
}

void check_positionals(const VerbSpec& spec, const std::vector<std::string>& positionals) {
  const std::vector<PositionalSpec>& declared = spec.positionals;
  for (std::size_t i = positionals.size(); i < declared.size(); ++i) {
    if (declared[i].required) throw UsageError("missing " + declared[i].name);
  }
  const bool variadic = !declared.empty() && declared.back().variadic;
  if (!variadic && positionals.size() > declared.size()) {
    throw UsageError("unexpected argument '" + positionals[declared.size()] + "'");
  }
}

std::string option_label(const OptionSpec& o) {
  return o.takes_value() ? o.name + " " + o.value_name : o.name;
}

}  // namespace

bool ParsedArgs::has(std::string_view option) const {
  declared(option);
  return given_.find(option) != given_.end();
}

std::optional<std::string> ParsedArgs::value(std::string_view option) const {
  const OptionSpec& o = declared(option);
  MT_ASSERT(o.takes_value() && o.repeat == Repeat::Once)
      << "value(" << option << "): use has() for a flag and values() for a repeatable option";
  const auto it = given_.find(option);
  if (it == given_.end()) return std::nullopt;
  return it->second.front();
}

std::string ParsedArgs::value_or(std::string_view option, std::string_view fallback) const {
  return value(option).value_or(std::string(fallback));
}

const std::vector<std::string>& ParsedArgs::values(std::string_view option) const {
  static const std::vector<std::string> kNone;
  MT_ASSERT(declared(option).takes_value()) << "values(" << option << ") of a flag";
  const auto it = given_.find(option);
  return it == given_.end() ? kNone : it->second;
}

const std::string& ParsedArgs::positional(std::size_t i) const {
  MT_ASSERT(i < positionals_.size()) << "positional " << i << " of " << positionals_.size();
  return positionals_[i];
}

const OptionSpec& ParsedArgs::declared(std::string_view option) const {
  const OptionSpec* o = find_option(*spec_, option);
  MT_ASSERT(o != nullptr) << "tile " << spec_->name << " never declared option " << option;
  return *o;
}

ParsedArgs parse(const VerbSpec& spec, const std::vector<std::string>& args) {
  ParsedArgs parsed(spec);
  const auto end_of_options = std::find(args.begin(), args.end(), "--");
  if (std::any_of(args.begin(), end_of_options, is_help)) {
    parsed.help_ = true;
    return parsed;
  }
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (options_ended || !is_option(args[i])) {
      parsed.positionals_.push_back(args[i]);
    } else if (args[i] == "--") {
      options_ended = true;
    } else {
      i = take_option(spec, args, i, parsed.given_);
    }
  }
  check_positionals(spec, parsed.positionals_);
  return parsed;
}

std::string synopsis(const VerbSpec& spec) {
  std::string line = "tile " + spec.name;
  if (!spec.options.empty()) line += " [options]";
  for (const PositionalSpec& p : spec.positionals) {
    const std::string word = p.variadic ? p.name + " ..." : p.name;
    line += " " + (p.required ? word : "[" + word + "]");
  }
  return line;
}

std::string usage(const VerbSpec& spec) {
  std::size_t width = std::string("-h, --help").size();
  for (const PositionalSpec& p : spec.positionals) width = std::max(width, p.name.size());
  for (const OptionSpec& o : spec.options) width = std::max(width, option_label(o).size());
  auto line = [&](std::ostringstream& out, const std::string& label, const std::string& help) {
    out << "  " << label << std::string(width + 2 - label.size(), ' ') << help << "\n";
  };

  std::ostringstream out;
  out << "usage: " << synopsis(spec) << "\n" << spec.summary << "\n";
  if (!spec.positionals.empty()) {
    out << "\narguments:\n";
    for (const PositionalSpec& p : spec.positionals) line(out, p.name, p.help);
  }
  out << "\noptions:\n";
  for (const OptionSpec& o : spec.options) {
    line(out, option_label(o), o.help + (o.repeat == Repeat::Many ? " (repeatable)" : ""));
  }
  line(out, "-h, --help", "print this help");
  return out.str();
}

}  // namespace mt::tile
