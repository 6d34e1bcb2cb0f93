// Error-message helpers shared by the tests.
#include "support/errors.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <string>

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

void expect_length_error(const std::string& message, const std::string& kernel,
                         const std::string& param, const std::string& expected, std::size_t got) {
  expect_mentions(message, {"kernel '" + kernel + "': param '" + param + "': expected " + expected +
                                " elements (",
                            ", got " + std::to_string(got) + " elements ("});
}

}  // namespace mt::test
