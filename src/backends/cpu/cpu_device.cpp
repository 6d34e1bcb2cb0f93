// Host memory, streams and captured graphs of the CPU backend (see cpu_device.hpp). Each stream
// has its own mutex: launches on one stream run one after another, different streams at once.
#include "backends/cpu/cpu_device.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <sstream>
#include <utility>
#include <variant>
#include <vector>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cpu {
namespace {

class CpuMemory final : public DeviceMemory, public std::enable_shared_from_this<CpuMemory> {
 public:
  // New memory holds 0xFF bytes (NaN in every float dtype), not zeros: like uninitialised GPU
  // memory, it must not pass for a result a kernel forgot to write.
  explicit CpuMemory(std::size_t bytes)
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
  std::vector<std::shared_ptr<const CpuMemory>> memory;
  LaunchDims dims;
};

struct RecordedCopy {
  std::shared_ptr<const CpuMemory> dst;
  std::shared_ptr<const CpuMemory> src;
  std::size_t bytes = 0;
};

using Step = std::variant<RecordedLaunch, RecordedCopy>;

class CpuStream final : public StreamHandle {
 public:
  std::mutex mutex;
  std::exception_ptr error;  // the first failure since the last synchronize
  bool capturing = false;
  std::vector<Step> recording;
};

class CpuGraph final : public GraphHandle {
 public:
  explicit CpuGraph(std::vector<Step> steps) : steps(std::move(steps)) {}
  const std::vector<Step> steps;  // immutable: replays may run on several streams at once
};

class CpuEvent final : public EventHandle {
 public:
  explicit CpuEvent(std::chrono::steady_clock::time_point t) : time(t) {}
  const std::chrono::steady_clock::time_point time;
};

// The runtime only hands a backend its own objects; anything else is our bug.
const CpuMemory& cpu_memory(const DeviceMemory& m) {
  const auto* cpu = dynamic_cast<const CpuMemory*>(&m);
  MT_ASSERT(cpu != nullptr) << "device memory of another backend reached the CPU backend";
  return *cpu;
}

CpuStream& cpu_stream(StreamHandle& s) {
  auto* cpu = dynamic_cast<CpuStream*>(&s);
  MT_ASSERT(cpu != nullptr) << "a stream of another backend reached the CPU backend";
  return *cpu;
}

// [offset, offset + length) must lie inside the buffer; written so that it cannot overflow.
void check_range(const char* what, std::size_t offset, std::size_t length, std::size_t size) {
  if (offset <= size && length <= size - offset) return;
  std::ostringstream s;
  s << "device buffer " << what << " of " << quantity(length, "byte") << " at offset " << offset
    << " is out of range: the buffer holds " << quantity(size, "byte");
  throw Error(s.str());
}

RecordedLaunch record(const Executable& exe, std::span<const DeviceArgument> args,
                      const LaunchDims& dims) {
  RecordedLaunch r;
  // Any backend's executable carries its kernel; only ours can be shared without a copy.
  if (const auto* cpu = dynamic_cast<const CpuExecutable*>(&exe)) {
    r.exe = cpu->shared_from_this();
  } else {
    r.exe = std::make_shared<const CpuExecutable>(exe.kernel());
  }
  r.args.assign(args.begin(), args.end());
  for (const DeviceArgument& a : args) {
    if (a.memory != nullptr) r.memory.push_back(cpu_memory(*a.memory).shared_from_this());
  }
  r.dims = dims;
  return r;
}

// Copies within host memory; memmove semantics, so a buffer may be copied onto itself.
void run_copy(const RecordedCopy& c) {
  std::memmove(c.dst->bytes().data(), c.src->bytes().data(), c.bytes);
}

// Interprets one launch over the memory's host bytes. Called with the stream's mutex held.
void run(CpuStream& stream, const Executable& exe, std::span<const DeviceArgument> args,
         const LaunchDims& dims, const DeviceLimits& limits) {
  std::vector<Argument> host(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].memory != nullptr) host[i].bytes = cpu_memory(*args[i].memory).bytes();
    host[i].scalar = args[i].scalar;
  }
  try {
    interpret(exe.kernel(), host, dims, limits);
  } catch (const Error&) {
    // A GPU learns of a failed check only when the stream is synchronised; so does the CPU.
    if (!stream.error) stream.error = std::current_exception();
  }
}

}  // namespace

std::shared_ptr<DeviceMemory> allocate_memory(std::size_t bytes) {
  return std::make_shared<CpuMemory>(bytes);
}

void write_memory(DeviceMemory& dst, std::size_t offset, std::span<const std::uint8_t> src) {
  const CpuMemory& m = cpu_memory(dst);
  check_range("write", offset, src.size(), m.size());
  std::copy(src.begin(), src.end(), m.bytes().begin() + static_cast<std::ptrdiff_t>(offset));
}

void read_memory(const DeviceMemory& src, std::size_t offset, std::span<std::uint8_t> dst) {
  const CpuMemory& m = cpu_memory(src);
  check_range("read", offset, dst.size(), m.size());
  const std::span<const std::uint8_t> from = m.bytes().subspan(offset, dst.size());
  std::copy(from.begin(), from.end(), dst.begin());
}

std::shared_ptr<StreamHandle> create_stream() { return std::make_shared<CpuStream>(); }

void enqueue(const Executable& exe, std::span<const DeviceArgument> args, const LaunchDims& dims,
             const DeviceLimits& limits, StreamHandle& stream) {
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing) {
    s.recording.push_back(record(exe, args, dims));
    return;
  }
  run(s, exe, args, dims, limits);
}

void synchronize(StreamHandle& stream) {
  CpuStream& s = cpu_stream(stream);
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

void begin_capture(StreamHandle& stream) {
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing) throw Error("the stream is already capturing a graph; captures do not nest");
  s.capturing = true;
  s.recording.clear();
}

std::shared_ptr<GraphHandle> end_capture(StreamHandle& stream) {
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.capturing) throw Error("end_capture on a stream that is not capturing a graph");
  s.capturing = false;
  return std::make_shared<CpuGraph>(std::exchange(s.recording, {}));
}

void replay(GraphHandle& graph, StreamHandle& stream, const DeviceLimits& limits) {
  const auto* g = dynamic_cast<const CpuGraph*>(&graph);
  MT_ASSERT(g != nullptr) << "a graph of another backend reached the CPU backend";
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing) {
    // A replay inside a capture joins the new graph, as a child graph does on a GPU.
    s.recording.insert(s.recording.end(), g->steps.begin(), g->steps.end());
    return;
  }
  for (const Step& step : g->steps) {
    if (const auto* launch = std::get_if<RecordedLaunch>(&step)) {
      run(s, *launch->exe, launch->args, launch->dims, limits);
    } else {
      run_copy(std::get<RecordedCopy>(step));
    }
  }
}

void copy(DeviceMemory& dst, const DeviceMemory& src, std::size_t bytes, StreamHandle& stream) {
  RecordedCopy c{cpu_memory(dst).shared_from_this(), cpu_memory(src).shared_from_this(), bytes};
  check_range("copy destination", 0, bytes, c.dst->size());
  check_range("copy source", 0, bytes, c.src->size());
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing) {
    s.recording.push_back(std::move(c));
    return;
  }
  run_copy(c);
}

std::shared_ptr<EventHandle> record_event(StreamHandle& stream) {
  CpuStream& s = cpu_stream(stream);
  const std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing) {
    throw Error(
        "cannot record an event while the stream captures a graph: a graph holds no "
        "timestamps; record events around its replay instead");
  }
  return std::make_shared<CpuEvent>(std::chrono::steady_clock::now());
}

double elapsed_ms(EventHandle& start, EventHandle& end) {
  const auto* a = dynamic_cast<const CpuEvent*>(&start);
  const auto* b = dynamic_cast<const CpuEvent*>(&end);
  MT_ASSERT(a != nullptr && b != nullptr) << "an event of another backend reached the CPU backend";
  return std::chrono::duration<double, std::milli>(b->time - a->time).count();
}

}  // namespace mt::cpu
