// sample: the entry of the sampling family. Launched by name it runs the two-kernel path
// (sample_candidates, then sample_pick) when that path fits (1 <= top_k <= 128, or temperature
// 0, within the sizes of sampling_params.hpp); otherwise the radix path: this kernel when one
// group per row is enough (a row of one segment), else the segment kernels of
// sample_segments.cpp, which split each row over several groups.
//
// This kernel takes a row per group (32 to 256 threads, 8 logits a thread per tile) and makes
// the same passes as the segment kernels, over the whole row, with its histograms in
// threadgroup memory:
//   - the top logit (key, index): greedy's answer and the reference of the weights;
//   - top-k, then top-p: three histogram passes each (sampling_select.hpp), each followed by a
//     scan that picks the next digit of the cut's key;
//   - the kept tally of the row (count tied at the cut, mass above it), hence the kept mass Z;
//   - the draw: the first logit in index order whose running kept mass exceeds
//     floor(u * Z), found by walking the row in tiles with a threadgroup scan each.
// So a request costs 3 to 9 passes over the row and one launch; the segment kernels give the
// same token (the same integer arithmetic) in one launch per pass.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "sampling_mass.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"
#include "sampling_rows.hpp"
#include "sampling_select.hpp"

namespace mt::kernels::ffai::sampling {
namespace {

// The cut of the row's selections, their histograms built in threadgroup memory one pass at a
// time (each pass's scan comes before the next pass clears the histogram).
Cut row_cut(KernelBuilder& k, const RowTokens& tokens, const RowInputs& in, const Selections& sel,
            const Val& top_key) {
  SharedHistogram hist(k);
  StateBoard board(k);
  SelectStateVar state(SelectState{u32(0), zero_tally(), wide(u32(0))});
  for (Val pass : range(sel.passes)) {
    if_(pass > 0u, [&] {
      SelectState after = board.advance(sel, pass - 1u, state, hist.view());
      state = start_state(sel, pass, after, top_key);
    }).else_([&] { state = start_state(sel, pass, state, top_key); });
    hist.clear();
    barrier();
    SelectState s = state;
    Val level = pass % kSelectLevels;
    tokens.for_each(u32(0), in.vocab, [&](const Token& t) {
      if_(t.valid && in_play(t.key, s.prefix, level),
          [&] { hist.add(digit_of(t.key, level), key_weight(t.key, top_key)); });
    });
    barrier();
    hist.sum_coarse();
    barrier();
  }
  Cut none = no_cut();
  Var key = none.key, n = none.n;
  if_(sel.passes > 0u, [&] {
    SelectState after = board.advance(sel, sel.passes - 1u, state, hist.view());
    Cut cut = final_cut(sel, after, top_key);
    key = cut.key;
    n = cut.n;
  });
  return Cut{key, n};
}

void build_sample(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Tensor out = k.output("out", kU32);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  require_1d_launch(k);
  k.require(threads_per_threadgroup(0) % 32u == 0u, "tpg = (32 * warps, 1, 1)");
  k.require_len(out, in.rows, "rows = len(logits)/vocab");
  // A logit's index is chunk + local with local < kChunk: below 2^32 only if vocab leaves a
  // chunk's room (a wrapped index would pass the i < vocab guard and read another logit).
  k.require(in.vocab <= 0xFFFFFFFFu - kChunk, "vocab <= 2^32 - 1 - 32768");

  Val row = threadgroup_id(0);
  if_(row < in.rows, [&] {
    RowTokens tokens(k, in, row);
    auto [top_key, top_idx] = range_top(tokens, u32(0), in.vocab);
    // Greedy decoding (and a row of NaN) takes the top logit.
    Var token = top_idx;
    if_(in.temperature > 0.0f && top_key != 0u, [&] {
      Selections sel(in, d);
      Keeper keeper(row_cut(k, tokens, in, sel, top_key), top_key, d.min_p);
      GroupScan scan(k);
      TallyVar kept(zero_tally());
      tokens.for_each(u32(0), in.vocab,
                      [&](const Token& t) { kept = Tally(kept) + keeper.tally(t); });
      Wide z = keeper.mass(scan.exclusive(kept).total);
      token = walk_draw(k, tokens, u32(0), in.vocab, zero_tally(), keeper, draw_target(d, row, z),
                        scan);
    });
    if_(thread_id(0) == 0u, [&] { out[row] = token; });
  });
}

// ---- registry entry -----------------------------------------------------------------------------

// Threads of a group of this kernel: kUnroll logits each, 32 to kThreads.
std::size_t row_threads(std::size_t vocab) {
  return std::clamp<std::size_t>(std::bit_ceil(geometry::ceil_div(vocab, kUnroll)), 32, kThreads);
}

// The segment kernels: sample_top, a sample_histogram launch per pass, sample_kept (unless
// greedy), sample_draw.
LaunchPlan segment_launches(std::size_t rows, const SegmentPlan& p, bool sampled) {
  LaunchPlan plan;
  plan.scratch = {{"segment_tops", DType::U32, rows * p.segments * 2},
                  {"hist", DType::U32, rows * kMaxPasses * kHistWords},
                  {"select_state", DType::U32, rows * kStateSlots * kStateWords},
                  {"tile_sums", DType::U32, rows * p.tiles * 3}};
  const std::array<std::size_t, 3> grid{p.segments, rows, 1}, tpg{kThreads, 1, 1};
  const std::map<std::string, ConstValue> segment = {{"segment", p.segment}};
  plan.steps.push_back({"sample_top", grid, tpg, {}, segment});
  for (std::uint32_t pass = 0; pass < p.passes; ++pass) {
    LaunchStep histogram{"sample_histogram", grid, tpg, {}, segment};
    histogram.scalars["pass"] = pass;
    plan.steps.push_back(histogram);
  }
  if (sampled) plan.steps.push_back({"sample_kept", grid, tpg, {}, segment});
  plan.steps.push_back({"sample_draw", {1, rows, 1}, tpg, {}, segment});
  return plan;
}

// The two-kernel plan when it fits; else the radix path: this kernel (a group per row) when each
// row is one segment, the segment kernels otherwise.
LaunchPlan sample_geometry(const LaunchShape& s) {
  const std::size_t vocab = s.u32("vocab");
  const std::size_t rows = vocab == 0 ? 0 : s.elements("logits") / vocab;
  const float temperature = s.f32("temperature");
  const CandidatePlan p = candidate_plan(vocab, s.u32("top_k"), temperature);
  if (!p.fits) {
    const SegmentPlan segments =
        segment_plan(vocab, rows, s.u32("top_k"), s.f32("top_p"), temperature);
    if (rows == 0 || segments.segments <= 1) return geometry::rows(rows, row_threads(vocab));
    return segment_launches(rows, segments, temperature > 0.0f);
  }
  const std::size_t entries = rows * p.groups * p.run, lasts = rows * p.slices;
  LaunchPlan plan;
  plan.scratch = {{"cand_keys", DType::U32, entries},
                  {"cand_idx", DType::U32, entries},
                  {"last_keys", DType::U32, lasts},
                  {"last_idx", DType::U32, lasts}};
  const std::map<std::string, ConstValue> layout = {{"reports", p.reports},
                                                    {"group_slices", p.group_slices}};
  LaunchStep candidates{"sample_candidates",
                        {p.groups, std::max<std::size_t>(1, rows), 1},
                        {32 * p.group_slices, 1, 1},
                        {},
                        layout};
  LaunchStep pick{
      "sample_pick", {std::max<std::size_t>(1, rows), 1, 1}, {pick_threads(p), 1, 1}, {}, layout};
  pick.scalars["keep"] = p.keep;
  plan.steps = {candidates, pick};
  return plan;
}

struct SampleShape {
  std::size_t rows, vocab;
  std::uint32_t top_k;
  float top_p, min_p, temperature;
  std::size_t penalty = 0;  // ids per row; 0: the penalty is off
};

BenchCase sample_case(const SampleShape& s, DType t) {
  std::string label = "B" + std::to_string(s.rows) + " V" + std::to_string(s.vocab);
  if (s.temperature == 0.0f) label += " greedy";
  if (s.temperature > 0.0f && s.top_k > 0) label += " top-k " + std::to_string(s.top_k);
  if (s.temperature > 0.0f && s.top_p < 1.0f) {
    label += " top-p " + std::to_string(s.top_p).substr(0, 4);
  }
  if (s.temperature > 0.0f && s.min_p > 0.0f) {
    label += " min-p " + std::to_string(s.min_p).substr(0, 4);
  }
  if (s.temperature > 0.0f && s.top_k == 0 && s.top_p >= 1.0f && s.min_p == 0.0f) {
    label += " temperature";
  }
  if (s.penalty > 0) label += " penalty " + std::to_string(s.penalty);
  // tile bench cannot bind an empty tensor: without a penalty, one id per row and a penalty of
  // 1 (which changes nothing).
  const std::size_t ids = std::max<std::size_t>(s.penalty, 1);
  BenchCase b{label, t, {}, {}, {}, 0.0, 0.0};
  b.elements = {{"logits", s.rows * s.vocab}, {"penalty_ids", s.rows * ids}, {"out", s.rows}};
  b.scalars = {{"vocab", std::uint32_t(s.vocab)},
               {"temperature", s.temperature},
               {"top_k", s.top_k},
               {"top_p", s.top_p},
               {"min_p", s.min_p},
               {"seed_lo", 1234u},
               {"seed_hi", 0u},
               {"offset", 7u},
               {"n_penalty", std::uint32_t(ids)},
               {"repetition_penalty", s.penalty > 0 ? 1.1f : 1.0f}};
  // Logits spread like a language model's (a few units); penalty ids inside the vocabulary.
  b.fills = {{"logits", BenchFill::uniform(-8.0, 8.0)},
             {"penalty_ids", BenchFill::below(std::uint32_t(s.vocab))}};
  b.bytes = double(s.rows * s.vocab * size_of(t)) + 4.0 * double(s.rows * (ids + 1));
  return b;
}

}  // namespace

KernelInfo sample::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample,
      .doc = {.summary = "draw one token per row: penalty, temperature, top-k, top-p, min-p",
              .formula = "y = penalised logit / temperature; W = floor(e^(y - y_max) * 2^31); "
                         "keep the top-k (larger y, then lower index, first), then the shortest "
                         "prefix whose mass (sum of W) reaches ceil(top_p * 2^31) / 2^31 of "
                         "theirs, then those with e^(y - y_max) >= min_p; draw the first kept "
                         "token whose running mass exceeds floor(u * Z), u from "
                         "Philox4x32-10(key (seed_lo, seed_hi), counter (offset, row, 0, 0)); "
                         "temperature 0: the top logit",
              .buffers = {{"logits", "[B, V] T"},
                          {"penalty_ids",
                           "[B, P] u32: each row's previous tokens (< V; repeats "
                           "count once)"},
                          {"out", "[B] u32: the drawn token of each row"}},
              .scalars = {{"vocab", "u32: V (> 0)"},
                          {"temperature", "f32: >= 0; 0 = greedy argmax (lowest index on ties)"},
                          {"top_k", "u32: 0 = off"},
                          {"top_p", "f32: in (0, 1]; 1 = off"},
                          {"min_p", "f32: in [0, 1]; 0 = off"},
                          {"seed_lo", "u32: Philox key, low word"},
                          {"seed_hi", "u32: Philox key, high word"},
                          {"offset", "u32: Philox counter word 0 (the row is word 1)"},
                          {"n_penalty", "u32: P, ids per row in penalty_ids (0 = none)"},
                          {"repetition_penalty", "f32: > 0; 1 = off"}},
              .geometry =
                  "1 <= top_k <= 128 or temperature 0 (and V <= 262144): "
                  "sample_candidates, a warp per 256 logits and up to 8 warps a group, "
                  "then sample_pick, one group (up to 1024 threads) per row; otherwise the "
                  "radix path: this kernel, one group of 32-256 threads per row, when a row "
                  "is one segment, else sample_top, sample_histogram (a launch a pass), "
                  "sample_kept and sample_draw over (segments, B)"},
      .geometry = sample_geometry,
      .bench =
          [](BenchScale scale) {
            if (scale == BenchScale::Smoke) {
              return std::vector<BenchCase>{
                  sample_case({2, 1000, 20, 0.9f, 0.0f, 1.0f}, DType::F32),
                  sample_case({2, 300, 0, 0.9f, 0.05f, 0.8f, 3}, DType::F32),
                  sample_case({2, 5000, 0, 0.9f, 0.0f, 1.0f}, DType::F32)};
            }
            // Llama 3: V = 128256. The goals: B = 1 and 64 with top-k 50 + top-p 0.9.
            return std::vector<BenchCase>{
                sample_case({1, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::F32),
                sample_case({64, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::F32),
                sample_case({1, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::BF16),
                sample_case({1, 128256, 0, 1.0f, 0.0f, 0.0f}, DType::F32),
                sample_case({1, 128256, 0, 1.0f, 0.0f, 1.0f}, DType::F32),
                sample_case({64, 128256, 50, 0.9f, 0.0f, 1.0f, 64}, DType::F32),
                sample_case({1, 128256, 0, 0.9f, 0.0f, 1.0f}, DType::F32),
                sample_case({1, 128256, 0, 1.0f, 0.05f, 1.0f}, DType::F32),
                sample_case({64, 128256, 0, 0.9f, 0.0f, 1.0f}, DType::F32)};
          },
  };
}

}  // namespace mt::kernels::ffai::sampling
