// The CPU backend: compile keeps a copy of the kernel, launch interprets it. It implements only
// what every backend must (KernelBackend's required functions): its device-resident API is the
// default one, host memory whose streams run each launch through launch() as it is enqueued.
// The backend holds no mutable state (streams hold their own), so calls from several threads at
// once are safe.
#include <memory>
#include <string>
#include <utility>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt {
namespace {

// A compiled kernel is the optimised kernel itself.
class CpuExecutable final : public Executable {
 public:
  explicit CpuExecutable(Kernel k) : kernel_(std::move(k)) {}
  const Kernel& kernel() const override { return kernel_; }

 private:
  Kernel kernel_;
};

class CpuBackend final : public KernelBackend {
 public:
  Backend kind() const override { return Backend::Cpu; }
  std::string description() const override { return "cpu interpreter"; }
  DeviceLimits limits() const override { return DeviceLimits{}; }

  std::shared_ptr<const Executable> compile(const Kernel& k) override {
    return std::make_shared<const CpuExecutable>(k);
  }

  // The contract is the runtime's to check (mt::evaluate_contract), once per dispatch.
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override {
    cpu::interpret(exe.kernel(), args, dims, limits());
  }
};

}  // namespace

std::unique_ptr<KernelBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace mt
