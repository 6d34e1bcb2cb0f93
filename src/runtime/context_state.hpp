// Context::State: what every copy of one Context shares (its backend and compile cache), and the
// one compile path of dispatch_with_grid and prepare. Internal to src/runtime/.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/runtime/context.hpp"
#include "runtime/compile_cache.hpp"

namespace mt {

struct Context::State {
  explicit State(std::shared_ptr<KernelBackend> b) : backend(std::move(b)) {}

  // `kernel` specialised with `specialised`, optimised and compiled: once per cache key, so equal
  // IR and equal specialisation reuse the executable without re-running passes.
  std::shared_ptr<const Executable> compile(const Kernel& kernel,
                                            const std::map<std::string, Scalar>& specialised);

  std::shared_ptr<KernelBackend> backend;
  CompileCache cache;
};

}  // namespace mt
