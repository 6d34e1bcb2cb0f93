// Error records for launches that are checked later: a device array of records (cuda_abi.hpp),
// one claimed by each checked launch, so the launch that failed is known when the records are
// read at synchronize. A stream reuses its records after each synchronize; a captured graph
// keeps its records for as long as it lives, since their addresses are baked into its nodes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backends/cuda/driver.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {

// What naming a failed launch takes.
struct LaunchRecord {
  std::shared_ptr<const Executable> exe;  // kept alive until the record is read
  std::vector<std::uint64_t> elements;    // each parameter's element count, by ParamId
  LaunchDims dims;
};

class ErrorSlots {
 public:
  // `capacity` zeroed records; the zeroing runs on `zero_with`, which is synchronised before
  // this returns, so any launch on any stream afterwards sees zeros.
  ErrorSlots(std::shared_ptr<const PrimaryContext> ctx, std::uint32_t capacity, CuStream zero_with);

  bool full() const { return claims_.size() == capacity_; }
  std::uint32_t used() const { return static_cast<std::uint32_t>(claims_.size()); }
  // The device address of the next free record, now claimed for `record`. MT_ASSERTs !full().
  CuDevicePtr claim(LaunchRecord record);

  struct Failure {
    std::uint32_t index;  // the claim that failed (claims are numbered in order)
    Error error;
  };
  // Reads the claimed records through `stream` (the work that wrote them must be queued on
  // `stream` before, or be finished: this waits for it with one cuStreamSynchronize), and returns
  // the first that holds a failure, in claim order, as the interpreter would word it. Records
  // that hold one are zeroed again (waiting for that too). `release` frees the claims for
  // reuse; a graph keeps them. A failed wait (a fault of the work) throws mt::Error.
  std::optional<Failure> collect(CuStream stream, bool release);

  // Forgets the claims without reading them (the stream they were for failed outright).
  void release() { claims_.clear(); }

 private:
  std::shared_ptr<const PrimaryContext> ctx_;
  DeviceAllocation memory_;
  PinnedHost readback_;  // where collect() copies the records: one wait for work and copy
  std::uint32_t capacity_;
  std::vector<LaunchRecord> claims_;
};

}  // namespace mt::cuda
