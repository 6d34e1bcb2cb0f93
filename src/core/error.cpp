// Message helpers for mt::Error and the MT_ASSERT failure path.
#include "metaltile/core/error.hpp"

namespace mt {

Error kernel_error(std::string_view kernel, std::string_view detail) {
  std::string message = "kernel '";
  message.append(kernel).append("': ").append(detail);
  return Error(message);
}

Error param_error(std::string_view kernel, std::string_view param, std::string_view detail) {
  std::string message = "kernel '";
  message.append(kernel).append("': param '").append(param).append("': ").append(detail);
  return Error(message);
}

std::string quantity(std::uint64_t n, std::string_view noun) {
  std::string text = std::to_string(n);
  text.append(" ").append(noun);
  if (n != 1) text.append("s");
  return text;
}

namespace detail {

AssertionFailure::AssertionFailure(const char* condition, const char* file, int line) {
  message_ << "internal error at " << file << ":" << line << ": " << condition << " failed: ";
}

AssertionFailure::~AssertionFailure() noexcept(false) { throw InternalError(message_.str()); }

}  // namespace detail
}  // namespace mt
