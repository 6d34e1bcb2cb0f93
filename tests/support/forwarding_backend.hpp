// ForwardingBackend: a KernelBackend that passes every call, device() included, to another one;
// ForwardingDevice does the same for a DeviceApi. Tests derive from them to observe or adjust a
// few calls (count compiles, register kernels with a fake driver, claim huge buffers) and
// inherit the rest, so a new entry point is forwarded in one place.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "metaltile/backends/backend.hpp"

namespace mt::test {

class ForwardingBackend : public KernelBackend {
 public:
  explicit ForwardingBackend(std::shared_ptr<KernelBackend> inner) : inner_(std::move(inner)) {}

  Backend kind() const override { return inner_->kind(); }
  std::string description() const override { return inner_->description(); }
  DeviceLimits limits() const override { return inner_->limits(); }
  std::shared_ptr<const Executable> compile(const Kernel& k) override { return inner_->compile(k); }
  void launch(const Executable& e, std::span<Argument> a, const LaunchDims& d) override {
    inner_->launch(e, a, d);
  }
  DeviceApi& device() override { return inner_->device(); }

 protected:
  KernelBackend& inner() { return *inner_; }

 private:
  std::shared_ptr<KernelBackend> inner_;
};

class ForwardingDevice : public DeviceApi {
 public:
  explicit ForwardingDevice(DeviceApi& inner) : inner_(inner) {}

  std::shared_ptr<DeviceMemory> allocate(std::size_t b) override { return inner_.allocate(b); }
  void write(DeviceMemory& d, std::size_t o, std::span<const std::uint8_t> s) override {
    inner_.write(d, o, s);
  }
  void read(const DeviceMemory& s, std::size_t o, std::span<std::uint8_t> d) override {
    inner_.read(s, o, d);
  }
  std::shared_ptr<StreamHandle> create_stream() override { return inner_.create_stream(); }
  void enqueue(const Executable& e, std::span<const DeviceArgument> a, const LaunchDims& d,
               StreamHandle& s) override {
    inner_.enqueue(e, a, d, s);
  }
  void synchronize(StreamHandle& s) override { inner_.synchronize(s); }
  void begin_capture(StreamHandle& s) override { inner_.begin_capture(s); }
  std::shared_ptr<GraphHandle> end_capture(StreamHandle& s) override {
    return inner_.end_capture(s);
  }
  void replay(GraphHandle& g, StreamHandle& s) override { inner_.replay(g, s); }
  void copy(DeviceMemory& d, const DeviceMemory& s, std::size_t b, StreamHandle& st) override {
    inner_.copy(d, s, b, st);
  }
  std::shared_ptr<EventHandle> record_event(StreamHandle& s) override {
    return inner_.record_event(s);
  }
  double elapsed_ms(EventHandle& a, EventHandle& b) override { return inner_.elapsed_ms(a, b); }

 private:
  DeviceApi& inner_;
};

}  // namespace mt::test
