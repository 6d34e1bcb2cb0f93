// The device-resident API in host memory over any backend's launch(): the default of
// KernelBackend::device(), and so the CPU interpreter's. Device memory is host bytes, a stream
// runs each launch at once on the calling thread (the host has no asynchrony) but defers its
// errors to synchronize(), as a GPU reports them, and a graph is the list of launches and copies
// a capture recorded.
#pragma once

#include <memory>

#include "metaltile/backends/backend.hpp"

namespace mt {

// Every launch runs through backend.launch(exe, host bytes, dims); `backend` must outlive the
// result. Memory is bounds-checked (an mt::Error when [offset, offset + length) leaves a
// buffer) and new memory holds 0xFF bytes (NaN in every float dtype), not zeros: like
// uninitialised GPU memory, it must not pass for a result a kernel forgot to write. An
// mt::Error from a launch is kept in its stream and thrown by synchronize(); later launches
// on the stream still run, as on a GPU. While a stream captures, launches and copies are
// recorded (sharing the executable and memory they use); a replay inside a capture joins it.
std::unique_ptr<DeviceApi> make_host_device(KernelBackend& backend);

}  // namespace mt
