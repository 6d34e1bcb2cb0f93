// sample: the entry of the sampling family. Launched by name it runs the two-kernel path
// (sample_candidates, then sample_pick) when that path fits (1 <= top_k <= 128, or temperature
// 0, within the sizes of sampling_params.hpp), and otherwise its own kernel, below.
//
// The kernel works on one row per threadgroup without sorting: every question about the row is
// a pass over its logits (in chunks of 32768, each with a penalty bitmap in threadgroup memory)
// that ends in a threadgroup reduction, so the answers are the same on every backend.
//   - the top logit (key, index): greedy's answer and the reference of the weights;
//   - top-k: the k-th best (key, index) by bisection, first over keys, then over the indices of
//     the tied key, counting the logits that rank at least as well;
//   - top-p: the same bisection over the weights e^(y - y_max) of the top-k;
//   - min-p: a weight threshold;
//   - the draw: the kept mass Z and then u * Z located in index order (each thread owns a
//     contiguous run of every chunk; thread 0 adds the runs' sums in order).
// A bisection costs a pass per probe (up to 64), so this path serves what the two-kernel path
// cannot (top_k 0 or > 128 together with top_p < 1), not speed.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../launch_shape.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"

namespace mt::kernels::ffai::sampling {
namespace {

constexpr std::uint32_t kChunk = 32768;  // logits per chunk: a 4 KiB penalty bitmap

using Visit = std::function<void(const Val& index, const Val& key)>;
using Weight = std::function<Val(const Val& index, const Val& key)>;
// Re-visits the calling thread's run of the current chunk.
using RunVisitor = std::function<void(const Visit&)>;

// A row of logits as the passes see it.
class RowPasses {
 public:
  RowPasses(KernelBuilder& k, const RowInputs& in, const Val& row)
      : in_(in), row_(row), bits_(k.threadgroup_array("penalty_bits", kU32, kChunk / 32)) {}

  // Calls visit(index, key) for every logit of the row: each thread a contiguous run of every
  // chunk, in index order within a run. after_chunk(visit_run), if given, runs after each chunk
  // (every thread; it may hold barriers) while the chunk's bitmap is still valid. Every thread
  // must call this.
  void for_each(const Visit& visit,
                const std::function<void(const RunVisitor&)>& after_chunk = nullptr) const {
    Val tid = thread_id(0), threads = threads_per_threadgroup(0);
    Val run = (min(in_.vocab, u32(kChunk)) + threads - 1u) / threads;
    for (Val chunk : range(u32(0), in_.vocab, u32(kChunk))) {
      Val words = (min(in_.vocab - chunk, u32(kChunk)) + 31u) / 32u;
      for (Val w : range(tid, words, threads)) bits_[w] = u32(0);
      barrier();
      for (Val p : range(tid, in_.n_penalty, threads)) {
        Val id = in_.penalty_ids[row_ * in_.n_penalty + p];
        if_(id >= in_.vocab, [&] { in_.penalty_ids.load(max(id, in_.penalty_ids.len())); });
        if_(id >= chunk && id - chunk < kChunk && id < in_.vocab, [&] {
          Val local = id - chunk;
          atomic_or(bits_, local >> 5u, u32(1) << (local & 31u));
        });
      }
      barrier();
      RunVisitor visit_run = [&](const Visit& f) {
        for (Val e : range(run)) {
          Val local = tid * run + e;
          Val i = chunk + local;
          if_(local < kChunk && i < in_.vocab, [&] {
            Val x = in_.logits[row_ * in_.vocab + i].to(kF32);
            Val penalised = ((Val(bits_[local >> 5u]) >> (local & 31u)) & 1u) == 1u;
            f(i, order_key(sampling_logit(x, penalised, in_.repetition_penalty, in_.temperature)));
          });
        }
      };
      visit_run(visit);
      if (after_chunk) after_chunk(visit_run);
      barrier();  // the bitmap is cleared for the next chunk only after every read
    }
  }

  // The sum over the row of weight(index, key).
  Val total(const Weight& weight) const {
    Var sum = f32(0.0f);
    for_each([&](const Val& i, const Val& key) { sum += weight(i, key); });
    return threadgroup_sum(sum);
  }

 private:
  const RowInputs& in_;
  Val row_;
  ArrayRef bits_;
};

// Whether (key, index) is in the prefix of the ranking that ends at (cut_key, cut_index). The
// cut (0, kNoIndex) keeps every logit.
Val keeps(const Val& cut_key, const Val& cut_index, const Val& key, const Val& index) {
  return !ranks_before(cut_key, cut_index, key, index);
}

// The cuts of top-k and top-p, found by one loop of passes (a single traced pass keeps the
// kernel small): each search is a bisection for the shortest prefix of the ranking whose
// weight reaches its target, first over keys (a probe (mid, kNoIndex) holds every logit with
// key >= mid), then over the indices of the tied key t (a probe (t, mid)). Stages: 0 the
// top-k search (weights 1, target k), 1 the top-k mass (the top-p target is top_p times it), 2
// the top-p search (weights e^(y - y_max) inside the top-k), 3 done.
struct Cuts {
  Val k_key, k_index, p_key, p_index;
};

Cuts find_cuts(const RowPasses& row, const RowInputs& in, const DrawScalars& d, const Val& top_key,
               const Val& k) {
  Val sample_top_p = d.top_p < 1.0f;
  Var stage = select(k < in.vocab, u32(0), select(sample_top_p, u32(1), u32(3)));
  Var phase = u32(0), lo = u32(0), hi = top_key, tied = u32(0);
  Var target = k.to(kF32);
  Var k_key = u32(0), k_index = u32(kNoIndex), p_key = u32(0), p_index = u32(kNoIndex);

  // Moves on when a bisection has closed: keys -> indices of the tied key -> the next stage.
  auto resolve = [&] {
    Val searching = Val(stage) == 0u || Val(stage) == 2u;
    Val keys_done = searching && Val(phase) == 0u && Val(lo) >= Val(hi);
    tied = select(keys_done, Val(lo), Val(tied));
    lo = select(keys_done, u32(0), Val(lo));
    hi = select(keys_done, in.vocab - 1u, Val(hi));
    phase = select(keys_done, u32(1), Val(phase));
    Val indices_done = searching && Val(phase) == 1u && Val(lo) >= Val(hi);
    Val top_k_done = indices_done && Val(stage) == 0u;
    Val top_p_done = indices_done && Val(stage) == 2u;
    k_key = select(top_k_done, Val(tied), Val(k_key));
    k_index = select(top_k_done, Val(lo), Val(k_index));
    p_key = select(top_p_done, Val(tied), Val(p_key));
    p_index = select(top_p_done, Val(lo), Val(p_index));
    stage = select(top_k_done, select(sample_top_p, u32(1), u32(3)),
                   select(top_p_done, u32(3), Val(stage)));
    phase = select(indices_done, u32(0), Val(phase));
  };

  // At most 32 + 32 probes for each search and one mass pass (a step beyond them only moves
  // the stages on).
  Val steps = select(k < in.vocab, u32(64), u32(0)) + select(sample_top_p, u32(65), u32(0)) + 1u;
  for (Val step : range(steps)) {
    (void)step;
    resolve();
    if_(Val(stage) < 3u, [&] {
      Val mass_stage = Val(stage) == 1u;
      Val key_phase = Val(phase) == 0u;
      Val mid_key = Val(lo) + (Val(hi) - Val(lo) + 1u) / 2u;
      Val mid_index = Val(lo) + (Val(hi) - Val(lo)) / 2u;
      Val probe_key = select(mass_stage, Val(k_key), select(key_phase, mid_key, Val(tied)));
      Val probe_index =
          select(mass_stage, Val(k_index), select(key_phase, u32(kNoIndex), mid_index));
      Val weighted = Val(stage) >= 1u;
      Val cut_key = k_key, cut_index = k_index;
      Val m = row.total([&](const Val& i, const Val& key) {
        Val in_prefix = keeps(probe_key, probe_index, key, i) && keeps(cut_key, cut_index, key, i);
        return select(in_prefix, select(weighted, relative_weight(key, top_key), 1.0f), 0.0f);
      });
      Val enough = m >= Val(target);
      Val search = !mass_stage;
      Val keys = search && key_phase, indices = search && !key_phase;
      lo = select(keys && enough, mid_key, select(indices && !enough, mid_index + 1u, Val(lo)));
      hi = select(keys && !enough, mid_key - 1u, select(indices && enough, mid_index, Val(hi)));
      // After the top-k mass: the top-p search, over the keys below the top one.
      target = select(mass_stage, d.top_p * m, Val(target));
      lo = select(mass_stage, u32(0), Val(lo));
      hi = select(mass_stage, top_key, Val(hi));
      phase = select(mass_stage, u32(0), Val(phase));
      stage = select(mass_stage, u32(2), Val(stage));
    });
  }
  resolve();
  return Cuts{k_key, k_index, p_key, p_index};
}

// The kept weights summed in index order: each thread sums its run of a chunk, thread 0 adds the
// runs in order. One traced pass serves twice: first for the total Z (target +inf), then to find
// the first logit whose running sum exceeds u * Z: the run that passes the target rescans its
// logits one by one (if rounding makes none pass, its last logit of weight > 0 is taken).
class IndexOrderDraw {
 public:
  explicit IndexOrderDraw(KernelBuilder& k)
      : runs_(k.threadgroup_array("run_mass", kF32, 1024)),
        mass_(k.threadgroup_array("mass", kF32, 2)),           // running mass, mass before the run
        state_(k.threadgroup_array("draw_state", kU32, 2)) {}  // passing run, token

  // The drawn token, u in [0, 1).
  Val token(const RowPasses& row, const Weight& weight, const Val& u) const {
    Var target = f32(std::numeric_limits<float>::infinity());
    Var token = u32(kNoIndex);
    for (Val round : range(u32(2))) {
      run(row, weight, target);
      Val z = mass_[0], found = state_[1];
      barrier();  // read before the next round overwrites them
      // Round 0: z is the total. u * z may round up to z itself: step just below it.
      Val scaled = u * z;
      Val below_z = (z.bitcast(kU32) - 1u).bitcast(kF32);
      target = select(round == 0u, select(scaled < z, scaled, below_z), Val(target));
      token = select(round == 1u, found, Val(token));
    }
    return token;
  }

 private:
  void run(const RowPasses& row, const Weight& weight, const Val& target) const {
    Val tid = thread_id(0), threads = threads_per_threadgroup(0);
    if_(tid == 0u, [&] {
      mass_[0] = f32(0.0f);
      state_[1] = u32(kNoIndex);
    });
    barrier();
    Var run_sum = f32(0.0f);
    auto after_chunk = [&](const RunVisitor& visit_run) {
      runs_[tid] = run_sum;
      run_sum = f32(0.0f);
      barrier();
      if_(tid == 0u, [&] { add_runs(threads, target); });
      barrier();
      if_(tid == state_[0], [&] { rescan(visit_run, weight, target); });
      barrier();
    };
    row.for_each([&](const Val& i, const Val& key) { run_sum += weight(i, key); }, after_chunk);
  }

  // Thread 0: adds the chunk's run sums in order to the running mass, and notes the run that
  // first passes the target (while no earlier chunk's has).
  void add_runs(const Val& threads, const Val& target) const {
    Var mass = Val(mass_[0]);
    Var passing = u32(kNoIndex), before = f32(0.0f);
    Val searching = Val(state_[1]) == kNoIndex;
    for (Val t : range(threads)) {
      Val next = mass + runs_[t];
      Val passes = searching && Val(passing) == kNoIndex && next > target;
      before = select(passes, Val(mass), Val(before));
      passing = select(passes, t, Val(passing));
      mass = next;
    }
    mass_[0] = mass;
    mass_[1] = before;
    state_[0] = passing;
  }

  // The passing run: its logits one by one from the mass before it.
  void rescan(const RunVisitor& visit_run, const Weight& weight, const Val& target) const {
    Var sum = Val(mass_[1]);
    Var token = u32(kNoIndex), last_positive = u32(kNoIndex);
    visit_run([&](const Val& i, const Val& key) {
      Val w = weight(i, key);
      sum += w;
      token = select(Val(token) == kNoIndex && Val(sum) > target, i, Val(token));
      last_positive = select(w > 0.0f, i, Val(last_positive));
    });
    state_[1] = select(Val(token) == kNoIndex, Val(last_positive), Val(token));
  }

  ArrayRef runs_, mass_, state_;
};

void build_sample(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Tensor out = k.output("out", kU32);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  require_1d_launch(k);
  k.require_len(out, in.rows, "rows = len(logits)/vocab");
  // A logit's index is chunk + local with local < kChunk: below 2^32 only if vocab leaves a
  // chunk's room (a wrapped index would pass the i < vocab guard and read another logit).
  k.require(in.vocab <= 0xFFFFFFFFu - kChunk, "vocab <= 2^32 - 1 - 32768");

  Val row = threadgroup_id(0);
  if_(row < in.rows, [&] {
    RowPasses passes(k, in, row);
    // The top logit: the largest key, the lowest index among its ties.
    Var best_key = u32(0), best_idx = u32(kNoIndex);
    passes.for_each([&](const Val& i, const Val& key) {
      Val better = ranks_before(key, i, best_key, best_idx);
      best_key = select(better, key, Val(best_key));
      best_idx = select(better, i, Val(best_idx));
    });
    Val top_key = threadgroup_max(best_key);
    Val top_idx = threadgroup_min(select(Val(best_key) == top_key, Val(best_idx), u32(kNoIndex)));

    // Greedy decoding (and a row of NaN) takes the top logit.
    Var token = top_idx;
    if_(in.temperature > 0.0f && top_key != 0u, [&] {
      Val k_eff = select(d.top_k == 0u, in.vocab, min(d.top_k, in.vocab));
      Cuts cuts = find_cuts(passes, in, d, top_key, k_eff);
      Weight kept = [&](const Val& i, const Val& key) {
        Val w = relative_weight(key, top_key);
        Val in_set = keeps(cuts.k_key, cuts.k_index, key, i) &&
                     keeps(cuts.p_key, cuts.p_index, key, i) && w >= d.min_p;
        return select(in_set, w, 0.0f);
      };
      auto bits = philox4x32_10({d.offset, row, u32(0), u32(0)}, d.seed_lo, d.seed_hi);
      token = IndexOrderDraw(k).token(passes, kept, unit_interval(bits[0]));
    });
    if_(thread_id(0) == 0u, [&] { out[row] = token; });
  });
}

// ---- registry entry -----------------------------------------------------------------------------

// The two-kernel plan when it fits; else this kernel, one threadgroup of 1024 threads per row.
LaunchPlan sample_geometry(const LaunchShape& s) {
  const std::size_t vocab = s.u32("vocab");
  const std::size_t rows = vocab == 0 ? 0 : s.elements("logits") / vocab;
  const CandidatePlan p = candidate_plan(vocab, s.u32("top_k"), s.f32("temperature"));
  if (!p.fits) return geometry::rows(rows, row_threads(vocab));
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
              .formula = "y = penalised logit / temperature; keep the top-k (larger y, then lower "
                         "index, first), then the shortest prefix holding top_p of their mass "
                         "e^(y - y_max), then those with e^(y - y_max) >= min_p; draw u * Z with "
                         "u from Philox4x32-10(key (seed_lo, seed_hi), counter (offset, row, 0, "
                         "0)); temperature 0: the top logit",
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
              .geometry = "1 <= top_k <= 128 or temperature 0 (and V <= 262144): "
                          "sample_candidates, a warp per 256 logits and up to 8 warps a group, "
                          "then sample_pick, one group (up to 1024 threads) per row; otherwise "
                          "this kernel, one group of up to 1024 threads (32 logits each) per row"},
      .geometry = sample_geometry,
      .bench =
          [](BenchScale scale) {
            if (scale == BenchScale::Smoke) {
              return std::vector<BenchCase>{
                  sample_case({2, 1000, 20, 0.9f, 0.0f, 1.0f}, DType::F32),
                  sample_case({2, 300, 0, 0.9f, 0.05f, 0.8f, 3}, DType::F32)};
            }
            // Llama 3: V = 128256. The goals: B = 1 and 64 with top-k 50 + top-p 0.9.
            return std::vector<BenchCase>{
                sample_case({1, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::F32),
                sample_case({64, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::F32),
                sample_case({1, 128256, 50, 0.9f, 0.0f, 1.0f}, DType::BF16),
                sample_case({1, 128256, 0, 1.0f, 0.0f, 0.0f}, DType::F32),
                sample_case({64, 128256, 50, 0.9f, 0.0f, 1.0f, 64}, DType::F32),
                sample_case({1, 128256, 0, 0.9f, 0.0f, 1.0f}, DType::F32)};
          },
  };
}

}  // namespace mt::kernels::ffai::sampling
