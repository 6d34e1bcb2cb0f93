// The device-resident API: DeviceBuffer, Stream, PreparedKernel and Graph, and the Context
// methods that make and use them. Launch checks are those of dispatch_with_grid (bindings.hpp);
// every backend-specific step is a call of the backend's DeviceApi (KernelBackend::device()).
#include "metaltile/runtime/device.hpp"

#include <exception>
#include <new>
#include <utility>

#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/runtime/context.hpp"
#include "runtime/bindings.hpp"
#include "runtime/context_state.hpp"

namespace mt {
namespace {

// A default-constructed handle is a user mistake, reported before anything reaches a backend.
template <class Handle>
void check_made(const Handle& handle, const char* what, const char* maker) {
  if (handle == nullptr) {
    throw Error(std::string("this ") + what + " is empty (default-constructed); get one from " +
                maker);
  }
}

}  // namespace

// --- DeviceBuffer ---------------------------------------------------------------------------

std::size_t DeviceBuffer::size() const { return memory_ == nullptr ? 0 : memory_->size(); }

void DeviceBuffer::upload(std::span<const std::uint8_t> bytes, std::size_t offset) const {
  check_made(memory_, "DeviceBuffer", "Context::allocate");
  backend_->device().write(*memory_, offset, bytes);
}

std::vector<std::uint8_t> DeviceBuffer::download() const {
  std::vector<std::uint8_t> bytes(size());
  download(bytes);
  return bytes;
}

void DeviceBuffer::download(std::span<std::uint8_t> out, std::size_t offset) const {
  check_made(memory_, "DeviceBuffer", "Context::allocate");
  backend_->device().read(*memory_, offset, out);
}

const DeviceMemory& DeviceBuffer::memory() const {
  check_made(memory_, "DeviceBuffer", "Context::allocate");
  return *memory_;
}

// --- Stream, PreparedKernel, Graph ----------------------------------------------------------

void Stream::synchronize() const {
  check_made(handle_, "Stream", "Context::create_stream");
  backend_->device().synchronize(*handle_);
}

StreamHandle& Stream::handle() const {
  check_made(handle_, "Stream", "Context::create_stream");
  return *handle_;
}

const Kernel& PreparedKernel::kernel() const {
  check_made(traced_, "PreparedKernel", "Context::prepare");
  return *traced_;
}

void Graph::replay(const Stream& stream) const {
  check_made(handle_, "Graph", "Context::capture");
  check_made(stream.handle_, "Stream", "Context::create_stream");
  if (stream.backend_ != backend_) {
    throw Error("a graph can only be replayed on a stream of the Context that captured it");
  }
  backend_->device().replay(*handle_, *stream.handle_);
}

// --- Context --------------------------------------------------------------------------------

DeviceBuffer Context::allocate(std::size_t bytes) const {
  DeviceBuffer buffer;
  buffer.backend_ = state_->backend;
  try {
    buffer.memory_ = state_->backend->device().allocate(bytes);
  } catch (const std::bad_alloc&) {
    // The CPU backend's host allocation; a GPU's failure is already an mt::Error (cuMemAlloc).
    throw Error("allocate: " + quantity(bytes, "byte") + " are more than the " +
                state_->backend->description() + " can allocate");
  }
  return buffer;
}

DeviceBuffer Context::upload(std::span<const std::uint8_t> bytes) const {
  DeviceBuffer buffer = allocate(bytes.size());
  buffer.upload(bytes);
  return buffer;
}

Stream Context::create_stream() const {
  Stream stream;
  stream.backend_ = state_->backend;
  stream.handle_ = state_->backend->device().create_stream();
  return stream;
}

PreparedKernel Context::prepare(const Kernel& kernel, const ConstMap& consts) const {
  PreparedKernel prepared;
  // The IR first: a launch then trusts this verified copy (traced_) and verifies nothing.
  verify(kernel);
  prepared.specialised_ = check_consts(kernel, consts);
  check_arrays_fit(kernel, prepared.specialised_, state_->backend->limits());
  prepared.backend_ = state_->backend;
  prepared.traced_ = std::make_shared<const Kernel>(kernel);
  prepared.executable_ = state_->compile(kernel, prepared.specialised_);
  return prepared;
}

void Context::launch(const PreparedKernel& kernel, const DeviceBindings& bindings,
                     std::array<std::size_t, 3> grid, std::array<std::size_t, 3> tpg,
                     const Stream& stream) const {
  KernelBackend& backend = *state_->backend;
  const Kernel& k = kernel.kernel();
  check_made(stream.handle_, "Stream", "Context::create_stream");
  if (kernel.backend_ != state_->backend) {
    throw kernel_error(k.name,
                       "prepared by another Context; prepare it with the Context that "
                       "launches");
  }
  if (stream.backend_ != state_->backend) {
    throw kernel_error(k.name,
                       "launched on a stream of another Context; create the stream "
                       "from the Context that launches");
  }
  // The checks of dispatch_with_grid, in its order: dims, bindings, then the contract.
  const LaunchDims dims = check_launch_dims(k, grid, tpg, backend.limits());
  const DeviceBinding binding = bind_device(k, bindings, kernel.specialised_);
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    const auto* buffer =
        binding.values[i] == nullptr ? nullptr : std::get_if<DeviceBuffer>(binding.values[i]);
    if (buffer != nullptr && buffer->backend_ != state_->backend) {
      throw param_error(k.name, k.params[i].name,
                        "bound to a DeviceBuffer of another Context; allocate it "
                        "from the Context that launches");
    }
  }
  check_contract(k, binding.uniforms, dims);

  const std::vector<DeviceArgument> args =
      device_arguments(k, kernel.executable().kernel(), binding);
  backend.device().enqueue(kernel.executable(), args, dims, *stream.handle_);
}

std::map<std::string, Scalar> Context::check(const PreparedKernel& kernel,
                                             const DeviceBindings& bindings) const {
  const Kernel& k = kernel.kernel();
  const DeviceBinding binding = bind_device(k, bindings, kernel.specialised_);
  check_contract_without_launch_shape(k, binding.uniforms);
  return uniforms_by_name(k, binding.uniforms);
}

Graph Context::capture(const Stream& stream, const std::function<void()>& record) const {
  KernelBackend& backend = *state_->backend;
  check_made(stream.handle_, "Stream", "Context::create_stream");
  if (stream.backend_ != state_->backend) {
    throw Error(
        "capture on a stream of another Context; create the stream from the Context "
        "that captures");
  }
  backend.device().begin_capture(*stream.handle_);
  try {
    record();
  } catch (...) {
    // The stream must not stay in capture mode; the error of `record` is the one to report.
    try {
      (void)backend.device().end_capture(*stream.handle_);
    } catch (...) {
    }
    throw;
  }
  Graph graph;
  graph.backend_ = state_->backend;
  graph.handle_ = backend.device().end_capture(*stream.handle_);
  return graph;
}

}  // namespace mt
