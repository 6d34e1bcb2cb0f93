// tile bench's JSON is the engine library's (include/metaltile/engine/json.hpp).
#pragma once

#include "metaltile/engine/json.hpp"

namespace mt::tile {
namespace json = ::mt::engine::json;
}  // namespace mt::tile
