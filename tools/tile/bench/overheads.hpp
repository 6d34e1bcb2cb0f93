// `tile bench --overheads`: the fixed costs around kernels. Compile times (NVRTC cold, disk-cache
// hit, memory hit; prepare cold and from disk) and host time per launch (byte-map dispatch,
// device-resident enqueue, launch by name, enqueue + synchronize, a launch in a replayed graph).
#pragma once

#include <iosfwd>

#include "measure.hpp"

namespace mt::tile::bench {

void print_overheads(std::ostream& out, const Target& t, const Settings& s);

}  // namespace mt::tile::bench
