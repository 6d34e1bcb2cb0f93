// The segment kernels of the radix sampling path: `sample` launched by name runs them when a
// row is longer than one segment (sampling_params.hpp's segment_plan), so that a row is read by
// several groups at once. Each is a launch over (segments, rows), one group of 256 threads per
// segment, except sample_draw (one group per row); the launch boundaries order their steps:
//   sample_top        each segment's top logit -> segment_tops; zeroes the row's histograms.
//   sample_histogram  pass j (0 <= j < passes): the row's top from segment_tops; for j > 0 the
//                     scan of histogram j - 1 (every group the same, group 0 stores the state
//                     in select_state); the segment's histogram of level j % 3, added into
//                     hist[row, j] with integer atomics.
//   sample_kept       the cut from the last histogram (stored by group 0), and each tile's
//                     kept tally (count tied at the cut, mass above it) -> tile_sums.
//   sample_draw       the kept mass Z from the tile sums, the tile where the running mass
//                     passes floor(u * Z), and the walk of that tile -> out.
// Every step is integer arithmetic or exactly rounded f32, so the token is the one `sample`'s
// own kernel draws for the same request, on every backend.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "sampling_mass.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"
#include "sampling_rows.hpp"
#include "sampling_select.hpp"

namespace mt::kernels::ffai::sampling {
namespace {

// The scratch buffers of the path that a kernel declares.
struct Scratch {
  std::optional<Tensor> tops_, hist_, state_, tile_sums_;
  const Tensor& tops() const { return *tops_; }
  const Tensor& hist() const { return *hist_; }
  const Tensor& state() const { return *state_; }
  const Tensor& tile_sums() const { return *tile_sums_; }
};

// A group's place: its row (grid axis 1), its segment (axis 0) and the segment's logits.
struct Segment {
  Val size, count, tiles;  // logits a segment, segments and tiles of 2048 a row
  Val row, index, begin, end;
  Val in_grid;  // a real row and segment (an over-dispatched grid's extra groups do nothing)
};

Segment declare_segment(KernelBuilder& k, const RowInputs& in) {
  Val size = k.scalar_u32("segment");
  k.require(size > 0u && size % kTile == 0u && size <= kChunk,
            "segment is a multiple of 2048, at most 32768");
  k.require(threads_per_threadgroup(0) == kThreads && threads_per_threadgroup(1) == 1u &&
                threads_per_threadgroup(2) == 1u,
            "tpg = (256, 1, 1)");
  k.require(threadgroups_per_grid(2) == 1u, "a 2-D grid: grid = (x, y, 1)");
  k.require(in.vocab <= 0xFFFFFFFFu - kChunk, "vocab <= 2^32 - 1 - 32768");
  Val count = (in.vocab + size - 1u) / max(size, u32(1));
  k.require(count <= kMaxSegments, "ceil(vocab / segment) <= 65535");
  Val row = threadgroup_id(1), index = threadgroup_id(0);
  Val begin = index * size;
  return Segment{size,
                 count,
                 (in.vocab + (kTile - 1)) / kTile,
                 row,
                 index,
                 begin,
                 begin + min(in.vocab - min(begin, in.vocab), size),
                 row < in.rows && index < count};
}

// Declares the scratch buffers the kernel uses (inputs or outputs) with their length contracts.
enum class Use { None, In, Out };
struct ScratchUse {
  Use tops = Use::None, hist = Use::None, state = Use::None, tile_sums = Use::None;
};

Scratch declare_scratch(KernelBuilder& k, const ScratchUse& use) {
  auto declare = [&](const char* name, Use u) {
    return u == Use::Out ? k.output(name, kU32) : k.input(name, kU32);
  };
  Scratch s;
  if (use.tops != Use::None) s.tops_ = declare("segment_tops", use.tops);
  if (use.hist != Use::None) s.hist_ = declare("hist", use.hist);
  if (use.state != Use::None) s.state_ = declare("select_state", use.state);
  if (use.tile_sums != Use::None) s.tile_sums_ = declare("tile_sums", use.tile_sums);
  return s;
}

void require_scratch_lengths(KernelBuilder& k, const RowInputs& in, const Segment& seg,
                             const ScratchUse& use, const Scratch& s) {
  if (use.tops != Use::None) {
    k.require_len(s.tops(), in.rows * seg.count * 2u, "rows*ceil(vocab/segment)*2");
  }
  if (use.hist != Use::None) {
    k.require_len(s.hist(), in.rows * (kMaxPasses * kHistWords), "rows*6*8448");
  }
  if (use.state != Use::None) {
    k.require_len(s.state(), in.rows * (kStateSlots * kStateWords), "rows*7*8");
  }
  if (use.tile_sums != Use::None) {
    k.require_len(s.tile_sums(), in.rows * seg.tiles * 3u, "rows*ceil(vocab/2048)*3");
  }
}

// The row's top logit (key, index) from its segments' tops, on every thread.
std::pair<Val, Val> row_top(const Tensor& tops, const Segment& seg) {
  Var best_key = u32(0), best_idx = u32(kNoIndex);
  for (Val g : range(thread_id(0), seg.count, threads_per_threadgroup(0))) {
    Val at = (seg.row * seg.count + g) * 2u;
    Val key = tops[at], idx = tops[at + 1u];
    Val better = ranks_before(key, idx, best_key, best_idx);
    best_key = select(better, key, Val(best_key));
    best_idx = select(better, idx, Val(best_idx));
  }
  Val top_key = threadgroup_max(best_key);
  return {top_key, threadgroup_min(select(Val(best_key) == top_key, Val(best_idx), u32(kNoIndex)))};
}

Val state_at(const Segment& seg, const Val& slot) {
  return (seg.row * kStateSlots + slot) * kStateWords;
}

Val hist_at(const Segment& seg, const Val& pass) {
  return (seg.row * kMaxPasses + pass) * kHistWords;
}

// The state stored in `slot`, loaded by every thread. Kernels load it
// before the row's top, so that both rounds of loads are in flight together.
SelectState stored_state(const Scratch& s, const Segment& seg, const Val& slot) {
  Val base = state_at(seg, slot);
  return load_state([&](std::uint32_t w) { return Val(s.state()[base + w]); });
}

// ---- sample_top -------------------------------------------------------------------------------

constexpr ScratchUse kTopScratch{Use::Out, Use::Out, Use::Out, Use::None};

void build_sample_top(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Scratch s = declare_scratch(k, kTopScratch);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  Segment seg = declare_segment(k, in);
  require_scratch_lengths(k, in, seg, kTopScratch, s);
  if_(seg.in_grid, [&] {
    RowTokens tokens(k, in, seg.row);
    auto [key, index] = range_top(tokens, seg.begin, seg.end);
    if_(thread_id(0) == 0u, [&] {
      Val at = (seg.row * seg.count + seg.index) * 2u;
      s.tops()[at] = key;
      s.tops()[at + 1u] = index;
    });
    // The row's states and histograms start at zero (so no later launch reads memory no launch
    // wrote): group 0 clears the states, all groups the request's histograms between them.
    if_(seg.index == 0u, [&] {
      for (Val w : range(thread_id(0), u32(kStateSlots * kStateWords), u32(kThreads))) {
        s.state()[state_at(seg, u32(0)) + w] = u32(0);
      }
    });
    Val words = Selections(in, d).passes * kHistWords;
    Val first = seg.index * kThreads + thread_id(0);
    for (Val w : range(first, words, seg.count * kThreads)) {
      s.hist()[hist_at(seg, u32(0)) + w] = u32(0);
    }
  });
}

// ---- sample_histogram ---------------------------------------------------------------------------

constexpr ScratchUse kHistogramScratch{Use::In, Use::Out, Use::Out, Use::None};

void build_sample_histogram(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Scratch s = declare_scratch(k, kHistogramScratch);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  Segment seg = declare_segment(k, in);
  Val pass = k.scalar_u32("pass");
  Selections sel(in, d);
  k.require(pass < sel.passes, "pass < passes (3 for top-k, 3 for top-p)");
  require_scratch_lengths(k, in, seg, kHistogramScratch, s);
  if_(seg.in_grid, [&] {
    // Pass 0 reads the cut's slot instead, which sample_top zeroed and no group writes now.
    Val previous = select(pass > 0u, pass - 1u, u32(kCutSlot));
    SelectState stored = stored_state(s, seg, previous);
    Val top_key = row_top(s.tops(), seg).first;
    StateBoard board(k);
    SelectStateVar state(stored);
    if_(pass > 0u, [&] {
      HistView h = global_hist(s.hist(), hist_at(seg, previous));
      state = start_state(sel, pass, board.advance(sel, previous, stored, h), top_key);
    }).else_([&] { state = start_state(sel, pass, stored, top_key); });
    SelectState current = state;
    if_(seg.index == 0u && thread_id(0) == 0u, [&] {
      Val base = state_at(seg, pass);
      store_state([&](std::uint32_t w, const Val& v) { s.state()[base + w] = v; }, current);
    });
    SharedHistogram hist(k);
    hist.clear();
    RowTokens tokens(k, in, seg.row);  // its bitmap fill starts with a barrier
    Val level = pass % kSelectLevels;
    tokens.for_each(seg.begin, seg.end, [&](const Token& t) {
      if_(t.valid && in_play(t.key, current.prefix, level),
          [&] { hist.add(digit_of(t.key, level), key_weight(t.key, top_key)); });
    });
    barrier();
    hist.sum_coarse();
    barrier();
    hist.flush(s.hist(), hist_at(seg, pass));
  });
}

// ---- sample_kept --------------------------------------------------------------------------------

constexpr ScratchUse kKeptScratch{Use::In, Use::In, Use::Out, Use::Out};

void build_sample_kept(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Scratch s = declare_scratch(k, kKeptScratch);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  Segment seg = declare_segment(k, in);
  Selections sel(in, d);
  require_scratch_lengths(k, in, seg, kKeptScratch, s);
  if_(seg.in_grid, [&] {
    Val last = select(sel.passes > 0u, sel.passes - 1u, u32(0));
    SelectState stored = stored_state(s, seg, last);
    Val top_key = row_top(s.tops(), seg).first;
    StateBoard board(k);
    Cut none = no_cut();
    Var cut_key = none.key, cut_n = none.n;
    if_(sel.passes > 0u, [&] {
      HistView h = global_hist(s.hist(), hist_at(seg, last));
      Cut cut = final_cut(sel, board.advance(sel, last, stored, h), top_key);
      cut_key = cut.key;
      cut_n = cut.n;
    });
    Cut cut{cut_key, cut_n};
    if_(seg.index == 0u && thread_id(0) == 0u, [&] {
      Val base = state_at(seg, u32(kCutSlot));
      s.state()[base] = cut.key;
      s.state()[base + 1u] = cut.n;
    });
    Keeper keeper(cut, top_key, d.min_p);
    GroupScan scan(k);
    RowTokens tokens(k, in, seg.row);
    tokens.for_chunks(seg.begin, seg.end, [&](const Val& first, const Val& last) {
      for (Val t : range(first, last, u32(kTile))) {
        Tally own = zero_tally();
        for (const Token& token : tokens.tile(t, first, last, false)) {
          own = own + keeper.tally(token);
        }
        Tally total = scan.exclusive(own).total;
        if_(thread_id(0) == 0u, [&] {
          Val at = (seg.row * seg.tiles + t / kTile) * 3u;
          s.tile_sums()[at] = total.count;
          s.tile_sums()[at + 1u] = total.mass.lo;
          s.tile_sums()[at + 2u] = total.mass.hi;
        });
      }
    });
  });
}

// ---- sample_draw --------------------------------------------------------------------------------

constexpr ScratchUse kDrawScratch{Use::In, Use::None, Use::In, Use::In};

// The kept tally of tile t of the row (zero past the last tile).
Tally tile_tally(const Scratch& s, const Segment& seg, const Val& t) {
  Val real = t < seg.tiles;
  Val at = (seg.row * seg.tiles + select(real, t, u32(0))) * 3u;
  Tally v{s.tile_sums()[at], {s.tile_sums()[at + 1u], s.tile_sums()[at + 2u]}};
  return select(real, v, zero_tally());
}

void build_sample_draw(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Scratch s = declare_scratch(k, kDrawScratch);
  Tensor out = k.output("out", kU32);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  Segment seg = declare_segment(k, in);
  k.require_len(out, in.rows, "rows = len(logits)/vocab");
  require_scratch_lengths(k, in, seg, kDrawScratch, s);
  if_(seg.row < in.rows && seg.index == 0u, [&] {
    Val base = state_at(seg, u32(kCutSlot));
    Cut cut{s.state()[base], s.state()[base + 1u]};  // loaded with the row's top
    auto [top_key, top_idx] = row_top(s.tops(), seg);
    // Greedy decoding (and a row of NaN) takes the top logit.
    Var token = top_idx;
    if_(in.temperature > 0.0f && top_key != 0u, [&] {
      Keeper keeper(cut, top_key, d.min_p);
      GroupScan scan(k);
      Val tid = thread_id(0);
      TallyVar total(zero_tally());
      for (Val first : range(u32(0), seg.tiles, u32(kThreads))) {
        total = Tally(total) + scan.exclusive(tile_tally(s, seg, first + tid)).total;
      }
      Wide target = draw_target(d, seg.row, keeper.mass(total));
      // The tile where the running kept mass passes the target, and the tally before it.
      ArrayRef at = k.threadgroup_array("crossing", kU32, 4);
      if_(tid == 0u, [&] {  // only a target past Z (a corrupt state) finds no tile
        for (std::uint32_t w = 0; w < 4; ++w) at[w] = u32(0);
      });
      TallyVar before(zero_tally());
      for (Val first : range(u32(0), seg.tiles, u32(kThreads))) {
        Tally v = tile_tally(s, seg, first + tid);
        GroupScan::Result r = scan.exclusive(v);
        Tally start = Tally(before) + r.before;
        if_(keeper.mass(start) <= target && target < keeper.mass(start + v), [&] {
          at[0] = first + tid;
          at[1] = start.count;
          at[2] = start.mass.lo;
          at[3] = start.mass.hi;
        });
        before = Tally(before) + r.total;
      }
      barrier();
      Val tile_begin = Val(at[0]) * kTile;
      Tally crossing_before{at[1], {at[2], at[3]}};
      RowTokens tokens(k, in, seg.row);  // its bitmap fill starts with a barrier
      token = walk_draw(k, tokens, tile_begin, tile_begin + min(in.vocab - tile_begin, kTile),
                        crossing_before, keeper, target, scan);
    });
    if_(thread_id(0) == 0u, [&] { out[seg.row] = token; });
  });
}

// ---- registry entries ---------------------------------------------------------------------------

// A request of V = 128256 logits (B = 1) or a smoke one (B = 2, V = 5000), top-p 0.9: `kernel`'s
// buffers and scalars, and the scalars its plan step sets.
BenchCase segment_case(BenchScale scale, const std::string& kernel) {
  const bool full = scale == BenchScale::Full;
  const std::size_t rows = full ? 1 : 2, vocab = full ? 128256 : 5000;
  const SegmentPlan p = segment_plan(vocab, rows, 0, 0.9f, 1.0f);
  BenchCase b{"B" + std::to_string(rows) + " V" + std::to_string(vocab) + " top-p 0.9 " +
                  std::to_string(p.segments) + " segments",
              DType::F32,
              {},
              {},
              {},
              0.0,
              0.0};
  const bool draw = kernel == "sample_draw";
  b.elements = {
      {"logits", rows * vocab}, {"penalty_ids", rows}, {"segment_tops", rows * p.segments * 2}};
  if (!draw) b.elements["hist"] = rows * kMaxPasses * kHistWords;
  if (!draw || true) b.elements["select_state"] = rows * kStateSlots * kStateWords;
  if (kernel == "sample_kept" || draw) b.elements["tile_sums"] = rows * p.tiles * 3;
  if (draw) b.elements["out"] = rows;
  b.scalars = {{"vocab", std::uint32_t(vocab)},
               {"temperature", 1.0f},
               {"top_k", 0u},
               {"top_p", 0.9f},
               {"min_p", 0.0f},
               {"seed_lo", 1u},
               {"seed_hi", 2u},
               {"offset", 3u},
               {"n_penalty", 1u},  // tile bench cannot bind an empty tensor
               {"repetition_penalty", 1.0f},
               {"segment", p.segment}};
  if (kernel == "sample_histogram") b.scalars["pass"] = 0u;
  b.fills = {{"logits", BenchFill::uniform(-8.0, 8.0)},
             {"penalty_ids", BenchFill::below(std::uint32_t(vocab))}};
  b.bytes = double(rows * vocab * 4);
  return b;
}

// One group of 256 threads per segment of each row; sample_draw one per row.
GeometryRule segment_geometry(bool per_row) {
  return [per_row](const LaunchShape& s) {
    const std::size_t vocab = s.u32("vocab"), segment = std::max<std::size_t>(s.u32("segment"), 1);
    const std::size_t rows = vocab == 0 ? 0 : s.elements("logits") / vocab;
    LaunchStep step;
    step.grid = {per_row ? 1 : std::max<std::size_t>(1, geometry::ceil_div(vocab, segment)),
                 std::max<std::size_t>(1, rows), 1};
    step.tpg = {kThreads, 1, 1};
    return LaunchPlan{{}, {step}};
  };
}

KernelDoc segment_doc(std::string summary, std::string formula, std::vector<ParamDoc> scratch) {
  std::vector<ParamDoc> buffers = {{"logits", "[B, V] T"}, {"penalty_ids", "[B, P] u32"}};
  buffers.insert(buffers.end(), scratch.begin(), scratch.end());
  return KernelDoc{
      .summary = std::move(summary),
      .formula = std::move(formula),
      .buffers = std::move(buffers),
      .scalars = {{"vocab", "u32: V"},
                  {"temperature", "f32: >= 0"},
                  {"top_k", "u32: 0 = off"},
                  {"top_p", "f32: in (0, 1]"},
                  {"min_p", "f32: in [0, 1]"},
                  {"seed_lo", "u32"},
                  {"seed_hi", "u32"},
                  {"offset", "u32"},
                  {"n_penalty", "u32: P"},
                  {"repetition_penalty", "f32: > 0"},
                  {"segment", "u32: logits a group reads, a multiple of 2048, at most 32768"}},
      .geometry = "grid (ceil(V / segment), B), 256 threads a group"};
}

const ParamDoc kTopsDoc{"segment_tops", "[B, segments, 2] u32: each segment's top (key, index)"};
const ParamDoc kHistDoc{"hist", "[B, 6, 8448] u32: a histogram a pass (count, mass limbs)"};
const ParamDoc kStateDoc{"select_state", "[B, 7, 8] u32: the state of each pass, then the cut"};
const ParamDoc kTileDoc{"tile_sums", "[B, ceil(V / 2048), 3] u32: each tile's kept tally"};

}  // namespace

KernelInfo sample_top::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_top,
      .doc = segment_doc("sampling, radix path: each segment's top logit",
                         "the largest order key of the segment, the lowest index on ties; "
                         "zeroes the row's states and histograms",
                         {kTopsDoc, kHistDoc, kStateDoc}),
      .geometry = segment_geometry(false),
      .bench = [](BenchScale s) { return std::vector<BenchCase>{segment_case(s, "sample_top")}; },
  };
}

KernelInfo sample_histogram::info() {
  KernelDoc doc = segment_doc("sampling, radix path: one histogram pass of top-k or top-p",
                              "scan histogram pass - 1 (the next digit of the cut); add the "
                              "segment's count and fixed-point mass per digit of this level",
                              {kTopsDoc, kHistDoc, kStateDoc});
  doc.scalars.push_back({"pass", "u32: 0 .. passes - 1"});
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_histogram,
      .doc = doc,
      .geometry = segment_geometry(false),
      .bench =
          [](BenchScale s) { return std::vector<BenchCase>{segment_case(s, "sample_histogram")}; },
  };
}

KernelInfo sample_kept::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_kept,
      .doc = segment_doc("sampling, radix path: the cut and each tile's kept tally",
                         "cut = (key, n) from the last histogram; per tile of 2048: the logits "
                         "tied at the cut's key, and the mass of the kept ones above it",
                         {kTopsDoc, kHistDoc, kStateDoc, kTileDoc}),
      .geometry = segment_geometry(false),
      .bench = [](BenchScale s) { return std::vector<BenchCase>{segment_case(s, "sample_kept")}; },
  };
}

KernelInfo sample_draw::info() {
  KernelDoc doc = segment_doc("sampling, radix path: the draw",
                              "Z from the tile sums; the first logit in index order whose "
                              "running kept mass exceeds floor(u * Z)",
                              {kTopsDoc, kStateDoc, kTileDoc, {"out", "[B] u32"}});
  doc.geometry = "grid (1, B), 256 threads a group";
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_draw,
      .doc = doc,
      .geometry = segment_geometry(true),
      .bench = [](BenchScale s) { return std::vector<BenchCase>{segment_case(s, "sample_draw")}; },
  };
}

}  // namespace mt::kernels::ffai::sampling
