// What `tile run` and `tile inspect` read from the command line about a kernel's parameters:
// NAME=VALUE assignments, parameters looked up by name, and --specialise values as consts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt::tile {

// "NAME=VALUE" split at its first '='; a UsageError naming `option` otherwise.
std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option);

// The parameter of k called `name`; a UsageError listing k's parameters otherwise.
const Param& param_named(const Kernel& k, const std::string& name, const char* option);

// --specialise NAME=VALUE options as consts of k's scalars, each in its parameter's type.
ConstMap parse_specialise(const Kernel& k, const std::vector<std::string>& values);

}  // namespace mt::tile
