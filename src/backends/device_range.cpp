#include "backends/device_range.hpp"

#include <sstream>

#include "metaltile/core/error.hpp"

namespace mt {

void check_device_range(const char* what, std::size_t offset, std::size_t length,
                        std::size_t size) {
  if (offset <= size && length <= size - offset) return;
  std::ostringstream s;
  s << "device buffer " << what << " of " << quantity(length, "byte") << " at offset " << offset
    << " is out of range: the buffer holds " << quantity(size, "byte");
  throw Error(s.str());
}

}  // namespace mt
