// The CPU backend: compile keeps a copy of the kernel, launch interprets it. It holds no
// mutable state, so launches from several threads at once are safe.
#include <memory>
#include <string>
#include <utility>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/backends/backend.hpp"

namespace mt {
namespace {

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

  // The contract is the caller's to run (mt::cpu::run_contract), once per dispatch.
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override {
    cpu::interpret(exe.kernel(), args, dims, limits());
  }
};

}  // namespace

std::unique_ptr<KernelBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace mt
