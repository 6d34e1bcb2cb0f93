// mt::Context: backend choice and dispatch_with_grid, the byte-map dispatch contract of
// DESIGN.md. Checks run before anything is compiled or launched, so an error changes nothing.
#include "metaltile/runtime/context.hpp"

#include <chrono>
#include <cstdlib>
#include <utility>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "runtime/backend_choice.hpp"
#include "runtime/bindings.hpp"
#include "runtime/compile_cache.hpp"

namespace mt {

struct Context::State {
  explicit State(std::shared_ptr<KernelBackend> b) : backend(std::move(b)) {}
  std::shared_ptr<KernelBackend> backend;
  CompileCache cache;
};

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
  MT_ASSERT(false) << "unknown backend " << static_cast<int>(backend);
  return create(Backend::Cpu);  // unreachable: MT_ASSERT(false) throws
}

Backend Context::backend() const { return state_->backend->kind(); }
std::string Context::description() const { return state_->backend->description(); }
DeviceLimits Context::limits() const { return state_->backend->limits(); }

DispatchResult Context::dispatch_with_grid(const Kernel& kernel, const BufferMap& buffers,
                                           const ConstMap& consts,
                                           std::array<std::size_t, 3> grid,
                                           std::array<std::size_t, 3> tpg) const {
  KernelBackend& backend = *state_->backend;
  // 1-3: every check of the contract that needs no compile, in the order DESIGN.md lists them.
  const LaunchDims dims = check_launch_dims(kernel, grid, tpg, backend.limits());
  std::map<std::string, Scalar> specialised = check_consts(kernel, consts, buffers);
  check_buffers(kernel, buffers, consts);

  // 4: host-side preconditions on the scalars, on the kernel as given and for every backend,
  // before a compile: a bad value costs nothing and is reported by its parameter's name.
  cpu::run_contract(kernel, contract_arguments(kernel, buffers, specialised));

  // Same IR and same specialisation: same executable, without re-running passes or compiling.
  const std::string key = compile_cache_key(kernel, specialised);
  std::shared_ptr<const Executable> exe = state_->cache.get_or_compile(key, [&] {
    Kernel k = passes::specialise_scalars(kernel, specialised);
    return backend.compile(passes::optimise(std::move(k)));
  });
  BoundArguments bound = bind_arguments(kernel, exe->kernel(), buffers);

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
