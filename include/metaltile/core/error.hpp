// mt::Error (user mistakes) and mt::InternalError (our own broken invariants), and the helpers
// that build their messages in one form: "kernel 'K': param 'P': detail".
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mt {

// Everything a user can cause: a type error while tracing, a bad dispatch, a failed access.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant inside MetalTile itself: a bug to report, never the user's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// "kernel 'K': detail"
Error kernel_error(std::string_view kernel, std::string_view detail);
// "kernel 'K': param 'P': detail"
Error param_error(std::string_view kernel, std::string_view param, std::string_view detail);

// "1 element", "0 elements", "4096 bytes": a count with its noun in the right number.
std::string quantity(std::uint64_t n, std::string_view noun);

namespace detail {
// Collects a message with << and throws InternalError when destroyed; used by MT_ASSERT only.
class AssertionFailure {
 public:
  AssertionFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~AssertionFailure() noexcept(false);
  template <class T>
  AssertionFailure& operator<<(const T& value) {
    message_ << value;
    return *this;
  }

 private:
  std::ostringstream message_;
};
}  // namespace detail

}  // namespace mt

// Checks an internal invariant; the streamed message is built only when the check fails.
#define MT_ASSERT(cond) \
  if (cond) {           \
  } else                \
    ::mt::detail::AssertionFailure(#cond, __FILE__, __LINE__)
