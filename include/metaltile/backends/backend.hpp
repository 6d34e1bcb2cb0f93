// The one small interface every backend implements: compile an optimised kernel to an
// Executable and launch it over a grid with one argument per parameter; and the optional
// device-resident API (DeviceApi), which a backend without one gets in host memory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/launch_dims.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt {

enum class Backend : std::uint8_t { Cpu, Cuda };
std::string_view backend_name(Backend b);

// What a launch may ask for; the runtime checks dims and arrays against these before
// compiling or launching anything.
struct DeviceLimits {
  std::uint32_t max_threads_per_threadgroup = 1024;
  std::array<std::uint32_t, 3> max_tpg{1024, 1024, 64};
  std::array<std::uint32_t, 3> max_grid{2147483647u, 65535u, 65535u};
  // Threadgroups that run at once are spread over this many units (CUDA: SMs; the CPU
  // interpreter reports 1). Geometry rules size split work with it.
  std::uint32_t multiprocessors = 1;
  // Bytes of threadgroup memory one group's arrays may use together: the device's shared-memory
  // limit per block with the opt-in to more than 48 KiB (the CUDA backend asks the driver; the
  // interpreter allows an H100's 227 KiB). Past 48 KiB the CUDA backend places the arrays in
  // dynamic shared memory and raises the kernel's limit before launching it.
  std::uint32_t max_threadgroup_memory = 227 * 1024;
  // Bytes one thread's per-thread arrays may use together. MetalTile's own limit, the same on
  // every backend: CUDA would give a thread up to 512 KiB of local memory, but arrays past a
  // few KiB spill out of registers and crawl, and the interpreter holds a whole group's arrays.
  std::uint32_t max_thread_array_bytes = 16 * 1024;
  // Whether geometry rules may pick kernels using the warpgroup MMA: the device has it (CUDA:
  // sm_90, where those kernels compile for sm_90a) and it is not turned off (MT_WGMMA=0). The
  // interpreter runs them anywhere but reports false, so the rules' choice there is the
  // portable one.
  bool warpgroup_mma = false;
  // Whether a split kernel may merge its splits in the last of its groups to finish (counters
  // in device memory that each group's arrival advances and the last one resets): the device
  // runs every group of a launch to its end even past a failed checked access, so the counters
  // always come back to zero (CUDA, unless MT_SPLIT_MERGE=0). The interpreter stops a launch at
  // its first failure, which would leave them counted, and reports false; by name every kernel
  // runs either way.
  bool merge_splits_in_kernel = false;
};

// Checks k's arrays against `limits` before anything is allocated: all threadgroup arrays
// together within max_threadgroup_memory, all per-thread arrays within max_thread_array_bytes.
// elements(a) is array a's element count (its size, or the value its size scalar is specialised
// to). A breach is an mt::Error naming the kernel and its largest array of that kind.
void check_array_limits(const Kernel& k, const std::function<std::uint64_t(const Array&)>& elements,
                        const DeviceLimits& limits);

// One argument per kernel parameter, in parameter order. Tensors are host bytes (an input's
// bytes are only read); scalars are values of the parameter's dtype.
struct Argument {
  std::span<std::uint8_t> bytes;
  Scalar scalar;
};

// A compiled kernel. compile() hands it out through a shared_ptr, so whatever must keep it
// alive (a captured graph) can share it with shared_from_this().
class Executable : public std::enable_shared_from_this<Executable> {
 public:
  virtual ~Executable() = default;
  // The kernel this was compiled from (after specialisation and passes).
  virtual const Kernel& kernel() const = 0;
};

// Backend-owned memory, streams and captured graphs for the device-resident API. Each
// backend defines its own subclasses; the runtime only passes them back to that backend.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual std::size_t size() const = 0;  // bytes
};
class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
};
class GraphHandle {
 public:
  virtual ~GraphHandle() = default;
};
class EventHandle {
 public:
  virtual ~EventHandle() = default;
};

// One argument of a device-resident launch, in parameter order: a tensor's memory (its
// element count is size() / size_of(dtype)) or a scalar value.
struct DeviceArgument {
  const DeviceMemory* memory = nullptr;
  Scalar scalar;
};

// The device-resident API (runtime/device.hpp builds on it): device memory, streams, captured
// graphs and timing events. A backend need not implement it: KernelBackend::device() emulates
// it in host memory by default.
class DeviceApi {
 public:
  virtual ~DeviceApi() = default;
  virtual std::shared_ptr<DeviceMemory> allocate(std::size_t bytes) = 0;
  // Synchronous copies between host bytes and device memory at a byte offset.
  virtual void write(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) = 0;
  virtual void read(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) = 0;
  virtual std::shared_ptr<StreamHandle> create_stream() = 0;
  // Enqueues a launch on the stream and returns at once (or runs it at once). A failed checked
  // access in any launch enqueued since the last synchronize is reported by synchronize() as
  // an mt::Error naming kernel, param and index.
  virtual void enqueue(const Executable& exe, std::span<const DeviceArgument> args,
                       const LaunchDims& dims, StreamHandle& stream) = 0;
  virtual void synchronize(StreamHandle& stream) = 0;
  // Between begin_capture and end_capture, enqueue records launches instead of running
  // them; replay runs the recorded sequence on a stream (asynchronously).
  virtual void begin_capture(StreamHandle& stream) = 0;
  virtual std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream) = 0;
  virtual void replay(GraphHandle& graph, StreamHandle& stream) = 0;

  // --- measurement (benchmarks) ----------------------------------------------------------
  // Device-to-device copy of `bytes` bytes queued on the stream.
  virtual void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes,
                    StreamHandle& stream) = 0;
  // A timestamp taken when the stream reaches this point; elapsed_ms between two of them
  // (waits for the later one).
  virtual std::shared_ptr<EventHandle> record_event(StreamHandle& stream) = 0;
  virtual double elapsed_ms(EventHandle& start, EventHandle& end) = 0;
};

// A backend: what it is, its limits, compile and the byte-map launch are required; the
// device-resident API is optional (device()).
class KernelBackend {
 public:
  KernelBackend();
  virtual ~KernelBackend();
  KernelBackend(const KernelBackend&) = delete;
  KernelBackend& operator=(const KernelBackend&) = delete;

  virtual Backend kind() const = 0;
  // A human-readable description: "cpu interpreter", "cuda NVIDIA H100 (sm_90)".
  virtual std::string description() const = 0;
  virtual DeviceLimits limits() const = 0;
  // `k` has been specialised and optimised; its contract has not been evaluated.
  virtual std::shared_ptr<const Executable> compile(const Kernel& k) = 0;
  // Runs the kernel over host bytes (an input's are only read, outputs are written back);
  // throws mt::Error (naming kernel, op, thread or param) on a failed access. Must be safe to
  // call from several threads at once.
  virtual void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) = 0;

  // The device-resident API. The default emulates it in host memory over launch(): memory is
  // host bytes (new memory holds 0xFF), a stream runs each launch when it is enqueued, on the
  // calling thread, and keeps its first error for synchronize(), a graph is the list of
  // launches and copies a capture recorded. That is all the CPU interpreter needs, and it lets
  // a new backend serve the whole runtime with the five functions above; a backend with device
  // memory of its own returns its own DeviceApi.
  virtual DeviceApi& device();

 private:
  std::once_flag host_device_once_;
  std::unique_ptr<DeviceApi> host_device_;  // the default device(), made on first use
};

// The reference interpreter; always available.
std::unique_ptr<KernelBackend> make_cpu_backend();

}  // namespace mt
