// The range check of every backend's device copies, so that each reports a bad copy alike.
#pragma once

#include <cstddef>

namespace mt {

// [offset, offset + length) must lie inside a buffer of `size` bytes; an mt::Error naming `what`
// ("write", "read", "copy source"...) otherwise. Written so that it cannot overflow.
void check_device_range(const char* what, std::size_t offset, std::size_t length, std::size_t size);

}  // namespace mt
