// CudaBackend: mt::KernelBackend on one CUDA device, through the driver API and NVRTC loaded at
// run time. compile() emits, compiles for the device's own architecture through the cubin cache
// and loads the module; launch() runs the byte-map dispatch; the device-resident API (memory,
// streams, capture, events) is in cuda_device.cpp. Every method may be called from several
// threads at once: each makes the context current on its thread, shared state is under a mutex,
// and per-launch state is local.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/driver.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/backends/cuda.hpp"

namespace mt::cuda {

class CudaStream;

// Both halves of the backend interface: the required one (compile, the byte-map launch) and
// the device-resident API, in device memory.
class CudaBackend final : public KernelBackend, public DeviceApi {
 public:
  // Throws mt::Error with the reason if the device cannot be used (see make_cuda_backend).
  explicit CudaBackend(const CudaOptions& options);
  ~CudaBackend() override;

  Backend kind() const override { return Backend::Cuda; }
  // "cuda NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB, NVRTC 13.0)", plus ", unchecked".
  std::string description() const override;
  DeviceLimits limits() const override { return limits_; }
  std::shared_ptr<const Executable> compile(const Kernel& k) override;
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override;
  DeviceApi& device() override { return *this; }

  std::shared_ptr<DeviceMemory> allocate(std::size_t bytes) override;
  void write(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) override;
  void read(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) override;
  std::shared_ptr<StreamHandle> create_stream() override;
  void enqueue(const Executable& exe, std::span<const DeviceArgument> args, const LaunchDims& dims,
               StreamHandle& stream) override;
  void synchronize(StreamHandle& stream) override;
  void begin_capture(StreamHandle& stream) override;
  std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream) override;
  void replay(GraphHandle& graph, StreamHandle& stream) override;
  void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes,
            StreamHandle& stream) override;
  std::shared_ptr<EventHandle> record_event(StreamHandle& stream) override;
  double elapsed_ms(EventHandle& start, EventHandle& end) override;

  const CudaDeviceInfo& info() const { return info_; }
  const std::string& arch() const { return info_.arch; }
  bool checked() const { return options_.checked; }

 private:
  // A stream of the backend's own, with a device arena that byte-map launches reuse. A call
  // holds one through a Lease, so concurrent calls never share a stream.
  struct Pooled {
    explicit Pooled(CuContext ctx) : stream(ctx) {}
    Stream stream;
    std::unique_ptr<DeviceAllocation> arena;
  };
  class Lease;

  // Launches on `s` with its mutex held: claims an error record (a capture's or the stream's,
  // settling the stream first if its records are all claimed) and records what the launch uses.
  void enqueue_locked(CudaStream& s, std::shared_ptr<const Executable> exe,
                      std::span<const DeviceArgument> args, const LaunchDims& dims);
  void copy_locked(CudaStream& s, const DeviceMemory& dst, const DeviceMemory& src,
                   std::size_t bytes);

  CudaOptions options_;
  CudaDeviceInfo info_;
  std::string nvrtc_version_;
  DeviceLimits limits_;
  std::shared_ptr<const PrimaryContext> ctx_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Pooled>> pool_;  // streams not held by a Lease
};

// The backend's lease of a pooled stream (cuda_backend.cpp).
class CudaBackend::Lease {
 public:
  explicit Lease(CudaBackend& backend);
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  // Waits for the stream (so nothing queued still uses the arena), then returns it to the pool.
  ~Lease();
  CuStream stream() const { return pooled_->stream.get(); }
  // The arena, grown to at least `bytes`; its contents are not kept across growth.
  CuDevicePtr arena(std::size_t bytes);

 private:
  CudaBackend& backend_;
  std::unique_ptr<Pooled> pooled_;
};

}  // namespace mt::cuda
