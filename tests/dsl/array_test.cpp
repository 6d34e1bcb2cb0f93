// DSL arrays: threadgroup arrays of a fixed size or of a specialised scalar's size, per-thread
// arrays, element loads and stores; each misuse is an mt::Error naming the kernel.
#include "metaltile/dsl/array.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;

TEST(Array, DeclaredArraysAreListedInTheHeader) {
  Kernel k = trace("decl", KernelMode::Reduction, [](KernelBuilder& b) {
    Val n = b.scalar_u32("n");
    b.threadgroup_array("tile", DType::F32, 256);
    b.threadgroup_array("buf", DType::BF16, n);
    b.thread_array("acc", DType::F16, 4);
    b.thread_array("bytes", DType::F8E4M3, 8);  // per-thread fp8 storage is allowed
  });
  expect_text(print(k),
              "kernel decl mode=Reduction\n"
              "  param n: scalar u32\n"
              "  array tile: threadgroup f32[256]\n"
              "  array buf: threadgroup bf16[size=n]\n"
              "  array acc: thread f16[4]\n"
              "  array bytes: thread f8e4m3[8]\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "}\n");
}

TEST(Array, ElementsLoadAndStore) {
  Kernel k = trace("elems", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 64);
    ArrayRef acc = b.thread_array("acc", DType::F32, 2);
    Val t = thread_id(0);
    tile[t] = src[t];
    barrier();
    Val x = tile[t ^ 1u];  // a neighbour's element
    acc[1] = x;
    ArrayElement to = acc[0];
    ArrayElement from = acc[1];
    to = from;  // element to element: a load, then a store
    Val i = i32(0);
    Val mine = acc.load(i);
    Val own = tile[t].to(DType::F32);
    out[t] = mine + own;
  });
  expect_text(print(k),
              "kernel elems mode=Reduction\n"
              "  param src: input f32\n"
              "  param out: output f32\n"
              "  array tile: threadgroup f32[64]\n"
              "  array acc: thread f32[2]\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %1: f32 = load src[%0]\n"
              "  array_store tile[%0] = %1\n"
              "  barrier\n"
              "  %2: u32 = const 1\n"
              "  %3: u32 = xor %0, %2\n"
              "  %4: f32 = array_load tile[%3]\n"
              "  %5: u32 = const 1\n"
              "  array_store acc[%5] = %4\n"
              "  %6: u32 = const 0\n"
              "  %7: u32 = const 1\n"
              "  %8: f32 = array_load acc[%7]\n"
              "  array_store acc[%6] = %8\n"
              "  %9: i32 = const 0\n"
              "  %10: f32 = array_load acc[%9]\n"
              "  %11: f32 = array_load tile[%0]\n"
              "  %12: f32 = add %10, %11\n"
              "  store out[%0] = %12\n"
              "}\n");
}

TEST(Array, SizesMustBeKnownAtCompileTime) {
  expect_trace_error("zero", [](KernelBuilder& b) { b.threadgroup_array("tile", DType::F32, 0); },
                     {"threadgroup_array 'tile': size must be at least 1"});
  expect_trace_error("zero_thread", [](KernelBuilder& b) { b.thread_array("acc", DType::F32, 0); },
                     {"thread_array 'acc': size must be at least 1"});
  expect_trace_error(
      "computed",
      [](KernelBuilder& b) {
        Val n = b.scalar_u32("n");
        b.threadgroup_array("tile", DType::F32, n * 2u);
      },
      {"threadgroup_array 'tile': the size must be a u32 scalar parameter", "%2 (u32)"});
  expect_trace_error("constant",
                     [](KernelBuilder& b) { b.threadgroup_array("tile", DType::F32, u32(8)); },
                     {"threadgroup_array 'tile': the size must be a u32 scalar parameter"});
  expect_trace_error(
      "per_thread", [](KernelBuilder& b) { b.threadgroup_array("tile", DType::F32, thread_id(0)); },
      {"threadgroup_array 'tile': the size must be a u32 scalar parameter", "%0 (u32)"});
  expect_trace_error(
      "i32_scalar",
      [](KernelBuilder& b) { b.threadgroup_array("tile", DType::F32, b.scalar_i32("n")); },
      {"the size must be a u32 scalar parameter", "%0 (i32)"});
}

TEST(Array, ElementTypesAndNames) {
  expect_trace_error("bool", [](KernelBuilder& b) { b.threadgroup_array("flags", DType::Bool, 4); },
                     {"threadgroup_array 'flags': element type bool is not supported"});
  expect_trace_error("fp8",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       b.threadgroup_array("bytes", DType::F8E5M2, n);
                     },
                     {"threadgroup_array 'bytes': element type f8e5m2 is not supported"});
  expect_trace_error("twice",
                     [](KernelBuilder& b) {
                       b.threadgroup_array("tile", DType::F32, 4);
                       b.thread_array("tile", DType::F32, 4);
                     },
                     {"thread_array 'tile': an array of that name already exists"});
  expect_trace_error("unnamed", [](KernelBuilder& b) { b.threadgroup_array("", DType::F32, 4); },
                     {"threadgroup_array: an array needs a name"});
}

TEST(Array, ElementMisusesAreErrors) {
  expect_trace_error("index_f32",
                     [](KernelBuilder& b) {
                       ArrayRef tile = b.threadgroup_array("tile", DType::F32, 4);
                       Val x = tile[f32(1)];
                       (void)x;
                     },
                     {"array 'tile': index %0 (f32) must be u32 or i32"});
  expect_trace_error("store_index",
                     [](KernelBuilder& b) {
                       ArrayRef acc = b.thread_array("acc", DType::U32, 4);
                       Val i = i32(1).to(DType::U8);
                       acc[i] = u32(3);
                     },
                     {"array 'acc': index", "(u8) must be u32 or i32"});
  expect_trace_error("store_type",
                     [](KernelBuilder& b) {
                       ArrayRef tile = b.threadgroup_array("tile", DType::F16, 4);
                       tile[0] = f32(1);
                     },
                     {"array 'tile': storing %0 (f32) into f16 elements; convert it with .to()"});
  expect_trace_error("negative",
                     [](KernelBuilder& b) {
                       ArrayRef acc = b.thread_array("acc", DType::F32, 4);
                       Val x = acc[-1];
                       (void)x;
                     },
                     {"array index -1 is out of range"});
}

TEST(Array, RequireMayNotUseThreadsOrArrays) {
  expect_trace_error(
      "tid",
      [](KernelBuilder& b) {
        Val n = b.scalar_u32("n");
        b.require(thread_id(0) < n, "thread < n");
      },
      {"require: the condition may use only constants, scalar parameters, tensor lengths",
       "depends on a per-thread value"});
  expect_trace_error("lane", [](KernelBuilder& b) { b.require(lane_id() == 0u, "lane 0"); },
                     {"depends on a per-thread value"});
  expect_trace_error("gid", [](KernelBuilder& b) { b.require(threadgroup_id(0) == 0u, "group 0"); },
                     {"depends on a per-thread value"});
  expect_trace_error("array",
                     [](KernelBuilder& b) {
                       ArrayRef acc = b.thread_array("acc", DType::U32, 1);
                       Val x = acc[0];
                       b.require(x == 0u, "zero");
                     },
                     {"depends on a per-thread value"});
  expect_trace_error("collective",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       b.require(warp_sum(n) > 0u, "sum");
                     },
                     {"depends on a per-thread value"});
}

}  // namespace
}  // namespace mt
