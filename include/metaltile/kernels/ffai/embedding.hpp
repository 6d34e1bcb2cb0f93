// Token embedding lookup (docs/kernels/embedding.md): out[t, :] = table[ids[t], :], generic over
// T in {f32, f16, bf16}, bit-exact copies with 16-byte vectors when dim allows.
//
//  embedding   ids (u32) [T], table [V, dim] -> out [T, dim]    scalar dim; V = len(table) / dim
//
// An id >= V is an mt::Error naming the kernel and `ids` in checked mode; unchecked, its row of
// out is left as it was and nothing is read or written out of bounds.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_FFAI_EMBEDDING_KERNELS(X) X(embedding)

namespace mt::kernels::ffai::embedding {

inline constexpr std::string_view kFamily = "ffai::embedding";
MT_FFAI_EMBEDDING_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_EMBEDDING_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::ffai::embedding
