// The device-resident API in host memory over a backend's launch() (see host_device.hpp). Each
// stream has its own mutex: launches on one stream run one after another, different streams at
// once.
#include "backends/host_device.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>
#include <variant>
#include <vector>

#include "backends/device_range.hpp"
#include "metaltile/core/error.hpp"

namespace mt {
namespace {

class HostMemory final : public DeviceMemory, public std::enable_shared_from_this<HostMemory> {
 public:
  // New memory holds 0xFF bytes (NaN in every float dtype), not zeros: like uninitialised GPU
  // memory, it must not pass for a result a kernel forgot to write.
  explicit HostMemory(std::size_t bytes)
      : data_(std::make_unique<std::uint8_t[]>(bytes)), size_(bytes) {
    std::fill_n(data_.get(), size_, std::uint8_t{0xFF});
  }
  std::size_t size() const override { return size_; }
  // Kernels write through this view; the memory object itself stays const to its holders.
  std::span<std::uint8_t> bytes() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_;
};

// One launch as recorded by a capture: copies of everything enqueue was given, holding the
// executable and the memory alive for as long as the graph lives.
struct RecordedLaunch {
  std::shared_ptr<const Executable> exe;
  std::vector<DeviceArgument> args;
  std::vector<std::shared_ptr<const HostMemory>> memory;
  LaunchDims dims;
};

struct RecordedCopy {
  std::shared_ptr<const HostMemory> dst;
  std::shared_ptr<const HostMemory> src;
  std::size_t bytes = 0;
};

using Step = std::variant<RecordedLaunch, RecordedCopy>;

class HostStream final : public StreamHandle {
 public:
  std::mutex mutex;
  std::exception_ptr error;  // the first failure since the last synchronize
  bool capturing = false;
  std::vector<Step> recording;
};

class HostGraph final : public GraphHandle {
 public:
  explicit HostGraph(std::vector<Step> steps) : steps(std::move(steps)) {}
  const std::vector<Step> steps;  // immutable: replays may run on several streams at once
};

class HostEvent final : public EventHandle {
 public:
  explicit HostEvent(std::chrono::steady_clock::time_point t) : time(t) {}
  const std::chrono::steady_clock::time_point time;
};

// The runtime only hands a backend its own objects; anything else is our bug.
const HostMemory& host_memory(const DeviceMemory& m) {
  const auto* host = dynamic_cast<const HostMemory*>(&m);
  MT_ASSERT(host != nullptr) << "device memory of another backend reached the host device";
  return *host;
}

HostStream& host_stream(StreamHandle& s) {
  auto* host = dynamic_cast<HostStream*>(&s);
  MT_ASSERT(host != nullptr) << "a stream of another backend reached the host device";
  return *host;
}

RecordedLaunch record(KernelBackend& backend, const Executable& exe,
                      std::span<const DeviceArgument> args, const LaunchDims& dims) {
  RecordedLaunch r;
  // compile() hands out executables through shared_ptrs, so the graph shares it; one owned
  // otherwise is compiled again from its kernel.
  r.exe = exe.weak_from_this().lock();
  if (r.exe == nullptr) r.exe = backend.compile(exe.kernel());
  r.args.assign(args.begin(), args.end());
  for (const DeviceArgument& a : args) {
    if (a.memory != nullptr) r.memory.push_back(host_memory(*a.memory).shared_from_this());
  }
  r.dims = dims;
  return r;
}

// Copies within host memory; memmove semantics, so a buffer may be copied onto itself.
void run_copy(const RecordedCopy& c) {
  std::memmove(c.dst->bytes().data(), c.src->bytes().data(), c.bytes);
}

// Runs one launch over the memory's host bytes. Called with the stream's mutex held.
void run(KernelBackend& backend, HostStream& stream, const Executable& exe,
         std::span<const DeviceArgument> args, const LaunchDims& dims) {
  std::vector<Argument> host(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].memory != nullptr) host[i].bytes = host_memory(*args[i].memory).bytes();
    host[i].scalar = args[i].scalar;
  }
  try {
    backend.launch(exe, host, dims);
  } catch (const Error&) {
    // A GPU learns of a failed check only when the stream is synchronised; so does the host.
    if (!stream.error) stream.error = std::current_exception();
  }
}

class HostDevice final : public DeviceApi {
 public:
  explicit HostDevice(KernelBackend& backend) : backend_(backend) {}

  std::shared_ptr<DeviceMemory> allocate(std::size_t bytes) override {
    return std::make_shared<HostMemory>(bytes);
  }

  void write(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) override {
    const HostMemory& m = host_memory(dst);
    check_device_range("write", offset, src.size(), m.size());
    std::copy(src.begin(), src.end(), m.bytes().begin() + static_cast<std::ptrdiff_t>(offset));
  }

  void read(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) override {
    const HostMemory& m = host_memory(src);
    check_device_range("read", offset, dst.size(), m.size());
    const std::span<const std::uint8_t> from = m.bytes().subspan(offset, dst.size());
    std::copy(from.begin(), from.end(), dst.begin());
  }

  std::shared_ptr<StreamHandle> create_stream() override { return std::make_shared<HostStream>(); }

  void enqueue(const Executable& exe, std::span<const DeviceArgument> args, const LaunchDims& dims,
               StreamHandle& stream) override {
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.capturing) {
      s.recording.push_back(record(backend_, exe, args, dims));
      return;
    }
    run(backend_, s, exe, args, dims);
  }

  void synchronize(StreamHandle& stream) override {
    HostStream& s = host_stream(stream);
    std::exception_ptr error;
    {
      const std::lock_guard<std::mutex> lock(s.mutex);
      if (s.capturing) {
        throw Error(
            "cannot synchronize a stream while it captures a graph: its launches have "
            "not run; end the capture first");
      }
      std::swap(error, s.error);
    }
    if (error) std::rethrow_exception(error);
  }

  void begin_capture(StreamHandle& stream) override {
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.capturing) throw Error("the stream is already capturing a graph; captures do not nest");
    s.capturing = true;
    s.recording.clear();
  }

  std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream) override {
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.capturing) throw Error("end_capture on a stream that is not capturing a graph");
    s.capturing = false;
    return std::make_shared<HostGraph>(std::exchange(s.recording, {}));
  }

  void replay(GraphHandle& graph, StreamHandle& stream) override {
    const auto* g = dynamic_cast<const HostGraph*>(&graph);
    MT_ASSERT(g != nullptr) << "a graph of another backend reached the host device";
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.capturing) {
      // A replay inside a capture joins the new graph, as a child graph does on a GPU.
      s.recording.insert(s.recording.end(), g->steps.begin(), g->steps.end());
      return;
    }
    for (const Step& step : g->steps) {
      if (const auto* launch = std::get_if<RecordedLaunch>(&step)) {
        run(backend_, s, *launch->exe, launch->args, launch->dims);
      } else {
        run_copy(std::get<RecordedCopy>(step));
      }
    }
  }

  void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes,
            StreamHandle& stream) override {
    RecordedCopy c{host_memory(dst).shared_from_this(), host_memory(src).shared_from_this(), bytes};
    check_device_range("copy destination", 0, bytes, c.dst->size());
    check_device_range("copy source", 0, bytes, c.src->size());
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.capturing) {
      s.recording.push_back(std::move(c));
      return;
    }
    run_copy(c);
  }

  std::shared_ptr<EventHandle> record_event(StreamHandle& stream) override {
    HostStream& s = host_stream(stream);
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.capturing) {
      throw Error(
          "cannot record an event while the stream captures a graph: a graph holds no "
          "timestamps; record events around its replay instead");
    }
    return std::make_shared<HostEvent>(std::chrono::steady_clock::now());
  }

  double elapsed_ms(EventHandle& start, EventHandle& end) override {
    const auto* a = dynamic_cast<const HostEvent*>(&start);
    const auto* b = dynamic_cast<const HostEvent*>(&end);
    MT_ASSERT(a != nullptr && b != nullptr)
        << "an event of another backend reached the host device";
    return std::chrono::duration<double, std::milli>(b->time - a->time).count();
  }

 private:
  KernelBackend& backend_;  // runs every launch
};

}  // namespace

std::unique_ptr<DeviceApi> make_host_device(KernelBackend& backend) {
  return std::make_unique<HostDevice>(backend);
}

}  // namespace mt
