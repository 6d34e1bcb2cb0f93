// MT_REQUIRE_NVRTC(): a test that needs NVRTC fails without it, unless MT_ALLOW_NO_NVRTC=1,
// when it is skipped with a banner no one can miss.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <optional>
#include <string>

namespace mt::test {

// Why NVRTC cannot be used (the mt::Error text of loading libnvrtc or finding the CUDA
// include directory), or nullopt when it can.
std::optional<std::string> nvrtc_unavailable();

// Whether MT_ALLOW_NO_NVRTC=1 (exactly "1") lets a test skip instead of fail without NVRTC.
bool is_missing_nvrtc_allowed();

}  // namespace mt::test

// In a test body or a fixture's SetUp (it returns from the enclosing void function): without
// NVRTC, GTEST_SKIP after a "*** SKIPPED" banner on stdout when MT_ALLOW_NO_NVRTC=1, else
// GTEST_FAIL; both messages carry the reason.
#define MT_REQUIRE_NVRTC()                                                                    \
  do {                                                                                        \
    if (const std::optional<std::string> mt_nvrtc_error_ = ::mt::test::nvrtc_unavailable()) { \
      if (::mt::test::is_missing_nvrtc_allowed()) {                                           \
        std::cout << "\n*** SKIPPED: NVRTC is unavailable and MT_ALLOW_NO_NVRTC=1: "          \
                  << *mt_nvrtc_error_ << " ***\n\n";                                          \
        GTEST_SKIP() << "NVRTC unavailable (MT_ALLOW_NO_NVRTC=1): " << *mt_nvrtc_error_;      \
      }                                                                                       \
      GTEST_FAIL() << "NVRTC is unavailable (set MT_ALLOW_NO_NVRTC=1 to skip): "              \
                   << *mt_nvrtc_error_;                                                       \
    }                                                                                         \
  } while (false)
