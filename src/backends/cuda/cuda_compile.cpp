// Emit, then compile with NVRTC under the standard options.
#include "backends/cuda/cuda_compile.hpp"

#include "backends/cuda/nvrtc.hpp"

namespace mt::cuda {

std::vector<std::string> kernel_compile_options() {
  return {"-std=c++17",
          "--fmad=false",
          "-ftz=false",
          "-prec-div=true",
          "-prec-sqrt=true",
          "--display-error-number",
          "-I" + cuda_include_dir()};
}

CompiledKernel compile_kernel(const Kernel& k, const EmitOptions& options, std::string_view arch) {
  CompiledKernel out;
  out.source = emit_cuda(k, options);
  const CDialect& cuda = cuda_dialect();
  const NvrtcHeader prelude{cuda.prelude_name, cuda.prelude};
  NvrtcOutput compiled =
      Nvrtc::get().compile(k.name, out.source.code, arch, kernel_compile_options(), {&prelude, 1});
  out.cubin = std::move(compiled.cubin);
  out.log = std::move(compiled.log);
  return out;
}

}  // namespace mt::cuda
