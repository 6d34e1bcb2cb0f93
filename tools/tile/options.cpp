// Flag parsing shared by the verbs.
#include <algorithm>

#include "commands.hpp"
#include "metaltile/core/error.hpp"

namespace mt::tile {

std::string option_value(const Args& args, const std::string& flag, const std::string& fallback) {
  auto it = std::find(args.begin(), args.end(), flag);
  if (it == args.end()) return fallback;
  if (std::next(it) == args.end()) throw Error("option " + flag + " needs a value");
  return *std::next(it);
}

bool has_flag(const Args& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

}  // namespace mt::tile
