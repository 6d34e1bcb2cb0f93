// run by name: check the request against the entry's kernel, derive the launch plan from its
// geometry rule, and make every launch of the plan (byte-map and device-resident forms).
#include "metaltile/kernels/run.hpp"

#include <cstring>
#include <map>
#include <utility>

#include "metaltile/core/error.hpp"

namespace mt::kernels {
namespace {

std::vector<std::uint8_t> const_bytes(const ConstValue& v) {
  std::vector<std::uint8_t> bytes(4);
  std::visit([&](auto x) { std::memcpy(bytes.data(), &x, 4); }, v);  // little-endian hosts
  return bytes;
}

DeviceArg const_arg(const ConstValue& v) {
  return std::visit([](auto x) { return DeviceArg(x); }, v);
}

LaunchShape shape_of(const Kernel& k, DType dtype, const DeviceLimits& limits,
                     const std::map<std::string, Scalar>& uniforms) {
  std::map<std::string, std::size_t> elements;
  std::map<std::string, Scalar> scalars;
  for (const Param& p : k.params) {
    const Scalar& v = uniforms.at(p.name);
    if (p.is_tensor()) {
      elements.emplace(p.name, static_cast<std::size_t>(v.i));
    } else {
      scalars.emplace(p.name, v);
    }
  }
  return LaunchShape(k.name, dtype, limits, std::move(elements), std::move(scalars));
}

// The entry's own kernel launched once, on the request's buffers as they are.
bool is_single_launch(const LaunchPlan& plan) {
  if (plan.steps.size() != 1 || !plan.scratch.empty()) return false;
  const LaunchStep& s = plan.steps.front();
  return s.kernel.empty() && s.buffers.empty() && s.scalars.empty();
}

const std::string& step_kernel_name(const KernelInfo& info, const LaunchStep& step) {
  return step.kernel.empty() ? info.name : step.kernel;
}

// The plan buffer a step's tensor parameter binds.
const std::string& source_of(const LaunchStep& step, const std::string& param) {
  auto it = step.buffers.find(param);
  return it == step.buffers.end() ? param : it->second;
}

// The consts that name scalar parameters of k (a plan's kernels share the request's consts).
ConstMap consts_for(const Kernel& k, const ConstMap& consts) {
  ConstMap mine;
  for (const auto& [name, value] : consts) {
    const ParamId id = k.find_param(name);
    if (id.valid() && !k.param(id).is_tensor()) mine.emplace(name, value);
  }
  return mine;
}

// The entry's own kernel (from the registry's cache when the entry is registered, else traced
// now) or a registered kernel a step names.
Kernel traced_for(const KernelInfo& info, const std::string& kernel, DType dtype) {
  if (kernel != info.name || find_kernel(kernel) == &info) return traced_kernel(kernel, dtype);
  return info.build(dtype);
}

DispatchResult run_plan(const Context& ctx, const KernelInfo& info, const Kernel& entry,
                        DType dtype, const LaunchPlan& plan, const BufferMap& buffers,
                        const ConstMap& consts) {
  BufferMap work = buffers;
  for (const ScratchBuffer& s : plan.scratch) {
    MT_ASSERT(work.count(s.name) == 0) << info.name << ": scratch '" << s.name << "' clashes";
    work[s.name].assign(s.elements * size_of(s.dtype), 0);
  }
  DispatchResult result;
  for (const LaunchStep& step : plan.steps) {
    const Kernel k = traced_for(info, step_kernel_name(info, step), dtype);
    const ConstMap step_consts = consts_for(k, consts);
    BufferMap step_buffers;
    for (const Param& p : k.params) {
      if (p.is_tensor()) {
        step_buffers[p.name] = work.at(source_of(step, p.name));
      } else if (auto v = step.scalars.find(p.name); v != step.scalars.end()) {
        step_buffers[p.name] = const_bytes(v->second);
      } else if (step_consts.count(p.name) == 0) {
        step_buffers[p.name] = work.at(p.name);
      }
    }
    DispatchResult r = ctx.dispatch_with_grid(k, step_buffers, step_consts, step.grid, step.tpg);
    for (auto& [name, bytes] : r.outputs) work[source_of(step, name)] = std::move(bytes);
    result.elapsed_us += r.elapsed_us;
  }
  for (const Param& p : entry.params) {
    if (p.kind == ParamKind::Output) result.outputs[p.name] = std::move(work.at(p.name));
  }
  return result;
}

}  // namespace

DispatchResult run(const Context& ctx, std::string_view name, DType dtype, const BufferMap& buffers,
                   const ConstMap& consts) {
  return run(ctx, kernel_info(name), dtype, buffers, consts);
}

DispatchResult run(const Context& ctx, const KernelInfo& info, DType dtype,
                   const BufferMap& buffers, const ConstMap& consts) {
  const Kernel k = traced_for(info, info.name, dtype);
  const LaunchPlan plan =
      info.geometry(shape_of(k, dtype, ctx.limits(), ctx.check(k, buffers, consts)));
  MT_ASSERT(!plan.steps.empty()) << info.name << ": empty launch plan";
  if (is_single_launch(plan)) {
    const LaunchStep& s = plan.steps.front();
    return ctx.dispatch_with_grid(k, buffers, consts, s.grid, s.tpg);
  }
  return run_plan(ctx, info, k, dtype, plan, buffers, consts);
}

KernelRunner::KernelRunner(const Context& ctx, std::string_view name, DType dtype,
                           const ConstMap& consts)
    : KernelRunner(ctx, kernel_info(name), dtype, consts) {}

KernelRunner::KernelRunner(const Context& ctx, const KernelInfo& entry, DType dtype,
                           const ConstMap& consts)
    : ctx_(ctx), info_(&entry), dtype_(dtype), consts_(consts) {
  prepared(info_->name);  // traces, checks the consts and compiles now, not at the first launch
}

const PreparedKernel& KernelRunner::prepared(const std::string& kernel) {
  auto it = prepared_.find(kernel);
  if (it == prepared_.end()) {
    const Kernel k = traced_for(*info_, kernel, dtype_);
    it = prepared_.emplace(kernel, ctx_.prepare(k, consts_for(k, consts_))).first;
  }
  return it->second;
}

const DeviceBuffer& KernelRunner::scratch(const ScratchBuffer& s) {
  const std::size_t bytes = s.elements * size_of(s.dtype);
  DeviceBuffer& buffer = scratch_[s.name];
  if (!buffer.valid() || buffer.size() < bytes) {
    // A smaller buffer may still be referenced by a captured graph: keep it alive.
    if (buffer.valid()) retired_.push_back(buffer);
    const std::size_t size = std::max<std::size_t>(bytes, 1);
    buffer = s.zeroed ? ctx_.upload(std::vector<std::uint8_t>(size, 0)) : ctx_.allocate(size);
  }
  return buffer;
}

void KernelRunner::launch(const DeviceBindings& bindings, const Stream& stream) {
  const PreparedKernel& entry = prepared(info_->name);
  const LaunchPlan plan =
      info_->geometry(shape_of(entry.kernel(), dtype_, ctx_.limits(), ctx_.check(entry, bindings)));
  MT_ASSERT(!plan.steps.empty()) << info_->name << ": empty launch plan";
  if (is_single_launch(plan)) {
    const LaunchStep& s = plan.steps.front();
    ctx_.launch(entry, bindings, s.grid, s.tpg, stream);
    return;
  }
  std::map<std::string, const DeviceBuffer*> scratch_buffers;
  for (const ScratchBuffer& s : plan.scratch) scratch_buffers[s.name] = &scratch(s);
  for (const LaunchStep& step : plan.steps) {
    const PreparedKernel& pk = prepared(step_kernel_name(*info_, step));
    const ConstMap specialised = consts_for(pk.kernel(), consts_);
    DeviceBindings step_bindings;
    for (const Param& p : pk.kernel().params) {
      if (p.is_tensor()) {
        const std::string& source = source_of(step, p.name);
        auto s = scratch_buffers.find(source);
        step_bindings.emplace(
            p.name, s != scratch_buffers.end() ? DeviceArg(*s->second) : bindings.at(source));
      } else if (auto v = step.scalars.find(p.name); v != step.scalars.end()) {
        step_bindings.emplace(p.name, const_arg(v->second));
      } else if (specialised.count(p.name) == 0) {
        step_bindings.emplace(p.name, bindings.at(p.name));
      }
    }
    ctx_.launch(pk, step_bindings, step.grid, step.tpg, stream);
  }
}

void run(const Context& ctx, std::string_view name, DType dtype, const DeviceBindings& bindings,
         const Stream& stream, const ConstMap& consts) {
  KernelRunner runner(ctx, name, dtype, consts);
  runner.launch(bindings, stream);
  if (runner.uses_scratch()) stream.synchronize();
}

}  // namespace mt::kernels
