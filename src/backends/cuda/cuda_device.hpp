// The CUDA backend's objects for the device-resident API: device memory, streams (with the error
// records of their launches and what those launches use, until synchronize), captured graphs
// and timing events. Each holds the primary context, so it stays valid as long as they live.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "backends/cuda/driver.hpp"
#include "backends/cuda/error_slots.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt::cuda {

class CudaMemory final : public DeviceMemory, public std::enable_shared_from_this<CudaMemory> {
 public:
  CudaMemory(std::shared_ptr<const PrimaryContext> ctx, std::size_t bytes)
      : ctx_(std::move(ctx)), allocation_(ctx_->get(), bytes) {}
  std::size_t size() const override { return allocation_.bytes(); }
  CuDevicePtr ptr() const { return allocation_.ptr(); }

 private:
  std::shared_ptr<const PrimaryContext> ctx_;
  DeviceAllocation allocation_;
};

// One step of a captured graph, as enqueued: kept so that the graph holds what it uses alive,
// and so that replaying it into another capture can enqueue the steps again.
struct LaunchStep {
  std::shared_ptr<const Executable> exe;
  std::vector<DeviceArgument> args;  // point into `memory`
  std::vector<std::shared_ptr<const CudaMemory>> memory;
  LaunchDims dims;
};
struct CopyStep {
  std::shared_ptr<const CudaMemory> dst;
  std::shared_ptr<const CudaMemory> src;
  std::size_t bytes = 0;
};
using GraphStep = std::variant<LaunchStep, CopyStep>;

// What a stream records while it captures.
struct Capture {
  std::vector<std::unique_ptr<ErrorSlots>> records;  // claimed in order; a new one when full
  std::vector<GraphStep> steps;
};

class CudaGraph final : public GraphHandle, public std::enable_shared_from_this<CudaGraph> {
 public:
  CudaGraph(std::shared_ptr<const PrimaryContext> ctx, std::unique_ptr<GraphExec> exec,
            Capture captured)
      : ctx_(std::move(ctx)), exec_(std::move(exec)), captured_(std::move(captured)) {}
  // Null when nothing was captured: replaying it does nothing.
  const GraphExec* exec() const { return exec_.get(); }
  const std::vector<GraphStep>& steps() const { return captured_.steps; }
  // The first failure in its records (in capture order), zeroing them; through `stream`.
  std::optional<Error> collect(CuStream stream);

 private:
  std::shared_ptr<const PrimaryContext> ctx_;
  std::unique_ptr<GraphExec> exec_;
  std::mutex mutex_;  // streams that replayed it may collect its records at once
  Capture captured_;
};

class CudaStream final : public StreamHandle {
 public:
  explicit CudaStream(std::shared_ptr<const PrimaryContext> ctx);
  // Ends a capture left open and waits for the queued work, ignoring failures (nothing can
  // report them now), so the memory the work uses is freed only after it.
  ~CudaStream() override;

  std::shared_ptr<const PrimaryContext> ctx;  // first: released last
  std::mutex mutex;                           // held by every operation on the stream
  Stream stream;
  ErrorSlots records;                 // of the checked launches since synchronize
  DeviceAllocation unchecked_record;  // passed to unchecked launches, never read
  // What the queued work uses, until synchronize: the executables launched (whose names a
  // failed synchronize reports) and the memory they and the copies use.
  std::vector<std::shared_ptr<const Executable>> launched;
  std::vector<std::shared_ptr<const CudaMemory>> in_use;
  // Graphs replayed since synchronize, each with the number of records claimed before it.
  std::vector<std::pair<std::uint32_t, std::shared_ptr<CudaGraph>>> replays;
  // A failure found when the records ran out and were collected early; thrown by synchronize.
  std::exception_ptr deferred;
  std::unique_ptr<Capture> capture;  // non-null while capturing

  // Waits for the stream and collects every record of its launches and replays: the earliest
  // failure, or nothing. Leaves no pending state. Called with `mutex` held.
  std::optional<Error> settle();
};

class CudaEvent final : public EventHandle {
 public:
  explicit CudaEvent(std::shared_ptr<const PrimaryContext> ctx)
      : ctx_(std::move(ctx)), event_(ctx_->get()) {}
  CuEvent get() const { return event_.get(); }

 private:
  std::shared_ptr<const PrimaryContext> ctx_;
  Event event_;
};

// Downcasts: the runtime hands a backend only its own objects; anything else is our bug.
const CudaMemory& cuda_memory(const DeviceMemory& m);
CudaStream& cuda_stream(StreamHandle& s);
CudaGraph& cuda_graph(GraphHandle& g);
const CudaEvent& cuda_event(const EventHandle& e);

}  // namespace mt::cuda
