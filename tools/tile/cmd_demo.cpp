// tile demo: the main job for now (filled in with the KV-cache kernels).
#include "commands.hpp"
#include "metaltile/core/error.hpp"

namespace mt::tile {

int cmd_demo(const Args&) { throw Error("demo: not available yet"); }

}  // namespace mt::tile
