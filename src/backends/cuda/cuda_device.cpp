// The device-resident API of CudaBackend: memory and synchronous copies, streams whose checked
// launches each claim an error record that synchronize reads, capture into CUDA graphs
// (relaxed mode, so other threads' allocations and launches stay legal meanwhile), replay,
// device-to-device copies and timing events.
#include "backends/cuda/cuda_device.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/cuda_launch.hpp"
#include "backends/device_range.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {
namespace {

// Error records per stream; when the launches since synchronize have claimed them all, the
// stream is settled early (a wait) and any failure kept for synchronize.
constexpr std::uint32_t kStreamRecords = 4096;
// Error records per block a capture allocates (a graph keeps its records).
constexpr std::uint32_t kCaptureRecords = 256;

}  // namespace

// --- downcasts ---------------------------------------------------------------------------------

const CudaMemory& cuda_memory(const DeviceMemory& m) {
  const auto* cuda = dynamic_cast<const CudaMemory*>(&m);
  MT_ASSERT(cuda != nullptr) << "device memory of another backend reached the CUDA backend";
  return *cuda;
}

CudaStream& cuda_stream(StreamHandle& s) {
  auto* cuda = dynamic_cast<CudaStream*>(&s);
  MT_ASSERT(cuda != nullptr) << "a stream of another backend reached the CUDA backend";
  return *cuda;
}

CudaGraph& cuda_graph(GraphHandle& g) {
  auto* cuda = dynamic_cast<CudaGraph*>(&g);
  MT_ASSERT(cuda != nullptr) << "a graph of another backend reached the CUDA backend";
  return *cuda;
}

const CudaEvent& cuda_event(const EventHandle& e) {
  const auto* cuda = dynamic_cast<const CudaEvent*>(&e);
  MT_ASSERT(cuda != nullptr) << "an event of another backend reached the CUDA backend";
  return *cuda;
}

// --- graphs and streams ------------------------------------------------------------------------

std::optional<Error> CudaGraph::collect(CuStream stream) {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::optional<Error> first;
  for (const std::unique_ptr<ErrorSlots>& records : captured_.records) {
    std::optional<ErrorSlots::Failure> failure = records->collect(stream, /*release=*/false);
    if (failure && !first) first = std::move(failure->error);
  }
  return first;
}

CudaStream::CudaStream(std::shared_ptr<const PrimaryContext> c)
    : ctx(std::move(c)),
      stream(ctx->get()),
      records(ctx, kStreamRecords, stream.get()),
      unchecked_record(ctx->get(), kErrorRecordWords * sizeof(std::uint32_t)) {}

CudaStream::~CudaStream() {
  const DriverApi& api = Driver::get().api();
  CuContext current = nullptr;
  if (api.ctx_get_current(&current) == kCudaSuccess && current != ctx->get()) {
    api.ctx_set_current(ctx->get());
  }
  if (capture != nullptr) {
    CuGraph graph = nullptr;
    if (api.stream_end_capture(stream.get(), &graph) == kCudaSuccess && graph != nullptr) {
      api.graph_destroy(graph);
    }
  }
  api.stream_synchronize(stream.get());
}

std::optional<Error> CudaStream::settle() {
  const Driver& d = Driver::get();
  // Whatever happens below, nothing stays pending: a failure is reported once.
  struct Clear {
    CudaStream& s;
    ~Clear() {
      s.records.release();
      s.replays.clear();
      s.launched.clear();
      s.in_use.clear();
    }
  } clear{*this};

  std::optional<ErrorSlots::Failure> own;
  std::optional<Error> first;
  try {
    // Reading the stream's records waits for all its work (the read is queued behind it); with
    // none to read, wait here. (A replayed graph's records are read after that wait.)
    if (records.used() == 0) {
      d.check(d.api().stream_synchronize(stream.get()), "cuStreamSynchronize");
    } else {
      own = records.collect(stream.get(), /*release=*/true);
    }
    bool decided = false;
    std::vector<const CudaGraph*> collected;
    for (auto& [claimed_before, graph] : replays) {
      // Every graph's records are collected (and zeroed) once, but the earliest failure wins: a
      // failed launch of the stream's own that came before this replay beats it and every later
      // one. (A graph replayed twice keeps its first failure: records are claimed only once.)
      if (std::find(collected.begin(), collected.end(), graph.get()) != collected.end()) continue;
      collected.push_back(graph.get());
      std::optional<Error> failure = graph->collect(stream.get());
      if (decided || (own && own->index < claimed_before)) {
        decided = true;
        continue;
      }
      if (failure) {
        first = std::move(failure);
        decided = true;
      }
    }
  } catch (const Error& e) {
    // A fault the guards do not catch (an unchecked out-of-bounds access, say): name the kernels
    // that may have caused it.
    std::string names;
    for (const std::shared_ptr<const Executable>& exe : launched) {
      const std::string name = "'" + exe->kernel().name + "'";
      if (names.find(name) == std::string::npos) names += (names.empty() ? "" : ", ") + name;
    }
    if (names.empty()) throw;
    throw Error(std::string(e.what()) + " after launches of kernel " + names);
  }
  if (!first && own) first = std::move(own->error);
  return first;
}

// --- memory ------------------------------------------------------------------------------------

std::shared_ptr<DeviceMemory> CudaBackend::allocate(std::size_t bytes) {
  make_current(ctx_->get());
  auto memory = std::make_shared<CudaMemory>(ctx_, bytes);
  // New memory holds 0xFF bytes (NaN in every float dtype), as on the CPU backend: it must not
  // pass for a result a kernel forgot to write.
  if (bytes > 0) {
    const Driver& d = Driver::get();
    Lease lease(*this);
    d.check(d.api().memset_d8_async(memory->ptr(), 0xFF, bytes, lease.stream()), "cuMemsetD8Async");
    d.check(d.api().stream_synchronize(lease.stream()), "cuStreamSynchronize");
  }
  return memory;
}

// Synchronous copies go through a pooled stream that is waited for: the copy is complete on
// return, so a launch queued afterwards on any stream sees it.
void CudaBackend::write(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) {
  const CudaMemory& m = cuda_memory(dst);
  check_device_range("write", offset, src.size(), m.size());
  if (src.empty()) return;
  const Driver& d = Driver::get();
  Lease lease(*this);
  d.check(d.api().memcpy_htod_async(m.ptr() + offset, src.data(), src.size(), lease.stream()),
          "cuMemcpyHtoDAsync");
  d.check(d.api().stream_synchronize(lease.stream()), "cuStreamSynchronize");
}

void CudaBackend::read(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) {
  const CudaMemory& m = cuda_memory(src);
  check_device_range("read", offset, dst.size(), m.size());
  if (dst.empty()) return;
  const Driver& d = Driver::get();
  Lease lease(*this);
  d.check(d.api().memcpy_dtoh_async(dst.data(), m.ptr() + offset, dst.size(), lease.stream()),
          "cuMemcpyDtoHAsync");
  d.check(d.api().stream_synchronize(lease.stream()), "cuStreamSynchronize");
}

// --- streams -----------------------------------------------------------------------------------

std::shared_ptr<StreamHandle> CudaBackend::create_stream() {
  make_current(ctx_->get());
  return std::make_shared<CudaStream>(ctx_);
}

void CudaBackend::enqueue(const Executable& exe, std::span<const DeviceArgument> args,
                          const LaunchDims& dims, StreamHandle& stream) {
  CudaStream& s = cuda_stream(stream);
  std::shared_ptr<const Executable> shared = cuda_executable(exe).shared_from_this();
  const std::lock_guard<std::mutex> lock(s.mutex);
  make_current(ctx_->get());
  enqueue_locked(s, std::move(shared), args, dims);
}

void CudaBackend::enqueue_locked(CudaStream& s, std::shared_ptr<const Executable> exe,
                                 std::span<const DeviceArgument> args, const LaunchDims& dims) {
  const CudaExecutable& cx = cuda_executable(*exe);
  const Kernel& k = cx.kernel();
  MT_ASSERT(args.size() == k.params.size()) << "kernel " << k.name << ": " << args.size()
                                            << " arguments for " << k.params.size() << " params";
  check_threadgroup_size(cx, dims);

  KernelArgs kernel_args(args.size());
  std::vector<std::shared_ptr<const CudaMemory>> memory;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Param& p = k.params[i];
    if (!p.is_tensor()) {
      kernel_args.scalars[i] = args[i].scalar;
      continue;
    }
    MT_ASSERT(args[i].memory != nullptr) << "kernel " << k.name << ": param " << p.name;
    const CudaMemory& m = cuda_memory(*args[i].memory);
    kernel_args.pointers[i] = m.ptr();
    kernel_args.elements[i] = m.size() / size_of(p.dtype);
    memory.push_back(m.shared_from_this());
  }

  CuDevicePtr record = s.unchecked_record.ptr();
  if (s.capture != nullptr) {
    if (cx.checked()) {
      std::vector<std::unique_ptr<ErrorSlots>>& blocks = s.capture->records;
      if (blocks.empty() || blocks.back()->full()) {
        // Zeroed through a pooled stream: the capturing one records instead of running.
        Lease lease(*this);
        blocks.push_back(std::make_unique<ErrorSlots>(ctx_, kCaptureRecords, lease.stream()));
      }
      record = blocks.back()->claim(LaunchRecord{exe, kernel_args.elements, dims});
    }
    launch_kernel(cx, kernel_args, record, dims, s.stream.get());
    s.capture->steps.push_back(LaunchStep{std::move(exe),
                                          std::vector<DeviceArgument>(args.begin(), args.end()),
                                          std::move(memory), dims});
    return;
  }

  if (cx.checked()) {
    if (s.records.full()) {
      std::optional<Error> failure = s.settle();
      if (failure && !s.deferred) s.deferred = std::make_exception_ptr(*failure);
    }
    record = s.records.claim(LaunchRecord{exe, kernel_args.elements, dims});
  }
  launch_kernel(cx, kernel_args, record, dims, s.stream.get());
  s.launched.push_back(std::move(exe));
  s.in_use.insert(s.in_use.end(), memory.begin(), memory.end());
}

void CudaBackend::synchronize(StreamHandle& stream) {
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capture != nullptr) {
    throw Error(
        "cannot synchronize a stream while it captures a graph: its launches have not "
        "run; end the capture first");
  }
  make_current(ctx_->get());
  std::optional<Error> failure = s.settle();
  // A failure kept from an early settle happened before any found now.
  if (std::exception_ptr deferred = std::exchange(s.deferred, nullptr)) {
    std::rethrow_exception(deferred);
  }
  if (failure) throw *failure;
}

// --- capture and replay ------------------------------------------------------------------------

void CudaBackend::begin_capture(StreamHandle& stream) {
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capture != nullptr) {
    throw Error("the stream is already capturing a graph; captures do not nest");
  }
  make_current(ctx_->get());
  check(Driver::get().api().stream_begin_capture(s.stream.get(), kCaptureModeRelaxed),
        "cuStreamBeginCapture");
  s.capture = std::make_unique<Capture>();
}

std::shared_ptr<GraphHandle> CudaBackend::end_capture(StreamHandle& stream) {
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capture == nullptr) throw Error("end_capture on a stream that is not capturing a graph");
  make_current(ctx_->get());
  std::unique_ptr<Capture> captured = std::move(s.capture);  // the stream leaves capture mode
  const DriverApi& api = Driver::get().api();
  CuGraph graph = nullptr;
  const CuResult ended = api.stream_end_capture(s.stream.get(), &graph);
  if (ended != kCudaSuccess) {
    if (graph != nullptr) api.graph_destroy(graph);
    check(ended, "cuStreamEndCapture");
  }
  std::unique_ptr<GraphExec> exec;
  if (captured->steps.empty()) {
    if (graph != nullptr) api.graph_destroy(graph);
  } else {
    exec = std::make_unique<GraphExec>(ctx_->get(), graph);
  }
  return std::make_shared<CudaGraph>(ctx_, std::move(exec), std::move(*captured));
}

void CudaBackend::replay(GraphHandle& graph, StreamHandle& stream) {
  CudaGraph& g = cuda_graph(graph);
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  make_current(ctx_->get());
  if (s.capture != nullptr) {
    // A replay inside a capture joins the new graph: its steps are enqueued again, each with an
    // error record of the new graph's own (as the CPU backend records them).
    for (const GraphStep& step : g.steps()) {
      if (const auto* launch = std::get_if<LaunchStep>(&step)) {
        enqueue_locked(s, launch->exe, launch->args, launch->dims);
      } else {
        const CopyStep& c = std::get<CopyStep>(step);
        copy_locked(s, *c.dst, *c.src, c.bytes);
      }
    }
    return;
  }
  if (g.exec() == nullptr) return;
  check(Driver::get().api().graph_launch(g.exec()->get(), s.stream.get()), "cuGraphLaunch");
  s.replays.emplace_back(s.records.used(), g.shared_from_this());
}

// --- copies and events -------------------------------------------------------------------------

void CudaBackend::copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes,
                       StreamHandle& stream) {
  check_device_range("copy destination", 0, bytes, dst.size());
  check_device_range("copy source", 0, bytes, src.size());
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  make_current(ctx_->get());
  copy_locked(s, dst, src, bytes);
}

void CudaBackend::copy_locked(CudaStream& s, const DeviceMemory& dst, const DeviceMemory& src,
                              std::size_t bytes) {
  const CudaMemory& to = cuda_memory(dst);
  const CudaMemory& from = cuda_memory(src);
  if (bytes > 0) {
    check(Driver::get().api().memcpy_dtod_async(to.ptr(), from.ptr(), bytes, s.stream.get()),
          "cuMemcpyDtoDAsync");
  }
  if (s.capture != nullptr) {
    s.capture->steps.push_back(CopyStep{to.shared_from_this(), from.shared_from_this(), bytes});
    return;
  }
  s.in_use.push_back(to.shared_from_this());
  s.in_use.push_back(from.shared_from_this());
}

std::shared_ptr<EventHandle> CudaBackend::record_event(StreamHandle& stream) {
  CudaStream& s = cuda_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capture != nullptr) {
    throw Error(
        "cannot record an event while the stream captures a graph: a graph holds no "
        "timestamps; record events around its replay instead");
  }
  make_current(ctx_->get());
  auto event = std::make_shared<CudaEvent>(ctx_);
  check(Driver::get().api().event_record(event->get(), s.stream.get()), "cuEventRecord");
  return event;
}

double CudaBackend::elapsed_ms(EventHandle& start, EventHandle& end) {
  const CudaEvent& a = cuda_event(start);
  const CudaEvent& b = cuda_event(end);
  make_current(ctx_->get());
  const DriverApi& api = Driver::get().api();
  check(api.event_synchronize(b.get()), "cuEventSynchronize");
  float ms = 0.0f;
  check(api.event_elapsed_time(&ms, a.get(), b.get()), "cuEventElapsedTime");
  return ms;
}

}  // namespace mt::cuda
