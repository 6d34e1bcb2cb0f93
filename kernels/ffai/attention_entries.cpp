// Registry entries of the decode-attention family: documentation, the geometry rule that
// chooses the split count and makes the launches, and the benchmark shapes of the spec
// (f16, 32 query heads, 8 KV heads, head_dim 128).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "attention_kernel.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/kernels/ffai/attention.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::kernels::ffai::attention {
namespace {

constexpr DType F32 = DType::F32;
// Threadgroups of the compute kernel resident on one multiprocessor at once: 128 threads of
// 228-254 registers (ptxas for sm_90, unchecked), so 2 fit an H100 SM's 64K registers.
constexpr std::size_t kResidentGroups = 2;
// A split holds at least this many positions, so its fixed costs (q, the merge, the partial
// written and read back) stay small beside the cache rows it reads.
constexpr std::size_t kMinSplitPositions = 64;

std::string decode_name(CacheFormat f) { return "attention_decode" + format_suffix(f); }

using KernelBody = void (*)(KernelBuilder&, DType);

template <CacheFormat F, DecodeOutput O, Queries Q>
void decode_body_of(KernelBuilder& k, DType t) {
  build_decode(k, t, F, O, Q);
}

// The body of the decode-family kernel of format f that writes O for queries Q.
template <DecodeOutput O, Queries Q = Queries::Decode>
KernelBody decode_body(CacheFormat f) {
  static constexpr KernelBody bodies[] = {
      decode_body_of<CacheFormat::Raw, O, Q>, decode_body_of<CacheFormat::Int4, O, Q>,
      decode_body_of<CacheFormat::Int8, O, Q>, decode_body_of<CacheFormat::Fp8E4M3, O, Q>,
      decode_body_of<CacheFormat::Fp8E5M2, O, Q>};
  return bodies[static_cast<std::size_t>(f)];
}

// Launches for a request: one pass when splits == 1, else the split kernel that merges in its
// last group, or partial + combine (`merge`: the device's choice, or forced).
LaunchPlan decode_plan(const LaunchShape& s, CacheFormat f, std::uint32_t forced_splits,
                       std::optional<SplitMerge> merge) {
  const std::size_t sequences = s.elements("lengths");
  const std::size_t kv_heads = s.u32("n_kv_heads"), q_heads = s.u32("n_q_heads");
  const std::size_t head_dim = s.u32("head_dim"), max_seq = s.u32("max_seq");
  const std::size_t window = s.u32("window");
  const std::size_t positions = window == 0 ? max_seq : std::min(window, max_seq);
  const std::uint32_t splits =
      forced_splits != 0
          ? forced_splits
          : choose_split_count(sequences * kv_heads, positions, s.limits().multiprocessors);
  const std::array<std::size_t, 3> tpg{kThreads, 1, 1};
  if (splits == 1) return LaunchPlan{{}, {LaunchStep{"", {1, kv_heads, sequences}, tpg, {}, {}}}};
  const std::size_t rows = sequences * q_heads * splits;
  LaunchPlan plan;
  plan.scratch = {{"part_o", F32, rows * head_dim}, {"part_m", F32, rows}, {"part_l", F32, rows}};
  const SplitMerge how = merge.value_or(
      s.limits().merge_splits_in_kernel ? SplitMerge::LastSplit : SplitMerge::CombineKernel);
  if (how == SplitMerge::LastSplit) {
    plan.scratch.push_back({"arrivals", DType::U32, sequences * kv_heads, true});
    plan.steps = {LaunchStep{decode_name(f) + "_splits",
                             {splits, kv_heads, sequences},
                             tpg,
                             {},
                             {{"n_splits", splits}}}};
    return plan;
  }
  plan.steps = {
      LaunchStep{decode_name(f) + "_partial",
                 {splits, kv_heads, sequences},
                 tpg,
                 {},
                 {{"n_splits", splits}}},
      LaunchStep{
          "attention_decode_combine", {q_heads, sequences, 1}, tpg, {}, {{"n_splits", splits}}},
  };
  return plan;
}

// --- documentation -------------------------------------------------------------------------

const char* kFormula =
    "s_i = scale q . k_i over i in [max(0, len - window), len) (all of [0, len) when window is "
    "0), len = lengths[b]; s_i = softcap tanh(s_i / softcap) when softcap > 0; out = sum_i "
    "e^(s_i - M) v_i / (sum_i e^(s_i - M) + has_sinks e^(sinks[h] - M)), M the largest s_i "
    "(and sink); query head h reads KV head h / (n_q_heads / n_kv_heads); f32 accumulation";

std::vector<ParamDoc> cache_docs(CacheFormat f) {
  std::vector<ParamDoc> docs;
  for (const std::string name : {"k", "v"}) {
    if (f == CacheFormat::Raw) {
      docs.push_back({name, "[B, n_kv_heads, max_seq, head_dim] T: the cache"});
      continue;
    }
    const std::string per_word = std::to_string(32 / code_bits(f));
    docs.push_back({name + "_w",
                    "[B, n_kv_heads, max_seq, head_dim / " + per_word + "] u32: codes, LSB-first"});
    docs.push_back({name + "_s", "[B, n_kv_heads, max_seq, head_dim / group_size] T: scales"});
    if (has_bias(f)) {
      docs.push_back({name + "_b", "[B, n_kv_heads, max_seq, head_dim / group_size] T: biases"});
    }
  }
  return docs;
}

std::vector<ParamDoc> input_docs(CacheFormat f) {
  std::vector<ParamDoc> docs = {{"q", "[B, n_q_heads, head_dim] T: the new token's queries"}};
  for (const ParamDoc& d : cache_docs(f)) docs.push_back(d);
  docs.push_back({"lengths", "[B] u32: positions in each sequence's cache, 1..max_seq"});
  docs.push_back({"sinks",
                  "[n_q_heads] f32: a logit per head joining the denominator only "
                  "(may be empty when has_sinks is 0)"});
  return docs;
}

std::vector<ParamDoc> scalar_docs(CacheFormat f) {
  std::vector<ParamDoc> docs = {
      {"head_dim", "u32: 16, 32, 64, 128 or 256"},
      {"n_q_heads", "u32: query heads, a multiple of n_kv_heads"},
      {"n_kv_heads", "u32: KV heads"},
      {"max_seq", "u32: positions per sequence and head in the cache"},
      {"scale", "f32: the logit scale (usually 1 / sqrt(head_dim))"},
      {"window", "u32: attend to the last `window` positions only (0: all)"},
      {"softcap", "f32: logits = softcap tanh(logits / softcap) (0: off)"},
      {"has_sinks", "u32: 1 to add the sinks to the denominator, else 0"}};
  if (f != CacheFormat::Raw) {
    docs.push_back({"group_size", "u32: channels per quantisation group, a multiple of 16"});
  }
  return docs;
}

const ParamDoc kPartO{"part_o", "[B, n_q_heads, n_splits, head_dim] f32: unnormalised outputs"};
const ParamDoc kPartM{"part_m", "[B, n_q_heads, n_splits] f32: running maxima (log2 units)"};
const ParamDoc kPartL{"part_l", "[B, n_q_heads, n_splits] f32: sums of 2^(s - m)"};
const ParamDoc kNSplits{"n_splits", "u32: splits of each sequence's positions"};
const ParamDoc kOut{"out", "[B, n_q_heads, head_dim] T: the attention output"};

std::string format_words(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return "a raw cache";
    case CacheFormat::Int4: return "an affine int4 cache, dequantised in registers";
    case CacheFormat::Int8: return "an affine int8 cache, dequantised in registers";
    case CacheFormat::Fp8E4M3: return "an fp8 e4m3 cache, dequantised in registers";
    case CacheFormat::Fp8E5M2: return "an fp8 e5m2 cache, dequantised in registers";
  }
  return "";
}

// --- benchmark shapes ----------------------------------------------------------------------

struct Shape {
  std::size_t sequences, max_seq;
  std::uint32_t splits;  // 0: chosen by run (the entry); else the partial's or combine's count
};
constexpr std::size_t kQHeads = 32, kKvHeads = 8, kHeadDim = 128, kGroup = 32;
constexpr std::size_t kSmokeQHeads = 4, kSmokeKvHeads = 2, kSmokeHeadDim = 32;

enum class Part : std::uint8_t { Entry, Partial, Combine };

// The K and V cache tensors of format f for `rows` positions of head_dim d (and for a quantised
// format its group size); returns the cache bytes of one position of one head, K or V.
double add_cache_tensors(BenchCase& c, CacheFormat f, std::size_t rows, std::size_t d) {
  if (f == CacheFormat::Raw) {
    c.elements.insert({{"k", rows * d}, {"v", rows * d}});
    return double(d) * 2;
  }
  const std::size_t bits = code_bits(f), groups = d / kGroup;
  c.scalars["group_size"] = std::uint32_t(kGroup);
  for (const std::string x : {"k", "v"}) {
    c.elements[x + "_w"] = rows * d * bits / 32;
    c.elements[x + "_s"] = rows * groups;
    if (has_bias(f)) c.elements[x + "_b"] = rows * groups;
    // Scales in [0.01, 0.05] keep dequantised values (and fp8 products) moderate.
    c.fills[x + "_s"] = BenchFill::uniform(0.01, 0.05);
  }
  return double(d * bits) / 8 + double(groups * 2 * (has_bias(f) ? 2 : 1));
}

BenchCase bench_case(BenchScale scale, CacheFormat f, const Shape& shape, Part part) {
  const bool full = scale == BenchScale::Full;
  const std::size_t hq = full ? kQHeads : kSmokeQHeads, hkv = full ? kKvHeads : kSmokeKvHeads;
  const std::size_t d = full ? kHeadDim : kSmokeHeadDim, b = shape.sequences, s = shape.max_seq;
  const std::size_t length = full ? s : s - 3;  // the smoke case leaves some positions unused
  BenchCase c;
  c.label = "B" + std::to_string(b) + " len " + std::to_string(length) + " Hq" +
            std::to_string(hq) + " Hkv" + std::to_string(hkv) + " D" + std::to_string(d);
  if (f != CacheFormat::Raw) c.label += " g" + std::to_string(kGroup);
  if (part != Part::Entry) c.label += " splits " + std::to_string(shape.splits);
  c.dtype = DType::F16;
  const std::size_t rows = b * hkv * s, q_rows = b * hq;
  c.scalars = {{"head_dim", std::uint32_t(d)},
               {"n_q_heads", std::uint32_t(hq)},
               {"max_seq", std::uint32_t(s)},
               {"window", std::uint32_t(0)},
               {"has_sinks", std::uint32_t(0)}};
  c.elements = {{"lengths", b}, {"sinks", hq}};
  c.fills = {{"lengths", BenchFill::value(std::uint32_t(length))}};
  const std::size_t part_rows = q_rows * shape.splits;
  if (part == Part::Combine) {
    c.scalars["n_splits"] = shape.splits;
    c.elements.insert({{"part_o", part_rows * d}, {"part_m", part_rows}, {"part_l", part_rows}});
    c.elements["out"] = q_rows * d;
    c.bytes = double(part_rows * (d + 2) * 4 + q_rows * d * 2);
    return c;
  }
  c.scalars.insert({{"n_kv_heads", std::uint32_t(hkv)},
                    {"scale", float(1.0 / std::sqrt(double(d)))},
                    {"softcap", 0.0f}});
  c.elements["q"] = q_rows * d;
  // cache bytes of one position of one head, K or V
  const double row_bytes = add_cache_tensors(c, f, rows, d);
  if (part == Part::Partial) {
    c.scalars["n_splits"] = shape.splits;
    c.elements.insert({{"part_o", part_rows * d}, {"part_m", part_rows}, {"part_l", part_rows}});
  } else {
    c.elements["out"] = q_rows * d;
  }
  c.bytes = 2.0 * double(b * hkv * length) * row_bytes;  // K and V of the attended positions
  return c;
}

std::vector<BenchCase> entry_cases(BenchScale scale, CacheFormat f) {
  if (scale == BenchScale::Smoke) return {bench_case(scale, f, {2, 64, 0}, Part::Entry)};
  std::vector<Shape> shapes = {{16, 4096, 0}, {1, 32768, 0}};
  if (f == CacheFormat::Raw) shapes.insert(shapes.begin(), Shape{1, 4096, 0});
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) cases.push_back(bench_case(scale, f, s, Part::Entry));
  return cases;
}

// The split counts one GPU run compares (the rule picks 33 (32 used), 2 and 33 on an H100).
std::vector<BenchCase> partial_cases(BenchScale scale, CacheFormat f) {
  if (scale == BenchScale::Smoke) return {bench_case(scale, f, {2, 64, 2}, Part::Partial)};
  std::vector<Shape> shapes;
  for (std::uint32_t n : {2u, 3u, 4u, 8u}) shapes.push_back({16, 4096, n});
  for (std::uint32_t n : {33u, 66u, 132u}) shapes.push_back({1, 32768, n});
  if (f == CacheFormat::Raw) {
    for (std::uint32_t n : {16u, 33u, 64u}) shapes.push_back({1, 4096, n});
  }
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) cases.push_back(bench_case(scale, f, s, Part::Partial));
  return cases;
}

// The merged kernels at the split counts of partial_cases' raw shapes (their partials, out and
// the arrival counters; bytes as the entry's).
std::vector<BenchCase> splits_cases(BenchScale scale, CacheFormat f) {
  std::vector<BenchCase> cases = partial_cases(scale, f);
  for (BenchCase& c : cases) {
    const std::size_t kv_heads = std::get<std::uint32_t>(c.scalars.at("n_kv_heads"));
    c.elements["out"] = c.elements.at("q");
    c.elements["arrivals"] = c.elements.at("lengths") * kv_heads;
    c.fills["arrivals"] = BenchFill::value(0);  // the kernel expects and leaves zeros
  }
  return cases;
}

std::vector<BenchCase> combine_cases(BenchScale scale) {
  if (scale == BenchScale::Smoke) {
    return {bench_case(scale, CacheFormat::Raw, {2, 64, 2}, Part::Combine)};
  }
  return {bench_case(scale, CacheFormat::Raw, {1, 4096, 33}, Part::Combine),
          bench_case(scale, CacheFormat::Raw, {16, 4096, 2}, Part::Combine)};
}

// --- entries -------------------------------------------------------------------------------

const char* kSplitGeometry =
    "the split count n comes from B * n_kv_heads, the positions bound (max_seq, or window when "
    "smaller) and the device's multiprocessors (docs/kernels/attention.md); n == 1: one "
    "threadgroup of 128 threads per (KV head, sequence), grid (1, n_kv_heads, B); else the "
    "partial kernel on grid (n, n_kv_heads, B) and the combine on grid (n_q_heads, B)";

KernelInfo decode_info(CacheFormat f) {
  std::vector<ParamDoc> buffers = input_docs(f);
  buffers.push_back(kOut);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = decode_body<DecodeOutput::Out>(f),
      .doc = {.summary = "decode attention of one query token per sequence over " +
                         format_words(f) + " (GQA, lengths, window, softcap, sinks)",
              .formula = kFormula,
              .buffers = buffers,
              .scalars = scalar_docs(f),
              .geometry = kSplitGeometry},
      .geometry = [f](const LaunchShape& s) { return decode_plan(s, f, 0, std::nullopt); },
      .bench = [f](BenchScale scale) { return entry_cases(scale, f); },
  };
}

// One launch of the kernel itself, a group per (split, KV head, sequence).
LaunchPlan split_grid(const LaunchShape& s) {
  const std::array<std::size_t, 3> grid{s.u32("n_splits"), s.u32("n_kv_heads"),
                                        s.elements("lengths")};
  return LaunchPlan{{}, {LaunchStep{"", grid, {kThreads, 1, 1}, {}, {}}}};
}

KernelInfo partial_info(CacheFormat f) {
  std::vector<ParamDoc> buffers = input_docs(f);
  buffers.insert(buffers.end(), {kPartO, kPartM, kPartL});
  std::vector<ParamDoc> scalars = scalar_docs(f);
  scalars.push_back(kNSplits);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = decode_body<DecodeOutput::Partials>(f),
      .doc = {.summary = "one split of " + decode_name(f) +
                         ": each (sequence, KV head, split) writes its query heads' "
                         "unnormalised output, running maximum and sum",
              .formula = "over split j's positions [lo + j c, lo + (j + 1) c), c = "
                         "ceil(ceil((len - lo) / n_splits) / 32) * 32: m = max_i s_i log2(e), "
                         "l = sum_i 2^(s_i log2(e) - m), o = sum_i 2^(s_i log2(e) - m) v_i; "
                         "splits past the positions write nothing",
              .buffers = buffers,
              .scalars = scalars,
              .geometry = "one threadgroup of 128 threads per (split, KV head, sequence): grid "
                          "(n_splits, n_kv_heads, B)"},
      .geometry = split_grid,
      .bench = [f](BenchScale scale) { return partial_cases(scale, f); },
  };
}

KernelInfo splits_info(CacheFormat f) {
  std::vector<ParamDoc> buffers = input_docs(f);
  buffers.insert(buffers.end(),
                 {kPartO,
                  kPartM,
                  kPartL,
                  kOut,
                  {"arrivals",
                   "[B, n_kv_heads] u32: splits arrived so far, 0 before the launch and after it "
                   "(the last split resets it)"}});
  std::vector<ParamDoc> scalars = scalar_docs(f);
  scalars.push_back(kNSplits);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = decode_body<DecodeOutput::MergedPartials>(f),
      .doc = {.summary = "every split of " + decode_name(f) +
                         " in one launch: each (sequence, KV head, split) writes its partials "
                         "as " +
                         decode_name(f) +
                         "_partial does, and the last of a (sequence, KV "
                         "head) to finish merges them into out as attention_decode_combine does",
              .formula = kFormula,
              .buffers = buffers,
              .scalars = scalars,
              .geometry = "one threadgroup of 128 threads per (split, KV head, sequence): grid "
                          "(n_splits, n_kv_heads, B); the last group of a (sequence, KV head) "
                          "merges with one warp per query head"},
      .geometry = split_grid,
      .bench = [f](BenchScale scale) { return splits_cases(scale, f); },
  };
}

// --- prefill ---------------------------------------------------------------------------------

const char* kPrefillFormula =
    "query token t attends to positions [max(0, e - window), e) of the one shared cache (all of "
    "[0, e) when window is 0), e = positions[t] + 1 (causal: its own position and those "
    "before); scores, soft-cap, sinks and GQA as attention_decode; f32 accumulation";

std::vector<ParamDoc> prefill_buffer_docs(CacheFormat f) {
  std::vector<ParamDoc> docs = {{"q", "[T, n_q_heads, head_dim] T: the chunk's queries"}};
  for (ParamDoc d : cache_docs(f)) {
    // One sequence's cache: the decode layout without its B axis.
    const std::string batched = "[B, ";
    if (d.text.rfind(batched, 0) == 0) d.text = "[" + d.text.substr(batched.size());
    docs.push_back(d);
  }
  docs.push_back({"positions",
                  "[T] u32: each query token's position (< max_seq); the cache holds the "
                  "tokens at every position up to it"});
  docs.push_back({"sinks",
                  "[n_q_heads] f32: a logit per head joining the denominator only "
                  "(may be empty when has_sinks is 0)"});
  docs.push_back({"out", "[T, n_q_heads, head_dim] T: the attention output"});
  return docs;
}

// A chunk of T query tokens at positions 0 .. T - 1 (the prompt's first chunk) over a cache of
// 4096 positions: Llama 3.1 8B's heads.
BenchCase prefill_case(BenchScale scale, CacheFormat f, std::size_t tokens,
                       std::size_t head_dim = 0) {
  const bool full = scale == BenchScale::Full;
  const std::size_t hq = full ? kQHeads : kSmokeQHeads, hkv = full ? kKvHeads : kSmokeKvHeads;
  const std::size_t d = head_dim != 0 ? head_dim : full ? kHeadDim : kSmokeHeadDim;
  const std::size_t s = full ? 4096 : 8;
  BenchCase c;
  c.label = "T" + std::to_string(tokens) + " causal Hq" + std::to_string(hq) + " Hkv" +
            std::to_string(hkv) + " D" + std::to_string(d);
  if (f != CacheFormat::Raw) c.label += " g" + std::to_string(kGroup);
  c.dtype = DType::F16;
  const std::size_t rows = hkv * s, q_elements = tokens * hq * d;
  c.scalars = {{"head_dim", std::uint32_t(d)},
               {"n_q_heads", std::uint32_t(hq)},
               {"n_kv_heads", std::uint32_t(hkv)},
               {"max_seq", std::uint32_t(s)},
               {"scale", float(1.0 / std::sqrt(double(d)))},
               {"window", std::uint32_t(0)},
               {"softcap", 0.0f},
               {"has_sinks", std::uint32_t(0)}};
  c.elements = {{"q", q_elements}, {"positions", tokens}, {"sinks", hq}, {"out", q_elements}};
  c.fills = {{"positions", BenchFill::iota(std::uint32_t(s))}};
  const double row_bytes = add_cache_tensors(c, f, rows, d);
  // q and out once, and the chunk's K and V rows once; 4 flops per (query head, attended
  // position, channel): q . k and p v.
  c.bytes = double(2 * q_elements * 2) + 2.0 * double(hkv * tokens) * row_bytes;
  c.flops = 4.0 * double(hq * d) * double(tokens) * double(tokens + 1) / 2.0;
  return c;
}

std::vector<BenchCase> prefill_cases(BenchScale scale, CacheFormat f) {
  if (scale == BenchScale::Smoke) return {prefill_case(scale, f, 5)};
  if (f != CacheFormat::Raw) return {prefill_case(scale, f, 512)};
  return {prefill_case(scale, f, 512), prefill_case(scale, f, 2048)};
}

std::string prefill_mma_name(CacheFormat f, std::uint32_t head_dim) {
  return "attention_prefill" + format_suffix(f) + "_mma_d" + std::to_string(head_dim);
}

// The tensor-core kernel that run by name takes for a request, or "" (the one-token kernel):
// f16 / bf16 with a head_dim that has a kernel.
std::string prefill_mma_kernel(CacheFormat f, DType t, std::uint32_t head_dim) {
  if ((t != DType::F16 && t != DType::BF16) || (head_dim != 64 && head_dim != 128)) return "";
  return prefill_mma_name(f, head_dim);
}

LaunchPlan prefill_mma_plan(const LaunchShape& s, std::string kernel) {
  const std::size_t blocks = geometry::ceil_div(s.elements("positions"), kPrefillBlockTokens);
  const std::array<std::size_t, 3> grid{std::max<std::size_t>(blocks, 1), s.u32("n_q_heads"), 1};
  return LaunchPlan{{}, {LaunchStep{std::move(kernel), grid, {kThreads, 1, 1}, {}, {}}}};
}

KernelInfo prefill_info(CacheFormat f) {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = decode_body<DecodeOutput::Out, Queries::Prefill>(f),
      .doc = {.summary = "causal attention of a chunk of T query tokens of one sequence over " +
                         format_words(f) +
                         " holding the chunk and what precedes it (GQA, window, softcap, sinks)",
              .formula = kPrefillFormula,
              .buffers = prefill_buffer_docs(f),
              .scalars = scalar_docs(f),
              .geometry = "f16 / bf16 with head_dim 64 or 128: " + prefill_mma_name(f, 64) +
                          " / _d128 (tensor cores); otherwise this kernel, one threadgroup of 128 "
                          "threads per (KV head, query token): grid (1, n_kv_heads, T); one pass, "
                          "no split"},
      .geometry =
          [f](const LaunchShape& s) {
            const std::string mma = prefill_mma_kernel(f, s.dtype(), s.u32("head_dim"));
            if (!mma.empty()) return prefill_mma_plan(s, mma);
            const std::array<std::size_t, 3> grid{1, s.u32("n_kv_heads"), s.elements("positions")};
            return LaunchPlan{{}, {LaunchStep{"", grid, {kThreads, 1, 1}, {}, {}}}};
          },
      .bench = [f](BenchScale scale) { return prefill_cases(scale, f); },
  };
}

template <CacheFormat F, std::uint32_t HeadDim>
void prefill_mma_body(KernelBuilder& k, DType t) {
  build_prefill_mma(k, t, F, HeadDim);
}

template <CacheFormat F, std::uint32_t HeadDim>
KernelInfo prefill_mma_info() {
  const std::string d = std::to_string(HeadDim);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = {DType::F16, DType::BF16},
      .body = prefill_mma_body<F, HeadDim>,
      .doc = {.summary = "attention_prefill" + format_suffix(F) +
                         " on the tensor cores (flash attention) over " + format_words(F) +
                         ", head_dim " + d,
              .formula = std::string(kPrefillFormula) +
                         "; P = softmax weights rounded to T before P V, as flash attention does",
              .buffers = prefill_buffer_docs(F),
              .scalars = scalar_docs(F),
              .geometry = "one threadgroup of 128 threads (4 warps of 16 tokens) per (block of " +
                          std::to_string(kPrefillBlockTokens) +
                          " query tokens, query head): grid (ceil(T / 64), n_q_heads, 1); K and V "
                          "in double-buffered tiles of " +
                          std::to_string(kPrefillBlockKeys) + " positions" +
                          (F == CacheFormat::Raw ? "" : ", dequantised into them by the threads") +
                          "; head_dim must be " + d},
      .geometry = [](const LaunchShape& s) { return prefill_mma_plan(s, ""); },
      .bench =
          [](BenchScale scale) {
            if (scale == BenchScale::Smoke) {
              return std::vector<BenchCase>{prefill_case(scale, F, 5, HeadDim)};
            }
            std::vector<BenchCase> cases{prefill_case(scale, F, 512, HeadDim)};
            if (F == CacheFormat::Raw) cases.push_back(prefill_case(scale, F, 2048, HeadDim));
            return cases;
          },
  };
}

}  // namespace

std::uint32_t choose_split_count(std::size_t sequences_x_kv_heads, std::size_t positions,
                                 std::uint32_t multiprocessors) {
  // Enough threadgroups for one full wave of the device, never more than one wave (a second,
  // partly filled wave would leave most of the device idle at the end), and no split shorter
  // than kMinSplitPositions.
  const std::size_t slots = kResidentGroups * std::max<std::uint32_t>(multiprocessors, 1);
  if (sequences_x_kv_heads == 0 || sequences_x_kv_heads * 2 > slots) return 1;
  const std::size_t most =
      std::max<std::size_t>(1, (positions + kMinSplitPositions - 1) / kMinSplitPositions);
  return static_cast<std::uint32_t>(std::min(slots / sequences_x_kv_heads, most));
}

KernelInfo with_split_count(std::string_view name, std::uint32_t n_splits,
                            std::optional<SplitMerge> merge) {
  for (CacheFormat f : {CacheFormat::Raw, CacheFormat::Int4, CacheFormat::Int8,
                        CacheFormat::Fp8E4M3, CacheFormat::Fp8E5M2}) {
    if (decode_name(f) != name) continue;
    if (n_splits == 0) throw param_error(name, "n_splits", "a split count must be at least 1");
    KernelInfo info = kernel_info(name);
    info.geometry = [f, n_splits, merge](const LaunchShape& s) {
      return decode_plan(s, f, n_splits, merge);
    };
    return info;
  }
  throw Error("with_split_count: '" + std::string(name) +
              "' is not attention_decode or one of its quantised forms");
}

KernelInfo attention_decode::info() { return decode_info(CacheFormat::Raw); }
KernelInfo attention_decode_int4::info() { return decode_info(CacheFormat::Int4); }
KernelInfo attention_decode_int8::info() { return decode_info(CacheFormat::Int8); }
KernelInfo attention_decode_fp8_e4m3::info() { return decode_info(CacheFormat::Fp8E4M3); }
KernelInfo attention_decode_fp8_e5m2::info() { return decode_info(CacheFormat::Fp8E5M2); }
KernelInfo attention_decode_partial::info() { return partial_info(CacheFormat::Raw); }
KernelInfo attention_decode_int4_partial::info() { return partial_info(CacheFormat::Int4); }
KernelInfo attention_decode_int8_partial::info() { return partial_info(CacheFormat::Int8); }
KernelInfo attention_decode_fp8_e4m3_partial::info() { return partial_info(CacheFormat::Fp8E4M3); }
KernelInfo attention_decode_fp8_e5m2_partial::info() { return partial_info(CacheFormat::Fp8E5M2); }
KernelInfo attention_decode_splits::info() { return splits_info(CacheFormat::Raw); }
KernelInfo attention_decode_int4_splits::info() { return splits_info(CacheFormat::Int4); }
KernelInfo attention_decode_int8_splits::info() { return splits_info(CacheFormat::Int8); }
KernelInfo attention_decode_fp8_e4m3_splits::info() { return splits_info(CacheFormat::Fp8E4M3); }
KernelInfo attention_decode_fp8_e5m2_splits::info() { return splits_info(CacheFormat::Fp8E5M2); }

KernelInfo attention_prefill::info() { return prefill_info(CacheFormat::Raw); }
KernelInfo attention_prefill_int4::info() { return prefill_info(CacheFormat::Int4); }
KernelInfo attention_prefill_int8::info() { return prefill_info(CacheFormat::Int8); }
KernelInfo attention_prefill_fp8_e4m3::info() { return prefill_info(CacheFormat::Fp8E4M3); }
KernelInfo attention_prefill_fp8_e5m2::info() { return prefill_info(CacheFormat::Fp8E5M2); }
KernelInfo attention_prefill_mma_d64::info() { return prefill_mma_info<CacheFormat::Raw, 64>(); }
KernelInfo attention_prefill_mma_d128::info() { return prefill_mma_info<CacheFormat::Raw, 128>(); }
KernelInfo attention_prefill_int4_mma_d64::info() {
  return prefill_mma_info<CacheFormat::Int4, 64>();
}
KernelInfo attention_prefill_int4_mma_d128::info() {
  return prefill_mma_info<CacheFormat::Int4, 128>();
}
KernelInfo attention_prefill_int8_mma_d64::info() {
  return prefill_mma_info<CacheFormat::Int8, 64>();
}
KernelInfo attention_prefill_int8_mma_d128::info() {
  return prefill_mma_info<CacheFormat::Int8, 128>();
}
KernelInfo attention_prefill_fp8_e4m3_mma_d64::info() {
  return prefill_mma_info<CacheFormat::Fp8E4M3, 64>();
}
KernelInfo attention_prefill_fp8_e4m3_mma_d128::info() {
  return prefill_mma_info<CacheFormat::Fp8E4M3, 128>();
}
KernelInfo attention_prefill_fp8_e5m2_mma_d64::info() {
  return prefill_mma_info<CacheFormat::Fp8E5M2, 64>();
}
KernelInfo attention_prefill_fp8_e5m2_mma_d128::info() {
  return prefill_mma_info<CacheFormat::Fp8E5M2, 128>();
}

KernelInfo attention_decode_combine::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_combine,
      .doc = {.summary = "merge the split partial results of decode attention by log-sum-exp",
              .formula = "M = max_j m_j; out = sum_j 2^(m_j - M) o_j / (sum_j 2^(m_j - M) l_j + "
                         "has_sinks 2^(sinks[h] log2(e) - M)) over the splits holding positions",
              .buffers = {kPartO,
                          kPartM,
                          kPartL,
                          {"lengths", "[B] u32: positions in each sequence's cache"},
                          {"sinks", "[n_q_heads] f32 (may be empty when has_sinks is 0)"},
                          kOut},
              .scalars = {{"head_dim", "u32: channels per head"},
                          {"n_q_heads", "u32: query heads"},
                          {"max_seq", "u32: positions per sequence in the cache"},
                          {"window", "u32: as for attention_decode"},
                          {"has_sinks", "u32: 0 or 1"},
                          kNSplits},
              .geometry = "one threadgroup of 128 threads per (query head, sequence): grid "
                          "(n_q_heads, B)"},
      .geometry =
          [](const LaunchShape& s) {
            const std::array<std::size_t, 3> grid{s.u32("n_q_heads"), s.elements("lengths"), 1};
            return LaunchPlan{{}, {LaunchStep{"", grid, {kThreads, 1, 1}, {}, {}}}};
          },
      .bench = combine_cases,
  };
}

}  // namespace mt::kernels::ffai::attention
