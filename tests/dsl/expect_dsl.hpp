// Shared by the DSL tests: the printed definition of a traced value, whole-text comparison,
// and a check that tracing fails with an mt::Error naming the kernel and the culprit.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::test {

// "%2: u32 = add %0, %1": the instruction defining v, as print() shows it, or "" if none does.
inline std::string printed_def(const Kernel& k, ValueId v) {
  std::string found;
  auto look = [&](const Instr& in) {
    if (has_result(in.op) && in.result == v) found = print_instr(k, in);
  };
  for_each_instr(k.contract, look);
  for_each_instr(k.body, look);
  return found;
}

// Compares whole texts; on a mismatch shows both as they print.
inline void expect_text(const std::string& actual, const std::string& expected) {
  EXPECT_EQ(actual, expected) << "actual:\n" << actual << "expected:\n" << expected;
}

// Tracing `body` as kernel `name` throws an mt::Error whose message starts with
// "kernel 'name': " and contains every fragment.
inline void expect_trace_error(const std::string& name,
                               const std::function<void(KernelBuilder&)>& body,
                               const std::vector<std::string>& fragments) {
  try {
    trace(name, KernelMode::Grid3D, body);
    ADD_FAILURE() << "tracing '" << name << "' did not throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("kernel '" + name + "': ", 0), 0u) << what;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(what.find(fragment), std::string::npos) << "no '" << fragment << "' in: " << what;
    }
  }
}

}  // namespace mt::test
