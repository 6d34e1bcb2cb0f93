// CudaBackend: device probe, description and limits, compile through the cubin cache, the
// byte-map launch, the stream pool; and the public functions of metaltile/backends/cuda.hpp.
#include "backends/cuda/cuda_backend.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <utility>

#include "backends/cuda/cubin_cache.hpp"
#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_launch.hpp"
#include "backends/cuda/disk_cache.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "backends/cuda/warpgroup_mma.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {
namespace {

constexpr std::size_t kArenaAlignment = 256;  // cuMemAlloc's own alignment
// Pooled arenas larger than this are freed after the launch rather than kept.
constexpr std::size_t kKeptArenaBytes = std::size_t{64} << 20;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

int attribute(CuDevice device, DeviceAttribute a) {
  int value = 0;
  check(Driver::get().api().device_get_attribute(&value, static_cast<int>(a), device),
        "cuDeviceGetAttribute");
  return value;
}

CuDevice device_handle(int ordinal) {
  const Driver& d = Driver::get();
  int count = 0;
  d.check(d.api().device_get_count(&count), "cuDeviceGetCount");
  if (count == 0) throw Error("cuda: the driver reports no CUDA device");
  if (ordinal < 0 || ordinal >= count) {
    throw Error("cuda: there is no device " + std::to_string(ordinal) + " (" +
                std::to_string(count) + " device" + (count == 1 ? "" : "s") + ")");
  }
  CuDevice device = 0;
  d.check(d.api().device_get(&device, ordinal), "cuDeviceGet");
  return device;
}

// The device's own architecture if NVRTC can target it, else the newest NVRTC target of the
// same major version that the device can run (a cubin for sm_XY runs on sm_XZ, Z >= Y).
std::string pick_arch(int major, int minor, const std::vector<std::string>& supported) {
  const int wanted = major * 10 + minor;
  int best = -1;
  for (const std::string& arch : supported) {
    const int n = std::atoi(arch.c_str() + 3);  // "sm_90"
    if (n == wanted) return arch;
    if (n / 10 == major && n < wanted) best = std::max(best, n);
  }
  if (best >= 0) return "sm_" + std::to_string(best);
  std::string list;
  for (const std::string& arch : supported) list += (list.empty() ? "" : " ") + arch;
  throw Error("cuda: NVRTC " + nvrtc_version() + " cannot compile for " + arch_name(major, minor) +
              " (it targets: " + list + ")");
}

std::string gib(std::uint64_t bytes) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << static_cast<double>(bytes) / static_cast<double>(1ull << 30);
  return s.str();
}

}  // namespace

// --- construction ------------------------------------------------------------------------------

CudaBackend::CudaBackend(const CudaOptions& options) : options_(options) {
  info_ = cuda_device_info(options.device);
  const Nvrtc& nvrtc = Nvrtc::get();
  cuda_include_dir();  // throws now, not at the first compile, if the CUDA headers are missing
  nvrtc_version_ = nvrtc_version();
  info_.arch = pick_arch(info_.compute_major, info_.compute_minor, nvrtc.supported_archs());

  const CuDevice device = device_handle(options.device);
  ctx_ = std::make_shared<const PrimaryContext>(device);
  const auto u32 = [&](DeviceAttribute a) {
    return static_cast<std::uint32_t>(attribute(device, a));
  };
  limits_.max_threads_per_threadgroup = u32(DeviceAttribute::MaxThreadsPerBlock);
  limits_.max_tpg = {u32(DeviceAttribute::MaxBlockDimX), u32(DeviceAttribute::MaxBlockDimY),
                     u32(DeviceAttribute::MaxBlockDimZ)};
  limits_.max_grid = {u32(DeviceAttribute::MaxGridDimX), u32(DeviceAttribute::MaxGridDimY),
                      u32(DeviceAttribute::MaxGridDimZ)};
  // With the opt-in (cuFuncSetAttribute) that kernels past 48 KiB of arrays make.
  limits_.max_threadgroup_memory = u32(DeviceAttribute::MaxSharedMemoryPerBlockOptin);
  // Geometry rules (split-K attention, GEMM block size, RoPE waves) size their grids with it.
  limits_.multiprocessors = u32(DeviceAttribute::MultiprocessorCount);
  // On sm_90 `gemm` picks its warpgroup-MMA (TMA) kernels, 0.71-0.75x cuBLAS on the H100
  // against 0.36-0.48x for mma.sync; MT_WGMMA=0 keeps the mma.sync kernels (by name every
  // variant runs either way).
  const char* opt_out = std::getenv("MT_WGMMA");
  limits_.warpgroup_mma = info_.compute_major == 9 && info_.compute_minor == 0 &&
                          !(opt_out != nullptr && std::string_view(opt_out) == "0");
  // Split decode attention merges in its last group instead of a second launch (a combine
  // kernel); MT_SPLIT_MERGE=0 keeps the two launches.
  const char* merge_opt_out = std::getenv("MT_SPLIT_MERGE");
  limits_.merge_splits_in_kernel =
      !(merge_opt_out != nullptr && std::string_view(merge_opt_out) == "0");
}

CudaBackend::~CudaBackend() = default;

std::string CudaBackend::description() const {
  return "cuda " + info_.name + " (" + info_.arch + ", " + std::to_string(info_.multiprocessors) +
         " SMs, " + gib(info_.memory_bytes) + " GiB, NVRTC " + nvrtc_version_ +
         (options_.checked ? "" : ", unchecked") + ")";
}

// --- compile -----------------------------------------------------------------------------------

std::shared_ptr<const Executable> CudaBackend::compile(const Kernel& k) {
  // Warpgroup MMA exists only for sm_90a (kernel_arch refuses it elsewhere).
  const std::string target = kernel_arch(k, arch());
  const CachedCubin compiled = cached_cubin(k, EmitOptions{.checked = options_.checked}, target);
  auto module = std::make_unique<const Module>(ctx_->get(), *compiled.cubin, compiled.source.entry,
                                               k.name, static_cast<int>(dynamic_shared_bytes(k)));
  // The wait is compiled in only for sm_90 on (prelude.cuh): launching overlapped code built
  // for an older target would race.
  const bool overlap = options_.kernel_overlap && std::stoi(target.substr(3)) >= 90 &&
                       Driver::get().api().launch_kernel_ex != nullptr && waits_for_prior_kernel(k);
  return std::make_shared<const CudaExecutable>(ctx_, k, std::move(module), options_.checked,
                                                overlap);
}

// --- the stream pool ---------------------------------------------------------------------------

CudaBackend::Lease::Lease(CudaBackend& backend) : backend_(backend) {
  make_current(backend.ctx_->get());
  {
    const std::lock_guard<std::mutex> lock(backend.pool_mutex_);
    if (!backend.pool_.empty()) {
      pooled_ = std::move(backend.pool_.back());
      backend.pool_.pop_back();
    }
  }
  if (pooled_ == nullptr) pooled_ = std::make_unique<Pooled>(backend.ctx_->get());
}

CudaBackend::Lease::~Lease() {
  // After an error, copies or a launch may still be queued: let them finish before the arena
  // is reused or freed. (A no-op wait on the success paths, which synchronise already.)
  const CuResult idle = Driver::get().api().stream_synchronize(stream());
  if (idle != kCudaSuccess) return;  // a broken stream is not given back to the pool
  if (pooled_->arena != nullptr && pooled_->arena->bytes() > kKeptArenaBytes) {
    pooled_->arena.reset();
  }
  const std::lock_guard<std::mutex> lock(backend_.pool_mutex_);
  backend_.pool_.push_back(std::move(pooled_));
}

CuDevicePtr CudaBackend::Lease::arena(std::size_t bytes) {
  if (pooled_->arena == nullptr || pooled_->arena->bytes() < bytes) {
    pooled_->arena.reset();
    // Whole MiBs, so launches of slowly growing sizes do not reallocate each time.
    pooled_->arena = std::make_unique<DeviceAllocation>(backend_.ctx_->get(),
                                                        round_up(bytes, std::size_t{1} << 20));
  }
  return pooled_->arena->ptr();
}

// --- the byte-map launch -----------------------------------------------------------------------

void CudaBackend::launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) {
  const CudaExecutable& cx = cuda_executable(exe);
  const Kernel& k = cx.kernel();
  MT_ASSERT(args.size() == k.params.size()) << "kernel " << k.name << ": " << args.size()
                                            << " arguments for " << k.params.size() << " params";
  check_threadgroup_size(cx, dims);

  // One arena per launch: each tensor at an aligned offset (at least one byte, so every pointer
  // is distinct and valid), then the error record.
  KernelArgs kernel_args(args.size());
  std::vector<std::size_t> offsets(args.size(), 0);
  std::size_t total = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Param& p = k.params[i];
    if (!p.is_tensor()) {
      kernel_args.scalars[i] = args[i].scalar;
      continue;
    }
    offsets[i] = total;
    total += round_up(std::max<std::size_t>(args[i].bytes.size(), 1), kArenaAlignment);
    kernel_args.elements[i] = args[i].bytes.size() / size_of(p.dtype);
  }
  const std::size_t record_at = total;
  total += kErrorRecordWords * sizeof(std::uint32_t);

  const Driver& d = Driver::get();
  const DriverApi& api = d.api();
  Lease lease(*this);
  const CuStream stream = lease.stream();
  const CuDevicePtr base = lease.arena(total);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!k.params[i].is_tensor()) continue;
    kernel_args.pointers[i] = base + offsets[i];
    const std::span<std::uint8_t> bytes = args[i].bytes;
    if (bytes.empty()) continue;
    d.check(api.memcpy_htod_async(base + offsets[i], bytes.data(), bytes.size(), stream),
            "cuMemcpyHtoDAsync", k.name);
  }
  d.check(api.memset_d32_async(base + record_at, 0, kErrorRecordWords, stream), "cuMemsetD32Async",
          k.name);
  launch_kernel(cx, kernel_args, base + record_at, dims, stream);

  if (cx.checked()) {
    std::uint32_t words[kErrorRecordWords] = {};
    d.check(api.memcpy_dtoh_async(words, base + record_at, sizeof words, stream),
            "cuMemcpyDtoHAsync", k.name);
    d.check(api.stream_synchronize(stream), "cuStreamSynchronize", k.name);
    const ErrorRecord record = decode_error_record(words);
    // Outputs are copied back only after a clean run: a failed launch changes nothing.
    if (record.kind != ErrorKind::None) {
      throw error_from_record(k, record, kernel_args.elements, dims);
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (k.params[i].kind != ParamKind::Output || args[i].bytes.empty()) continue;
    d.check(api.memcpy_dtoh_async(args[i].bytes.data(), base + offsets[i], args[i].bytes.size(),
                                  stream),
            "cuMemcpyDtoHAsync", k.name);
  }
  d.check(api.stream_synchronize(stream), "cuStreamSynchronize", k.name);
}

}  // namespace mt::cuda

// --- public functions (metaltile/backends/cuda.hpp) --------------------------------------------

namespace mt {

namespace {

// An on/off switch from the environment: unset, empty or 1 is on, 0 is off, anything else an
// mt::Error saying what 0 does.
bool switch_from_env(const char* name, const char* what_off_does) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0' || std::string_view(value) == "1") return true;
  if (std::string_view(value) == "0") return false;
  throw Error(std::string(name) + "='" + value + "' is not 0 or 1 (0 " + what_off_does + ")");
}

}  // namespace

CudaOptions cuda_options_from_env() {
  CudaOptions options;
  options.checked =
      switch_from_env("MT_CUDA_CHECKED", "turns the CUDA backend's access guards off");
  options.kernel_overlap =
      switch_from_env("MT_KERNEL_OVERLAP", "launches every kernel after the one before it ends");
  return options;
}

std::unique_ptr<KernelBackend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

CudaDeviceInfo cuda_device_info(int device) {
  using cuda::DeviceAttribute;
  const cuda::Driver& d = cuda::Driver::get();
  const cuda::CuDevice handle = cuda::device_handle(device);
  CudaDeviceInfo info;
  char name[256] = {};
  d.check(d.api().device_get_name(name, sizeof name - 1, handle), "cuDeviceGetName");
  info.name = name;
  info.compute_major = cuda::attribute(handle, DeviceAttribute::ComputeCapabilityMajor);
  info.compute_minor = cuda::attribute(handle, DeviceAttribute::ComputeCapabilityMinor);
  info.arch = cuda::arch_name(info.compute_major, info.compute_minor);
  info.multiprocessors = cuda::attribute(handle, DeviceAttribute::MultiprocessorCount);
  std::size_t bytes = 0;
  d.check(d.api().device_total_mem(&bytes, handle), "cuDeviceTotalMem");
  info.memory_bytes = bytes;
  info.driver_version = d.version();
  info.driver_library = d.library_file();
  return info;
}

std::string nvrtc_version() {
  const cuda::NvrtcVersion v = cuda::Nvrtc::get().version();
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

std::string nvrtc_library() { return cuda::Nvrtc::get().library_file(); }

CudaCompileStats cuda_compile_stats() {
  const cuda::CubinCacheCounters c = cuda::CubinCache::process().counters();
  CudaCompileStats s;
  s.compiles = c.compiles;
  s.memory_hits = c.memory_hits;
  s.disk_hits = c.disk_hits;
  s.disk_writes = c.disk_writes;
  s.corrupt_entries = c.corrupt_entries;
  s.disk_errors = c.disk_errors;
  s.cache_dir = cuda::default_cache_dir().string();
  return s;
}

void clear_cuda_memory_cache() { cuda::CubinCache::process().clear_memory(); }

}  // namespace mt
