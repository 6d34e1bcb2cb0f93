// mt::Context: the entry point for running kernels. dispatch_with_grid takes named byte
// buffers (tensors and scalars), optional specialisation constants and a grid, and returns
// the output tensors (docs/ARCHITECTURE.md, "The dispatch contract", lists its checks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/runtime/device.hpp"

namespace mt {

// Tensors and scalar parameters by name, as little-endian bytes.
using BufferMap = std::map<std::string, std::vector<std::uint8_t>>;
// Scalar parameters baked into the generated code (and the cache key) instead of passed.
using ConstValue = std::variant<std::uint32_t, std::int32_t, float>;
using ConstMap = std::map<std::string, ConstValue>;

struct DispatchResult {
  BufferMap outputs;        // every Output parameter, exactly as long as the bytes supplied
  double elapsed_us = 0.0;  // wall time of the launch itself (compile excluded)
};

class Context {
 public:
  // The best available backend: CUDA when a GPU is usable, else the CPU interpreter.
  // MT_BACKEND=cpu|cuda overrides the choice.
  static Context create();
  // Exactly this backend, or an mt::Error saying why it is unavailable.
  static Context create(Backend backend);
  // Wraps a backend (tests use this to inject one).
  explicit Context(std::shared_ptr<KernelBackend> backend);

  Backend backend() const;
  std::string description() const;
  DeviceLimits limits() const;

  // Safe to call from several threads at once.
  DispatchResult dispatch_with_grid(const Kernel& kernel, const BufferMap& buffers,
                                    const ConstMap& consts, std::array<std::size_t, 3> grid,
                                    std::array<std::size_t, 3> tpg) const;

  // Checks a byte-map request as dispatch_with_grid does (consts, buffers, the kernel's
  // contract, except the requirements on the launch shape, which no launch has yet) without
  // compiling or launching. Returns each parameter's launch-uniform value by
  // name: a tensor's element count, a scalar's value (bound or specialised).
  std::map<std::string, Scalar> check(const Kernel& kernel, const BufferMap& buffers,
                                      const ConstMap& consts = {}) const;

  // --- device-resident API (runtime/device.hpp) -------------------------------------------
  DeviceBuffer allocate(std::size_t bytes) const;
  DeviceBuffer upload(std::span<const std::uint8_t> bytes) const;
  Stream create_stream() const;
  // Specialises, optimises and compiles once (cached like dispatch_with_grid).
  PreparedKernel prepare(const Kernel& kernel, const ConstMap& consts = {}) const;
  // Checks the bindings (names, sizes, scalar types) and the kernel's contract, then queues
  // the launch on `stream` and returns without waiting.
  void launch(const PreparedKernel& kernel, const DeviceBindings& bindings,
              std::array<std::size_t, 3> grid, std::array<std::size_t, 3> tpg,
              const Stream& stream) const;
  // Checks device bindings as launch does (bindings, the kernel's contract) without launching;
  // returns the launch-uniform values as check() above does.
  std::map<std::string, Scalar> check(const PreparedKernel& kernel,
                                      const DeviceBindings& bindings) const;
  // Records the launches `record` makes on `stream` into a graph instead of running them.
  Graph capture(const Stream& stream, const std::function<void()>& record) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mt
