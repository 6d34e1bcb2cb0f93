// How messages print a launch shape (core/launch_dims.hpp).
#include "metaltile/core/launch_dims.hpp"

#include <sstream>

namespace mt {

std::string format_axes(std::array<std::uint32_t, 3> v) {
  // A stream, not "(" + ...: g++ 12 at -O3 misreports string concatenation (-Wrestrict).
  std::ostringstream os;
  os << "(" << v[0] << "," << v[1] << "," << v[2] << ")";
  return os.str();
}

}  // namespace mt
