// From IR to cubin: emits a kernel and compiles it with NVRTC under the options every emitted
// kernel is compiled with, stated here once (the backend and the compile cache use these).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cuda/emit_cuda.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

struct CompiledKernel {
  CudaSource source;
  std::vector<std::uint8_t> cubin;
  std::string log;  // NVRTC's warnings ("" when clean)
};

// The NVRTC options for emitted code, after --gpu-architecture:
//   -std=c++17; --fmad=false, -ftz=false, -prec-div=true, -prec-sqrt=true: every IR op rounds
//   on its own, as the interpreter computes (a fused multiply-add would round once);
//   --display-error-number: each warning in the log carries its number;
//   -I<cuda_include_dir()>: the prelude includes cuda_fp16.h and cuda_bf16.h.
std::vector<std::string> kernel_compile_options();

// emit_cuda(k, options), compiled for `arch` ("sm_90") with the prelude as a header. Throws
// mt::Error if NVRTC is unavailable or the compilation fails (see Nvrtc::compile).
CompiledKernel compile_kernel(const Kernel& k, const EmitOptions& options, std::string_view arch);

}  // namespace mt::cuda
