// attention_decode on every backend and dtype against the f64 oracle: each option alone and
// together (window, softcap, sinks), GQA ratios, lengths of 1, odd and max_seq, every head_dim,
// one-pass and split paths (merged by the last split's group and by the combine kernel),
// positions outside a sequence's span never read (they hold NaN), specialised scalars, the
// device-resident runner launched again and again and replayed from a graph, over-dispatch,
// and the partial kernel's splits past a sequence's positions writing nothing.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/ffai/attention_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::attn::Inputs;
using mt::test::attn::Problem;
namespace attn = mt::test::attn;
namespace attention = mt::kernels::ffai::attention;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// NaN in every cache row a sequence must not read: past its length and before its window.
void poison_unattended_rows(const Problem& p, Inputs& in) {
  for (std::uint32_t b = 0; b < p.sequences(); ++b) {
    const std::uint32_t len = p.lengths[b];
    const std::uint32_t lo = p.window != 0 && p.window < len ? len - p.window : 0;
    for (std::uint32_t h = 0; h < p.kv_heads; ++h) {
      for (std::uint32_t i = 0; i < p.max_seq; ++i) {
        if (i >= lo && i < len) continue;
        const std::size_t at = ((std::size_t{b} * p.kv_heads + h) * p.max_seq + i) * p.head_dim;
        for (std::uint32_t d = 0; d < p.head_dim; ++d) in.k[at + d] = in.v[at + d] = kNaN;
      }
    }
  }
}

// The entries that run `name` with n_splits fixed (0: chosen by run): for n > 1 both merges,
// in the last split's group and by the combine kernel.
std::vector<std::pair<std::string, mt::KernelInfo>> split_entries(const std::string& name,
                                                                  std::uint32_t n_splits) {
  if (n_splits == 0) return {{"auto", mt::kernel_info(name)}};
  if (n_splits == 1) return {{"1 split", attention::with_split_count(name, 1)}};
  const std::string n = std::to_string(n_splits) + " splits";
  return {{n + " merged by the last",
           attention::with_split_count(name, n_splits, attention::SplitMerge::LastSplit)},
          {n + " and the combine",
           attention::with_split_count(name, n_splits, attention::SplitMerge::CombineKernel)}};
}

// Runs attention_decode for p with n_splits fixed (0: chosen by run) and checks the oracle.
void check(mt::Context& ctx, const Problem& p, DType t, std::uint32_t n_splits,
           std::uint64_t seed) {
  Inputs in = attn::random_inputs(p, t, seed);
  const std::vector<double> expected = attn::oracle(p, in);
  const double max_v = attn::max_abs(in.v);
  poison_unattended_rows(p, in);
  const mt::BufferMap b = attn::raw_buffers(p, in, t);
  for (const auto& [label, entry] : split_entries("attention_decode", n_splits)) {
    SCOPED_TRACE(p.text() + " " + std::string(mt::name_of(t)) + " " + label);
    const mt::DispatchResult r = mt::kernels::run(ctx, entry, t, b);
    ASSERT_EQ(r.outputs.size(), 1u);
    attn::expect_attention_close(mt::test::unpack(r.outputs.at("out"), t), expected, t, max_v,
                                 "out");
  }
}

Problem base_problem() {
  Problem p;
  p.lengths = {1, 13, 24};  // 1, odd, max_seq
  p.kv_heads = 2;
  p.q_heads = 8;
  p.head_dim = 32;
  p.max_seq = 24;
  return p;
}

TEST(AttentionDecode, EachOptionAloneAndTogether) {
  struct Option {
    const char* name;
    std::uint32_t window;
    float softcap;
    bool sinks;
  };
  const Option options[] = {{"none", 0, 0, false},
                            {"window", 5, 0, false},
                            {"softcap", 0, 1.5f, false},
                            {"sinks", 0, 0, true},
                            {"all", 7, 2.0f, true}};
  mt::test::for_each_backend([&](mt::Context& ctx) {
    std::uint64_t seed = 100;
    for (DType t : kDTypes) {
      for (const Option& o : options) {
        SCOPED_TRACE(o.name);
        Problem p = base_problem();
        p.window = o.window;
        p.softcap = o.softcap;
        p.sinks = o.sinks;
        // A larger scale so that soft-capping changes the logits.
        if (o.softcap > 0) p.scale = 1.0f;
        for (std::uint32_t splits : {0u, 1u, 3u}) check(ctx, p, t, splits, ++seed);
      }
    }
  });
}

TEST(AttentionDecode, GqaRatios) {
  // 1, 4 and 8 as models use; 6 and 20 fill the last block of 4 heads partly and need more
  // than one round of the warps over the head blocks.
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 200;
    for (DType t : kDTypes) {
      for (std::uint32_t ratio : {1u, 4u, 8u, 6u, 20u}) {
        Problem p = base_problem();
        p.q_heads = p.kv_heads * ratio;
        p.window = 9;
        p.softcap = 3.0f;
        p.sinks = true;
        for (std::uint32_t splits : {1u, 2u}) check(ctx, p, t, splits, ++seed);
      }
    }
  });
}

TEST(AttentionDecode, EveryHeadDim) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 300;
    for (DType t : kDTypes) {
      for (std::uint32_t head_dim : {16u, 32u, 64u, 128u, 256u}) {
        Problem p;
        p.lengths = {7, 9};
        p.kv_heads = 1;
        p.q_heads = 4;
        p.head_dim = head_dim;
        p.max_seq = 9;
        p.scale = 1.0f / std::sqrt(float(head_dim));
        for (std::uint32_t splits : {1u, 2u}) check(ctx, p, t, splits, ++seed);
      }
    }
  });
}

TEST(AttentionDecode, LongSequencesSplitEvenly) {
  // Lengths that are not multiples of the split granule (32) nor of the threadgroup's step.
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p;
    p.lengths = {200, 77, 1};
    p.kv_heads = 1;
    p.q_heads = 4;
    p.head_dim = 16;
    p.max_seq = 200;
    p.window = 150;
    for (DType t : kDTypes) {
      for (std::uint32_t splits : {0u, 1u, 4u, 7u}) check(ctx, p, t, splits, 400 + splits);
    }
  });
}

TEST(AttentionDecode, MoreSplitsThanTheCombineLoadsAtOnce) {
  // 19 splits of 32 positions at length 600, 12 at 380, 1 at 5: the combine loads 8 splits'
  // rows a trip, so these take three trips, two, and one mostly past `used`.
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p;
    p.lengths = {600, 380, 5};
    p.kv_heads = 1;
    p.q_heads = 2;
    p.head_dim = 16;
    p.max_seq = 600;
    for (DType t : kDTypes) check(ctx, p, t, 19, 500);
  });
}

TEST(AttentionDecode, SplitsOfManyGroupsMergeOnceEach) {
  // 33 splits of 8 KV heads and 2 sequences: 528 groups, which the interpreter spreads over
  // several host threads, so splits of one (sequence, KV head) arrive from different threads
  // in any order; the one that sees the last count merges. Lengths that fill every split,
  // most of them, two and one.
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p;
    p.kv_heads = 8;
    p.q_heads = 16;
    p.head_dim = 16;
    p.max_seq = 33 * 32;
    p.lengths = {33 * 32, 700};
    check(ctx, p, DType::F32, 33, 550);
    p.lengths = {40, 1};
    check(ctx, p, DType::F16, 33, 551);
  });
}

TEST(AttentionDecode, ManySequences) {
  // B up to 256 on a GPU; fewer on the interpreter, which runs each threadgroup in turn.
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t sequences = ctx.backend() == mt::Backend::Cuda ? 256 : 12;
    Problem p;
    p.kv_heads = 2;
    p.q_heads = 8;
    p.head_dim = 64;
    p.max_seq = 33;
    p.lengths.clear();
    for (std::uint32_t b = 0; b < sequences; ++b) p.lengths.push_back(1 + (b * 7) % 33);
    check(ctx, p, DType::F16, 0, 500);
    check(ctx, p, DType::BF16, 3, 501);
  });
}

TEST(AttentionDecode, SpecShapesWithTheSplitRunChooses) {
  // The spec's benchmark shapes (f16, Hq 32, Hkv 8, D 128) on a GPU, where run splits them
  // (33 splits at B 1, 2 at B 16 on an H100); the same layout at a length the interpreter
  // runs in reasonable time elsewhere.
  mt::test::for_each_backend([](mt::Context& ctx) {
    const bool gpu = ctx.backend() == mt::Backend::Cuda;
    std::cout << "[ shapes   ] " << (gpu ? "spec shapes (GPU)" : "reduced shapes (interpreter)")
              << "\n";
    struct Shape {
      std::uint32_t sequences, max_seq;
    };
    const std::vector<Shape> shapes = gpu ? std::vector<Shape>{{1, 4096}, {16, 4096}, {1, 32768}}
                                          : std::vector<Shape>{{1, 300}, {3, 96}};
    std::uint64_t seed = 1200;
    for (const Shape& shape : shapes) {
      Problem p;
      p.q_heads = 32;
      p.kv_heads = 8;
      p.head_dim = 128;
      p.max_seq = shape.max_seq;
      p.scale = 1.0f / std::sqrt(128.0f);
      p.lengths.clear();
      for (std::uint32_t b = 0; b < shape.sequences; ++b) {
        p.lengths.push_back(b == 0 ? shape.max_seq : 1 + (b * 997) % shape.max_seq);
      }
      check(ctx, p, DType::F16, 0, ++seed);
    }
  });
}

TEST(AttentionDecodeGeometry, OneFullWaveOfSplitsAndNeverFewerThan64PositionsASplit) {
  // An H100: 132 SMs, 2 resident threadgroups each.
  EXPECT_EQ(attention::choose_split_count(8, 4096, 132), 33u);   // B 1, Hkv 8
  EXPECT_EQ(attention::choose_split_count(128, 4096, 132), 2u);  // B 16
  EXPECT_EQ(attention::choose_split_count(8, 32768, 132), 33u);
  EXPECT_EQ(attention::choose_split_count(136, 4096, 132), 1u);  // B 17: one pass fills it
  EXPECT_EQ(attention::choose_split_count(8, 100, 132), 2u);     // at least 64 positions each
  EXPECT_EQ(attention::choose_split_count(8, 64, 132), 1u);
  EXPECT_EQ(attention::choose_split_count(1, 4096, 1), 2u);  // the interpreter: 1 unit
  EXPECT_EQ(attention::choose_split_count(2, 4096, 1), 1u);

  // The entry's rule: one launch for one split, else partial + combine with scratch.
  const mt::KernelInfo& info = mt::kernel_info("attention_decode_int4");
  auto shape = [](std::size_t sequences, std::uint32_t window, std::uint32_t multiprocessors,
                  bool merge_in_kernel) {
    mt::DeviceLimits limits;
    limits.multiprocessors = multiprocessors;
    limits.merge_splits_in_kernel = merge_in_kernel;
    const std::size_t rows = sequences * 8 * 4096;
    std::map<std::string, std::size_t> elements = {{"q", sequences * 32 * 128},
                                                   {"k_w", rows * 16},
                                                   {"k_s", rows * 4},
                                                   {"k_b", rows * 4},
                                                   {"v_w", rows * 16},
                                                   {"v_s", rows * 4},
                                                   {"v_b", rows * 4},
                                                   {"lengths", sequences},
                                                   {"sinks", 32},
                                                   {"out", sequences * 32 * 128}};
    std::map<std::string, mt::Scalar> scalars;
    for (const auto& [name, value] : std::map<std::string, std::uint32_t>{{"head_dim", 128},
                                                                          {"n_q_heads", 32},
                                                                          {"n_kv_heads", 8},
                                                                          {"max_seq", 4096},
                                                                          {"window", window},
                                                                          {"has_sinks", 0},
                                                                          {"group_size", 32}}) {
      scalars[name] = mt::Scalar::of_int(value);
    }
    scalars["scale"] = mt::Scalar::of_float(0.088);
    scalars["softcap"] = mt::Scalar::of_float(0);
    return mt::LaunchShape("attention_decode_int4", DType::F16, limits, elements, scalars);
  };
  const mt::LaunchPlan split = info.geometry(shape(1, 0, 132, false));
  ASSERT_EQ(split.steps.size(), 2u);
  EXPECT_EQ(split.steps[0].kernel, "attention_decode_int4_partial");
  EXPECT_EQ(split.steps[0].grid, (std::array<std::size_t, 3>{33, 8, 1}));
  EXPECT_EQ(split.steps[1].kernel, "attention_decode_combine");
  EXPECT_EQ(split.steps[1].grid, (std::array<std::size_t, 3>{32, 1, 1}));
  ASSERT_EQ(split.scratch.size(), 3u);
  EXPECT_EQ(split.scratch[0].elements, std::size_t{32} * 33 * 128);  // part_o
  // Where the device merges in the kernel: one launch of the _splits kernel, with the arrival
  // counters (one per sequence and KV head, zeroed) beside the partials.
  const mt::LaunchPlan merged = info.geometry(shape(1, 0, 132, true));
  ASSERT_EQ(merged.steps.size(), 1u);
  EXPECT_EQ(merged.steps[0].kernel, "attention_decode_int4_splits");
  EXPECT_EQ(merged.steps[0].grid, (std::array<std::size_t, 3>{33, 8, 1}));
  ASSERT_EQ(merged.scratch.size(), 4u);
  EXPECT_EQ(merged.scratch[3].name, "arrivals");
  EXPECT_EQ(merged.scratch[3].elements, 8u);
  EXPECT_TRUE(merged.scratch[3].zeroed);
  // A window of 100 positions bounds the split count: at most 2 splits of >= 64.
  EXPECT_EQ(info.geometry(shape(1, 100, 132, false)).steps[0].grid[0], 2u);
  EXPECT_EQ(info.geometry(shape(1, 100, 132, true)).steps[0].grid[0], 2u);
  const mt::LaunchPlan one = info.geometry(shape(20, 0, 132, true));
  ASSERT_EQ(one.steps.size(), 1u);
  EXPECT_EQ(one.steps[0].kernel, "");
  EXPECT_EQ(one.steps[0].grid, (std::array<std::size_t, 3>{1, 8, 20}));
  EXPECT_EQ(one.steps[0].tpg, (std::array<std::size_t, 3>{128, 1, 1}));
}

TEST(AttentionDecode, SinksMayBeEmptyWhenOff) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = base_problem();
    const Inputs in = attn::random_inputs(p, DType::F32, 600);
    mt::BufferMap b = attn::raw_buffers(p, in, DType::F32);
    b["sinks"].clear();
    const mt::DispatchResult r = mt::kernels::run(ctx, "attention_decode", DType::F32, b);
    attn::expect_attention_close(mt::test::unpack(r.outputs.at("out"), DType::F32),
                                 attn::oracle(p, in), DType::F32, attn::max_abs(in.v), "out");
  });
}

TEST(AttentionDecode, NanInAttendedInputsReachesTheOutput) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p = base_problem();
    Inputs in = attn::random_inputs(p, DType::F16, 700);
    // Sequence 2, KV head 1, position 3: query heads 4..7 of sequence 2 see it.
    in.v[((2 * p.kv_heads + 1) * p.max_seq + 3) * p.head_dim + 5] = kNaN;
    const mt::BufferMap b = attn::raw_buffers(p, in, DType::F16);
    for (std::uint32_t splits : {1u, 2u}) {
      for (const auto& [label, entry] : split_entries("attention_decode", splits)) {
        const std::vector<float> out = mt::test::unpack(
            mt::kernels::run(ctx, entry, DType::F16, b).outputs.at("out"), DType::F16);
        for (std::uint32_t h = 0; h < p.q_heads; ++h) {
          const std::size_t at = (2 * p.q_heads + h) * p.head_dim + 5;
          EXPECT_EQ(std::isnan(out[at]), h >= 4) << "head " << h << ", " << label;
          EXPECT_FALSE(std::isnan(out[at - 1])) << "head " << h << ", " << label;
        }
      }
    }
  });
}

TEST(AttentionDecode, SpecialisedScalarsGiveTheSameBits) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p = base_problem();
    p.window = 7;
    p.sinks = true;
    const Inputs in = attn::random_inputs(p, DType::BF16, 800);
    mt::BufferMap b = attn::raw_buffers(p, in, DType::BF16);
    mt::ConstMap consts = {{"head_dim", p.head_dim},
                           {"n_q_heads", p.q_heads},
                           {"n_kv_heads", p.kv_heads},
                           {"max_seq", p.max_seq}};
    mt::BufferMap without = b;
    for (const auto& [name, value] : consts) without.erase(name);
    for (const auto& [label, split] : split_entries("attention_decode", 2)) {
      const mt::DispatchResult plain = mt::kernels::run(ctx, split, DType::BF16, b);
      const mt::DispatchResult specialised =
          mt::kernels::run(ctx, split, DType::BF16, without, consts);
      EXPECT_EQ(specialised.outputs.at("out"), plain.outputs.at("out")) << label;
    }
  });
}

TEST(AttentionDecode, DeviceResidentRunnerMatchesTheByteMapRun) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = base_problem();
    const Inputs in = attn::random_inputs(p, DType::F16, 900);
    const mt::BufferMap b = attn::raw_buffers(p, in, DType::F16);
    mt::DeviceBindings bindings;
    std::vector<mt::DeviceBuffer> keep;
    for (const char* name : {"q", "k", "v", "lengths", "sinks", "out"}) {
      keep.push_back(ctx.upload(b.at(name)));
      bindings.emplace(name, keep.back());
    }
    bindings.emplace("head_dim", p.head_dim);
    bindings.emplace("n_q_heads", p.q_heads);
    bindings.emplace("n_kv_heads", p.kv_heads);
    bindings.emplace("max_seq", p.max_seq);
    bindings.emplace("scale", p.scale);
    bindings.emplace("window", p.window);
    bindings.emplace("softcap", p.softcap);
    bindings.emplace("has_sinks", std::uint32_t{0});
    const mt::Stream stream = ctx.create_stream();
    // Again and again, and from a captured graph: the merged kernel's arrival counters come
    // back to zero after every launch, so each one merges exactly once.
    for (const auto& [label, split] : split_entries("attention_decode", 3)) {
      SCOPED_TRACE(label);
      const mt::DispatchResult bytes = mt::kernels::run(ctx, split, DType::F16, b);
      mt::kernels::KernelRunner runner(ctx, split, DType::F16);
      for (int launch = 0; launch < 3; ++launch) {
        keep.back().upload(mt::test::poisoned(p.sequences() * p.q_heads * p.head_dim, DType::F16));
        runner.launch(bindings, stream);
        stream.synchronize();
        EXPECT_EQ(keep.back().download(), bytes.outputs.at("out")) << "launch " << launch;
      }
      EXPECT_TRUE(runner.uses_scratch());
      const mt::Graph graph = ctx.capture(stream, [&] { runner.launch(bindings, stream); });
      for (int replay = 0; replay < 2; ++replay) {
        keep.back().upload(mt::test::poisoned(p.sequences() * p.q_heads * p.head_dim, DType::F16));
        graph.replay(stream);
        stream.synchronize();
        EXPECT_EQ(keep.back().download(), bytes.outputs.at("out")) << "replay " << replay;
      }
    }
  });
}

TEST(AttentionDecode, OverDispatchedThreadgroupsWriteNothing) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = base_problem();
    const Inputs in = attn::random_inputs(p, DType::F32, 1000);
    const mt::BufferMap b = attn::raw_buffers(p, in, DType::F32);
    const mt::Kernel k = attention::attention_decode::kernel_ir_for(DType::F32);
    const mt::DispatchResult r =
        ctx.dispatch_with_grid(k, b, {}, {2, p.kv_heads + 1, p.sequences() + 2}, {128, 1, 1});
    attn::expect_attention_close(mt::test::unpack(r.outputs.at("out"), DType::F32),
                                 attn::oracle(p, in), DType::F32, attn::max_abs(in.v), "out");
  });
}

// The layout needs 128 threads a group: another count used to write nothing at all (the output
// stayed as it was, without an error). Now it is an error naming the kernel.
TEST(AttentionDecode, GroupOfOtherThan128ThreadsIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = base_problem();
    const Inputs in = attn::random_inputs(p, DType::F32, 1001);
    const mt::BufferMap b = attn::raw_buffers(p, in, DType::F32);
    const mt::Kernel k = attention::attention_decode::kernel_ir_for(DType::F32);
    const std::array<std::size_t, 3> grid{1, p.kv_heads, p.sequences()};
    mt::test::expect_mentions(mt::test::error_of([&] {
                                ctx.dispatch_with_grid(k, b, {}, grid, {64, 1, 1});
                              }),
                              {"kernel 'attention_decode'", "tpg.x == 128"});
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, grid, {128, 1, 1});
    attn::expect_attention_close(mt::test::unpack(r.outputs.at("out"), DType::F32),
                                 attn::oracle(p, in), DType::F32, attn::max_abs(in.v), "out");
  });
}

TEST(AttentionDecodePartial, SplitsPastTheLastPositionWriteNothing) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    Problem p = base_problem();  // lengths 1, 13, 24: one split of 32 positions each
    p.sinks = true;
    const std::uint32_t n_splits = 3;
    const Inputs in = attn::random_inputs(p, DType::F32, 1100);
    mt::BufferMap b = attn::raw_buffers(p, in, DType::F32);
    b.erase("out");
    const std::size_t rows = std::size_t{p.sequences()} * p.q_heads * n_splits;
    b["part_o"] = mt::test::poisoned(rows * p.head_dim, DType::F32);
    b["part_m"] = mt::test::poisoned(rows, DType::F32);
    b["part_l"] = mt::test::poisoned(rows, DType::F32);
    b["n_splits"] = mt::test::le_bytes(n_splits);
    const mt::DispatchResult partial =
        mt::kernels::run(ctx, "attention_decode_partial", DType::F32, b);
    const std::vector<float> m = mt::test::unpack(partial.outputs.at("part_m"), DType::F32);
    for (std::size_t row = 0; row < rows; ++row) {
      EXPECT_EQ(std::isnan(m[row]), row % n_splits != 0) << "row " << row;
    }
    // The combine reads only the splits that hold positions.
    mt::BufferMap c = partial.outputs;
    for (const char* name : {"lengths", "sinks", "head_dim", "n_q_heads", "max_seq", "window",
                             "has_sinks", "n_splits"}) {
      c[name] = b.at(name);
    }
    c["out"] = mt::test::poisoned(p.q_elements(), DType::F32);
    const mt::DispatchResult combined =
        mt::kernels::run(ctx, "attention_decode_combine", DType::F32, c);
    attn::expect_attention_close(mt::test::unpack(combined.outputs.at("out"), DType::F32),
                                 attn::oracle(p, in), DType::F32, attn::max_abs(in.v), "out");
  });
}

}  // namespace
