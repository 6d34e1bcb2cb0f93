// The device-resident API: buffers that live on the backend's device, streams that launches
// are queued on, kernels prepared once, and graphs of captured launches. For real workloads
// where the byte-map dispatch_with_grid would copy every buffer on every call.
#pragma once

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

namespace mt {

class Context;

// Device memory, freed when the last copy of the handle goes away.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  std::size_t size() const;  // bytes
  bool valid() const { return memory_ != nullptr; }
  // Synchronous copies; offset and length must lie inside the buffer (else mt::Error).
  void upload(std::span<const std::uint8_t> bytes, std::size_t offset = 0) const;
  std::vector<std::uint8_t> download() const;
  void download(std::span<std::uint8_t> out, std::size_t offset = 0) const;
  const DeviceMemory& memory() const;

 private:
  friend class Context;
  std::shared_ptr<KernelBackend> backend_;
  std::shared_ptr<DeviceMemory> memory_;
};

// An ordered queue of launches.
class Stream {
 public:
  // Waits for every launch queued so far; reports a failed checked access as mt::Error.
  void synchronize() const;
  StreamHandle& handle() const;

 private:
  friend class Context;
  friend class Graph;  // replay checks that the stream belongs to the graph's backend
  std::shared_ptr<KernelBackend> backend_;
  std::shared_ptr<StreamHandle> handle_;
};

// A kernel specialised, optimised and compiled once, ready to launch many times.
class PreparedKernel {
 public:
  const Kernel& kernel() const;  // as traced (its contract and parameter names)
  const Executable& executable() const { return *executable_; }

 private:
  friend class Context;
  std::shared_ptr<KernelBackend> backend_;  // launch checks it is the launching Context's
  std::shared_ptr<const Kernel> traced_;
  std::shared_ptr<const Executable> executable_;
  std::map<std::string, Scalar> specialised_;
};

// A recorded sequence of launches, replayed with one call.
class Graph {
 public:
  void replay(const Stream& stream) const;

 private:
  friend class Context;
  std::shared_ptr<KernelBackend> backend_;
  std::shared_ptr<GraphHandle> handle_;
};

// Arguments of a device-resident launch, by parameter name: a buffer for each tensor, a value
// for each runtime scalar.
using DeviceArg = std::variant<DeviceBuffer, std::uint32_t, std::int32_t, float>;
using DeviceBindings = std::map<std::string, DeviceArg>;

}  // namespace mt
