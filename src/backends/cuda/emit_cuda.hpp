// The CUDA emitter: one walker over the IR that writes a kernel as C++ source for a GPU, one
// typed `const <type> vN = ...;` line per value, with spellings from the CDialect it is given
// (cuda_dialect.hpp; CUDA's by default) and the parameter list of the kernel ABI (cuda_abi.hpp).
#pragma once

#include <string>
#include <string_view>

#include "backends/cuda/cuda_dialect.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

struct EmitOptions {
  // Guard every tensor access (Load, Store, LoadVector, StoreVector, AtomicGlobal) against the
  // tensor's element count, every array access against the array's size, each vector index
  // against its alignment, and every For against a non-positive step. A violation skips the
  // access (a load or atomic yields 0, a vector load leaves its array as it was) or the loop;
  // each thread keeps its first violation in registers and, when the body ends, records it in
  // the error record (cuda_abi.hpp) unless another thread's came first. Off: plain accesses.
  // The emitted calls are the same either way (mt_load, mt_store, ...); the source defines
  // MT_CHECKED to 1 or 0 and the prelude defines the helpers for that build, the unchecked ones
  // as the plain access in one __forceinline__ line.
  bool checked = true;
};

struct CudaSource {
  std::string entry;  // the __global__ function's name (cuda_abi.hpp: entry_name)
  std::string code;   // includes the dialect's prelude_name, which the compiler must be given
};

// Emits `k` (verified, contract already evaluated on the host: the contract block is not
// emitted). The body's semantics are those of core/kernel.hpp and mt::scalar_eval, bit for
// bit for every non-math op (checked on an H100 for every op x dtype and cast), except:
//  - integer division or remainder by zero yields 0 (the interpreter reports an error);
//  - NaN payloads and signs may differ (only "is NaN" is kept);
//  - a For loop whose last step overflows the loop variable's type (hi near its maximum)
//    wraps (u32) or is undefined (i32), where the interpreter stops;
//  - float warp prefix sums associate differently (a Hillis-Steele scan, not lane order), and
//    float atomic adds apply in the GPU's order. Warp and threadgroup reductions use the
//    interpreter's pairwise tree, so even their float results are bit-exact;
//  - what only the interpreter checks (a barrier or collective reached by part of a group or
//    warp, threadgroup-memory races, reads of array elements nothing wrote) is undefined here.
// Math functions use CUDA's accurate f32 functions (expf, not __expf), in the forms
// mt::scalar_eval uses, and round to the dtype. Addresses are computed in 64 bits (p[i] with
// a 32-bit i); the IR's 32-bit arithmetic wraps at 32 bits. An op the emitter cannot render
// is an mt::Error naming the kernel, op and dtype.
CudaSource emit_cuda(const Kernel& k, const CDialect& dialect, const EmitOptions& options = {});
// The same in CUDA's dialect (cuda_dialect()).
CudaSource emit_cuda(const Kernel& k, const EmitOptions& options = {});

}  // namespace mt::cuda
