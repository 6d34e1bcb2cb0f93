// RegisteringBackend: wraps the CUDA backend for the fake driver (fake_driver.hpp), telling the
// fake which kernel IR each compiled function runs; forwards every other call.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_launch.hpp"
#include "fake_driver.hpp"
#include "metaltile/backends/backend.hpp"
#include "support/forwarding_backend.hpp"

namespace mt::cuda::fake {

// Gives the fake the IR behind each compiled function; forwards everything else.
class RegisteringBackend final : public test::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  std::shared_ptr<const Executable> compile(const Kernel& k) override {
    std::shared_ptr<const Executable> exe = ForwardingBackend::compile(k);
    const CudaExecutable& cx = cuda_executable(*exe);
    const std::lock_guard<std::mutex> lock(state().mutex);
    FakeFunction& fn = *state().functions.at(cx.module().function());
    if (fn.entry != entry_name(cx.kernel())) {
      ADD_FAILURE() << "module function " << fn.entry << " for kernel " << cx.kernel().name;
    }
    fn.kernel = cx.kernel();
    fn.checked = cx.checked();
    fn.registered = true;
    return exe;
  }
};

}  // namespace mt::cuda::fake
