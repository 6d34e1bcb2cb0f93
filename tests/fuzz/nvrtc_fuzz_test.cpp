// Generated programs, optimised, emitted as CUDA and compiled with NVRTC for sm_90 (checked
// and plain emission alternating): the emitter renders every op and dtype combination the
// generator makes. Needs NVRTC, not a GPU; running them is metaltile_fuzz --backend cuda.
#include <gtest/gtest.h>

#include "backends/cuda/cuda_compile.hpp"
#include "fuzz/generator.hpp"
#include "fuzz/runner.hpp"
#include "support/nvrtc.hpp"

namespace mt::fuzz {
namespace {

constexpr std::uint64_t kFirstSeed = 2'000'001;
constexpr int kPrograms = 12;

TEST(NvrtcFuzz, GeneratedProgramsCompile) {
  MT_REQUIRE_NVRTC();
  for (std::uint64_t seed = kFirstSeed; seed < kFirstSeed + kPrograms; ++seed) {
    const FuzzProgram p = generate(seed, GenOptions{.profile = Profile::Gpu});
    const cuda::EmitOptions options{.checked = seed % 2 == 0};
    try {
      const cuda::CompiledKernel compiled =
          cuda::compile_kernel(optimised_kernel(p), options, "sm_90");
      EXPECT_FALSE(compiled.cubin.empty()) << describe(p);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << describe(p);
    }
  }
}

}  // namespace
}  // namespace mt::fuzz
