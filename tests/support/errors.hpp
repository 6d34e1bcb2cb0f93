// Helpers for tests of user errors: the message of the mt::Error a call throws, and a check
// that it mentions the kernel, parameter and values the user needs.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace mt::test {

// The message of the mt::Error that f throws. A test failure (and "") if f throws nothing, or
// throws anything else: an InternalError would be our bug, not the user's.
std::string error_of(const std::function<void()>& f);

// Fails the test for each part the message does not contain.
void expect_mentions(const std::string& message, const std::vector<std::string>& parts);

}  // namespace mt::test
