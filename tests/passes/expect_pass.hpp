// Shared by the pass tests: run ONE pass on a traced kernel and compare the printed IR with the
// expected text, showing the input, the result and the expectation on a mismatch.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt::test {

using Pass = std::function<Kernel(Kernel)>;

inline void expect_pass(const Pass& pass, const Kernel& input, const std::string& expected) {
  const std::string before = print(input);
  const Kernel result = pass(input);
  const std::string actual = print(result);
  EXPECT_EQ(actual, expected) << "input:\n"
                              << before << "actual:\n"
                              << actual << "expected:\n"
                              << expected;
  EXPECT_NO_THROW(verify(result)) << "the pass produced IR the verifier rejects:\n" << actual;
}

// a / d or a % d (op Div or Rem) recorded as it is, even for a constant 0 divisor, which the
// DSL refuses while tracing but which specialisation or folding can still produce.
inline Val unchecked_division(OpKind op, const Val& a, const Val& d) {
  KernelBuilder& k = a.builder();
  return k.append(make::binary(k.mutable_kernel(), op, a.id(), d.id()));
}

// The pass can prove nothing about `input`: the printed IR must come back as it went in.
inline void expect_unchanged(const Pass& pass, const Kernel& input) {
  expect_pass(pass, input, print(input));
}

}  // namespace mt::test
