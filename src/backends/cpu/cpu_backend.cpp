// The CPU backend: compile keeps a copy of the kernel, launch interprets it. The backend holds
// no mutable state (streams hold their own), so calls from several threads at once are safe.
#include <memory>
#include <string>
#include <utility>

#include "backends/cpu/cpu_device.hpp"
#include "backends/cpu/interpreter.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt {
namespace {

class CpuBackend final : public KernelBackend {
 public:
  Backend kind() const override { return Backend::Cpu; }
  std::string description() const override { return "cpu interpreter"; }
  DeviceLimits limits() const override { return DeviceLimits{}; }

  std::shared_ptr<const Executable> compile(const Kernel& k) override {
    return std::make_shared<const cpu::CpuExecutable>(k);
  }

  // The contract is the runtime's to check (mt::evaluate_contract), once per dispatch.
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override {
    cpu::interpret(exe.kernel(), args, dims, limits());
  }

  // Device-resident API: host memory, and streams that run each launch as it is enqueued, on
  // the calling thread (the CPU has no asynchrony); see cpu_device.hpp.
  std::shared_ptr<DeviceMemory> allocate(std::size_t bytes) override {
    return cpu::allocate_memory(bytes);
  }
  void write(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) override {
    cpu::write_memory(dst, offset, src);
  }
  void read(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) override {
    cpu::read_memory(src, offset, dst);
  }
  std::shared_ptr<StreamHandle> create_stream() override { return cpu::create_stream(); }
  void enqueue(const Executable& exe, std::span<const DeviceArgument> args, const LaunchDims& dims,
               StreamHandle& stream) override {
    cpu::enqueue(exe, args, dims, limits(), stream);
  }
  void synchronize(StreamHandle& stream) override { cpu::synchronize(stream); }
  void begin_capture(StreamHandle& stream) override { cpu::begin_capture(stream); }
  std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream) override {
    return cpu::end_capture(stream);
  }
  void replay(GraphHandle& graph, StreamHandle& stream) override {
    cpu::replay(graph, stream, limits());
  }
  void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes,
            StreamHandle& stream) override {
    cpu::copy(dst, src, bytes, stream);
  }
  std::shared_ptr<EventHandle> record_event(StreamHandle& stream) override {
    return cpu::record_event(stream);
  }
  double elapsed_ms(EventHandle& start, EventHandle& end) override {
    return cpu::elapsed_ms(start, end);
  }
};

}  // namespace

std::unique_ptr<KernelBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace mt
