// The tile CLI's verbs: each cmd_<verb>.cpp declares one Verb (its options and the function
// that runs it), and main.cpp lists them. Adding a verb: a cmd_<verb>.cpp defining
// `const Verb& <verb>_verb()`, its declaration below, and one line in main.cpp's list.
#pragma once

#include "options.hpp"

namespace mt::tile {

struct Verb {
  VerbSpec spec;
  int (*run)(const ParsedArgs& args);  // the exit status
};

const Verb& list_verb();
const Verb& inspect_verb();
const Verb& demo_verb();
const Verb& device_verb();
const Verb& run_verb();
const Verb& bench_verb();
const Verb& generate_verb();

}  // namespace mt::tile
