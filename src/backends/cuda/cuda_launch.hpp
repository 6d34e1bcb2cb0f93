// One launch of a compiled kernel, shared by the byte-map launch and the device-resident
// enqueue: the executable (module, ABI slots, mode), the kernelParams array the kernel ABI
// (cuda_abi.hpp) prescribes, and the check of the threadgroup size against the kernel's limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backends/cuda/bulk_copy.hpp"
#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/driver.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

// A compiled kernel: its module (loaded in the backend's context, which it keeps alive) and the
// argument slots of its entry point.
class CudaExecutable final : public Executable {
 public:
  // overlaps_prior: launched with programmatic stream serialisation, so that it may start
  // before the prior kernel of its stream ends (the kernel waits for it: waits_for_prior_kernel).
  CudaExecutable(std::shared_ptr<const PrimaryContext> ctx, Kernel k,
                 std::unique_ptr<const Module> module, bool checked, bool overlaps_prior = false);
  const Kernel& kernel() const override { return kernel_; }
  const Module& module() const { return *module_; }
  bool checked() const { return checked_; }
  bool overlaps_prior() const { return overlaps_prior_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  std::shared_ptr<const PrimaryContext> ctx_;  // first: released after the module
  Kernel kernel_;
  std::unique_ptr<const Module> module_;
  bool checked_;
  bool overlaps_prior_;
  std::vector<Slot> slots_;
};

// The runtime hands a backend only its own executables; anything else is our bug.
const CudaExecutable& cuda_executable(const Executable& exe);

// The values of one launch, by ParamId: a tensor's device pointer and element count, a scalar's
// value (entries of the other kind are ignored).
struct KernelArgs {
  std::vector<CuDevicePtr> pointers;
  std::vector<std::uint64_t> elements;
  std::vector<Scalar> scalars;
  explicit KernelArgs(std::size_t params) : pointers(params), elements(params), scalars(params) {}
};

// The bytes a scalar of dtype `t` is passed as (its value type, cuda_dialect.hpp), zero-extended.
std::uint64_t scalar_bits(DType t, const Scalar& value);

// mt::Error if dims.tpg has more threads than the compiled kernel allows on this device (its
// register use can make that fewer than the device limit the runtime checked).
void check_threadgroup_size(const CudaExecutable& exe, const LaunchDims& dims);

// The tensor maps of k (by TensorMapId) for a launch with `args`: the extents the contract
// gives (checked; a bad one is an mt::Error naming the tensor), encoded over the bound tensors.
std::vector<EncodedTensorMap> encode_tensor_maps(const Driver& driver, const Kernel& k,
                                                 const KernelArgs& args, const LaunchDims& dims);

// The driver's CUlaunchAttribute and CUlaunchConfig for cuLaunchKernelEx (cuda.h, CUDA 12 on),
// laid out by hand as the rest of the driver API is (driver.hpp): an 8-byte id word and a
// 64-byte value union; the config's stream pointer sits at byte 32.
struct LaunchAttribute {
  std::uint32_t id;
  std::uint32_t pad;
  std::int32_t value[16];
};
static_assert(sizeof(LaunchAttribute) == 72);
struct LaunchConfig {
  unsigned grid[3];
  unsigned block[3];
  unsigned shared_bytes;
  CuStream stream;
  LaunchAttribute* attributes;
  unsigned attribute_count;
};
static_assert(sizeof(LaunchConfig) == 56 && offsetof(LaunchConfig, stream) == 32);
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: value[0] = 1 lets the kernel start
// before the prior kernel of its stream ends.
inline constexpr std::uint32_t kProgrammaticStreamSerialization = 6;

// Whether k's body holds WaitPriorKernel at its top level (the verifier has checked that
// nothing before it touches a tensor), so that it may overlap the kernel before it.
bool waits_for_prior_kernel(const Kernel& k);

// cuLaunchKernel of `exe` on `stream` with `args` and the error record at `error_record`.
void launch_kernel(const CudaExecutable& exe, const KernelArgs& args, CuDevicePtr error_record,
                   const LaunchDims& dims, CuStream stream);

}  // namespace mt::cuda
