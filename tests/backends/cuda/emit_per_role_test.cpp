// The CUDA emitter's form of a per_role loop (range_by_role): one loop per role, each inside
// its role's branch, with the shared pure values in every copy; a branch on a role's condition
// right after the loop follows that role's loop inside its branch; every checked access keeps
// the site the host finds again.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "metaltile/dsl/dsl.hpp"
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
  const std::string code = emit_cuda(test::role_loop_kernel()).code;
  EXPECT_EQ(count(code, "for ("), 2u) << code;
  // The first role's branch opens, then its loop; its epilogue store follows its loop inside
  // the branch, before the second role's branch.
  const std::regex shape(
      "if \\((v[0-9]+)\\) \\{\\s*for \\([^\\n]*\\n(?:[^\\n]*\\n)*?\\s*\\}\\n"
      "(?:[^\\n]*\\n)*?\\s*\\}\\n\\s*if \\((v[0-9]+)\\) \\{\\s*for \\(");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(code, m, shape)) << code;
  EXPECT_NE(m[1].str(), m[2].str()) << code;
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

}  // namespace
}  // namespace mt::cuda
