// What the decode-attention kernels share: the cache formats, the work layout of a threadgroup,
// the parameters every kernel of the family declares, the positions a sequence attends to and
// how they are split, and the final normalisation. Layouts and formulas:
// docs/kernels/attention.md.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kv_format.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

namespace mt::kernels::ffai::attention {

// K and V are stored in one of the KV-cache family's formats (CacheFormat, kv_format.hpp),
// batched over sequences.

// Work layout. A threadgroup of kWarps warps owns one (sequence, KV head, split). Each lane
// owns kChannelsPerLane consecutive channels of a K or V row (two 16-byte vectors of f16/bf16,
// 16 bytes of int8/fp8 codes, 8 bytes of int4 codes), so head_dim / 16 lanes (a "row group")
// cover a row and a warp reads 32 / (head_dim / 16) rows at once. A warp computes
// kHeadsPerWarp query heads of its KV head at once (q and the output accumulators of those
// heads live in registers) and loads rows_per_step rows per lane per step, so several loads
// are in flight per thread. 16 channels a lane rather than 8 halves the lanes that repeat each
// row's reduction and softmax, the largest cost after the multiply-adds.
inline constexpr std::uint32_t kWarps = 4;
inline constexpr std::uint32_t kThreads = kWarps * 32;
inline constexpr std::uint32_t kChannelsPerLane = 16;
inline constexpr std::uint32_t kHeadsPerWarp = 4;
// A split's positions are a multiple of this (so splits do whole steps of a threadgroup).
inline constexpr std::uint32_t kSplitGranule = 32;
// Head dims the lane layout supports: 16 * 2^k for 2^k lanes of at most half a warp.
inline constexpr std::uint32_t kMaxHeadDim = 256;

// The running maximum before any score: finite, so that exp2(max - max) of an empty stream is
// 1 and never NaN, and below every finite score.
inline constexpr float kEmptyMax = -std::numeric_limits<float>::max();
inline constexpr float kInfinity = std::numeric_limits<float>::infinity();
inline constexpr float kLog2e = 1.4426950408889634f;

// K and V rows a lane loads per step: about 64 bytes of cache in flight per lane (two rows of
// f16/bf16 or int8/fp8 codes, one of f32, four of int4 codes).
std::uint32_t rows_per_step(CacheFormat f, DType t);

// Who the queries are. Decode: one query token per sequence b, attending to positions
// [0, lengths[b]) of its own cache [B, Hkv, S, ...]. Prefill: T query tokens of one sequence,
// sharing its cache [Hkv, S, ...]; token t attends causally to positions [0, positions[t]], the
// cache rows up to its own (which the tokens before it in the chunk have written).
enum class Queries : std::uint8_t { Decode, Prefill };

// One cache (K or V) as the kernel sees it: the raw tensor, or codes, scales and biases.
struct CacheTensors {
  std::vector<Tensor> tensors;  // raw: {x}; affine: {x_w, x_s, x_b}; fp8: {x_w, x_s}
};

// The parameters every compute kernel of the family declares, in the documented order, with
// the host-side contract on their sizes.
struct Request {
  Queries queries;
  Tensor q;
  CacheTensors k, v;
  Tensor lengths;  // decode: lengths [B]; prefill: positions [T]
  Tensor sinks;
  Val head_dim, n_q_heads, n_kv_heads, max_seq, scale, window, softcap, has_sinks;
  std::optional<Val> group_size;  // quantised formats
  Val sequences;                  // B = len(lengths) (prefill: T = len(positions))
  Val group;                      // n_q_heads / n_kv_heads
};

// Declares q, the caches, lengths (prefill: positions) and sinks and the scalars, and requires
// what the layout needs. Outputs are declared by the caller after these (they follow the
// inputs).
Request declare_request(KernelBuilder& k, DType t, CacheFormat f, Queries queries);
// Requires len(x) == B * n_q_heads * head_dim for an output of that shape.
void require_query_shaped(KernelBuilder& k, const Request& r, const Tensor& x);
// Requires the split-K partial results of `rows` = B * n_q_heads * n_splits rows:
// part_o [rows, head_dim], part_m and part_l [rows].
void require_partials(KernelBuilder& k, const Val& rows, const Val& head_dim, const Tensor& part_o,
                      const Tensor& part_m, const Tensor& part_l);
// Requires len(sinks) == n_q_heads, or 0 when has_sinks == 0.
void require_sinks(KernelBuilder& k, const Tensor& sinks, const Val& n_q_heads,
                   const Val& has_sinks);

// The positions sequence b attends to: [lo, end) with end = lengths[b] and lo = end - window
// when 0 < window < end, else 0. A length of 0 or above max_seq gives end = 0 (nothing). With
// `report_bad_length`, such a length also makes a load of `lengths` one past its end, which
// checked mode reports as an mt::Error (and which writes nothing).
struct Span {
  Val lo, end;
};
Span sequence_span(const Tensor& lengths, const Val& b, const Val& max_seq, const Val& window,
                   bool report_bad_length);
// The positions prefill token t attends to: [lo, end) with end = positions[t] + 1 and lo as
// above. A position of max_seq or more gives nothing and a load of `positions` one past its
// end, which checked mode reports.
Span token_span(const Tensor& positions, const Val& t, const Val& max_seq, const Val& window);

// The positions of split `split` of n_splits: whole granules of kSplitGranule, the first
// splits full, so ceil((end - lo) / chunk) splits hold positions and the rest none.
struct SplitChunk {
  Val chunk;  // positions per split (> 0)
  Val used;   // splits that hold at least one position
};
SplitChunk split_chunk(const Span& s, const Val& n_splits);

// The result of one query head from its merged state: o / l, with the sink's exp(sink - m)
// joining the denominator when has_sinks, and 0 where nothing was attended to. m is in log2
// units (scores are scaled by log2(e) before exp2).
Val normalise(const Val& o, const Val& m, const Val& l, const Val& has_sinks, const Val& sink);

// What a decode kernel writes: `out` in one pass; the part_o / part_m / part_l of its split
// (the combine kernel merges them); or its split's partials, after which the last group of a
// (sequence, KV head) to finish merges all of them into `out` (counting in `arrivals`).
enum class DecodeOutput : std::uint8_t { Out, Partials, MergedPartials };

// The kernels' bodies, one per (format, queries, output); prefill writes `out` in one pass.
void build_decode(KernelBuilder& k, DType t, CacheFormat f, DecodeOutput output,
                  Queries queries = Queries::Decode);
void build_combine(KernelBuilder& k, DType t);

// The split partial results, [B, n_q_heads, n_splits(, head_dim)] f32 (require_partials).
struct Partials {
  Tensor o, m, l;
};
// Threads that merge one query row together: the member's index, the team's size and the
// reductions over the team (the whole group, or one warp).
struct MergeTeam {
  Val member, size;
  Val (*max)(const Val&);
  Val (*sum)(const Val&);
};
// The sinks and whether they join the denominator.
struct SinkTerm {
  Tensor sinks;
  Val has_sinks;
};
// Merges the partials of query row q_row (query head q_head), its splits [0, used) of n_splits,
// by log-sum-exp into out's row q_row, normalised with the sink: the combine kernel's work.
void merge_splits(const Partials& p, const MergeTeam& team, const Val& q_row, const Val& q_head,
                  const Val& used, const Val& n_splits, const Val& head_dim,
                  const SinkTerm& sink_term, const Tensor& out);

// Prefill on the tensor cores (attention_prefill_mma.cpp): f16 / bf16 caches of format f and
// one head_dim (64 or 128), one threadgroup of kThreads per kPrefillBlockTokens query tokens and
// query head, K and V in tiles of kPrefillBlockKeys positions.
inline constexpr std::uint32_t kPrefillBlockTokens = 64;
inline constexpr std::uint32_t kPrefillBlockKeys = 64;
void build_prefill_mma(KernelBuilder& k, DType t, CacheFormat f, std::uint32_t head_dim);

// --- reading one lane's channels of a cache row ---------------------------------------------

// The loads of one lane's 16 channels of one row, issued before any of them is used.
struct RowLoad {
  std::vector<ArrayRef> vectors;  // 16- or 8-byte vector loads (values or code words)
  std::vector<Val> values;        // scalar loads (scale, bias)
};

// Reads a lane's kChannelsPerLane channels of rows of one cache in its format.
class CacheReader {
 public:
  // `lane_chunk` is the lane's channel chunk in the row (channels 16*lane_chunk .. +16).
  CacheReader(CacheFormat f, const CacheTensors& cache, const Val& head_dim,
              const std::optional<Val>& group_size, const Val& lane_chunk);
  // The loads of row `slot` (= (b * n_kv_heads + kv_head) * max_seq + position).
  RowLoad load(const Val& slot) const;
  // The channels as f32, dequantised in registers.
  std::vector<Val> decode(const RowLoad& row) const;

 private:
  std::uint32_t words() const;  // u32 code words of a lane's channels of a row (quantised)
  std::vector<Val> decode_affine(const RowLoad& row) const;
  std::vector<Val> decode_fp8(const RowLoad& row) const;

  CacheFormat format_;
  std::vector<Tensor> tensors_;
  Val per_slot_;  // elements (raw) or u32 words (codes) per row
  Val first_;     // this lane's first element or word in a row
  Val group_;     // this lane's group in a row (quantised)
  Val groups_;    // groups per row (quantised)
};

}  // namespace mt::kernels::ffai::attention
