// Launch a library kernel by name: the geometry comes from the kernel's registry entry (its
// rule over the buffer sizes and scalars), so a user needs only the name, the dtype and the
// buffers. Kernels that need several launches (split-K, two passes) make all of them here.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/kernels/registry.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"

namespace mt::kernels {

// The byte-map form (DispatchResult as Context::dispatch_with_grid returns it). Errors are those
// of dispatch_with_grid, checked before the geometry is derived, plus an mt::Error for an
// unknown name or an unsupported dtype. Safe to call from several threads at once.
DispatchResult run(const Context& ctx, std::string_view name, DType dtype, const BufferMap& buffers,
                   const ConstMap& consts = {});
// The same for an entry given directly (a kernel outside the registry; its plan's steps may
// launch registered kernels by name).
DispatchResult run(const Context& ctx, const KernelInfo& entry, DType dtype,
                   const BufferMap& buffers, const ConstMap& consts = {});

// The device-resident form: launch by name on device buffers, again and again (a decode loop,
// a captured graph). Kernels are prepared once; the geometry is derived from the bindings on
// every launch; scratch buffers of multi-launch kernels are allocated on first use and kept, so
// launches captured into a graph stay valid while the runner lives. Not safe to call from
// several threads at once (one runner a thread, or a lock).
class KernelRunner {
 public:
  KernelRunner(const Context& ctx, std::string_view name, DType dtype, const ConstMap& consts = {});
  // For an entry given directly; it must outlive the runner.
  KernelRunner(const Context& ctx, const KernelInfo& entry, DType dtype,
               const ConstMap& consts = {});

  // Checks the bindings and the kernel's contract, then queues every launch on `stream` and
  // returns without waiting.
  void launch(const DeviceBindings& bindings, const Stream& stream);

  const KernelInfo& info() const { return *info_; }
  DType dtype() const { return dtype_; }
  // Whether a launch so far needed scratch buffers (a multi-launch plan).
  bool uses_scratch() const { return !scratch_.empty(); }

 private:
  const PreparedKernel& prepared(const std::string& kernel);
  const DeviceBuffer& scratch(const ScratchBuffer& s);

  Context ctx_;
  const KernelInfo* info_;
  DType dtype_;
  ConstMap consts_;
  std::map<std::string, PreparedKernel> prepared_;  // by step kernel name
  std::map<std::string, DeviceBuffer> scratch_;     // by scratch buffer name
  std::vector<DeviceBuffer> retired_;  // outgrown scratch that a captured graph may still use
};

// One device-resident launch by name, queued on `stream`. A kernel whose plan uses scratch
// buffers synchronises the stream before returning (its scratch dies with the call); use a
// KernelRunner for repeated launches and graph capture.
void run(const Context& ctx, std::string_view name, DType dtype, const DeviceBindings& bindings,
         const Stream& stream, const ConstMap& consts = {});

}  // namespace mt::kernels
