// The kernel ABI between emitted CUDA kernels and the host, stated once: the entry point's
// name, its parameter list (IR parameters, then hidden element counts, then the error record)
// and the layout of the device error record that checked mode fills in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

// The kernel's entry point: "mt_" + the kernel name as an identifier (cuda_dialect.hpp:
// identifier). The prefix keeps it clear of CUDA and C library names.
std::string entry_name(const Kernel& k);

// What one launch argument is. The parameter list of every emitted kernel is, in order:
//   1. each IR parameter in kernel order: a tensor as a device pointer to its storage type
//      (Bool as one byte 0/1), a scalar by value in its value type;
//   2. for each tensor parameter, in kernel order, its element count as unsigned long long
//      (read by checked mode and by TensorLen; passed in unchecked mode too, so the launcher
//      never depends on the mode);
//   3. each tensor map, in kernel order, as the 128 bytes the driver encodes for this launch
//      (const __grid_constant__, bulk_copy.hpp);
//   4. a pointer to the error record (kErrorRecordWords unsigned ints, zeroed before launch).
enum class SlotKind : std::uint8_t { Tensor, Scalar, ElementCount, TensorMap, ErrorRecord };

struct Slot {
  SlotKind kind = SlotKind::Tensor;
  ParamId param;           // the IR parameter (invalid for TensorMap and ErrorRecord)
  std::size_t size = 0;    // bytes of the argument value (a pointer is 8, a tensor map 128)
  TensorMapId tensor_map;  // TensorMap only
};

// The launch arguments of `k`, in the order above.
std::vector<Slot> kernel_slots(const Kernel& k);

// Threadgroup arrays of up to 48 KiB together are static __shared__ arrays; past that they are
// carved, each at a 16-byte aligned offset, from dynamic shared memory of this many bytes (0
// when static), which the launch passes after opting the kernel in.
inline constexpr std::uint64_t kStaticSharedLimit = 48 * 1024;
std::uint64_t dynamic_shared_bytes(const Kernel& k);
// Offsets of the threadgroup arrays in dynamic shared memory, by ArrayId (per-thread: unused).
std::vector<std::uint64_t> dynamic_shared_offsets(const Kernel& k);

// The error record: kErrorRecordWords u32 words in device memory. The first thread to fail
// claims it with atomicCAS on word kErrorKind (0 -> its kind) and then fills in the rest; later
// failures leave it alone, so the record holds one complete, consistent report.
enum class ErrorKind : std::uint32_t {
  None = 0,
  LoadOutOfBounds = 1,   // value: the index (Load, LoadVector: its first element)
  StoreOutOfBounds = 2,  // value: the index (Store, StoreVector, AtomicGlobal)
  LoopStep = 3,          // value: the step (a For with lo < hi and step <= 0)
  ArrayOutOfBounds = 4,  // value: the index (ArrayLoad, ArrayStore, AtomicArray)
  VectorMisaligned = 5,  // value: the index, not a multiple of the access's lanes
  BulkColumn = 6,        // value: a bulk copy's column corner, off a 16-byte row boundary
  BulkDestination = 7,   // value: a bulk copy's destination index, outside or misaligned
};

enum ErrorWord : std::uint32_t {
  kErrorKind = 0,     // ErrorKind
  kErrorSite = 1,     // the failing instruction: its pre-order position in the body
  kErrorValueLo = 2,  // low 32 bits of the value (two's complement int64)
  kErrorValueHi = 3,  // high 32 bits
  kErrorGroupX = 4,   // blockIdx.x, .y, .z
  kErrorGroupY = 5,
  kErrorGroupZ = 6,
  kErrorThreadX = 7,  // threadIdx.x, .y, .z
  kErrorThreadY = 8,
  kErrorThreadZ = 9,
  kErrorRecordWords = 10,
};

struct ErrorRecord {
  ErrorKind kind = ErrorKind::None;
  std::uint32_t site = 0;
  std::int64_t value = 0;
  std::array<std::uint32_t, 3> group{};
  std::array<std::uint32_t, 3> thread{};
};

ErrorRecord decode_error_record(std::span<const std::uint32_t, kErrorRecordWords> words);

// The instruction at pre-order position `site` of k.body (the order of mt::for_each_instr, in
// which the emitter numbers sites), or nullptr.
const Instr* instr_at_site(const Kernel& k, std::uint32_t site);

// The mt::Error for a filled-in record, in the interpreter's words:
// "kernel 'K': param 'P': load index 4096 out of bounds (4096 elements) at thread (..) of
// threadgroup (..): <op>" (the op's printed name: load, store, atomic, load_vector, ...),
// "kernel 'K': array 'A': array_load index 9 out of bounds (8 elements) at thread ...",
// "kernel 'K': param 'P': vector access at index 5 is not a multiple of 4 at thread ...",
// "kernel 'K': param 'P': load_vector of 4 elements at index 4094 out of bounds (4096
// elements) at thread ...". `elements` holds each parameter's element count by ParamId (what
// the launch passed); `dims` gives the global thread index. MT_ASSERTs that kind != None.
Error error_from_record(const Kernel& k, const ErrorRecord& record,
                        std::span<const std::uint64_t> elements, const LaunchDims& dims);

// The record's layout as C++ constants for device code (`enum : unsigned int {
// mt_error_load = 1u, ...}`); the emitter writes these above the prelude include, so the
// prelude never restates the layout.
std::string device_abi_constants();

}  // namespace mt::cuda
