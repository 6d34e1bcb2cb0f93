// The CUDA emitter: one walker over the IR that writes a kernel as CUDA C++ source, one typed
// `const <type> vN = ...;` line per value, with spellings from the dialect (cuda_dialect.hpp)
// and the parameter list of the kernel ABI (cuda_abi.hpp).
#pragma once

#include <string>
#include <string_view>

#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

struct EmitOptions {
  // Guard every Load and Store against the tensor's element count and every For against a
  // non-positive step: a violation is recorded in the error record (cuda_abi.hpp) and the
  // access is skipped (a load yields 0), the loop not run. Off: plain accesses.
  bool checked = true;
};

struct CudaSource {
  std::string entry;  // the __global__ function's name (cuda_abi.hpp: entry_name)
  std::string code;   // includes kPreludeHeaderName, which the compiler must be given
};

// The name under which emitted code includes the prelude (src/backends/cuda/prelude.cuh).
inline constexpr std::string_view kPreludeHeaderName = "metaltile_prelude.cuh";
// The prelude's text, embedded in the library at build time.
std::string_view prelude_source();

// Emits `k` (verified, contract already evaluated on the host: the contract block is not
// emitted). The body's semantics are those of core/kernel.hpp and mt::scalar_eval, bit for
// bit for every non-math op, with two documented exceptions: integer division or remainder by
// zero yields 0 (the interpreter reports an error), and NaN payloads may differ. Math
// functions use CUDA's accurate f32 functions (expf, not __expf) and round to the dtype.
// An op the emitter cannot render is an mt::Error naming the kernel, op and dtype.
CudaSource emit_cuda(const Kernel& k, const EmitOptions& options = {});

}  // namespace mt::cuda
