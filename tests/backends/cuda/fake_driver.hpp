// A fake CUDA driver in host memory, installed with Driver::install_for_testing so the CUDA
// backend runs where there is no GPU. Device pointers are host addresses; every range a call
// names is checked against the live allocations; each call that needs a context fails unless
// the calling thread made the fake context current. Work is queued per stream and runs only
// when something waits for that stream (a synchronize, a copy into pageable memory, an event
// wait), so a wait that is missing shows as a stale result; work is recorded instead while a
// stream captures. Streams do not run concurrently, so races between streams cannot show. A launch
// runs the kernel's IR on the CPU interpreter, with the arguments decoded from the kernelParams
// array by the kernel ABI; in checked mode an out-of-bounds access is written to the launch's error
// record as the emitted guards would (found by matching the interpreter's report against the
// IR), in unchecked mode it makes the next synchronize fail with CUDA_ERROR_ILLEGAL_ADDRESS.
// Kernels are registered by a wrapping backend (registering_backend.hpp), since the cubin the
// fake receives holds no IR.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/interpreter.hpp"
#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_launch.hpp"
#include "backends/cuda/driver.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt::cuda::fake {

// Results, with cuda.h's values.
constexpr CuResult kInvalidValue = 1, kInvalidContext = 201, kInvalidHandle = 400,
                   kIllegalAddress = 700, kCaptureUnsupported = 900, kCaptureInvalidated = 901;

using Op = std::function<void()>;

struct FakeStream {
  std::mutex mutex;        // guards `queued`: a flush may run on another thread than the enqueue
  std::vector<Op> queued;  // work not yet run: it runs when something waits for the stream
  bool capturing = false;
  bool invalidated = false;
  std::vector<Op> recorded;
};
struct FakeGraph {
  std::vector<Op> ops;
};
struct FakeEvent {
  std::chrono::steady_clock::time_point time;
  CuStream stream = nullptr;  // where it was last recorded
};
struct FakeFunction {
  std::string entry;
  bool registered = false;
  Kernel kernel;
  bool checked = true;
};

struct State {
  std::mutex mutex;
  std::map<CuDevicePtr, std::size_t> allocations;  // start -> bytes
  std::set<void*> modules, streams, events, graphs, execs;
  std::map<const void*, std::size_t> pinned;  // page-locked host allocations: start -> bytes
  std::map<CuFunction, std::unique_ptr<FakeFunction>> functions;
  int max_threads = 1024;  // what cuFuncGetAttribute reports for modules loaded from now on
  long launches = 0;
  long overlapped_launches = 0;  // through cuLaunchKernelEx with programmatic serialisation
  long rejected = 0;             // calls refused with an error (a bug in the backend if nonzero)
  std::vector<std::string> rejections;
};

inline State& state() {
  static State s;
  return s;
}

// A fault an unchecked kernel caused, reported by the next synchronize of any stream.
inline std::atomic<CuResult> g_fault{0};

inline int g_context_tag = 0;
inline const CuContext kContext = reinterpret_cast<CuContext>(&g_context_tag);
inline thread_local CuContext t_current = nullptr;

// Records a refusal: the backend made a call a real driver would reject.
inline CuResult refuse(CuResult r, const std::string& why) {
  State& s = state();
  const std::lock_guard<std::mutex> lock(s.mutex);
  ++s.rejected;
  s.rejections.push_back(why);
  return r;
}

#define MT_FAKE_NEED_CONTEXT(call) \
  if (t_current != kContext) return refuse(kInvalidContext, call ": no current context")

// Whether [p, p + n) lies in one live allocation. Called with the mutex held.
inline bool in_allocation(CuDevicePtr p, std::size_t n) {
  const auto& a = state().allocations;
  auto it = a.upper_bound(p);
  if (it == a.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + std::max<std::size_t>(it->second, 1);
}

inline FakeStream& stream_of(CuStream s) { return *reinterpret_cast<FakeStream*>(s); }

// Queues `op` on the stream, or records it if the stream captures.
inline CuResult submit(CuStream s, Op op) {
  FakeStream& fs = stream_of(s);
  if (fs.capturing) {
    fs.recorded.push_back(std::move(op));
    return 0;
  }
  const std::lock_guard<std::mutex> lock(fs.mutex);
  fs.queued.push_back(std::move(op));
  return 0;
}

// Runs the stream's queued work, in order: what waiting for a real stream would see finished.
inline void flush(CuStream s) {
  FakeStream& fs = stream_of(s);
  for (;;) {
    std::vector<Op> ops;
    {
      const std::lock_guard<std::mutex> lock(fs.mutex);
      ops.swap(fs.queued);
    }
    if (ops.empty()) return;
    for (const Op& op : ops) op();
  }
}

inline bool is_pinned(const void* p, std::size_t n) {
  const std::lock_guard<std::mutex> lock(state().mutex);
  const auto& pinned = state().pinned;
  auto it = pinned.upper_bound(p);
  if (it == pinned.begin()) return false;
  --it;
  const auto* start = static_cast<const std::uint8_t*>(it->first);
  const auto* at = static_cast<const std::uint8_t*>(p);
  return at >= start && at + n <= start + it->second;
}

inline Scalar decode_scalar(DType t, std::uint64_t bits) {
  switch (t) {
    case DType::F32:
      return Scalar::of_float(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    case DType::F16: return Scalar::of_float(f16_bits_to_f32(static_cast<std::uint16_t>(bits)));
    case DType::BF16: return Scalar::of_float(bf16_bits_to_f32(static_cast<std::uint16_t>(bits)));
    case DType::F8E4M3: return Scalar::of_float(e4m3_bits_to_f32(static_cast<std::uint8_t>(bits)));
    case DType::F8E5M2: return Scalar::of_float(e5m2_bits_to_f32(static_cast<std::uint8_t>(bits)));
    case DType::I32: return Scalar::of_int(static_cast<std::int32_t>(bits));
    case DType::U32: return Scalar::of_int(static_cast<std::uint32_t>(bits));
    case DType::I8: return Scalar::of_int(static_cast<std::int8_t>(bits));
    case DType::U8: return Scalar::of_int(static_cast<std::uint8_t>(bits));
    case DType::Bool: return Scalar::of_int((bits & 0xFF) != 0 ? 1 : 0);
  }
  return {};
}

// "(a,b,c)" at `at` in `text`; moves `at` past it.
inline bool parse_axes(const std::string& text, std::size_t& at,
                       std::array<std::uint32_t, 3>& out) {
  if (at >= text.size() || text[at] != '(') return false;
  ++at;
  for (int a = 0; a < 3; ++a) {
    char* end = nullptr;
    out[a] = static_cast<std::uint32_t>(std::strtoul(text.c_str() + at, &end, 10));
    at = static_cast<std::size_t>(end - text.c_str());
    if (at >= text.size() || text[at] != (a < 2 ? ',' : ')')) return false;
    ++at;
  }
  return true;
}

// The error record the emitted guards would write for the interpreter's report `message` of an
// out-of-bounds access, or false if the report is of anything else.
inline bool record_for(const Kernel& k, const std::string& message, const LaunchDims& dims,
                       std::uint32_t* record) {
  const std::size_t p0 = message.find("param '");
  if (p0 == std::string::npos) return false;
  const std::size_t p1 = message.find("': ", p0 + 7);
  const std::string param = message.substr(p0 + 7, p1 - p0 - 7);
  const std::size_t kind_at = p1 + 3;
  const bool load = message.compare(kind_at, 11, "load index ") == 0;
  const bool store = message.compare(kind_at, 12, "store index ") == 0;
  if (!load && !store) return false;
  const long long index = std::strtoll(message.c_str() + kind_at + (load ? 11 : 12), nullptr, 10);
  std::size_t at = message.find(" at thread ");
  if (at == std::string::npos) return false;
  at += 11;
  std::array<std::uint32_t, 3> global{}, group{};
  if (!parse_axes(message, at, global) || message.compare(at, 16, " of threadgroup ") != 0) {
    return false;
  }
  at += 16;
  if (!parse_axes(message, at, group) || message.compare(at, 2, ": ") != 0) return false;
  const std::string op_text = message.substr(at + 2);
  std::uint32_t position = 0;
  long site = -1;
  for_each_instr(k.body, [&](const Instr& in) {
    const std::uint32_t here = position++;
    if (site >= 0 || (in.op != OpKind::Load && in.op != OpKind::Store)) return;
    if ((in.op == OpKind::Load) != load || k.param(in.param).name != param) return;
    if (print_instr(k, in) == op_text) site = here;
  });
  if (site < 0) return false;
  if (record[kErrorKind] != 0) return true;  // an earlier failure holds the record
  record[kErrorKind] =
      static_cast<std::uint32_t>(load ? ErrorKind::LoadOutOfBounds : ErrorKind::StoreOutOfBounds);
  record[kErrorSite] = static_cast<std::uint32_t>(site);
  record[kErrorValueLo] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(index));
  record[kErrorValueHi] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(index) >> 32);
  for (int a = 0; a < 3; ++a) {
    record[kErrorGroupX + a] = group[a];
    record[kErrorThreadX + a] = global[a] - group[a] * dims.tpg[a];
  }
  return true;
}

inline CuResult launch(CuFunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, unsigned shared, CuStream stream, void** params,
                       void** extra) {
  MT_FAKE_NEED_CONTEXT("cuLaunchKernel");
  State& s = state();
  std::unique_lock<std::mutex> lock(s.mutex);
  auto it = s.functions.find(f);
  if (it == s.functions.end()) {
    lock.unlock();
    return refuse(kInvalidHandle, "cuLaunchKernel: unknown function");
  }
  const FakeFunction& fn = *it->second;
  if (!fn.registered || shared != 0 || extra != nullptr || params == nullptr) {
    lock.unlock();
    return refuse(kInvalidValue, "cuLaunchKernel: unregistered kernel or bad arguments");
  }
  if (std::uint64_t{bx} * by * bz > static_cast<std::uint64_t>(s.max_threads)) {
    lock.unlock();
    return refuse(kInvalidValue, "cuLaunchKernel: too many threads per block");
  }
  const Kernel k = fn.kernel;
  const bool checked = fn.checked;
  const std::vector<Slot> slots = kernel_slots(k);
  std::vector<CuDevicePtr> pointers(k.params.size(), 0);
  std::vector<std::uint64_t> elements(k.params.size(), 0);
  std::vector<Scalar> scalars(k.params.size());
  std::uint32_t* record = nullptr;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    // The interpreter that runs the kernel evaluates its tensor maps itself.
    if (slots[i].kind == SlotKind::TensorMap) continue;
    std::uint64_t value = 0;
    std::memcpy(&value, params[i], slots[i].size);  // the driver copies each parameter's bytes
    switch (slots[i].kind) {
      case SlotKind::Tensor: pointers[slots[i].param.index] = value; break;
      case SlotKind::Scalar:
        scalars[slots[i].param.index] = decode_scalar(k.param(slots[i].param).dtype, value);
        break;
      case SlotKind::ElementCount: elements[slots[i].param.index] = value; break;
      case SlotKind::TensorMap: break;
      case SlotKind::ErrorRecord: record = reinterpret_cast<std::uint32_t*>(value); break;
    }
  }
  for (std::size_t p = 0; p < k.params.size(); ++p) {
    if (!k.params[p].is_tensor()) continue;
    if (!in_allocation(pointers[p], elements[p] * size_of(k.params[p].dtype))) {
      lock.unlock();
      return refuse(kInvalidValue,
                    "cuLaunchKernel: tensor '" + k.params[p].name + "' outside any allocation");
    }
  }
  if (!in_allocation(reinterpret_cast<CuDevicePtr>(record), kErrorRecordWords * 4)) {
    lock.unlock();
    return refuse(kInvalidValue, "cuLaunchKernel: error record outside any allocation");
  }
  ++s.launches;
  lock.unlock();
  const LaunchDims dims{{gx, gy, gz}, {bx, by, bz}};
  return submit(stream, [=] {
    std::vector<Argument> args(k.params.size());
    for (std::size_t p = 0; p < k.params.size(); ++p) {
      if (k.params[p].is_tensor()) {
        args[p].bytes = {reinterpret_cast<std::uint8_t*>(pointers[p]),
                         elements[p] * size_of(k.params[p].dtype)};
      } else {
        args[p].scalar = scalars[p];
      }
    }
    try {
      cpu::interpret(k, args, dims, DeviceLimits{}, 1);
    } catch (const Error& e) {
      if (!checked || !record_for(k, e.what(), dims, record)) {
        g_fault = kIllegalAddress;
      }
    }
  });
}

// Whether [p, p + n) lies in one live allocation; takes the mutex.
inline bool allocated(CuDevicePtr p, std::size_t n) {
  const std::lock_guard<std::mutex> lock(state().mutex);
  return in_allocation(p, n);
}

inline CuResult copy_op(CuStream stream, CuDevicePtr dst, const void* src, std::size_t n,
                        bool dst_device, bool src_device, const char* call) {
  MT_FAKE_NEED_CONTEXT("copy");
  if ((dst_device && !allocated(dst, n)) ||
      (src_device && !allocated(reinterpret_cast<CuDevicePtr>(src), n))) {
    return refuse(kInvalidValue, std::string(call) + ": range outside any allocation");
  }
  // Host memory in a capture: a real driver refuses pageable copies there.
  if (stream_of(stream).capturing && (!dst_device || !src_device)) {
    stream_of(stream).invalidated = true;
    return refuse(kCaptureUnsupported, std::string(call) + " while capturing");
  }
  void* to = reinterpret_cast<void*>(dst);
  if (!src_device && !is_pinned(src, n)) {
    // From pageable memory the driver stages the bytes before it returns.
    auto staged = std::make_shared<std::vector<std::uint8_t>>(
        static_cast<const std::uint8_t*>(src), static_cast<const std::uint8_t*>(src) + n);
    return submit(stream, [=] { std::memmove(to, staged->data(), n); });
  }
  if (!dst_device && !is_pinned(to, n)) {
    // Into pageable memory it returns once the copy (and the work before it) is done.
    flush(stream);
    std::memmove(to, src, n);
    return 0;
  }
  return submit(stream, [=] { std::memmove(to, src, n); });
}

inline CuResult get_error_name(CuResult r, const char** out) {
  static const std::map<CuResult, const char*> names = {
      {0, "CUDA_SUCCESS"},
      {kInvalidValue, "CUDA_ERROR_INVALID_VALUE"},
      {kInvalidContext, "CUDA_ERROR_INVALID_CONTEXT"},
      {kInvalidHandle, "CUDA_ERROR_INVALID_HANDLE"},
      {kIllegalAddress, "CUDA_ERROR_ILLEGAL_ADDRESS"},
      {kCaptureUnsupported, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"},
      {kCaptureInvalidated, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"}};
  auto it = names.find(r);
  *out = it == names.end() ? nullptr : it->second;
  return it == names.end() ? kInvalidValue : 0;
}

inline DriverApi api() {
  DriverApi a;
  a.init = [](unsigned) -> CuResult { return 0; };
  a.driver_get_version = [](int* v) -> CuResult {
    *v = 13000;
    return 0;
  };
  a.get_error_name = get_error_name;
  a.get_error_string = [](CuResult r, const char** out) -> CuResult {
    const CuResult known = get_error_name(r, out);
    *out = known == 0 ? "fake driver error" : nullptr;
    return known;
  };
  a.device_get_count = [](int* n) -> CuResult {
    *n = 1;
    return 0;
  };
  a.device_get = [](CuDevice* d, int ordinal) -> CuResult {
    if (ordinal != 0) return kInvalidValue;
    *d = 0;
    return 0;
  };
  a.device_get_name = [](char* name, int len, CuDevice) -> CuResult {
    std::strncpy(name, "MetalTile fake GPU", static_cast<std::size_t>(len));
    return 0;
  };
  a.device_get_attribute = [](int* v, int attribute, CuDevice) -> CuResult {
    switch (static_cast<DeviceAttribute>(attribute)) {
      case DeviceAttribute::MaxThreadsPerBlock: *v = 1024; return 0;
      case DeviceAttribute::MaxBlockDimX:
      case DeviceAttribute::MaxBlockDimY: *v = 1024; return 0;
      case DeviceAttribute::MaxBlockDimZ: *v = 64; return 0;
      case DeviceAttribute::MaxGridDimX: *v = 2147483647; return 0;
      case DeviceAttribute::MaxGridDimY:
      case DeviceAttribute::MaxGridDimZ: *v = 65535; return 0;
      // Not the usual 48 KiB, so a test can tell the driver's figure from the default.
      case DeviceAttribute::MaxSharedMemoryPerBlock:
      case DeviceAttribute::MaxSharedMemoryPerBlockOptin: *v = 45056; return 0;
      case DeviceAttribute::MultiprocessorCount: *v = 132; return 0;
      case DeviceAttribute::ComputeCapabilityMajor: *v = 9; return 0;
      case DeviceAttribute::ComputeCapabilityMinor: *v = 0; return 0;
    }
    return kInvalidValue;
  };
  a.device_total_mem = [](std::size_t* bytes, CuDevice) -> CuResult {
    *bytes = std::size_t{80} << 30;
    return 0;
  };
  a.device_primary_ctx_retain = [](CuContext* c, CuDevice) -> CuResult {
    *c = kContext;
    return 0;
  };
  a.device_primary_ctx_release = [](CuDevice) -> CuResult { return 0; };
  a.ctx_get_current = [](CuContext* c) -> CuResult {
    *c = t_current;
    return 0;
  };
  a.ctx_set_current = [](CuContext c) -> CuResult {
    t_current = c;
    return 0;
  };
  a.module_load_data = [](CuModule* m, const void* image) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuModuleLoadData");
    if (std::memcmp(image,
                    "\x7F"
                    "ELF",
                    4) != 0)
      return refuse(kInvalidValue, "not an ELF image");
    void* handle = new int(0);
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().modules.insert(handle);
    *m = reinterpret_cast<CuModule>(handle);
    return 0;
  };
  a.module_unload = [](CuModule m) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuModuleUnload");
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().modules.erase(m) == 0) return kInvalidHandle;
    delete reinterpret_cast<int*>(m);
    return 0;
  };
  a.module_get_function = [](CuFunction* f, CuModule, const char* name) -> CuResult {
    auto fn = std::make_unique<FakeFunction>();
    fn->entry = name;
    *f = reinterpret_cast<CuFunction>(fn.get());
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().functions.emplace(*f, std::move(fn));
    return 0;
  };
  a.func_get_attribute = [](int* v, int attribute, CuFunction) -> CuResult {
    switch (static_cast<FunctionAttribute>(attribute)) {
      case FunctionAttribute::MaxThreadsPerBlock: {
        const std::lock_guard<std::mutex> lock(state().mutex);
        *v = state().max_threads;
        return 0;
      }
      case FunctionAttribute::NumRegs: *v = 40; return 0;
      case FunctionAttribute::LocalSizeBytes:
      case FunctionAttribute::SharedSizeBytes:
      case FunctionAttribute::MaxDynamicSharedSizeBytes: *v = 0; return 0;
    }
    return kInvalidValue;
  };
  a.func_set_attribute = [](CuFunction, int, int) -> CuResult { return 0; };
  a.mem_alloc = [](CuDevicePtr* p, std::size_t n) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuMemAlloc");
    if (n == 0) return refuse(kInvalidValue, "cuMemAlloc of 0 bytes");
    void* host = std::aligned_alloc(256, (n + 255) / 256 * 256);
    std::memset(host, 0xA5, n);  // garbage, as fresh device memory may hold
    *p = reinterpret_cast<CuDevicePtr>(host);
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().allocations[*p] = n;
    return 0;
  };
  a.mem_free = [](CuDevicePtr p) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuMemFree");
    {
      const std::lock_guard<std::mutex> lock(state().mutex);
      if (state().allocations.erase(p) == 0) return kInvalidValue;
    }
    std::free(reinterpret_cast<void*>(p));
    return 0;
  };
  a.mem_alloc_host = [](void** p, std::size_t n) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuMemAllocHost");
    *p = std::malloc(n);
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().pinned[*p] = n;
    return 0;
  };
  a.mem_free_host = [](void* p) -> CuResult {
    {
      const std::lock_guard<std::mutex> lock(state().mutex);
      if (state().pinned.erase(p) == 0) return kInvalidValue;
    }
    std::free(p);
    return 0;
  };
  a.memcpy_htod_async = [](CuDevicePtr dst, const void* src, std::size_t n, CuStream s) {
    return copy_op(s, dst, src, n, true, false, "cuMemcpyHtoDAsync");
  };
  a.memcpy_dtoh_async = [](void* dst, CuDevicePtr src, std::size_t n, CuStream s) {
    return copy_op(s, reinterpret_cast<CuDevicePtr>(dst), reinterpret_cast<const void*>(src), n,
                   false, true, "cuMemcpyDtoHAsync");
  };
  a.memcpy_dtod_async = [](CuDevicePtr dst, CuDevicePtr src, std::size_t n, CuStream s) {
    return copy_op(s, dst, reinterpret_cast<const void*>(src), n, true, true, "cuMemcpyDtoDAsync");
  };
  a.memset_d8_async = [](CuDevicePtr dst, unsigned char v, std::size_t n, CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuMemsetD8Async");
    if (!allocated(dst, n)) return refuse(kInvalidValue, "cuMemsetD8Async: bad range");
    return submit(s, [=] { std::memset(reinterpret_cast<void*>(dst), v, n); });
  };
  a.memset_d32_async = [](CuDevicePtr dst, unsigned v, std::size_t n, CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuMemsetD32Async");
    if (!allocated(dst, n * 4)) return refuse(kInvalidValue, "cuMemsetD32Async: bad range");
    return submit(s, [=] {
      auto* words = reinterpret_cast<unsigned*>(dst);
      for (std::size_t i = 0; i < n; ++i) words[i] = v;
    });
  };
  a.stream_create = [](CuStream* s, unsigned flags) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuStreamCreate");
    if (flags != kStreamNonBlocking) return refuse(kInvalidValue, "a blocking stream");
    auto* fs = new FakeStream();
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().streams.insert(fs);
    *s = reinterpret_cast<CuStream>(fs);
    return 0;
  };
  a.stream_destroy = [](CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuStreamDestroy");
    flush(s);  // a destroyed stream's work still completes
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().streams.erase(s) == 0) return kInvalidHandle;
    delete reinterpret_cast<FakeStream*>(s);
    return 0;
  };
  a.stream_synchronize = [](CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuStreamSynchronize");
    FakeStream& fs = stream_of(s);
    if (fs.capturing) {
      fs.invalidated = true;
      return refuse(kCaptureUnsupported, "cuStreamSynchronize while capturing");
    }
    flush(s);
    return g_fault.exchange(0);
  };
  a.launch_kernel = launch;
  // The one attribute the backend sets, on kernels that wait for the prior kernel; the fake
  // runs launches in order, so the overlap itself is not modelled.
  a.launch_kernel_ex = [](const void* raw, CuFunction f, void** params, void** extra) -> CuResult {
    const auto& c = *static_cast<const LaunchConfig*>(raw);
    if (c.attribute_count != 1 || c.attributes == nullptr ||
        c.attributes[0].id != kProgrammaticStreamSerialization || c.attributes[0].value[0] != 1) {
      return refuse(kInvalidValue, "cuLaunchKernelEx: not the programmatic serialisation");
    }
    bool waits = false;
    {
      const std::lock_guard<std::mutex> lock(state().mutex);
      auto it = state().functions.find(f);
      waits = it != state().functions.end() && waits_for_prior_kernel(it->second->kernel);
      if (waits) ++state().overlapped_launches;
    }
    if (!waits)
      return refuse(kInvalidValue, "cuLaunchKernelEx: overlap of a kernel that does not wait");
    return launch(f, c.grid[0], c.grid[1], c.grid[2], c.block[0], c.block[1], c.block[2],
                  c.shared_bytes, c.stream, params, extra);
  };
  a.stream_begin_capture = [](CuStream s, int mode) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuStreamBeginCapture");
    if (mode != kCaptureModeRelaxed) return refuse(kInvalidValue, "capture mode is not relaxed");
    FakeStream& fs = stream_of(s);
    if (fs.capturing) return refuse(kInvalidValue, "nested capture");
    fs.capturing = true;
    fs.invalidated = false;
    fs.recorded.clear();
    return 0;
  };
  a.stream_end_capture = [](CuStream s, CuGraph* g) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuStreamEndCapture");
    FakeStream& fs = stream_of(s);
    if (!fs.capturing) return refuse(kInvalidValue, "end of a capture never begun");
    fs.capturing = false;
    *g = nullptr;
    if (fs.invalidated) return kCaptureInvalidated;
    auto* graph = new FakeGraph{std::exchange(fs.recorded, {})};
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().graphs.insert(graph);
    *g = reinterpret_cast<CuGraph>(graph);
    return 0;
  };
  a.graph_instantiate = [](CuGraphExec* e, CuGraph g, unsigned long long) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuGraphInstantiate");
    auto* exec = new FakeGraph{reinterpret_cast<FakeGraph*>(g)->ops};
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().execs.insert(exec);
    *e = reinterpret_cast<CuGraphExec>(exec);
    return 0;
  };
  a.graph_launch = [](CuGraphExec e, CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuGraphLaunch");
    if (stream_of(s).capturing) return refuse(kCaptureUnsupported, "cuGraphLaunch in a capture");
    for (const Op& op : reinterpret_cast<FakeGraph*>(e)->ops) submit(s, op);
    return 0;
  };
  a.graph_exec_destroy = [](CuGraphExec e) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuGraphExecDestroy");
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().execs.erase(e) == 0) return kInvalidHandle;
    delete reinterpret_cast<FakeGraph*>(e);
    return 0;
  };
  a.graph_destroy = [](CuGraph g) -> CuResult {
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().graphs.erase(g) == 0) return kInvalidHandle;
    delete reinterpret_cast<FakeGraph*>(g);
    return 0;
  };
  a.event_create = [](CuEvent* e, unsigned) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuEventCreate");
    auto* event = new FakeEvent();
    const std::lock_guard<std::mutex> lock(state().mutex);
    state().events.insert(event);
    *e = reinterpret_cast<CuEvent>(event);
    return 0;
  };
  a.event_record = [](CuEvent e, CuStream s) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuEventRecord");
    if (stream_of(s).capturing) return refuse(kCaptureUnsupported, "cuEventRecord in a capture");
    auto* event = reinterpret_cast<FakeEvent*>(e);
    event->stream = s;
    return submit(s, [event] { event->time = std::chrono::steady_clock::now(); });
  };
  a.event_synchronize = [](CuEvent e) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuEventSynchronize");
    auto* event = reinterpret_cast<FakeEvent*>(e);
    if (event->stream != nullptr) flush(event->stream);
    return 0;
  };
  a.event_elapsed_time = [](float* ms, CuEvent start, CuEvent end) -> CuResult {
    *ms = std::chrono::duration<float, std::milli>(reinterpret_cast<FakeEvent*>(end)->time -
                                                   reinterpret_cast<FakeEvent*>(start)->time)
              .count();
    return 0;
  };
  a.event_destroy = [](CuEvent e) -> CuResult {
    MT_FAKE_NEED_CONTEXT("cuEventDestroy");
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().events.erase(e) == 0) return kInvalidHandle;
    delete reinterpret_cast<FakeEvent*>(e);
    return 0;
  };
  return a;
}

#undef MT_FAKE_NEED_CONTEXT

}  // namespace mt::cuda::fake
