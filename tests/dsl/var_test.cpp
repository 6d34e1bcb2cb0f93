// mt::Var: a local with an initial write, reads as LocalRead, assignment and every compound
// assignment as read-op-write, copies as new locals, and type mistakes as errors.
#include "metaltile/dsl/var.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;

TEST(Var, InitialisesReadsAndAssigns) {
  Kernel k = trace("var", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Var v(n, "v");
    Var unnamed = n * 2;
    Val r = v;
    v = r + 1;
    v = unnamed;  // Var = Var reads the other and writes
    v = 5;        // a literal adopts the Var's type
    out[n] = v;
  });
  expect_text(print(k),
              "kernel var mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "  local v: u32\n"
              "  local l1: u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  write v = %0\n"
              "  %1: u32 = const 2\n"
              "  %2: u32 = mul %0, %1\n"
              "  write l1 = %2\n"
              "  %3: u32 = read v\n"
              "  %4: u32 = const 1\n"
              "  %5: u32 = add %3, %4\n"
              "  write v = %5\n"
              "  %6: u32 = read l1\n"
              "  write v = %6\n"
              "  %7: u32 = read v\n"
              "  %8: u32 = const 5\n"
              "  write v = %8\n"
              "  %9: u32 = read v\n"
              "  store out[%0] = %9\n"
              "}\n");
}

TEST(Var, CompoundAssignmentsReadApplyAndWrite) {
  using Apply = std::function<void(Var&, const Val&)>;
  const std::vector<std::pair<std::string, Apply>> cases = {
      {"add", [](Var& v, const Val& x) { v += x; }},
      {"sub", [](Var& v, const Val& x) { v -= x; }},
      {"mul", [](Var& v, const Val& x) { v *= x; }},
      {"div", [](Var& v, const Val& x) { v /= x; }},
      {"rem", [](Var& v, const Val& x) { v %= x; }},
      {"and", [](Var& v, const Val& x) { v &= x; }},
      {"or", [](Var& v, const Val& x) { v |= x; }},
      {"xor", [](Var& v, const Val& x) { v ^= x; }},
      {"shl", [](Var& v, const Val& x) { v <<= x; }},
      {"shr", [](Var& v, const Val& x) { v >>= x; }},
  };
  for (const auto& [op, apply] : cases) {
    Kernel k = trace("compound", KernelMode::Grid3D, [&](KernelBuilder& b) {
      Val n = b.scalar_u32("n");
      Var v(n, "v");
      apply(v, n);
    });
    expect_text(print(k),
                "kernel compound mode=Grid3D\n"
                "  param n: scalar u32\n"
                "  local v: u32\n"
                "body {\n"
                "  %0: u32 = scalar n\n"
                "  write v = %0\n"
                "  %1: u32 = read v\n"
                "  %2: u32 = " +
                    op +
                    " %1, %0\n"
                    "  write v = %2\n"
                    "}\n");
  }
}

TEST(Var, CompoundAssignmentsWithLiterals) {
  const std::vector<std::pair<std::string, std::function<void(Var&)>>> cases = {
      {"add", [](Var& v) { v += 3; }},  {"sub", [](Var& v) { v -= 3; }},
      {"mul", [](Var& v) { v *= 3; }},  {"div", [](Var& v) { v /= 3; }},
      {"rem", [](Var& v) { v %= 3; }},  {"and", [](Var& v) { v &= 3; }},
      {"or", [](Var& v) { v |= 3; }},   {"xor", [](Var& v) { v ^= 3; }},
      {"shl", [](Var& v) { v <<= 3; }}, {"shr", [](Var& v) { v >>= 3; }},
  };
  for (const auto& [op, apply] : cases) {
    Kernel k = trace("compound_literal", KernelMode::Grid3D, [&](KernelBuilder& b) {
      Var v(b.scalar_i32("n"), "v");
      apply(v);
    });
    expect_text(print(k),
                "kernel compound_literal mode=Grid3D\n"
                "  param n: scalar i32\n"
                "  local v: i32\n"
                "body {\n"
                "  %0: i32 = scalar n\n"
                "  write v = %0\n"
                "  %1: i32 = read v\n"
                "  %2: i32 = const 3\n"
                "  %3: i32 = " +
                    op +
                    " %1, %2\n"
                    "  write v = %3\n"
                    "}\n");
  }
}

TEST(Var, ACopyIsANewLocalNotAnAlias) {
  Kernel k = trace("copy", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Var a(x, "a");
    Var c = a;
    c += x;  // changes c only
  });
  expect_text(print(k),
              "kernel copy mode=Grid3D\n"
              "  param x: scalar f32\n"
              "  local a: f32\n"
              "  local l1: f32\n"
              "body {\n"
              "  %0: f32 = scalar x\n"
              "  write a = %0\n"
              "  %1: f32 = read a\n"
              "  write l1 = %1\n"
              "  %2: f32 = read l1\n"
              "  %3: f32 = add %2, %0\n"
              "  write l1 = %3\n"
              "}\n");
}

TEST(Var, TypeMistakesAreErrors) {
  expect_trace_error("var_assign",
                     [](KernelBuilder& b) {
                       Var v(b.scalar_u32("n"), "v");
                       v = b.scalar_f32("x");
                     },
                     {"assigning %1 (f32) to a Var of type u32", ".to()"});
  expect_trace_error("var_compound",
                     [](KernelBuilder& b) {
                       Var v(b.scalar_f32("x"), "v");
                       v += b.scalar_i32("n");
                     },
                     {"add", "%2 (f32)", "%1 (i32)"});
  expect_trace_error("var_float_literal",
                     [](KernelBuilder& b) {
                       Var v(b.scalar_u32("n"), "v");
                       v = 1.5;
                     },
                     {"float literal 1.5", "(u32)"});
  expect_trace_error("var_literal_range",
                     [](KernelBuilder& b) {
                       Var v(b.scalar_u32("n"), "v");
                       v -= -1;
                     },
                     {"literal -1 does not fit u32"});
}

}  // namespace
}  // namespace mt
