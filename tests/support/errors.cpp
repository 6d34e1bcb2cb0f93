// Error-message helpers shared by the tests.
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <exception>

#include "metaltile/core/error.hpp"

namespace mt::test {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected mt::Error, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected mt::Error, but nothing was thrown";
  return {};
}

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos)
        << "message does not mention '" << part << "': " << message;
  }
}

}  // namespace mt::test
