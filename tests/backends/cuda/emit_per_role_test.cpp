// The CUDA emitter's form of a per_role loop (range_by_role): one loop per role, each inside
// its role's branch, with the shared pure values in every copy; a branch on a role's condition
// right after the loop follows that role's loop inside its branch; every checked access keeps
// the site the host finds again.
#include <gtest/gtest.h>

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/cuda_dialect.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "backends/cuda/nvrtc.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "support/nvrtc.hpp"
#include "support/role_loop_kernel.hpp"

namespace mt::cuda {
namespace {

std::size_t count(const std::string& text, const std::string& piece) {
  std::size_t n = 0;
  for (std::size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) {
    ++n;
  }
  return n;
}

TEST(EmitPerRole, EachRoleRunsItsOwnLoopInsideItsBranch) {
  const Kernel k = test::role_loop_kernel();
  const std::string code = emit_cuda(k).code;
  EXPECT_EQ(count(code, "for ("), 2u) << code;
  // Each role's branch opens with its loop: the second role's first, then the first role's,
  // whose epilogue store follows its loop inside the branch (nothing of the other role after
  // the first role's loop).
  const std::regex role("if \\((v[0-9]+)\\) \\{\\n\\s*for \\(");
  std::vector<std::string> roles;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), role); it != std::sregex_iterator();
       ++it) {
    roles.push_back((*it)[1]);
  }
  ASSERT_EQ(roles.size(), 2u) << code;
  EXPECT_NE(roles[0], roles[1]) << code;
  // The stores in the text's order: the second role's, the first role's, the epilogue's (the
  // last in pre-order); only closing braces lie between the first role's loop and its epilogue.
  const std::regex store("mt_store\\(.*, ([0-9]+)u\\);\\n");
  std::vector<std::uint32_t> sites;
  std::vector<std::size_t> ends;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), store);
       it != std::sregex_iterator(); ++it) {
    sites.push_back(static_cast<std::uint32_t>(std::stoul((*it)[1])));
    ends.push_back(static_cast<std::size_t>(it->position() + it->length()));
  }
  ASSERT_EQ(sites.size(), 3u) << code;
  EXPECT_GT(sites[0], sites[1]) << code;
  EXPECT_GT(sites[2], sites[0]) << code;
  const std::string between = code.substr(ends[1], code.find("mt_store", ends[1]) - ends[1]);
  EXPECT_EQ(between.find("if ("), std::string::npos) << between;
  EXPECT_EQ(between.find("for ("), std::string::npos) << between;
  // The shared value i * 64 is defined in both loops, under the same name.
  std::smatch row;
  ASSERT_TRUE(std::regex_search(code, row,
                                std::regex("const unsigned int v[0-9]+ = v[0-9]+ \\* "
                                           "v[0-9]+;")))
      << code;
  EXPECT_EQ(count(code, row.str()), 2u) << code;
}

TEST(EmitPerRole, SitesNameTheInstructionsTheHostFindsAgain) {
  const Kernel k = test::role_loop_kernel();
  const std::string code = emit_cuda(k).code;
  const std::regex site("mt_(store|loop_start)\\(.*, ([0-9]+)u\\)");
  int found = 0;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), site); it != std::sregex_iterator();
       ++it) {
    const Instr* in = instr_at_site(k, static_cast<std::uint32_t>(std::stoul((*it)[2])));
    ASSERT_NE(in, nullptr) << it->str();
    EXPECT_EQ(in->op, (*it)[1] == "store" ? OpKind::Store : OpKind::For) << it->str();
    ++found;
  }
  // Two loop starts (one a role) for one For, the roles' two stores and the epilogue's.
  EXPECT_EQ(found, 5) << code;
}

// The library's warpgroup GEMMs keep an MMA group in flight from slice to slice; ptxas
// serialises every wgmma (info C7514 / C7518) when other code touches the accumulators or lies
// on a path between an MMA and its wait. Compiled as the backend compiles them (sm_90a, the
// standard options) with ptxas's messages on, checked and unchecked.
TEST(EmitPerRole, TheWarpgroupGemmsKeepTheirMmasAsynchronous) {
  MT_REQUIRE_NVRTC();
  for (const char* name : {"gemm_wgmma_tma_128x256", "gemm_wgmma_tma_128x128", "gemm_wgmma_128x256",
                           "gemm_wgmma_128x128"}) {
    for (bool checked : {true, false}) {
      SCOPED_TRACE(std::string(name) + (checked ? " checked" : " unchecked"));
      const Kernel k = passes::optimise(traced_kernel(name, DType::BF16));
      const CudaSource source = emit_cuda(k, {.checked = checked});
      std::vector<std::string> options = kernel_compile_options();
      options.push_back("--ptxas-options=--verbose");
      const NvrtcHeader prelude{cuda_dialect().prelude_name, cuda_dialect().prelude};
      const NvrtcOutput out =
          Nvrtc::get().compile(k.name, source.code, "sm_90a", options, {&prelude, 1});
      EXPECT_NE(out.log.find("Used "), std::string::npos) << out.log;  // ptxas did report
      EXPECT_EQ(out.log.find("serialized"), std::string::npos) << out.log;
    }
  }
}

}  // namespace
}  // namespace mt::cuda
