// The tile CLI's verbs: one function per verb, each in cmd_<verb>.cpp.
#pragma once

#include <string>
#include <vector>

namespace mt::tile {

using Args = std::vector<std::string>;

int cmd_list(const Args& args);
int cmd_inspect(const Args& args);
int cmd_demo(const Args& args);
int cmd_device(const Args& args);

// The value after `flag` in args ("--dtype f16"), or `fallback` when absent.
std::string option_value(const Args& args, const std::string& flag, const std::string& fallback);
bool has_flag(const Args& args, const std::string& flag);

}  // namespace mt::tile
