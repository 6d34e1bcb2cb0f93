// The CPU backend's device-resident side (cpu_device.cpp) through mt::KernelBackend: host
// memory, streams that defer errors to synchronize, copies and events, and capture edge cases.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::error_of;
using test::IrBuilder;

// out[i] = in[i] + add, one thread per element.
Kernel add_kernel() {
  IrBuilder b("add", KernelMode::Elementwise);
  const ParamId in = b.input("in", DType::U32);
  const ParamId out = b.output("out", DType::U32);
  const ParamId add = b.scalar("add", DType::U32);
  const ValueId i = b.pid(0);
  b.store(out, i, b.bin(OpKind::Add, b.load(in, i), b.read_scalar(add)));
  return b.k;
}

LaunchDims threads(std::uint32_t n) {
  LaunchDims d;
  d.grid = {n, 1, 1};
  return d;
}

struct Fixture {
  std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  std::shared_ptr<const Executable> add = cpu->compile(add_kernel());
  std::shared_ptr<StreamHandle> stream = cpu->create_stream();

  std::shared_ptr<DeviceMemory> upload(const std::vector<std::uint32_t>& values) {
    std::shared_ptr<DeviceMemory> m = cpu->allocate(values.size() * 4);
    cpu->write(*m, 0, test::pack_u32(values));
    return m;
  }
  std::vector<std::uint32_t> download(const DeviceMemory& m) {
    test::Bytes bytes(m.size());
    cpu->read(m, 0, bytes);
    return test::unpack_u32(bytes);
  }
  // Enqueues out[i] = in[i] + add for i < n.
  void add_on(const DeviceMemory& in, const DeviceMemory& out, std::uint32_t add_value,
              std::uint32_t n) {
    const std::vector<DeviceArgument> args = {
        {&in, {}}, {&out, {}}, {nullptr, Scalar::of_int(add_value)}};
    cpu->enqueue(*add, args, threads(n), *stream);
  }
};

TEST(CpuDevice, NewMemoryIsPoisonedNotZero) {
  Fixture f;
  std::shared_ptr<DeviceMemory> m = f.cpu->allocate(12);
  EXPECT_EQ(m->size(), 12u);
  EXPECT_EQ(f.download(*m), std::vector<std::uint32_t>(3, 0xFFFFFFFFu));
  EXPECT_EQ(f.cpu->allocate(0)->size(), 0u);
}

TEST(CpuDevice, LaunchesRunAtEnqueueAndErrorsWaitForSynchronize) {
  Fixture f;
  auto in = f.upload({1, 2, 3, 4});
  auto out = f.upload({0, 0, 0, 0});
  auto short_in = f.upload({7, 8});
  f.add_on(*in, *out, 10, 4);
  // The CPU has no asynchrony: the result is there before synchronize.
  EXPECT_EQ(f.download(*out), (std::vector<std::uint32_t>{11, 12, 13, 14}));

  // Two failing launches and a good one: only the first failure is reported, and the launches
  // after it still ran, as on a GPU.
  f.add_on(*short_in, *out, 0, 4);  // reads index 2 of 2 elements
  f.add_on(*in, *short_in, 0, 4);   // writes index 2 of 2 elements
  f.add_on(*in, *out, 100, 4);
  EXPECT_EQ(f.download(*out), (std::vector<std::uint32_t>{101, 102, 103, 104}));
  EXPECT_EQ(error_of([&] {
              f.cpu->synchronize(*f.stream);
            }).rfind("kernel 'add': param 'in': load index 2 out of bounds (2 elements)", 0),
            0u);
  EXPECT_NO_THROW(f.cpu->synchronize(*f.stream));  // reported once
}

TEST(CpuDevice, CopiesAreOrderedAndBoundsChecked) {
  Fixture f;
  auto a = f.upload({5, 6, 7, 8});
  auto b = f.upload({0, 0, 0, 0});
  auto c = f.upload({0, 0, 0, 0});
  f.cpu->copy(*b, *a, 8, *f.stream);  // the first two elements
  f.add_on(*b, *c, 1, 4);
  EXPECT_EQ(f.download(*c), (std::vector<std::uint32_t>{6, 7, 1, 1}));
  auto small = f.cpu->allocate(4);
  EXPECT_EQ(error_of([&] { f.cpu->copy(*small, *a, 8, *f.stream); }),
            "device buffer copy destination of 8 bytes at offset 0 is out of range: the buffer "
            "holds 4 bytes");
  EXPECT_EQ(error_of([&] { f.cpu->copy(*a, *small, 8, *f.stream); }),
            "device buffer copy source of 8 bytes at offset 0 is out of range: the buffer "
            "holds 4 bytes");
  EXPECT_EQ(f.download(*a), (std::vector<std::uint32_t>{5, 6, 7, 8}));
}

TEST(CpuDevice, EventsMeasureTheTimeBetweenThem) {
  Fixture f;
  auto in = f.upload(std::vector<std::uint32_t>(4096, 1));
  auto out = f.cpu->allocate(4096 * 4);
  std::shared_ptr<EventHandle> start = f.cpu->record_event(*f.stream);
  f.add_on(*in, *out, 1, 4096);
  std::shared_ptr<EventHandle> stop = f.cpu->record_event(*f.stream);
  const double ms = f.cpu->elapsed_ms(*start, *stop);
  EXPECT_GT(ms, 0.0);
  EXPECT_EQ(f.cpu->elapsed_ms(*stop, *start), -ms);
}

TEST(CpuDevice, CaptureMisuseIsAnError) {
  Fixture f;
  EXPECT_EQ(error_of([&] { (void)f.cpu->end_capture(*f.stream); }),
            "end_capture on a stream that is not capturing a graph");
  f.cpu->begin_capture(*f.stream);
  EXPECT_EQ(error_of([&] { f.cpu->begin_capture(*f.stream); }),
            "the stream is already capturing a graph; captures do not nest");
  EXPECT_NE(error_of([&] { f.cpu->synchronize(*f.stream); }).find("while it captures"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)f.cpu->record_event(*f.stream); }).find("while the stream"),
            std::string::npos);
  EXPECT_NE(f.cpu->end_capture(*f.stream), nullptr);
  EXPECT_NO_THROW(f.cpu->synchronize(*f.stream));
}

TEST(CpuDevice, ReplayInsideACaptureJoinsTheNewGraph) {
  Fixture f;
  auto x = f.upload({1, 2, 3});
  auto y = f.upload({0, 0, 0});
  auto z = f.upload({0, 0, 0});
  f.cpu->begin_capture(*f.stream);
  f.add_on(*x, *y, 10, 3);
  std::shared_ptr<GraphHandle> inner = f.cpu->end_capture(*f.stream);

  f.cpu->begin_capture(*f.stream);
  f.cpu->replay(*inner, *f.stream);
  f.cpu->copy(*z, *y, 12, *f.stream);
  std::shared_ptr<GraphHandle> outer = f.cpu->end_capture(*f.stream);
  EXPECT_EQ(f.download(*z), (std::vector<std::uint32_t>{0, 0, 0})) << "capturing ran steps";

  f.cpu->replay(*outer, *f.stream);
  f.cpu->synchronize(*f.stream);
  EXPECT_EQ(f.download(*z), (std::vector<std::uint32_t>{11, 12, 13}));
}

TEST(CpuDevice, AGraphKeepsItsExecutableAndMemoryAlive) {
  Fixture f;
  auto out = f.upload({0, 0});
  {
    auto in = f.upload({40, 50});
    auto exe = f.cpu->compile(add_kernel());
    f.cpu->begin_capture(*f.stream);
    const std::vector<DeviceArgument> args = {
        {in.get(), {}}, {out.get(), {}}, {nullptr, Scalar::of_int(2)}};
    f.cpu->enqueue(*exe, args, threads(2), *f.stream);
  }
  std::shared_ptr<GraphHandle> graph = f.cpu->end_capture(*f.stream);
  f.cpu->replay(*graph, *f.stream);
  f.cpu->synchronize(*f.stream);
  EXPECT_EQ(f.download(*out), (std::vector<std::uint32_t>{42, 52}));
}

}  // namespace
}  // namespace mt
