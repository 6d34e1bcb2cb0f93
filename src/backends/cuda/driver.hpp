// The CUDA driver API, loaded at run time: libcuda.so.1 is dlopen'ed once per process, each entry
// point is resolved once by its versioned name, and every call goes through check(). RAII owners
// for the primary context, modules, device memory, streams, events and executable graphs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cuda/dynamic_library.hpp"

namespace mt::cuda {

// The driver's C types and the few enumerators we use, declared here (values from cuda.h of
// CUDA 13.0) so the build needs no CUDA toolkit.
using CuResult = int;  // CUresult; 0 is CUDA_SUCCESS
using CuDevice = int;
using CuDevicePtr = std::uint64_t;
using CuContext = struct CuContextOpaque*;
using CuModule = struct CuModuleOpaque*;
using CuFunction = struct CuFunctionOpaque*;
using CuStream = struct CuStreamOpaque*;
using CuEvent = struct CuEventOpaque*;
using CuGraph = struct CuGraphOpaque*;
using CuGraphExec = struct CuGraphExecOpaque*;

inline constexpr CuResult kCudaSuccess = 0;

enum class DeviceAttribute : int {
  MaxThreadsPerBlock = 1,
  MaxBlockDimX = 2,
  MaxBlockDimY = 3,
  MaxBlockDimZ = 4,
  MaxGridDimX = 5,
  MaxGridDimY = 6,
  MaxGridDimZ = 7,
  MaxSharedMemoryPerBlock = 8,
  MaxSharedMemoryPerBlockOptin = 97,
  MultiprocessorCount = 16,
  ComputeCapabilityMajor = 75,
  ComputeCapabilityMinor = 76,
};

enum class FunctionAttribute : int {
  MaxThreadsPerBlock = 0,
  SharedSizeBytes = 1,
  LocalSizeBytes = 3,
  NumRegs = 4,
  MaxDynamicSharedSizeBytes = 8,
};

inline constexpr unsigned kStreamNonBlocking = 0x1;  // CU_STREAM_NON_BLOCKING
inline constexpr int kCaptureModeRelaxed = 2;        // CU_STREAM_CAPTURE_MODE_RELAXED
inline constexpr unsigned kEventDefault = 0x0;       // CU_EVENT_DEFAULT (timing enabled)

// The resolved entry points, named after the driver call (snake_case); the comment gives the
// exported symbol when it is a versioned one.
struct DriverApi {
  CuResult (*init)(unsigned) = nullptr;
  CuResult (*driver_get_version)(int*) = nullptr;
  CuResult (*get_error_name)(CuResult, const char**) = nullptr;
  CuResult (*get_error_string)(CuResult, const char**) = nullptr;
  CuResult (*device_get_count)(int*) = nullptr;
  CuResult (*device_get)(CuDevice*, int) = nullptr;
  CuResult (*device_get_name)(char*, int, CuDevice) = nullptr;
  CuResult (*device_get_attribute)(int*, int, CuDevice) = nullptr;
  CuResult (*device_total_mem)(std::size_t*, CuDevice) = nullptr;  // cuDeviceTotalMem_v2
  CuResult (*device_primary_ctx_retain)(CuContext*, CuDevice) = nullptr;
  CuResult (*device_primary_ctx_release)(CuDevice) = nullptr;  // cuDevicePrimaryCtxRelease_v2
  CuResult (*ctx_get_current)(CuContext*) = nullptr;
  CuResult (*ctx_set_current)(CuContext) = nullptr;
  CuResult (*module_load_data)(CuModule*, const void*) = nullptr;
  CuResult (*module_unload)(CuModule) = nullptr;
  CuResult (*module_get_function)(CuFunction*, CuModule, const char*) = nullptr;
  CuResult (*func_get_attribute)(int*, int, CuFunction) = nullptr;
  CuResult (*func_set_attribute)(CuFunction, int, int) = nullptr;
  CuResult (*mem_alloc)(CuDevicePtr*, std::size_t) = nullptr;  // cuMemAlloc_v2
  CuResult (*mem_free)(CuDevicePtr) = nullptr;                 // cuMemFree_v2
  CuResult (*mem_alloc_host)(void**, std::size_t) = nullptr;   // cuMemAllocHost_v2
  CuResult (*mem_free_host)(void*) = nullptr;
  CuResult (*memcpy_htod_async)(CuDevicePtr, const void*, std::size_t,
                                CuStream) = nullptr;  // cuMemcpyHtoDAsync_v2
  CuResult (*memcpy_dtoh_async)(void*, CuDevicePtr, std::size_t,
                                CuStream) = nullptr;  // cuMemcpyDtoHAsync_v2
  CuResult (*memcpy_dtod_async)(CuDevicePtr, CuDevicePtr, std::size_t,
                                CuStream) = nullptr;  // cuMemcpyDtoDAsync_v2
  CuResult (*memset_d8_async)(CuDevicePtr, unsigned char, std::size_t, CuStream) = nullptr;
  CuResult (*memset_d32_async)(CuDevicePtr, unsigned, std::size_t, CuStream) = nullptr;
  CuResult (*stream_create)(CuStream*, unsigned) = nullptr;
  CuResult (*stream_destroy)(CuStream) = nullptr;  // cuStreamDestroy_v2
  CuResult (*stream_synchronize)(CuStream) = nullptr;
  CuResult (*launch_kernel)(CuFunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                            unsigned, CuStream, void**, void**) = nullptr;
  // cuLaunchKernelEx (CUDA 12 drivers on): null where the driver lacks it; launches then never
  // overlap (kernel_overlap.hpp's LaunchConfig and LaunchAttribute give the layouts).
  CuResult (*launch_kernel_ex)(const void* config, CuFunction, void**, void**) = nullptr;
  CuResult (*stream_begin_capture)(CuStream, int) = nullptr;  // cuStreamBeginCapture_v2
  CuResult (*stream_end_capture)(CuStream, CuGraph*) = nullptr;
  CuResult (*graph_instantiate)(CuGraphExec*, CuGraph,
                                unsigned long long) = nullptr;  // cuGraphInstantiateWithFlags
  CuResult (*graph_launch)(CuGraphExec, CuStream) = nullptr;
  CuResult (*graph_exec_destroy)(CuGraphExec) = nullptr;
  CuResult (*graph_destroy)(CuGraph) = nullptr;
  CuResult (*event_create)(CuEvent*, unsigned) = nullptr;
  CuResult (*event_record)(CuEvent, CuStream) = nullptr;
  CuResult (*event_synchronize)(CuEvent) = nullptr;
  CuResult (*event_elapsed_time)(float*, CuEvent,
                                 CuEvent) = nullptr;  // cuEventElapsedTime_v2, or the original
  CuResult (*event_destroy)(CuEvent) = nullptr;       // cuEventDestroy_v2
  // cuTensorMapEncodeTiled (CUDA 12 drivers on): null where the driver lacks it, which only
  // kernels with bulk tile copies need. Arguments: the 128-byte map, CUtensorMapDataType, rank,
  // global address, dimensions, strides (bytes), box, element strides, interleave, swizzle,
  // L2 promotion, out-of-bounds fill.
  CuResult (*tensor_map_encode_tiled)(void*, int, unsigned, void*, const std::uint64_t*,
                                      const std::uint64_t*, const std::uint32_t*,
                                      const std::uint32_t*, int, int, int, int) = nullptr;
};

class Driver {
 public:
  // The process's driver: loaded from libcuda.so.1 (then libcuda.so), entry points resolved and
  // cuInit(0) called, once (thread-safe). If that failed, every call throws the same mt::Error:
  // "cuda driver: cannot load ...", "cuda driver: <lib> lacks cuXxx" or "cuda driver: cuInit
  // failed (CUDA_ERROR_...)". The driver is never unloaded, so its entry points stay valid for
  // objects destroyed at process exit.
  static const Driver& get();
  // Loads the first of `candidates` that opens, without caching (tests point it at a stub).
  static std::unique_ptr<Driver> load(std::span<const std::string> candidates);
  // Makes get() return a driver made of `api` instead of loading libcuda: a test seam, so the
  // backend can run against a host-memory fake where there is no GPU. Must be called before the
  // first get(); returns false (and changes nothing) if get() has already run.
  static bool install_for_testing(const DriverApi& api, int version, std::string file);

  const DriverApi& api() const { return api_; }
  int version() const { return version_; }  // cuDriverGetVersion: 13000 for CUDA 13.0
  const std::string& library_file() const { return file_; }

  // "CUDA_ERROR_INVALID_VALUE: invalid argument"; "CUresult 999" when the driver cannot say.
  std::string describe(CuResult result) const;
  // The one check of every driver call: throws mt::Error "cuda: cuXxx failed (NAME: text)", or
  // "kernel 'K': cuXxx failed (...)" when the call is for a kernel. `detail` is appended.
  void check(CuResult result, std::string_view call, std::string_view kernel = {},
             std::string_view detail = {}) const;

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;
  ~Driver();

 private:
  explicit Driver(std::optional<DynamicLibrary> library) : library_(std::move(library)) {}
  std::optional<DynamicLibrary> library_;  // none for a driver installed for testing
  std::string file_;
  DriverApi api_;
  int version_ = 0;
};

// Driver::get().check(...): for code that has no Driver at hand.
void check(CuResult result, std::string_view call, std::string_view kernel = {});

// Makes `ctx` current on the calling thread if it is not already (each thread that calls into
// the backend needs it: the driver keeps the current context per thread).
void make_current(CuContext ctx);

// "sm_90" for compute capability 9.0.
std::string arch_name(int major, int minor);

// --- RAII owners. Each keeps its context and makes it current before releasing; a release
// failure in a destructor is ignored (the driver may already be shut down at process exit).

// A retained primary context of one device.
class PrimaryContext {
 public:
  explicit PrimaryContext(CuDevice device);
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;
  ~PrimaryContext();
  CuContext get() const { return ctx_; }
  CuDevice device() const { return device_; }

 private:
  CuDevice device_;
  CuContext ctx_ = nullptr;
};

// A loaded cubin and its entry point, with the resources the entry point needs.
class Module {
 public:
  // cuModuleLoadData + cuModuleGetFunction(entry) + cuFuncGetAttribute; errors name `kernel`.
  // A kernel using `dynamic_shared_bytes` > 0 of dynamic shared memory has its limit raised to
  // that (cuFuncSetAttribute), which every launch of it then passes.
  Module(CuContext ctx, std::span<const std::uint8_t> cubin, const std::string& entry,
         std::string_view kernel, int dynamic_shared_bytes = 0);
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();
  CuFunction function() const { return function_; }
  int registers() const { return registers_; }        // per thread
  int local_bytes() const { return local_bytes_; }    // per thread: spills and stack
  int shared_bytes() const { return shared_bytes_; }  // static __shared__ per block
  int max_threads() const { return max_threads_; }    // per block, given the registers
  int dynamic_shared_bytes() const { return dynamic_shared_bytes_; }  // per launch

 private:
  CuContext ctx_;
  CuModule module_ = nullptr;
  CuFunction function_ = nullptr;
  int registers_ = 0, local_bytes_ = 0, shared_bytes_ = 0, max_threads_ = 0;
  int dynamic_shared_bytes_ = 0;
};

// cuMemAlloc'ed device memory (at least one byte is allocated, so a pointer always exists).
class DeviceAllocation {
 public:
  DeviceAllocation(CuContext ctx, std::size_t bytes);
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
  ~DeviceAllocation();
  CuDevicePtr ptr() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  CuContext ctx_;
  CuDevicePtr ptr_ = 0;
  std::size_t bytes_;
};

// Page-locked host memory (cuMemAllocHost): copies into it are truly asynchronous, so a read
// back can be queued behind the work that writes it and waited for once.
class PinnedHost {
 public:
  PinnedHost(CuContext ctx, std::size_t bytes);
  PinnedHost(const PinnedHost&) = delete;
  PinnedHost& operator=(const PinnedHost&) = delete;
  ~PinnedHost();
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  CuContext ctx_;
  void* ptr_ = nullptr;
  std::size_t bytes_;
};

// A non-blocking stream: it never synchronises with the legacy default stream, so another
// thread's use of that stream cannot serialise with or invalidate a capture on this one.
class Stream {
 public:
  explicit Stream(CuContext ctx);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
  CuStream get() const { return stream_; }

 private:
  CuContext ctx_;
  CuStream stream_ = nullptr;
};

// A timing event.
class Event {
 public:
  explicit Event(CuContext ctx);
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();
  CuEvent get() const { return event_; }

 private:
  CuContext ctx_;
  CuEvent event_ = nullptr;
};

// An instantiated graph. Takes the captured graph, instantiates it and destroys it (the
// executable graph does not need it).
class GraphExec {
 public:
  GraphExec(CuContext ctx, CuGraph graph);
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  ~GraphExec();
  CuGraphExec get() const { return exec_; }

 private:
  CuContext ctx_;
  CuGraphExec exec_ = nullptr;
};

}  // namespace mt::cuda
