// The host device (host_device.cpp), the default device API, through the CPU backend's
// KernelBackend::device(): host memory, streams that defer errors to synchronize, copies and
// events, and capture edge cases.
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::add_u32_kernel;
using test::error_of;

LaunchDims threads(std::uint32_t n) {
  LaunchDims d;
  d.grid = {n, 1, 1};
  return d;
}

struct Fixture {
  std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  std::shared_ptr<const Executable> add = cpu->compile(add_u32_kernel());
  DeviceApi& device = cpu->device();
  std::shared_ptr<StreamHandle> stream = device.create_stream();

  std::shared_ptr<DeviceMemory> upload(const std::vector<std::uint32_t>& values) {
    std::shared_ptr<DeviceMemory> m = device.allocate(values.size() * 4);
    device.write(*m, 0, test::pack_u32(values));
    return m;
  }
  std::vector<std::uint32_t> download(const DeviceMemory& m) {
    test::Bytes bytes(m.size());
    device.read(m, 0, bytes);
    return test::unpack_u32(bytes);
  }
  // Enqueues out[i] = in[i] + add for i < n.
  void add_on(const DeviceMemory& in, const DeviceMemory& out, std::uint32_t add_value,
              std::uint32_t n) {
    const std::vector<DeviceArgument> args = {
        {&in, {}}, {&out, {}}, {nullptr, Scalar::of_int(add_value)}};
    device.enqueue(*add, args, threads(n), *stream);
  }
};

TEST(HostDevice, NewMemoryIsPoisonedNotZero) {
  Fixture f;
  std::shared_ptr<DeviceMemory> m = f.device.allocate(12);
  EXPECT_EQ(m->size(), 12u);
  EXPECT_EQ(f.download(*m), std::vector<std::uint32_t>(3, 0xFFFFFFFFu));
  EXPECT_EQ(f.device.allocate(0)->size(), 0u);
}

TEST(HostDevice, LaunchesRunAtEnqueueAndErrorsWaitForSynchronize) {
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
              f.device.synchronize(*f.stream);
            }).rfind("kernel 'add': param 'in': load index 2 out of bounds (2 elements)", 0),
            0u);
  EXPECT_NO_THROW(f.device.synchronize(*f.stream));  // reported once
}

TEST(HostDevice, CopiesAreOrderedAndBoundsChecked) {
  Fixture f;
  auto a = f.upload({5, 6, 7, 8});
  auto b = f.upload({0, 0, 0, 0});
  auto c = f.upload({0, 0, 0, 0});
  f.device.copy(*b, *a, 8, *f.stream);  // the first two elements
  f.add_on(*b, *c, 1, 4);
  EXPECT_EQ(f.download(*c), (std::vector<std::uint32_t>{6, 7, 1, 1}));
  auto small = f.device.allocate(4);
  EXPECT_EQ(error_of([&] { f.device.copy(*small, *a, 8, *f.stream); }),
            "device buffer copy destination of 8 bytes at offset 0 is out of range: the buffer "
            "holds 4 bytes");
  EXPECT_EQ(error_of([&] { f.device.copy(*a, *small, 8, *f.stream); }),
            "device buffer copy source of 8 bytes at offset 0 is out of range: the buffer "
            "holds 4 bytes");
  EXPECT_EQ(f.download(*a), (std::vector<std::uint32_t>{5, 6, 7, 8}));
}

TEST(HostDevice, EventsMeasureTheTimeBetweenThem) {
  Fixture f;
  auto in = f.upload(std::vector<std::uint32_t>(4096, 1));
  auto out = f.device.allocate(4096 * 4);
  std::shared_ptr<EventHandle> start = f.device.record_event(*f.stream);
  f.add_on(*in, *out, 1, 4096);
  std::shared_ptr<EventHandle> stop = f.device.record_event(*f.stream);
  const double ms = f.device.elapsed_ms(*start, *stop);
  EXPECT_GT(ms, 0.0);
  EXPECT_EQ(f.device.elapsed_ms(*stop, *start), -ms);
}

TEST(HostDevice, CaptureMisuseIsAnError) {
  Fixture f;
  EXPECT_EQ(error_of([&] { (void)f.device.end_capture(*f.stream); }),
            "end_capture on a stream that is not capturing a graph");
  f.device.begin_capture(*f.stream);
  EXPECT_EQ(error_of([&] { f.device.begin_capture(*f.stream); }),
            "the stream is already capturing a graph; captures do not nest");
  EXPECT_NE(error_of([&] { f.device.synchronize(*f.stream); }).find("while it captures"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)f.device.record_event(*f.stream); }).find("while the stream"),
            std::string::npos);
  EXPECT_NE(f.device.end_capture(*f.stream), nullptr);
  EXPECT_NO_THROW(f.device.synchronize(*f.stream));
}

TEST(HostDevice, ReplayInsideACaptureJoinsTheNewGraph) {
  Fixture f;
  auto x = f.upload({1, 2, 3});
  auto y = f.upload({0, 0, 0});
  auto z = f.upload({0, 0, 0});
  f.device.begin_capture(*f.stream);
  f.add_on(*x, *y, 10, 3);
  std::shared_ptr<GraphHandle> inner = f.device.end_capture(*f.stream);

  f.device.begin_capture(*f.stream);
  f.device.replay(*inner, *f.stream);
  f.device.copy(*z, *y, 12, *f.stream);
  std::shared_ptr<GraphHandle> outer = f.device.end_capture(*f.stream);
  EXPECT_EQ(f.download(*z), (std::vector<std::uint32_t>{0, 0, 0})) << "capturing ran steps";

  f.device.replay(*outer, *f.stream);
  f.device.synchronize(*f.stream);
  EXPECT_EQ(f.download(*z), (std::vector<std::uint32_t>{11, 12, 13}));
}

TEST(HostDevice, AGraphKeepsItsExecutableAndMemoryAlive) {
  Fixture f;
  auto out = f.upload({0, 0});
  {
    auto in = f.upload({40, 50});
    auto exe = f.cpu->compile(add_u32_kernel());
    f.device.begin_capture(*f.stream);
    const std::vector<DeviceArgument> args = {
        {in.get(), {}}, {out.get(), {}}, {nullptr, Scalar::of_int(2)}};
    f.device.enqueue(*exe, args, threads(2), *f.stream);
  }
  std::shared_ptr<GraphHandle> graph = f.device.end_capture(*f.stream);
  f.device.replay(*graph, *f.stream);
  f.device.synchronize(*f.stream);
  EXPECT_EQ(f.download(*out), (std::vector<std::uint32_t>{42, 52}));
}

// A backend of only the required functions (here around the interpreter's compile and launch)
// serves the whole device-resident API: memory, streams, graphs, through its launch().
class MinimalBackend final : public KernelBackend {
 public:
  Backend kind() const override { return Backend::Cpu; }
  std::string description() const override { return "minimal"; }
  DeviceLimits limits() const override { return inner_->limits(); }
  std::shared_ptr<const Executable> compile(const Kernel& k) override { return inner_->compile(k); }
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override {
    ++launches;
    inner_->launch(exe, args, dims);
  }
  int launches = 0;

 private:
  std::unique_ptr<KernelBackend> inner_ = make_cpu_backend();
};

TEST(HostDevice, ABackendOfTheRequiredFunctionsServesTheDeviceApi) {
  auto backend = std::make_shared<MinimalBackend>();
  const Context ctx(backend);
  const PreparedKernel add = ctx.prepare(add_u32_kernel());
  const DeviceBuffer in = ctx.upload(test::pack_u32(std::vector<std::uint32_t>{1, 2, 3}));
  const DeviceBuffer out = ctx.allocate(12);
  const Stream stream = ctx.create_stream();
  const DeviceBindings bindings{{"in", in}, {"out", out}, {"add", 5u}};
  ctx.launch(add, bindings, {3, 1, 1}, {1, 1, 1}, stream);
  stream.synchronize();
  EXPECT_EQ(test::unpack_u32(out.download()), (std::vector<std::uint32_t>{6, 7, 8}));
  const Graph twice = ctx.capture(stream, [&] {
    ctx.launch(add, {{"in", out}, {"out", out}, {"add", 10u}}, {3, 1, 1}, {1, 1, 1}, stream);
    ctx.launch(add, {{"in", out}, {"out", out}, {"add", 100u}}, {3, 1, 1}, {1, 1, 1}, stream);
  });
  EXPECT_EQ(backend->launches, 1) << "capturing ran launches";
  twice.replay(stream);
  stream.synchronize();
  EXPECT_EQ(test::unpack_u32(out.download()), (std::vector<std::uint32_t>{116, 117, 118}));
  EXPECT_EQ(backend->launches, 3);
}

}  // namespace
}  // namespace mt
