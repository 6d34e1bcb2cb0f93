// A Val, Var, Tensor or ArrayRef belongs to the trace that made it. Used in another kernel's
// trace (where its id might name an unrelated value: z + twice traced as add %2, %2), after its
// trace finished, or outside any trace, it is an mt::Error saying so, never a wrong value, an
// InternalError or a dangling builder.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::error_of;
using test::expect_mentions;

const std::vector<std::string> kForeign = {"kernel 'inner'", "of another kernel's trace",
                                           "values cannot cross kernels"};

// make(outer) runs in a trace of kernel 'outer'; use(what it made) in a trace of 'inner' nested
// in it, after inner has declared a scalar of its own (so ids overlap).
template <class Make, class Use>
std::string cross(Make make, Use use) {
  return error_of([&] {
    trace("outer", KernelMode::Grid3D, [&](KernelBuilder& outer) {
      auto made = make(outer);
      trace("inner", KernelMode::Grid3D, [&](KernelBuilder& inner) {
        static_cast<void>(inner.scalar_u32("z"));
        use(made);
      });
    });
  });
}

TEST(TraceOwnership, AValOfAnotherKernelIsAnError) {
  expect_mentions(cross([](KernelBuilder& outer) { return outer.scalar_u32("n") * 2u; },
                        [](const Val& twice) { static_cast<void>(program_id(0) + twice); }),
                  kForeign);
  // The foreign value on the left names the running kernel too.
  expect_mentions(cross([](KernelBuilder& outer) { return outer.scalar_u32("n"); },
                        [](const Val& n) { static_cast<void>(n.to(DType::F32)); }),
                  kForeign);
}

TEST(TraceOwnership, TensorArrayAndVarOfAnotherKernelAreErrors) {
  expect_mentions(cross([](KernelBuilder& outer) { return outer.input("t", DType::F32); },
                        [](const Tensor& t) { static_cast<void>(t.len()); }),
                  kForeign);
  expect_mentions(cross([](KernelBuilder& outer) { return outer.output("t", DType::F32); },
                        [](const Tensor& t) { t[program_id(0)] = f32(1.0f); }),
                  kForeign);
  expect_mentions(cross([](KernelBuilder& outer) { return outer.thread_array("a", DType::F32, 4); },
                        [](const ArrayRef& a) { static_cast<void>(Val(a[0])); }),
                  kForeign);
  expect_mentions(
      cross([](KernelBuilder& outer) { return outer.threadgroup_array("s", DType::F32, 4); },
            [](const ArrayRef& a) { a[program_id(0)] = f32(0.0f); }),
      kForeign);
  expect_mentions(cross([](KernelBuilder& outer) { return Var(outer.scalar_u32("n")); },
                        [](Var& acc) { acc += 1; }),
                  kForeign);
}

// Kept past the trace: used in a later trace, or with no trace running at all.
TEST(TraceOwnership, AValThatOutlivedItsTraceIsAnError) {
  std::optional<Val> kept;
  std::optional<Tensor> kept_tensor;
  trace("first", KernelMode::Grid3D, [&](KernelBuilder& b) {
    kept = b.scalar_u32("n") * 2u;
    kept_tensor = b.input("t", DType::F32);
  });
  expect_mentions(error_of([&] {
                    trace("second", KernelMode::Grid3D,
                          [&](KernelBuilder& b) { static_cast<void>(b.scalar_u32("z") + *kept); });
                  }),
                  {"kernel 'second'", "of another kernel's trace"});
  expect_mentions(error_of([&] { static_cast<void>(kept->to(DType::F32)); }),
                  {"outside any trace", "outlived the kernel function that made it"});
  expect_mentions(error_of([&] { static_cast<void>(kept_tensor->len()); }), {"outside any trace"});
}

TEST(TraceOwnership, AValUsedAfterFinishIsAnError) {
  KernelBuilder b("done", KernelMode::Grid3D);
  Val n = b.scalar_u32("n");
  const Kernel k = b.finish();
  EXPECT_EQ(k.name, "done");
  expect_mentions(error_of([&] { static_cast<void>(n + 1u); }),
                  {"kernel 'done'", "used after finish()"});
}

// Values of the running trace are unaffected, also with traces nested around it.
TEST(TraceOwnership, TheRunningTracesValuesWork) {
  trace("outer", KernelMode::Grid3D, [](KernelBuilder& outer) {
    Val n = outer.scalar_u32("n");
    const Kernel inner = trace("inner", KernelMode::Grid3D, [](KernelBuilder& b) {
      Tensor out = b.output("out", DType::U32);
      out[program_id(0)] = b.scalar_u32("m") + 1u;
    });
    EXPECT_EQ(inner.name, "inner");
    static_cast<void>(n + 1u);  // the outer trace is running again
  });
}

}  // namespace
}  // namespace mt
