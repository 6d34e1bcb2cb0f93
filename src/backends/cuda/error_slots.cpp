// Claiming, reading and re-zeroing device error records.
#include "backends/cuda/error_slots.hpp"

#include <algorithm>
#include <span>

#include "backends/cuda/cuda_abi.hpp"

namespace mt::cuda {
namespace {

constexpr std::size_t kRecordBytes = kErrorRecordWords * sizeof(std::uint32_t);

}  // namespace

ErrorSlots::ErrorSlots(std::shared_ptr<const PrimaryContext> ctx, std::uint32_t capacity,
                       CuStream zero_with)
    : ctx_(std::move(ctx)),
      memory_(ctx_->get(), capacity * kRecordBytes),
      readback_(ctx_->get(), capacity * kRecordBytes),
      capacity_(capacity) {
  const Driver& d = Driver::get();
  d.check(d.api().memset_d32_async(memory_.ptr(), 0, std::size_t{capacity} * kErrorRecordWords,
                                   zero_with),
          "cuMemsetD32Async");
  d.check(d.api().stream_synchronize(zero_with), "cuStreamSynchronize");
  claims_.reserve(capacity);
}

CuDevicePtr ErrorSlots::claim(LaunchRecord record) {
  MT_ASSERT(!full()) << "error records exhausted (" << capacity_ << ")";
  const CuDevicePtr at = memory_.ptr() + claims_.size() * kRecordBytes;
  claims_.push_back(std::move(record));
  return at;
}

std::optional<ErrorSlots::Failure> ErrorSlots::collect(CuStream stream, bool release) {
  if (claims_.empty()) return std::nullopt;
  const Driver& d = Driver::get();
  const std::size_t words = claims_.size() * kErrorRecordWords;
  const auto* host = static_cast<const std::uint32_t*>(readback_.get());
  d.check(d.api().memcpy_dtoh_async(readback_.get(), memory_.ptr(), words * sizeof(std::uint32_t),
                                    stream),
          "cuMemcpyDtoHAsync");
  d.check(d.api().stream_synchronize(stream), "cuStreamSynchronize");

  std::optional<Failure> first;
  bool any = false;
  for (std::size_t i = 0; i < claims_.size(); ++i) {
    const std::span<const std::uint32_t, kErrorRecordWords> words_of(host + i * kErrorRecordWords,
                                                                     kErrorRecordWords);
    if (std::all_of(words_of.begin(), words_of.end(), [](std::uint32_t w) { return w == 0; })) {
      continue;
    }
    any = true;
    const ErrorRecord record = decode_error_record(words_of);
    if (record.kind == ErrorKind::None) continue;  // a record still being written: not ours
    const LaunchRecord& launch = claims_[i];
    first = Failure{static_cast<std::uint32_t>(i),
                    error_from_record(launch.exe->kernel(), record, launch.elements, launch.dims)};
    break;
  }
  if (any) {
    d.check(d.api().memset_d32_async(memory_.ptr(), 0, words, stream), "cuMemsetD32Async");
    d.check(d.api().stream_synchronize(stream), "cuStreamSynchronize");
  }
  if (release) claims_.clear();
  return first;
}

}  // namespace mt::cuda
