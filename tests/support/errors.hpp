// Helpers for tests of user errors: the message of the mt::Error a call throws, and a check
// that it mentions the kernel, parameter and values the user needs.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace mt::test {

// The message of the mt::Error that f throws. A test failure (and "") if f throws nothing, or
// throws anything else: an InternalError would be our bug, not the user's.
std::string error_of(const std::function<void()>& f);

// Fails the test for each part the message does not contain.
void expect_mentions(const std::string& message, const std::vector<std::string>& parts);

// Fails the test unless message is a length error of buffer `param` of kernel `kernel` (a
// require_len contract) stating `expected` elements as the contract prints them ("24", or "a
// multiple of 7" for a whole number of rows) and the `got` elements the buffer has.
void expect_length_error(const std::string& message, const std::string& kernel,
                         const std::string& param, const std::string& expected, std::size_t got);

}  // namespace mt::test
