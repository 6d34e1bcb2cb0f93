// The one small interface every backend implements: compile an optimised kernel to an
// Executable, and launch it over a grid with one argument per parameter.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt {

enum class Backend : std::uint8_t { Cpu, Cuda };
std::string_view backend_name(Backend b);

// grid counts threadgroups per axis, tpg threads per threadgroup (CUDA <<<grid, tpg>>>).
struct LaunchDims {
  std::array<std::uint32_t, 3> grid{1, 1, 1};
  std::array<std::uint32_t, 3> tpg{1, 1, 1};
};

// What a launch may ask for; the runtime checks dims against these before launching.
struct DeviceLimits {
  std::uint32_t max_threads_per_threadgroup = 1024;
  std::array<std::uint32_t, 3> max_tpg{1024, 1024, 64};
  std::array<std::uint32_t, 3> max_grid{2147483647u, 65535u, 65535u};
};

// One argument per kernel parameter, in parameter order. Tensors are host bytes (an input's
// bytes are only read); scalars are values of the parameter's dtype.
struct Argument {
  std::span<std::uint8_t> bytes;
  Scalar scalar;
};

class Executable {
 public:
  virtual ~Executable() = default;
  // The kernel this was compiled from (after specialisation and passes).
  virtual const Kernel& kernel() const = 0;
};

class KernelBackend {
 public:
  virtual ~KernelBackend() = default;
  virtual Backend kind() const = 0;
  // A human-readable description: "cpu interpreter", "cuda NVIDIA H100 (sm_90)".
  virtual std::string description() const = 0;
  virtual DeviceLimits limits() const = 0;
  // `k` has been specialised and optimised; its contract has not been evaluated.
  virtual std::shared_ptr<const Executable> compile(const Kernel& k) = 0;
  // Runs the kernel; throws mt::Error (naming kernel, op, thread or param) on a failed access.
  // Must be safe to call from several threads at once.
  virtual void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) = 0;
};

// The reference interpreter; always available.
std::unique_ptr<KernelBackend> make_cpu_backend();

}  // namespace mt
