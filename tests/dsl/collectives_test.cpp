// DSL threadgroup programming: thread identity, barriers, warp and threadgroup collectives,
// atomics and vector access record the right op and printed IR; each misuse is an mt::Error
// naming the kernel.
#include "metaltile/dsl/collectives.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;
using test::printed_def;

TEST(Collectives, ThreadIdentityIsU32PerAxis) {
  Kernel k = trace("ids", KernelMode::Reduction, [](KernelBuilder&) {
    thread_id(0);
    threadgroup_id(1);
    threads_per_threadgroup(2);
    threadgroups_per_grid(0);
    lane_id();
    warp_id();
  });
  expect_text(print(k),
              "kernel ids mode=Reduction\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %1: u32 = threadgroup_id 1\n"
              "  %2: u32 = threads_per_threadgroup 2\n"
              "  %3: u32 = threadgroups_per_grid 0\n"
              "  %4: u32 = lane_id\n"
              "  %5: u32 = warp_id\n"
              "}\n");
}

TEST(Collectives, BadAxesAreErrors) {
  expect_trace_error("tid3", [](KernelBuilder&) { thread_id(3); }, {"thread_id: axis 3"});
  expect_trace_error("tg_neg", [](KernelBuilder&) { threadgroup_id(-1); },
                     {"threadgroup_id: axis -1"});
  expect_trace_error("tpg7", [](KernelBuilder&) { threads_per_threadgroup(7); },
                     {"threads_per_threadgroup: axis 7"});
  expect_trace_error("grid5", [](KernelBuilder&) { threadgroups_per_grid(5); },
                     {"threadgroups_per_grid: axis 5"});
}

TEST(Collectives, BarriersAreStatements) {
  Kernel k = trace("sync", KernelMode::Reduction, [](KernelBuilder&) {
    barrier();
    warp_barrier();
  });
  expect_text(print(k), "kernel sync mode=Reduction\nbody {\n  barrier\n  warp_barrier\n}\n");
}

TEST(Collectives, WarpReductionsShufflesAndScans) {
  ValueId r[11];
  Kernel k = trace("warp", KernelMode::Reduction, [&](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val lane = lane_id();
    r[0] = warp_sum(x).id();
    r[1] = warp_product(x).id();
    r[2] = warp_max(x).id();
    r[3] = warp_min(x).id();
    r[4] = warp_shuffle(x, lane).id();
    r[5] = warp_shuffle_xor(x, 16).id();
    r[6] = warp_shuffle_up(x, lane).id();
    r[7] = warp_shuffle_down(x, 1u).id();
    r[8] = warp_broadcast(x, 0).id();
    r[9] = warp_prefix_sum(x).id();
    r[10] = warp_exclusive_prefix_sum(x).id();
  });
  EXPECT_EQ(printed_def(k, r[0]), "%2: f32 = warp_reduce add %0");
  EXPECT_EQ(printed_def(k, r[1]), "%3: f32 = warp_reduce mul %0");
  EXPECT_EQ(printed_def(k, r[2]), "%4: f32 = warp_reduce max %0");
  EXPECT_EQ(printed_def(k, r[3]), "%5: f32 = warp_reduce min %0");
  EXPECT_EQ(printed_def(k, r[4]), "%6: f32 = warp_shuffle index %0, %1");
  EXPECT_EQ(printed_def(k, r[5]), "%8: f32 = warp_shuffle xor %0, %7");
  EXPECT_EQ(printed_def(k, r[6]), "%9: f32 = warp_shuffle up %0, %1");
  EXPECT_EQ(printed_def(k, r[7]), "%11: f32 = warp_shuffle down %0, %10");
  EXPECT_EQ(printed_def(k, r[8]), "%13: f32 = warp_shuffle index %0, %12");
  EXPECT_EQ(printed_def(k, r[9]), "%14: f32 = warp_prefix_sum inclusive %0");
  EXPECT_EQ(printed_def(k, r[10]), "%15: f32 = warp_prefix_sum exclusive %0");
  // Literal lanes become u32 constants.
  EXPECT_EQ(printed_def(k, ValueId{7}), "%7: u32 = const 16");
  EXPECT_EQ(printed_def(k, ValueId{12}), "%12: u32 = const 0");
}

TEST(Collectives, WarpOpsOnEachType) {
  // Integer and half types reduce; any non-fp8 type shuffles, bool included.
  Kernel k = trace("types", KernelMode::Reduction, [](KernelBuilder& b) {
    Val i = b.scalar_i32("i");
    Val u = lane_id();
    Val h = i.to(DType::BF16);
    warp_sum(i);
    warp_max(u);
    warp_prefix_sum(h);
    warp_shuffle(u < 3u, u);
  });
  const std::string text = print(k);
  for (const char* line :
       {"%3: i32 = warp_reduce add %0", "%4: u32 = warp_reduce max %1",
        "%5: bf16 = warp_prefix_sum inclusive %2", "%8: bool = warp_shuffle index %7, %1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in:\n" << text;
  }
}

TEST(Collectives, WarpMisusesAreErrors) {
  expect_trace_error("lane_i32",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       warp_shuffle(x, b.scalar_i32("l"));
                     },
                     {"warp_shuffle: lane %1 (i32) must be u32"});
  expect_trace_error("lane_f32",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       warp_shuffle_down(x, x);
                     },
                     {"warp_shuffle: lane %0 (f32) must be u32"});
  expect_trace_error("fp8",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x").to(DType::F8E4M3);
                       warp_shuffle_xor(x, 1);
                     },
                     {"warp_shuffle: fp8 values are storage only", "(f8e4m3)"});
  expect_trace_error("fp8_sum",
                     [](KernelBuilder& b) { warp_sum(b.scalar_f32("x").to(DType::F8E5M2)); },
                     {"warp_reduce add: does not accept", "(f8e5m2)"});
  expect_trace_error("bool_max", [](KernelBuilder&) { warp_max(lane_id() < 4u); },
                     {"warp_reduce max: does not accept", "(bool)"});
  expect_trace_error("u8_scan",
                     [](KernelBuilder& b) { warp_prefix_sum(b.scalar_u32("x").to(DType::U8)); },
                     {"warp_prefix_sum add: does not accept", "(u8)"});
}

TEST(Collectives, ThreadgroupReductionsAndArgmax) {
  ValueId r[3], best_index, best_value;
  DType index_type = DType::F32, value_type = DType::U32;
  Kernel k = trace("tg", KernelMode::Reduction, [&](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F16);
    Val t = thread_id(0);
    Val x = src[t].to(DType::F32);
    r[0] = threadgroup_sum(x).id();
    r[1] = threadgroup_max(x).id();
    r[2] = threadgroup_min(x).id();
    const ArgMax best = threadgroup_argmax(x, t);
    best_index = best.index.id();
    best_value = best.value.id();
    index_type = best.index.dtype();
    value_type = best.value.dtype();
  });
  EXPECT_EQ(printed_def(k, r[0]), "%3: f32 = threadgroup_reduce add %2");
  EXPECT_EQ(printed_def(k, r[1]), "%4: f32 = threadgroup_reduce max %2");
  EXPECT_EQ(printed_def(k, r[2]), "%5: f32 = threadgroup_reduce min %2");
  // The index comes from the argmax op; the value is the group's max.
  EXPECT_EQ(printed_def(k, best_index), "%6: u32 = threadgroup_argmax %2, %0");
  EXPECT_EQ(printed_def(k, best_value), "%7: f32 = threadgroup_reduce max %2");
  EXPECT_EQ(index_type, DType::U32);
  EXPECT_EQ(value_type, DType::F32);
}

TEST(Collectives, ThreadgroupMisusesAreErrors) {
  expect_trace_error("argmax_index",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       threadgroup_argmax(x, b.scalar_i32("i"));
                     },
                     {"threadgroup_argmax: index %1 (i32) must be u32"});
  expect_trace_error("argmax_fp8",
                     [](KernelBuilder& b) {
                       threadgroup_argmax(b.scalar_f32("x").to(DType::F8E4M3), thread_id(0));
                     },
                     {"threadgroup_argmax max: does not accept", "(f8e4m3)"});
  expect_trace_error("sum_bool", [](KernelBuilder&) { threadgroup_sum(thread_id(0) < 3u); },
                     {"threadgroup_reduce add: does not accept", "(bool)"});
}

TEST(Collectives, AtomicsOnTensorsAndThreadgroupArrays) {
  Kernel k = trace("atomics", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor counts = b.output("counts", DType::U32);
    Tensor sums = b.output("sums", DType::F32);
    Tensor signs = b.output("signs", DType::I32);
    ArrayRef hist = b.threadgroup_array("hist", DType::I32, 16);
    Val t = thread_id(0);
    Val one = u32(1);
    atomic_add(counts, t, one);
    atomic_max(counts, t, one);
    atomic_min(counts, t, one);
    atomic_and(counts, t, one);
    atomic_or(counts, t, one);
    atomic_xor(counts, t, one);
    atomic_add(sums, t, f32(0.5f));
    Val m = i32(-1);
    atomic_min(signs, t, m);
    atomic_add(hist, t, m);
    atomic_max(hist, t, m);
    atomic_min(hist, t, m);
    atomic_and(hist, t, m);
    atomic_or(hist, t, m);
    atomic_xor(hist, t, m);
  });
  expect_text(print(k),
              "kernel atomics mode=Reduction\n"
              "  param counts: output u32\n"
              "  param sums: output f32\n"
              "  param signs: output i32\n"
              "  array hist: threadgroup i32[16]\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %1: u32 = const 1\n"
              "  %2: u32 = atomic add counts[%0], %1\n"
              "  %3: u32 = atomic max counts[%0], %1\n"
              "  %4: u32 = atomic min counts[%0], %1\n"
              "  %5: u32 = atomic and counts[%0], %1\n"
              "  %6: u32 = atomic or counts[%0], %1\n"
              "  %7: u32 = atomic xor counts[%0], %1\n"
              "  %8: f32 = const 0.5\n"
              "  %9: f32 = atomic add sums[%0], %8\n"
              "  %10: i32 = const -1\n"
              "  %11: i32 = atomic min signs[%0], %10\n"
              "  %12: i32 = array_atomic add hist[%0], %10\n"
              "  %13: i32 = array_atomic max hist[%0], %10\n"
              "  %14: i32 = array_atomic min hist[%0], %10\n"
              "  %15: i32 = array_atomic and hist[%0], %10\n"
              "  %16: i32 = array_atomic or hist[%0], %10\n"
              "  %17: i32 = array_atomic xor hist[%0], %10\n"
              "}\n");
}

TEST(Collectives, AtomicMisusesAreErrors) {
  expect_trace_error("on_input",
                     [](KernelBuilder& b) {
                       Tensor in = b.input("in", DType::U32);
                       atomic_add(in, thread_id(0), u32(1));
                     },
                     {"atomic: param 'in' is an input; atomics need an output"});
  expect_trace_error("per_thread",
                     [](KernelBuilder& b) {
                       ArrayRef a = b.thread_array("mine", DType::U32, 4);
                       atomic_or(a, u32(0), u32(1));
                     },
                     {"atomic: array 'mine' is per-thread; atomics need threadgroup memory"});
  expect_trace_error("wrong_type",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::U32);
                       Val t = thread_id(0);
                       atomic_add(out, t, i32(1));
                     },
                     {"atomic: value %1 (i32) differs from the element type u32"});
  expect_trace_error("array_type",
                     [](KernelBuilder& b) {
                       ArrayRef a = b.threadgroup_array("tile", DType::F32, 4);
                       Val i = u32(0);
                       atomic_add(a, i, u32(1));
                     },
                     {"atomic: value %1 (u32) differs from the element type f32"});
  expect_trace_error("f32_max",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F32);
                       Val t = thread_id(0);
                       atomic_max(out, t, f32(1));
                     },
                     {"atomic max: does not accept %1 (f32)"});
  expect_trace_error("f32_xor_array",
                     [](KernelBuilder& b) {
                       ArrayRef a = b.threadgroup_array("tile", DType::F32, 4);
                       Val i = u32(0);
                       atomic_xor(a, i, f32(1));
                     },
                     {"array_atomic xor: does not accept %1 (f32)"});
  expect_trace_error("f16_add",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F16);
                       atomic_add(out, thread_id(0), f32(1).to(DType::F16));
                     },
                     {"atomic add: does not accept", "(f16)"});
  expect_trace_error("index_f32",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::U32);
                       Val i = f32(0);
                       atomic_add(out, i, u32(1));
                     },
                     {"atomic: index %0 (f32) must be u32 or i32"});
}

TEST(Collectives, VectorLoadsAndStores) {
  Kernel k = trace("vec", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F16);
    Tensor out = b.output("out", DType::F16);
    Val i = program_id(0) * 8u;
    ArrayRef v = load_vector(src, i, 8);  // 16 bytes
    ArrayRef w = load_vector(src, i, 4);  // 8 bytes, into a second array
    Val a = v[1];
    Val c = w[3];
    v[0] = a + c;
    store_vector(out, i, v, 8);
    store_vector(out, i, v, 4);  // the first 4 of 8
    store_vector(out, i, v, 2);  // 4 bytes
  });
  expect_text(print(k),
              "kernel vec mode=Grid3D\n"
              "  param src: input f16\n"
              "  param out: output f16\n"
              "  array src_vec: thread f16[8]\n"
              "  array src_vec_1: thread f16[4]\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 8\n"
              "  %2: u32 = mul %0, %1\n"
              "  load_vector src[%2] -> src_vec x8\n"
              "  load_vector src[%2] -> src_vec_1 x4\n"
              "  %3: u32 = const 1\n"
              "  %4: f16 = array_load src_vec[%3]\n"
              "  %5: u32 = const 3\n"
              "  %6: f16 = array_load src_vec_1[%5]\n"
              "  %7: f16 = add %4, %6\n"
              "  %8: u32 = const 0\n"
              "  array_store src_vec[%8] = %7\n"
              "  store_vector out[%2] <- src_vec x8\n"
              "  store_vector out[%2] <- src_vec x4\n"
              "  store_vector out[%2] <- src_vec x2\n"
              "}\n");
}

TEST(Collectives, VectorMisusesAreErrors) {
  expect_trace_error(
      "bytes12", [](KernelBuilder& b) { load_vector(b.input("src", DType::F32), u32(0), 3); },
      {"vector access to 'src': 3 x f32 is 12 bytes, not 2 or more lanes of 4, 8 or 16"});
  expect_trace_error(
      "bytes32",
      [](KernelBuilder& b) {
        Tensor out = b.output("out", DType::F32);
        store_vector(out, u32(0), b.thread_array("acc", DType::F32, 8), 8);
      },
      {"vector access to 'out': 8 x f32 is 32 bytes, not 2 or more lanes of 4, 8 or 16"});
  expect_trace_error("one_lane",
                     [](KernelBuilder& b) { load_vector(b.input("src", DType::F32), u32(0), 1); },
                     {"vector access to 'src': 1 x f32 is 4 bytes, not 2 or more lanes of 4, 8 "
                      "or 16"});
  expect_trace_error("index_f32",
                     [](KernelBuilder& b) { load_vector(b.input("src", DType::U8), f32(0), 8); },
                     {"vector access: index %0 (f32) must be u32 or i32"});
  expect_trace_error("to_input",
                     [](KernelBuilder& b) {
                       Tensor src = b.input("src", DType::F32);
                       store_vector(src, u32(0), b.thread_array("acc", DType::F32, 4), 4);
                     },
                     {"store_vector: param 'src' is an input"});
  expect_trace_error(
      "short",
      [](KernelBuilder& b) {
        Tensor out = b.output("out", DType::F32);
        store_vector(out, u32(0), b.thread_array("acc", DType::F32, 2), 4);
      },
      {"store_vector: array 'acc' must be a per-thread f32 array of at least 4 elements"});
  expect_trace_error("wrong_type",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F32);
                       store_vector(out, u32(0), b.thread_array("acc", DType::I32, 4), 4);
                     },
                     {"store_vector: array 'acc' must be a per-thread f32 array"});
  expect_trace_error("shared",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F32);
                       store_vector(out, u32(0), b.threadgroup_array("tile", DType::F32, 4), 4);
                     },
                     {"store_vector: array 'tile' must be a per-thread f32 array"});
}

}  // namespace
}  // namespace mt
