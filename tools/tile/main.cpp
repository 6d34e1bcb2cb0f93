// tile: the MetalTile command line. `tile help` lists the verbs, `tile VERB --help` the
// options of one. Exit status: 0 on success, 1 when the work failed (an mt::Error), 2 for a
// command line that does not match its verb's declaration.
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "metaltile/core/error.hpp"

namespace {

using mt::tile::Verb;

constexpr int kUsageStatus = 2;

const std::vector<const Verb*>& verbs() {
  static const std::vector<const Verb*> all = {&mt::tile::list_verb(),    &mt::tile::inspect_verb(),
                                               &mt::tile::demo_verb(),    &mt::tile::device_verb(),
                                               &mt::tile::run_verb(),     &mt::tile::bench_verb(),
                                               &mt::tile::generate_verb()};
  return all;
}

const Verb* find_verb(const std::string& name) {
  for (const Verb* v : verbs()) {
    if (v->spec.name == name) return v;
  }
  return nullptr;
}

void print_overview(std::ostream& out) {
  out << "usage: tile VERB [options] [arguments]\n\nverbs:\n";
  for (const Verb* v : verbs()) {
    out << "  " << mt::tile::synopsis(v->spec) << "\n      " << v->spec.summary << "\n";
  }
  out << "  tile help [VERB]\n      this overview, or the options of VERB\n"
      << "\n'tile VERB --help' lists every option of VERB.\n";
}

int usage_error(const std::string& who, const std::string& message, const std::string& help) {
  std::cerr << who << ": " << message << " (see " << help << ")\n";
  return kUsageStatus;
}

int help(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_overview(std::cout);
    return 0;
  }
  if (args.size() > 1) return usage_error("tile help", "expected one verb", "tile help");
  const Verb* v = find_verb(args[0]);
  if (v == nullptr) return usage_error("tile help", "unknown verb '" + args[0] + "'", "tile help");
  std::cout << mt::tile::usage(v->spec);
  return 0;
}

int run_verb(const Verb& verb, const std::vector<std::string>& args) {
  const std::string who = "tile " + verb.spec.name;
  try {
    const mt::tile::ParsedArgs parsed = mt::tile::parse(verb.spec, args);
    if (parsed.help_requested()) {
      std::cout << mt::tile::usage(verb.spec);
      return 0;
    }
    return verb.run(parsed);
  } catch (const mt::tile::UsageError& e) {
    return usage_error(who, e.what(), who + " --help");
  } catch (const mt::Error& e) {
    std::cerr << who << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_overview(std::cerr);
    return kUsageStatus;
  }
  const std::string first = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  if (first == "help" || first == "--help" || first == "-h") return help(rest);
  if (first.starts_with("-")) {
    return usage_error("tile", "expected a verb before any option, got '" + first + "'",
                       "tile --help");
  }
  const Verb* verb = find_verb(first);
  if (verb == nullptr) return usage_error("tile", "unknown verb '" + first + "'", "tile --help");
  return run_verb(*verb, rest);
}
