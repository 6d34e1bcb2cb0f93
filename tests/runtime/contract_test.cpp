// Contracts at dispatch: require_len's message (kernel, buffer, expected and actual lengths in
// elements and bytes, the values behind the formula), checked contract arithmetic (a wrap or a
// division by zero is an error naming the parameters, not a wrapped value), the launch shape
// in a contract, and tensors too long for a u32 length rejected when they are bound.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"
#include "support/forwarding_backend.hpp"

namespace mt {
namespace {

using test::error_of;
using test::le_bytes;

constexpr std::array<std::size_t, 3> kOne{1, 1, 1};

// out[i] = src[i] for i < rows*cols, with len(src) == rows*cols and len(out) a multiple of cols.
Kernel copy_rows() {
  return trace("copy_rows", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val rows = b.scalar_u32("rows"), cols = b.scalar_u32("cols");
    b.require(cols > 0u, "cols > 0");
    b.require_len(src, rows * cols, "rows*cols");
    b.require_len_multiple(out, cols, "cols");
    Val i = program_id(0);
    if_(i < src.len(), [&] { out[i] = src[i]; });
  });
}

BufferMap copy_buffers(std::uint32_t rows, std::uint32_t cols, std::size_t src, std::size_t out) {
  BufferMap b;
  b["src"] = test::pack(std::vector<float>(src, 1.5f), DType::F32);
  b["out"] = test::poisoned(out, DType::F32);
  b["rows"] = le_bytes(rows);
  b["cols"] = le_bytes(cols);
  return b;
}

TEST(Contract, RequireLenNamesBufferExpectedAndActualLengths) {
  test::for_each_backend([](Context& ctx) {
    const Kernel k = copy_rows();
    EXPECT_EQ(error_of([&] {
                ctx.dispatch_with_grid(k, copy_buffers(2, 3, 5, 6), {}, kOne, {8, 1, 1});
              }),
              "kernel 'copy_rows': param 'src': expected 6 elements (24 bytes) = rows*cols with "
              "rows=2, cols=3, got 5 elements (20 bytes)");
    // One element: singular nouns.
    EXPECT_EQ(error_of([&] {
                ctx.dispatch_with_grid(k, copy_buffers(1, 1, 2, 1), {}, kOne, {8, 1, 1});
              }),
              "kernel 'copy_rows': param 'src': expected 1 element (4 bytes) = rows*cols with "
              "rows=1, cols=1, got 2 elements (8 bytes)");
    EXPECT_EQ(
        error_of([&] {
          ctx.dispatch_with_grid(k, copy_buffers(2, 3, 6, 7), {}, kOne, {8, 1, 1});
        }),
        "kernel 'copy_rows': param 'out': expected a multiple of 3 elements (12 bytes) = cols "
        "with cols=3, got 7 elements (28 bytes)");
    // The context stays usable, and a consistent launch copies.
    const DispatchResult r =
        ctx.dispatch_with_grid(k, copy_buffers(2, 3, 6, 6), {}, kOne, {8, 1, 1});
    EXPECT_EQ(test::unpack(r.outputs.at("out"), DType::F32), std::vector<float>(6, 1.5f));
  });
}

// rows*cols wraps u32 at 2^16 x 2^16: an error naming the parameters, never a wrapped length
// that a small buffer could match (0 here, with empty buffers).
TEST(Contract, ArithmeticThatWrapsIsAnError) {
  test::for_each_backend([](Context& ctx) {
    const Kernel k = copy_rows();
    EXPECT_EQ(error_of([&] {
                ctx.dispatch_with_grid(k, copy_buffers(65536, 65536, 0, 0), {}, kOne, {8, 1, 1});
              }),
              "kernel 'copy_rows': param 'rows': contract arithmetic: mul 65536, 65536: the result "
              "does not fit u32, in the check of the length of 'src' (rows*cols) (rows=65536, "
              "cols=65536)");
  });
}

TEST(Contract, SignedArithmeticThatWrapsAndDivisionByZeroAreErrors) {
  const Kernel k = trace("signed", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    Val a = b.scalar_i32("a"), d = b.scalar_i32("d");
    b.require(a + 1 > 0, "a + 1 > 0");
    b.require(a % d == 0, "a % d == 0");
    out[program_id(0)] = a;
  });
  test::for_each_backend([&](Context& ctx) {
    BufferMap b;
    b["out"] = test::poisoned(1, DType::I32);
    b["a"] = le_bytes(std::numeric_limits<std::int32_t>::max());
    b["d"] = le_bytes(std::int32_t{3});
    EXPECT_EQ(error_of([&] { ctx.dispatch_with_grid(k, b, {}, kOne, kOne); }),
              "kernel 'signed': param 'a': contract arithmetic: add 2147483647, 1: the result does "
              "not fit i32, in the check of 'a + 1 > 0' (a=2147483647)");
    b["a"] = le_bytes(std::int32_t{6});
    b["d"] = le_bytes(std::int32_t{0});
    EXPECT_EQ(error_of([&] { ctx.dispatch_with_grid(k, b, {}, kOne, kOne); }),
              "kernel 'signed': param 'd': contract arithmetic: rem 6, 0: division by zero, in the "
              "check of 'a % d == 0' (a=6, d=0)");
    b["d"] = le_bytes(std::int32_t{3});
    EXPECT_NO_THROW(ctx.dispatch_with_grid(k, b, {}, kOne, kOne));
  });
}

TEST(Contract, RequireLenMisuseIsATraceError) {
  test::expect_mentions(error_of([] {
                          trace("bad", KernelMode::Grid3D, [](KernelBuilder& b) {
                            Tensor t = b.input("t", DType::F32);
                            b.require_len(t, b.scalar_i32("n"), "n");
                          });
                        }),
                        {"kernel 'bad'", "require_len: the element count", "(i32) is not u32"});
  test::expect_mentions(error_of([] {
                          trace("bad", KernelMode::Grid3D, [](KernelBuilder& b) {
                            Tensor t = b.input("t", DType::F32);
                            b.require_len(t, t.len(), "");
                          });
                        }),
                        {"kernel 'bad'", "require_len: state the formula"});
  test::expect_mentions(error_of([] {
                          trace("bad", KernelMode::Grid3D, [](KernelBuilder& b) {
                            Tensor t = b.input("t", DType::F32);
                            Val n = b.scalar_u32("n");
                            for (Val i : range(n)) b.require_len_multiple(t, i, "i");
                          });
                        }),
                        {"kernel 'bad'", "require_len_multiple: call it at the top level"});
}

// A backend whose buffers claim 2^32 f32 elements without holding them: binding one to a tensor
// is an error (a kernel's len() is u32), reported before any launch.
class HugeBuffers : public test::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  DeviceApi& device() override { return device_; }

 private:
  class Claims : public test::ForwardingDevice {
   public:
    using ForwardingDevice::ForwardingDevice;
    std::shared_ptr<DeviceMemory> allocate(std::size_t) override {
      struct Claim : DeviceMemory {
        std::size_t size() const override { return (std::size_t{1} << 32) * 4; }
      };
      return std::make_shared<Claim>();
    }
  };
  Claims device_{inner().device()};
};

TEST(Contract, TensorLongerThanAU32LengthIsRejectedWhenBound) {
  Context ctx(std::make_shared<HugeBuffers>(make_cpu_backend()));
  const PreparedKernel k = ctx.prepare(copy_rows());
  const DeviceBuffer huge = ctx.allocate(16);
  EXPECT_EQ(error_of([&] {
              ctx.launch(k, {{"src", huge}, {"out", huge}, {"rows", 1u}, {"cols", 1u}}, kOne, kOne,
                         ctx.create_stream());
            }),
            "kernel 'copy_rows': param 'src': buffer of 4294967296 elements (17179869184 bytes) is "
            "more than a kernel's u32 length can count (4294967295)");
}

}  // namespace
}  // namespace mt
