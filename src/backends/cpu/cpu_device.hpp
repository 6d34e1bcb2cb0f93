// The CPU backend's side of the device-resident API: device memory is host bytes, a stream runs
// each launch at once on the calling thread (the CPU has no asynchrony) but defers its errors to
// synchronize(), as a GPU reports them, and a graph is the list of launches and copies a capture
// recorded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

// A compiled kernel is the optimised kernel itself. Owned through shared_ptr (compile makes it
// with make_shared), so a captured graph can keep it alive.
class CpuExecutable final : public Executable, public std::enable_shared_from_this<CpuExecutable> {
 public:
  explicit CpuExecutable(Kernel k) : kernel_(std::move(k)) {}
  const Kernel& kernel() const override { return kernel_; }

 private:
  Kernel kernel_;
};

// Device memory of the CPU backend: a host allocation.
std::shared_ptr<DeviceMemory> allocate_memory(std::size_t bytes);
// Bounds-checked synchronous copies (mt::Error when [offset, offset + length) leaves the buffer).
void write_memory(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src);
void read_memory(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst);

std::shared_ptr<StreamHandle> create_stream();
// Runs the launch now, on this thread (or records it while the stream captures). An mt::Error
// from the interpreter (a failed bounds check, a failed local read, ...) is kept in the stream
// and thrown by synchronize(); later launches on the stream still run, as on a GPU.
void enqueue(const Executable& exe, std::span<const DeviceArgument> args, const LaunchDims& dims,
             const DeviceLimits& limits, StreamHandle& stream);
// Throws the first error kept since the last synchronize (and forgets it: the stream stays
// usable). An error while the stream captures: there is nothing to wait for.
void synchronize(StreamHandle& stream);
void begin_capture(StreamHandle& stream);
std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream);
// Runs the graph's steps in order on `stream`; while `stream` captures, they are recorded into
// that capture instead.
void replay(GraphHandle& graph, StreamHandle& stream, const DeviceLimits& limits);

// Copies `bytes` bytes from the start of src to the start of dst, now (or records the copy while
// the stream captures); mt::Error if either buffer is shorter.
void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes, StreamHandle& stream);
// The time now: every step enqueued before has finished, since each runs when enqueued. An
// mt::Error while the stream captures (a graph holds no timestamps).
std::shared_ptr<EventHandle> record_event(StreamHandle& stream);
double elapsed_ms(EventHandle& start, EventHandle& end);

}  // namespace mt::cpu
