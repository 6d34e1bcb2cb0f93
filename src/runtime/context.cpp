// mt::Context: backend choice and dispatch_with_grid, the byte-map dispatch contract of
// docs/ARCHITECTURE.md (the device-resident methods are in device.cpp). Checks run before anything
// is compiled or launched, so an error changes nothing.
#include "metaltile/runtime/context.hpp"

#include <chrono>
#include <cstdlib>
#include <utility>

#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "runtime/backend_choice.hpp"
#include "runtime/bindings.hpp"
#include "runtime/compile_cache.hpp"
#include "runtime/context_state.hpp"

namespace mt {

std::shared_ptr<const Executable> Context::State::compile(
    const Kernel& kernel, const std::map<std::string, Scalar>& specialised) {
  return cache.get_or_compile(compile_cache_key(kernel, specialised), [&] {
    Kernel k = passes::specialise_scalars(kernel, specialised);
    return backend->compile(passes::optimise(std::move(k)));
  });
}

Context::Context(std::shared_ptr<KernelBackend> backend) {
  MT_ASSERT(backend != nullptr) << "Context needs a backend";
  state_ = std::make_shared<State>(std::move(backend));
}

Context Context::create() {
  const char* env = std::getenv("MT_BACKEND");
  // An empty MT_BACKEND counts as unset: shells often export empty variables.
  if (env != nullptr && *env != '\0') {
    const std::string_view choice(env);
    if (choice == "cpu") return create(Backend::Cpu);
    if (choice == "cuda") return create(Backend::Cuda);
    throw Error("MT_BACKEND='" + std::string(choice) + "' is not a backend; choose cpu or cuda");
  }
  std::string why;
  if (std::unique_ptr<KernelBackend> cuda = try_make_cuda_backend(&why)) {
    return Context(std::shared_ptr<KernelBackend>(std::move(cuda)));
  }
  return Context(std::shared_ptr<KernelBackend>(make_cpu_backend()));
}

Context Context::create(Backend backend) {
  switch (backend) {
    case Backend::Cpu: return Context(std::shared_ptr<KernelBackend>(make_cpu_backend()));
    case Backend::Cuda: {
      std::string why;
      std::unique_ptr<KernelBackend> cuda = try_make_cuda_backend(&why);
      if (cuda == nullptr) throw Error("the cuda backend is unavailable: " + why);
      return Context(std::shared_ptr<KernelBackend>(std::move(cuda)));
    }
  }
  // Backend is a plain enum: a value cast from an integer can be none of its enumerators.
  throw Error("Context::create: " + std::to_string(static_cast<int>(backend)) +
              " is not a backend; choose Backend::Cpu or Backend::Cuda");
}

Backend Context::backend() const { return state_->backend->kind(); }
std::string Context::description() const { return state_->backend->description(); }
DeviceLimits Context::limits() const { return state_->backend->limits(); }

std::map<std::string, Scalar> Context::check(const Kernel& kernel, const BufferMap& buffers,
                                             const ConstMap& consts) const {
  const std::map<std::string, Scalar> specialised = check_consts(kernel, consts);
  const BufferBinding bound = bind_buffers(kernel, buffers, specialised);
  check_contract_without_launch_shape(kernel, bound.uniforms);
  return uniforms_by_name(kernel, bound.uniforms);
}

DispatchResult Context::dispatch_with_grid(const Kernel& kernel, const BufferMap& buffers,
                                           const ConstMap& consts, std::array<std::size_t, 3> grid,
                                           std::array<std::size_t, 3> tpg) const {
  KernelBackend& backend = *state_->backend;
  // 0: the IR itself, so that no check below reads past a damaged kernel's tables.
  verify(kernel);
  // 1-3: every check of the contract that needs no compile, in the order docs/ARCHITECTURE.md lists
  // them.
  const LaunchDims dims = check_launch_dims(kernel, grid, tpg, backend.limits());
  const std::map<std::string, Scalar> specialised = check_consts(kernel, consts);
  check_arrays_fit(kernel, specialised, backend.limits());
  const BufferBinding binding = bind_buffers(kernel, buffers, specialised);

  // 4: host-side preconditions, before a compile (shared with launch, see bindings.hpp).
  check_contract(kernel, binding.uniforms, dims);

  std::shared_ptr<const Executable> exe = state_->compile(kernel, specialised);
  BoundArguments bound = buffer_arguments(kernel, exe->kernel(), binding);

  // 5: the launch alone is timed; compile and binding are not part of elapsed_us.
  const auto start = std::chrono::steady_clock::now();
  backend.launch(*exe, bound.args, dims);
  const auto stop = std::chrono::steady_clock::now();

  DispatchResult result;
  result.outputs = std::move(bound.outputs);
  result.elapsed_us = std::chrono::duration<double, std::micro>(stop - start).count();
  return result;
}

}  // namespace mt
