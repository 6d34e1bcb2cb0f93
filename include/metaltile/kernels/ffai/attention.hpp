// Decode attention (docs/kernels/attention.md): one new query token per sequence attends to its
// sequence's KV cache, raw or int4/int8/fp8-quantised, with grouped-query heads, per-sequence
// lengths, a sliding window, logit soft-capping and attention sinks. Long caches are split
// across threadgroups (flash-decoding) and the partial results merged by log-sum-exp. Prefill
// attention: a chunk of query tokens of one sequence attends causally to that sequence's cache,
// with the same options and cache formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
//  attention_decode[_<format>]          the operation: run by name chooses the split count and
//                                       makes every launch (one pass, or partial + combine)
//  attention_decode[_<format>]_partial  one split of every (sequence, KV head): unnormalised
//                                       output, running maximum and sum per query head
//  attention_decode[_<format>]_splits   every split in one launch, the last group of each
//                                       (sequence, KV head) merging them (what run by name
//                                       takes on CUDA)
//  attention_decode_combine             merges the partials of every format by log-sum-exp
//  attention_prefill[_<format>]         T query tokens of one sequence at positions[t], each
//                                       attending to the cache up to its own position (causal);
//                                       run by name takes the tensor-core form where it applies
//  attention_prefill[_<format>]_mma_d64, _d128
//                                       the same on the tensor cores (flash attention): f16 /
//                                       bf16, head_dim 64 or 128
#define MT_FFAI_ATTENTION_KERNELS(X)     \
  X(attention_decode)                    \
  X(attention_decode_int4)               \
  X(attention_decode_int8)               \
  X(attention_decode_fp8_e4m3)           \
  X(attention_decode_fp8_e5m2)           \
  X(attention_decode_partial)            \
  X(attention_decode_int4_partial)       \
  X(attention_decode_int8_partial)       \
  X(attention_decode_fp8_e4m3_partial)   \
  X(attention_decode_fp8_e5m2_partial)   \
  X(attention_decode_splits)             \
  X(attention_decode_int4_splits)        \
  X(attention_decode_int8_splits)        \
  X(attention_decode_fp8_e4m3_splits)    \
  X(attention_decode_fp8_e5m2_splits)    \
  X(attention_decode_combine)            \
  X(attention_prefill)                   \
  X(attention_prefill_int4)              \
  X(attention_prefill_int8)              \
  X(attention_prefill_fp8_e4m3)          \
  X(attention_prefill_fp8_e5m2)          \
  X(attention_prefill_mma_d64)           \
  X(attention_prefill_mma_d128)          \
  X(attention_prefill_int4_mma_d64)      \
  X(attention_prefill_int4_mma_d128)     \
  X(attention_prefill_int8_mma_d64)      \
  X(attention_prefill_int8_mma_d128)     \
  X(attention_prefill_fp8_e4m3_mma_d64)  \
  X(attention_prefill_fp8_e4m3_mma_d128) \
  X(attention_prefill_fp8_e5m2_mma_d64)  \
  X(attention_prefill_fp8_e5m2_mma_d128)

namespace mt::kernels::ffai::attention {

inline constexpr std::string_view kFamily = "ffai::attention";
MT_FFAI_ATTENTION_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_ATTENTION_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

// How the split partials of a launch are merged: by the last group of each (sequence, KV head)
// to finish (the _splits kernels: one launch), or by the combine kernel (two launches).
enum class SplitMerge : std::uint8_t { LastSplit, CombineKernel };

// The entry of `name` (attention_decode or one of its quantised forms) with the split count
// fixed instead of chosen from the device: 1 runs the one-pass kernel, n > 1 n splits merged
// as `merge` says (default: as the device would, DeviceLimits::merge_splits_in_kernel). Pass it
// to mt::kernels::run or a KernelRunner to test the split paths on any device or to compare
// split counts. An mt::Error for another name or n == 0. On the interpreter, a launch of the
// _splits kernels that fails a check stops with its counters counted: a KernelRunner that
// keeps them must then be made anew (run by name makes them for each call).
KernelInfo with_split_count(std::string_view name, std::uint32_t n_splits,
                            std::optional<SplitMerge> merge = std::nullopt);

// The split count run by name chooses for `sequences_x_kv_heads` (B * n_kv_heads) independent
// (sequence, KV head) pairs attending to at most `positions` positions on a device of
// `multiprocessors` units (documented in docs/kernels/attention.md, "Geometry").
std::uint32_t choose_split_count(std::size_t sequences_x_kv_heads, std::size_t positions,
                                 std::uint32_t multiprocessors);

}  // namespace mt::kernels::ffai::attention
