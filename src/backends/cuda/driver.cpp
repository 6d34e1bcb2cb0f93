// The driver API through dlopen: loading and resolving once, the one check(), context binding
// and the RAII owners.
#include "backends/cuda/driver.hpp"

#include <mutex>
#include <utility>

#include "metaltile/core/error.hpp"

namespace mt::cuda {
namespace {

// Names for the results we can meet before the driver can name them itself (a stub library or
// a failed cuInit answers cuGetErrorName with an error).
const char* fallback_name(CuResult result) {
  switch (result) {
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY";
    case 35: return "CUDA_ERROR_INSUFFICIENT_DRIVER";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 304: return "CUDA_ERROR_OPERATING_SYSTEM";
    default: return nullptr;
  }
}

// Releases in destructors: make the owner's context current and ignore any failure, since a
// destructor cannot report it and at process exit the driver may already be shut down.
template <class Release>
void release_quietly(CuContext ctx, Release release) {
  const DriverApi& api = Driver::get().api();
  CuContext current = nullptr;
  if (api.ctx_get_current(&current) == kCudaSuccess && current != ctx) api.ctx_set_current(ctx);
  release(api);
}

}  // namespace

Driver::~Driver() = default;

std::unique_ptr<Driver> Driver::load(std::span<const std::string> candidates) {
  std::unique_ptr<Driver> d(new Driver(DynamicLibrary::open_first("the CUDA driver", candidates)));
  DriverApi& a = d->api_;
  const DynamicLibrary& lib = *d->library_;
  lib.resolve(a.init, "cuInit");
  lib.resolve(a.driver_get_version, "cuDriverGetVersion");
  lib.resolve(a.get_error_name, "cuGetErrorName");
  lib.resolve(a.get_error_string, "cuGetErrorString");
  lib.resolve(a.device_get_count, "cuDeviceGetCount");
  lib.resolve(a.device_get, "cuDeviceGet");
  lib.resolve(a.device_get_name, "cuDeviceGetName");
  lib.resolve(a.device_get_attribute, "cuDeviceGetAttribute");
  lib.resolve(a.device_total_mem, "cuDeviceTotalMem_v2");
  lib.resolve(a.device_primary_ctx_retain, "cuDevicePrimaryCtxRetain");
  lib.resolve(a.device_primary_ctx_release, "cuDevicePrimaryCtxRelease_v2");
  lib.resolve(a.ctx_get_current, "cuCtxGetCurrent");
  lib.resolve(a.ctx_set_current, "cuCtxSetCurrent");
  lib.resolve(a.module_load_data, "cuModuleLoadData");
  lib.resolve(a.module_unload, "cuModuleUnload");
  lib.resolve(a.module_get_function, "cuModuleGetFunction");
  lib.resolve(a.func_get_attribute, "cuFuncGetAttribute");
  lib.resolve(a.func_set_attribute, "cuFuncSetAttribute");
  lib.resolve(a.mem_alloc, "cuMemAlloc_v2");
  lib.resolve(a.mem_free, "cuMemFree_v2");
  lib.resolve(a.mem_alloc_host, "cuMemAllocHost_v2");
  lib.resolve(a.mem_free_host, "cuMemFreeHost");
  lib.resolve(a.memcpy_htod_async, "cuMemcpyHtoDAsync_v2");
  lib.resolve(a.memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2");
  lib.resolve(a.memcpy_dtod_async, "cuMemcpyDtoDAsync_v2");
  lib.resolve(a.memset_d8_async, "cuMemsetD8Async");
  lib.resolve(a.memset_d32_async, "cuMemsetD32Async");
  lib.resolve(a.stream_create, "cuStreamCreate");
  lib.resolve(a.stream_destroy, "cuStreamDestroy_v2");
  lib.resolve(a.stream_synchronize, "cuStreamSynchronize");
  lib.resolve(a.launch_kernel, "cuLaunchKernel");
  lib.resolve(a.stream_begin_capture, "cuStreamBeginCapture_v2");
  lib.resolve(a.stream_end_capture, "cuStreamEndCapture");
  lib.resolve(a.graph_instantiate, "cuGraphInstantiateWithFlags");
  lib.resolve(a.graph_launch, "cuGraphLaunch");
  lib.resolve(a.graph_exec_destroy, "cuGraphExecDestroy");
  lib.resolve(a.graph_destroy, "cuGraphDestroy");
  lib.resolve(a.event_create, "cuEventCreate");
  lib.resolve(a.event_record, "cuEventRecord");
  lib.resolve(a.event_synchronize, "cuEventSynchronize");
  lib.resolve(a.event_destroy, "cuEventDestroy_v2");
  // cuEventElapsedTime_v2 arrived with CUDA 12.8 drivers; older ones export only the original,
  // which has the same signature.
  try {
    lib.resolve(a.event_elapsed_time, "cuEventElapsedTime_v2");
  } catch (const Error&) {
    lib.resolve(a.event_elapsed_time, "cuEventElapsedTime");
  }
  try {
    lib.resolve(a.launch_kernel_ex, "cuLaunchKernelEx");
  } catch (const Error&) {
    a.launch_kernel_ex = nullptr;  // an older driver: kernels are launched without overlap
  }
  try {
    lib.resolve(a.tensor_map_encode_tiled, "cuTensorMapEncodeTiled");
  } catch (const Error&) {
    a.tensor_map_encode_tiled = nullptr;  // an older driver: bulk copies report it when used
  }
  d->file_ = lib.file_of("cuInit");
  if (d->file_.empty()) d->file_ = lib.name();

  d->check(a.init(0), "cuInit");
  d->check(a.driver_get_version(&d->version_), "cuDriverGetVersion");
  return d;
}

namespace {

// A driver installed by install_for_testing, taken by the first get().
std::mutex g_installed_mutex;
Driver* g_installed = nullptr;
bool g_got = false;

}  // namespace

bool Driver::install_for_testing(const DriverApi& api, int version, std::string file) {
  const std::lock_guard<std::mutex> lock(g_installed_mutex);
  if (g_got) return false;
  auto* d = new Driver(std::nullopt);
  d->api_ = api;
  d->version_ = version;
  d->file_ = std::move(file);
  delete g_installed;
  g_installed = d;
  return true;
}

const Driver& Driver::get() {
  struct Loaded {
    Driver* driver = nullptr;  // never deleted: see the header
    std::string error;
  };
  static const Loaded loaded = [] {
    Loaded l;
    {
      const std::lock_guard<std::mutex> lock(g_installed_mutex);
      g_got = true;
      if (g_installed != nullptr) {
        l.driver = g_installed;
        return l;
      }
    }
    const std::string candidates[] = {"libcuda.so.1", "libcuda.so"};
    try {
      l.driver = load(candidates).release();
    } catch (const Error& e) {
      l.error = e.what();
    }
    return l;
  }();
  if (loaded.driver == nullptr) throw Error(loaded.error);
  return *loaded.driver;
}

std::string Driver::describe(CuResult result) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api_.get_error_name(result, &name) != kCudaSuccess || name == nullptr) {
    name = fallback_name(result);
  }
  if (api_.get_error_string(result, &text) != kCudaSuccess) text = nullptr;
  std::string out = name != nullptr ? name : "CUresult " + std::to_string(result);
  if (text != nullptr) out.append(": ").append(text);
  return out;
}

void Driver::check(CuResult result, std::string_view call, std::string_view kernel,
                   std::string_view detail) const {
  if (result == kCudaSuccess) return;
  std::string message = std::string(call) + " failed (" + describe(result) + ")";
  if (!detail.empty()) message.append(": ").append(detail);
  if (kernel.empty()) throw Error("cuda: " + message);
  throw kernel_error(kernel, message);
}

void check(CuResult result, std::string_view call, std::string_view kernel) {
  if (result == kCudaSuccess) return;
  Driver::get().check(result, call, kernel);
}

void make_current(CuContext ctx) {
  const Driver& d = Driver::get();
  CuContext current = nullptr;
  d.check(d.api().ctx_get_current(&current), "cuCtxGetCurrent");
  if (current != ctx) d.check(d.api().ctx_set_current(ctx), "cuCtxSetCurrent");
}

std::string arch_name(int major, int minor) {
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

// --- RAII owners -------------------------------------------------------------------------------

PrimaryContext::PrimaryContext(CuDevice device) : device_(device) {
  check(Driver::get().api().device_primary_ctx_retain(&ctx_, device), "cuDevicePrimaryCtxRetain");
}

PrimaryContext::~PrimaryContext() {
  // Other threads may still have it current; releasing our reference is still right, since
  // every owner of a primary context retains it.
  Driver::get().api().device_primary_ctx_release(device_);
}

Module::Module(CuContext ctx, std::span<const std::uint8_t> cubin, const std::string& entry,
               std::string_view kernel, int dynamic_shared_bytes)
    : ctx_(ctx), dynamic_shared_bytes_(dynamic_shared_bytes) {
  const Driver& d = Driver::get();
  const DriverApi& api = d.api();
  make_current(ctx);
  d.check(api.module_load_data(&module_, cubin.data()), "cuModuleLoadData", kernel);
  try {
    d.check(api.module_get_function(&function_, module_, entry.c_str()), "cuModuleGetFunction",
            kernel, entry);
    const auto attribute = [&](FunctionAttribute a, int& out) {
      d.check(api.func_get_attribute(&out, static_cast<int>(a), function_), "cuFuncGetAttribute",
              kernel);
    };
    if (dynamic_shared_bytes_ > 0) {
      d.check(api.func_set_attribute(function_,
                                     static_cast<int>(FunctionAttribute::MaxDynamicSharedSizeBytes),
                                     dynamic_shared_bytes_),
              "cuFuncSetAttribute", kernel);
    }
    attribute(FunctionAttribute::NumRegs, registers_);
    attribute(FunctionAttribute::LocalSizeBytes, local_bytes_);
    attribute(FunctionAttribute::SharedSizeBytes, shared_bytes_);
    attribute(FunctionAttribute::MaxThreadsPerBlock, max_threads_);
  } catch (...) {
    api.module_unload(module_);
    throw;
  }
}

Module::~Module() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.module_unload(module_); });
}

DeviceAllocation::DeviceAllocation(CuContext ctx, std::size_t bytes) : ctx_(ctx), bytes_(bytes) {
  make_current(ctx);
  const Driver& d = Driver::get();
  d.check(d.api().mem_alloc(&ptr_, bytes == 0 ? 1 : bytes), "cuMemAlloc", {},
          quantity(bytes, "byte"));
}

DeviceAllocation::~DeviceAllocation() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.mem_free(ptr_); });
}

PinnedHost::PinnedHost(CuContext ctx, std::size_t bytes) : ctx_(ctx), bytes_(bytes) {
  make_current(ctx);
  const Driver& d = Driver::get();
  d.check(d.api().mem_alloc_host(&ptr_, bytes == 0 ? 1 : bytes), "cuMemAllocHost", {},
          quantity(bytes, "byte"));
}

PinnedHost::~PinnedHost() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.mem_free_host(ptr_); });
}

Stream::Stream(CuContext ctx) : ctx_(ctx) {
  make_current(ctx);
  check(Driver::get().api().stream_create(&stream_, kStreamNonBlocking), "cuStreamCreate");
}

Stream::~Stream() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.stream_destroy(stream_); });
}

Event::Event(CuContext ctx) : ctx_(ctx) {
  make_current(ctx);
  check(Driver::get().api().event_create(&event_, kEventDefault), "cuEventCreate");
}

Event::~Event() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.event_destroy(event_); });
}

GraphExec::GraphExec(CuContext ctx, CuGraph graph) : ctx_(ctx) {
  const DriverApi& api = Driver::get().api();
  make_current(ctx);
  const CuResult instantiated = api.graph_instantiate(&exec_, graph, 0);
  api.graph_destroy(graph);
  check(instantiated, "cuGraphInstantiateWithFlags");
}

GraphExec::~GraphExec() {
  release_quietly(ctx_, [&](const DriverApi& api) { api.graph_exec_destroy(exec_); });
}

}  // namespace mt::cuda
