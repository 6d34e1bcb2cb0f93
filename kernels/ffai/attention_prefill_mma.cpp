// Prefill attention on the tensor cores (flash attention) over an f16 / bf16 cache, raw or
// quantised (int4, int8, fp8: dequantised into the tiles by the threads): one
// threadgroup of 4 warps per (block of 64 query tokens, query head) shares each K and V tile
// among its tokens, where the one-token kernel (attention_decode.cpp) makes every token read
// its whole prefix again.
//
// The group copies its Q block [64, D] once, then walks the cache positions its tokens attend
// to, [lo, end) for the block (the least window start, the greatest position + 1), in tiles of
// 64 positions double-buffered: a raw tile j + 1 is in flight (asynchronous copies) while the
// warps compute tile j; a quantised one is dequantised into its stage after tile j's products.
// Each warp owns 16 tokens:
//   S = Q Kᵀ                       (tensor cores, f32)
//   s = S scale log2(e)            (soft-capped when softcap > 0), -inf outside each token's
//                                  own [lo_t, e_t): its causal limit and window
//   m' = max(m, rowmax s); p = 2^(s - m'); l = l 2^(m - m') + rowsum p
//   O = O 2^(m - m') + P V         (P rounded to T as the A operand, V loaded transposed)
// and at the end out = normalise(O, m, l) with the sink, as the decode kernels do. Rows of the
// cache past `end` read as zeros (the views stop there), so a V row no token may read never
// meets a weight of 0 as NaN times 0.
//
// Contract: the prefill request of attention_kernel.hpp for the cache format, head_dim equal to
// the kernel's D (64 or 128), 128 threads a 1-D group, n_q_heads within grid axis 1.
#include <string>
#include <utility>
#include <vector>

#include "attention_kernel.hpp"
#include "metaltile/dsl/kernel_overlap.hpp"
#include "metaltile/dsl/tile.hpp"

namespace mt::kernels::ffai::attention {
namespace {

constexpr std::uint32_t kWarpTokens = 16;  // an accumulator tile's rows: one warp's tokens
constexpr std::uint32_t kNoPosition = 0xffffffffu;

}  // namespace

void build_prefill_mma(KernelBuilder& k, DType t, CacheFormat f, std::uint32_t head_dim) {
  const Request r = declare_request(k, t, f, Queries::Prefill);
  const Tensor out = k.output("out", t);
  require_query_shaped(k, r, out);
  k.require(r.head_dim == head_dim, "head_dim == " + std::to_string(head_dim));
  k.require(r.n_q_heads <= 65535u, "n_q_heads <= 65535 (threadgroups on grid axis 1)");
  k.require(threads_per_threadgroup(0) == kThreads, "tpg.x == " + std::to_string(kThreads));
  require_1d_threadgroup(k);

  wait_for_prior_kernel();  // overlap the kernel before (dsl/kernel_overlap.hpp)
  release_next_kernel();
  const Val tokens = r.sequences;
  const Val blocks = (tokens + (kPrefillBlockTokens - 1u)) / kPrefillBlockTokens;
  const Val q_head = threadgroup_id(1);
  if_(threadgroup_id(0) < blocks && q_head < r.n_q_heads && threadgroup_id(2) == 0u, [&] {
    // The last tokens attend furthest: their blocks start first.
    const Val first_token = (blocks - 1u - threadgroup_id(0)) * kPrefillBlockTokens;
    const Val warp_row = warp_id() * kWarpTokens;
    // The spans of the lane's two tokens (rows lane / 4 and lane / 4 + 8 of its warp's 16, as
    // AccumulatorTile numbers them), nothing for tokens past the chunk; then the block's.
    std::vector<Span> spans;
    Val lane_lo = u32(kNoPosition), lane_end = u32(0);
    for (std::uint32_t i = 0; i < 2; ++i) {
      const Val token = first_token + warp_row + lane_id() / 4u + i * 8u;
      const Span s = token_span(r.lengths, min(token, tokens - 1u), r.max_seq, r.window);
      const Val end = select(token < tokens, s.end, u32(0));
      spans.push_back(Span{s.lo, end});
      lane_lo = min(lane_lo, select(end > s.lo, s.lo, u32(kNoPosition)));
      lane_end = max(lane_end, end);
    }
    const Val end = threadgroup_max(lane_end);
    const Val lo = select(end > 0u, threadgroup_min(lane_lo), u32(0));
    const Val key_tiles = (end - lo + (kPrefillBlockKeys - 1u)) / kPrefillBlockKeys;

    const Val slot_base = q_head / r.group * r.max_seq;  // the KV head's first cache row
    const Val row_width = r.n_q_heads * head_dim;
    const MatrixView queries{r.q, tokens, row_width, row_width};
    const MatrixView outputs{out, tokens, row_width, row_width};
    const SharedTiles q_tile("q_tile", t, kPrefillBlockTokens, head_dim, 1);
    const SharedTiles k_tiles("k_tiles", t, kPrefillBlockKeys, head_dim, 2);
    const SharedTiles v_tiles("v_tiles", t, kPrefillBlockKeys, head_dim, 2);
    const bool raw = f == CacheFormat::Raw;
    // A raw cache's tile: asynchronous copies (Q's group holds tile 0's).
    const auto copy_tile = [&](const Val& tile) {
      const MatrixView keys{r.k.tensors[0], slot_base + end, u32(head_dim), u32(head_dim)};
      const MatrixView values{r.v.tensors[0], slot_base + end, u32(head_dim), u32(head_dim)};
      const Val row = slot_base + lo + tile * kPrefillBlockKeys;
      copy_tile_async(k_tiles, tile % 2u, keys, row, u32(0), kThreads, true);
      copy_tile_async(v_tiles, tile % 2u, values, row, u32(0), kThreads, true);
      copy_async_commit();
    };
    // A quantised cache's tile: each thread dequantises 16-channel blocks of rows in registers
    // (the decode kernels' CacheReader: the values a dequantised cache holds) and stores them
    // as T; positions from `end` on are zeros.
    const auto dequantise_tile = [&](const Val& tile) {
      const std::uint32_t blocks = head_dim / kChannelsPerLane;  // 16-channel blocks a row
      for (const auto& [tiles, cache] : {std::pair{&k_tiles, &r.k}, std::pair{&v_tiles, &r.v}}) {
        for (std::uint32_t i = 0; i < kPrefillBlockKeys * blocks / kThreads; ++i) {
          const Val c = thread_id(0) + i * kThreads;
          const Val row = c / blocks, block = c % blocks;
          const Val position = lo + tile * kPrefillBlockKeys + row;
          const CacheReader reader(f, *cache, u32(head_dim), r.group_size, block);
          const std::vector<Val> channels =
              reader.decode(reader.load(slot_base + min(position, end - 1u)));
          for (std::uint32_t j = 0; j < kChannelsPerLane; ++j) {
            tiles->array()[tiles->at(tile % 2u, row, block * kChannelsPerLane + j)] =
                select(position < end, channels[j], f32(0.0f)).to(t);
          }
        }
      }
    };
    copy_tile_async(q_tile, u32(0), queries, first_token, q_head * head_dim, kThreads, true);
    if (raw) {
      copy_tile(u32(0));  // with Q in its group
    } else {
      copy_async_commit();
      if_(key_tiles > 0u, [&] { dequantise_tile(u32(0)); });
    }

    AccumulatorTile o("o", t, kWarpTokens, head_dim);
    AccumulatorTile s("s", t, kWarpTokens, kPrefillBlockKeys);
    std::vector<Var> m, l;  // reserved: copying a Var would make a new local
    m.reserve(2);
    l.reserve(2);
    for (std::uint32_t i = 0; i < 2; ++i) {
      m.emplace_back(f32(kEmptyMax));
      l.emplace_back(f32(0.0f));
    }
    const Val q_scale = r.scale * kLog2e;  // scores in log2 units, for exp2
    for (Val tile : range(key_tiles)) {
      copy_async_wait(0);  // tile has landed for this thread's copies...
      barrier();           // ...and everyone's; no warp reads the other stage any more
      if (raw) if_(tile + 1u < key_tiles, [&] { copy_tile(tile + 1u); });

      s.fragments().fill(f32(0.0f));
      s.mma(q_tile, u32(0), warp_row, k_tiles, tile % 2u, u32(0));  // S = Q Kᵀ
      // Soft-capping (Gemma 2) in log2 units, as the decode kernels do.
      if_(r.softcap > 0.0f, [&] {
        const Val cap = r.softcap * kLog2e, inverse = 1.0f / cap;
        s.apply([&](const Val& v, const Val&, const Val&) {
          return cap * tanh(v * q_scale * inverse);
        });
      }).else_([&] { s.apply([&](const Val& v, const Val&, const Val&) { return v * q_scale; }); });
      const Val first_key = lo + tile * kPrefillBlockKeys;
      s.apply_by_row([&](const Val& v, std::uint32_t i, const Val& col) {
        const Val key = first_key + col;
        return select(key >= spans[i].lo && key < spans[i].end, v, f32(-kInfinity));
      });

      const std::vector<Val> tile_max = s.row_reduce(CombineOp::Max);
      std::vector<Val> top, alpha;
      for (std::uint32_t i = 0; i < 2; ++i) {
        top.push_back(max(m[i].read(), tile_max[i]));
        alpha.push_back(exp2(m[i] - top[i]));
      }
      s.apply_by_row([&](const Val& v, std::uint32_t i, const Val&) { return exp2(v - top[i]); });
      const std::vector<Val> sums = s.row_reduce(CombineOp::Add);
      for (std::uint32_t i = 0; i < 2; ++i) {
        l[i] = fma(l[i].read(), alpha[i], sums[i]);
        m[i] = top[i];
      }
      o.apply_by_row([&](const Val& v, std::uint32_t i, const Val&) { return v * alpha[i]; });
      o.mma(s, v_tiles, tile % 2u, u32(0));
      // The next quantised tile, into the stage every warp finished before this trip's barrier.
      if (!raw) if_(tile + 1u < key_tiles, [&] { dequantise_tile(tile + 1u); });
    }
    copy_async_wait(0);  // no tile: Q's group is still open

    Var sink = f32(0.0f);
    if_(r.has_sinks != 0u, [&] { sink = r.sinks[q_head]; });
    o.apply_by_row([&](const Val& v, std::uint32_t i, const Val&) {
      return normalise(v, m[i], l[i], r.has_sinks, sink);
    });
    o.store_pairs(outputs, first_token + warp_row, q_head * head_dim);
  });
}

}  // namespace mt::kernels::ffai::attention
