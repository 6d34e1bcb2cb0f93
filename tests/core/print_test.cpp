// The printer: kernels built by hand with mt::make::* print as exact, stable text.
#include "metaltile/core/print.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace mt {
namespace {

// Appends an instruction to a block and returns its result.
ValueId emit(Block& block, Instr in) {
  const ValueId result = in.result;
  block.instrs.push_back(std::move(in));
  return result;
}

// Compares whole texts; on a mismatch shows both as they print, not as escaped strings.
void expect_text(const std::string& actual, const std::string& expected) {
  EXPECT_EQ(actual, expected) << "actual:\n" << actual << "expected:\n" << expected;
}

// A kernel using every construct: params of each kind, a local, a contract with require,
// a loop inside an if with an else arm, and each op shape.
Kernel sample_kernel() {
  Kernel k;
  k.name = "sample";
  k.mode = KernelMode::Grid3D;
  k.params = {{"src", ParamKind::Input, DType::F16},
              {"out", ParamKind::Output, DType::F32},
              {"n", ParamKind::Scalar, DType::U32}};
  const ParamId src{0}, out{1}, n{2};
  const LocalId acc = k.new_local("acc", DType::F32);

  const ValueId cn = emit(k.contract, make::scalar_param(k, n));
  const ValueId limit = emit(k.contract, make::constant(k, DType::U32, Scalar::of_int(1024)));
  const ValueId ok = emit(k.contract, make::compare(k, OpKind::Le, cn, limit));
  emit(k.contract, make::require(k, ok, "n <= 1024"));

  const ValueId pid = emit(k.body, make::program_id(k, 0));
  const ValueId bn = emit(k.body, make::scalar_param(k, n));
  const ValueId inside = emit(k.body, make::compare(k, OpKind::Lt, pid, bn));
  Instr branch = make::if_then_else(k, inside);
  Block& then = branch.blocks[0];
  const ValueId x = emit(then, make::load(k, src, pid));
  const ValueId xf = emit(then, make::cast(k, DType::F32, x));
  const ValueId zero = emit(then, make::constant(k, DType::U32, Scalar::of_int(0)));
  const ValueId one = emit(then, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr loop = make::for_loop(k, zero, bn, one);
  const ValueId a = emit(loop.blocks[0], make::local_read(k, acc));
  const ValueId e = emit(loop.blocks[0], make::unary(k, OpKind::Exp, xf));
  const ValueId sum = emit(loop.blocks[0], make::binary(k, OpKind::Add, a, e));
  emit(loop.blocks[0], make::local_write(k, acc, sum));
  emit(then, std::move(loop));
  const ValueId total = emit(then, make::local_read(k, acc));
  const ValueId big = emit(then, make::compare(k, OpKind::Gt, total, xf));
  const ValueId pick = emit(then, make::select(k, big, total, xf));
  emit(then, make::store(k, out, pid, pick));
  const ValueId nan = emit(branch.blocks[1], make::constant(k, DType::F32, Scalar::of_float(NAN)));
  emit(branch.blocks[1], make::store(k, out, pid, nan));
  emit(k.body, std::move(branch));
  return k;
}

TEST(Print, SampleKernel) {
  expect_text(print(sample_kernel()),
              "kernel sample mode=Grid3D\n"
              "  param src: input f16\n"
              "  param out: output f32\n"
              "  param n: scalar u32\n"
              "  local acc: f32\n"
              "contract {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = const 1024\n"
              "  %2: bool = le %0, %1\n"
              "  require %2 \"n <= 1024\"\n"
              "}\n"
              "body {\n"
              "  %3: u32 = program_id 0\n"
              "  %4: u32 = scalar n\n"
              "  %5: bool = lt %3, %4\n"
              "  if %5 {\n"
              "    %6: f16 = load src[%3]\n"
              "    %7: f32 = cast %6\n"
              "    %8: u32 = const 0\n"
              "    %9: u32 = const 1\n"
              "    for %10: u32 in [%8, %4) step %9 {\n"
              "      %11: f32 = read acc\n"
              "      %12: f32 = exp %7\n"
              "      %13: f32 = add %11, %12\n"
              "      write acc = %13\n"
              "    }\n"
              "    %14: f32 = read acc\n"
              "    %15: bool = gt %14, %7\n"
              "    %16: f32 = select %15, %14, %7\n"
              "    store out[%3] = %16\n"
              "  } else {\n"
              "    %17: f32 = const nan\n"
              "    store out[%3] = %17\n"
              "  }\n"
              "}\n");
}

TEST(Print, IsDeterministicAndDependsOnlyOnTheKernel) {
  const Kernel a = sample_kernel();
  const Kernel b = a;
  const std::string first = print(a);
  EXPECT_EQ(first, print(a));
  EXPECT_EQ(first, print(b));
  EXPECT_EQ(first, print(sample_kernel()));
}

TEST(Print, EmptyElseIsOmittedAndEmptyContractToo) {
  Kernel k;
  k.name = "branchy";
  k.mode = KernelMode::Elementwise;
  k.params = {{"out", ParamKind::Output, DType::I32}};
  const ValueId pid = emit(k.body, make::program_id(k, 2));
  const ValueId t = emit(k.body, make::constant(k, DType::Bool, Scalar::of_int(1)));
  Instr outer = make::if_then_else(k, t);
  Instr inner = make::if_then_else(k, t);
  const ValueId v = emit(inner.blocks[0], make::constant(k, DType::I32, Scalar::of_int(-7)));
  emit(inner.blocks[0], make::store(k, ParamId{0}, pid, v));
  emit(outer.blocks[0], std::move(inner));
  emit(k.body, std::move(outer));
  expect_text(print(k),
              "kernel branchy mode=Elementwise\n"
              "  param out: output i32\n"
              "body {\n"
              "  %0: u32 = program_id 2\n"
              "  %1: bool = const true\n"
              "  if %1 {\n"
              "    if %1 {\n"
              "      %2: i32 = const -7\n"
              "      store out[%0] = %2\n"
              "    }\n"
              "  }\n"
              "}\n");
}

TEST(Print, EmptyKernelStillShowsItsBody) {
  Kernel k;
  k.name = "nothing";
  k.mode = KernelMode::Reduction;
  expect_text(print(k), "kernel nothing mode=Reduction\nbody {\n}\n");
}

TEST(Print, UnnamedLocalsPrintByIndex) {
  Kernel k;
  k.name = "locals";
  k.new_local("acc", DType::F32);
  const LocalId unnamed = k.new_local("", DType::U8);
  const ValueId r = emit(k.body, make::local_read(k, unnamed));
  emit(k.body, make::local_write(k, unnamed, r));
  expect_text(print(k),
              "kernel locals mode=Grid3D\n"
              "  local acc: f32\n"
              "  local l1: u8\n"
              "body {\n"
              "  %0: u8 = read l1\n"
              "  write l1 = %0\n"
              "}\n");
}

// Each literal as print_instr shows it, for one (dtype, stored scalar) pair.
std::string const_text(DType t, Scalar s) {
  Kernel k;
  k.name = "c";
  return print_instr(k, make::constant(k, t, s));
}

TEST(Print, IntegerAndBoolLiteralsAreExactDecimals) {
  EXPECT_EQ(const_text(DType::U32, Scalar::of_int(4294967295)), "%0: u32 = const 4294967295");
  EXPECT_EQ(const_text(DType::I32, Scalar::of_int(-2147483648)), "%0: i32 = const -2147483648");
  EXPECT_EQ(const_text(DType::I8, Scalar::of_int(-128)), "%0: i8 = const -128");
  EXPECT_EQ(const_text(DType::U8, Scalar::of_int(255)), "%0: u8 = const 255");
  EXPECT_EQ(const_text(DType::Bool, Scalar::of_int(1)), "%0: bool = const true");
  EXPECT_EQ(const_text(DType::Bool, Scalar::of_int(0)), "%0: bool = const false");
}

TEST(Print, FloatLiteralsRoundTripAndSpecialValuesAreWords) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(0.1f)), "%0: f32 = const 0.1");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(1.5)), "%0: f32 = const 1.5");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(-2)), "%0: f32 = const -2");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(-0.0)), "%0: f32 = const -0");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(3.4028234663852886e38)),
            "%0: f32 = const 3.4028235e+38");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(1.401298464324817e-45)),
            "%0: f32 = const 1e-45");
  EXPECT_EQ(const_text(DType::F16, Scalar::of_float(65504)), "%0: f16 = const 65504");
  EXPECT_EQ(const_text(DType::BF16, Scalar::of_float(0.0078125)), "%0: bf16 = const 0.0078125");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(NAN)), "%0: f32 = const nan");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(-NAN)), "%0: f32 = const nan");
  EXPECT_EQ(const_text(DType::F16, Scalar::of_float(inf)), "%0: f16 = const inf");
  EXPECT_EQ(const_text(DType::F16, Scalar::of_float(-inf)), "%0: f16 = const -inf");
  // The stored double is printed, not an f32 rounding of it: 2^24 + 1 is no f32 value.
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(16777217.0)), "%0: f32 = const 16777217");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(0.1)), "%0: f32 = const 0.1");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(1e300)), "%0: f32 = const 1e+300");
}

TEST(Print, DistinctF32LiteralsPrintDistinctly) {
  // Neighbouring f32 values must not collapse to one text (the printed IR is hashed).
  const float a = 1.0f / 3.0f;
  const float b = std::nextafter(a, 1.0f);
  EXPECT_NE(const_text(DType::F32, Scalar::of_float(a)),
            const_text(DType::F32, Scalar::of_float(b)));
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(a)), "%0: f32 = const 0.33333334");
  EXPECT_EQ(const_text(DType::F32, Scalar::of_float(b)), "%0: f32 = const 0.33333337");
}

TEST(Print, RequireMessagesAreQuotedAndEscaped) {
  Kernel k;
  k.name = "r";
  const ValueId c = emit(k.contract, make::constant(k, DType::Bool, Scalar::of_int(1)));
  EXPECT_EQ(print_instr(k, make::require(k, c, "say \"hi\"\\ now\nplease\x01")),
            "require %0 \"say \\\"hi\\\"\\\\ now\\nplease\\x01\"");
  EXPECT_EQ(print_instr(k, make::require(k, c, "")), "require %0 \"\"");
}

TEST(Print, LengthRequirementsShowTheTensorCountAndFormula) {
  Kernel k;
  k.name = "r";
  k.params = {{"out_w", ParamKind::Output, DType::U32}};
  const ValueId n = emit(k.contract, make::constant(k, DType::U32, Scalar::of_int(8)));
  EXPECT_EQ(print_instr(k, make::require_len(k, ParamId{0}, n, false, "heads*max_seq")),
            "require_len out_w, %0 \"heads*max_seq\"");
  EXPECT_EQ(print_instr(k, make::require_len(k, ParamId{0}, n, true, "head_dim")),
            "require_len_multiple out_w, %0 \"head_dim\"");
}

TEST(Print, PrintInstrMatchesTheLineInPrint) {
  const Kernel k = sample_kernel();
  const std::string text = print(k);
  const Instr& branch = k.body.instrs.back();
  for (const Instr* in :
       {&k.contract.instrs[3], &k.body.instrs[0], &branch, &branch.blocks[0].instrs[0],
        &branch.blocks[0].instrs[4], &branch.blocks[0].instrs[8]}) {
    const std::string line = print_instr(k, *in);
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\nnot in:\n" << text;
  }
  EXPECT_EQ(print_instr(k, branch.blocks[0].instrs[4]), "for %10: u32 in [%8, %4) step %9 {");
  EXPECT_EQ(print_instr(k, branch), "if %5 {");
  EXPECT_EQ(print_instr(k, branch.blocks[0].instrs[8]), "store out[%3] = %16");
}

TEST(Print, EveryOpKindPrintsItsName) {
  // Unary, binary and comparison ops share one layout; check each one's spelling.
  Kernel k;
  k.name = "ops";
  k.params = {{"src", ParamKind::Input, DType::F16}};
  const ValueId f = emit(k.body, make::constant(k, DType::F32, Scalar::of_float(1)));
  const ValueId u = emit(k.body, make::constant(k, DType::U32, Scalar::of_int(1)));
  EXPECT_EQ(print_instr(k, make::unary(k, OpKind::Rsqrt, f)), "%2: f32 = rsqrt %0");
  EXPECT_EQ(print_instr(k, make::unary(k, OpKind::Not, u)), "%3: u32 = not %1");
  EXPECT_EQ(print_instr(k, make::bitcast(k, DType::I32, f)), "%4: i32 = bitcast %0");
  EXPECT_EQ(print_instr(k, make::binary(k, OpKind::Shr, u, u)), "%5: u32 = shr %1, %1");
  EXPECT_EQ(print_instr(k, make::binary(k, OpKind::Rem, u, u)), "%6: u32 = rem %1, %1");
  EXPECT_EQ(print_instr(k, make::compare(k, OpKind::Ne, f, f)), "%7: bool = ne %0, %0");
  EXPECT_EQ(print_instr(k, make::compare(k, OpKind::Ge, u, u)), "%8: bool = ge %1, %1");
  EXPECT_EQ(print_instr(k, make::tensor_len(k, ParamId{0})), "%9: u32 = len src");
}

TEST(Print, BrokenIrStillPrints) {
  // MT_DUMP_IR must show what a faulty pass produced rather than assert.
  Kernel k;
  k.name = "broken";
  Instr load;
  load.op = OpKind::Load;
  load.dtype = DType::F32;
  load.result = ValueId{9};
  load.param = ParamId{4};
  Instr add;
  add.op = OpKind::Add;
  add.dtype = DType::U32;
  add.operands = {ValueId{1}};
  EXPECT_EQ(print_instr(k, load), "%9: f32 = load ?param[%?]");
  EXPECT_EQ(print_instr(k, add), "%?: u32 = add %1");
}

// Every threadgroup-programming op and each kind of array, with their variants.
Kernel threadgroup_kernel() {
  Kernel k;
  k.name = "tg";
  k.mode = KernelMode::Reduction;
  k.params = {{"src", ParamKind::Input, DType::F32},
              {"out", ParamKind::Output, DType::F32},
              {"counts", ParamKind::Output, DType::U32},
              {"n", ParamKind::Scalar, DType::U32}};
  const ParamId src{0}, out{1}, counts{2}, n{3};
  k.new_local("best", DType::U32);
  const ArrayId tile = k.new_array({"tile", DType::F32, MemorySpace::Threadgroup, 256, {}});
  const ArrayId acc = k.new_array({"acc", DType::F32, MemorySpace::Thread, 4, {}});
  k.new_array({"buf", DType::F16, MemorySpace::Threadgroup, 0, n});
  const ArrayId hist = k.new_array({"hist", DType::U32, MemorySpace::Threadgroup, 8, {}});

  const ValueId tid = emit(k.body, make::thread_index(k, OpKind::ThreadId, 0));
  emit(k.body, make::thread_index(k, OpKind::ThreadgroupId, 1));
  emit(k.body, make::thread_index(k, OpKind::ThreadsPerThreadgroup, 2));
  emit(k.body, make::thread_index(k, OpKind::ThreadgroupsPerGrid, 1));
  const ValueId lane = emit(k.body, make::thread_index(k, OpKind::LaneId, 0));
  emit(k.body, make::thread_index(k, OpKind::WarpId, 0));
  const ValueId x = emit(k.body, make::load(k, src, tid));
  emit(k.body, make::array_store(k, tile, tid, x));
  emit(k.body, make::barrier(OpKind::Barrier));
  const ValueId y = emit(k.body, make::array_load(k, tile, lane));
  emit(k.body, make::load_vector(k, src, tid, acc, 4));
  emit(k.body, make::store_vector(k, out, tid, acc, 4));
  const ValueId one = emit(k.body, make::constant(k, DType::U32, Scalar::of_int(1)));
  emit(k.body, make::atomic_global(k, CombineOp::Add, counts, tid, one));
  emit(k.body, make::atomic_array(k, CombineOp::Max, hist, lane, one));
  emit(k.body, make::atomic_array(k, CombineOp::Xor, hist, lane, one));
  emit(k.body, make::barrier(OpKind::WarpBarrier));
  emit(k.body, make::warp_reduce(k, CombineOp::Add, y));
  emit(k.body, make::warp_reduce(k, CombineOp::Mul, y));
  emit(k.body, make::warp_shuffle(k, ShuffleKind::Xor, y, lane));
  emit(k.body, make::warp_shuffle(k, ShuffleKind::Index, y, one));
  emit(k.body, make::warp_shuffle(k, ShuffleKind::Up, y, one));
  emit(k.body, make::warp_shuffle(k, ShuffleKind::Down, y, one));
  emit(k.body, make::warp_prefix_sum(k, false, y));
  emit(k.body, make::warp_prefix_sum(k, true, y));
  emit(k.body, make::threadgroup_reduce(k, CombineOp::Max, y));
  emit(k.body, make::threadgroup_reduce(k, CombineOp::Min, y));
  const ValueId arg = emit(k.body, make::threadgroup_argmax(k, y, tid));
  emit(k.body, make::local_write(k, LocalId{0}, arg));
  return k;
}

TEST(Print, ThreadgroupOpsAndArrays) {
  expect_text(print(threadgroup_kernel()),
              "kernel tg mode=Reduction\n"
              "  param src: input f32\n"
              "  param out: output f32\n"
              "  param counts: output u32\n"
              "  param n: scalar u32\n"
              "  local best: u32\n"
              "  array tile: threadgroup f32[256]\n"
              "  array acc: thread f32[4]\n"
              "  array buf: threadgroup f16[size=n]\n"
              "  array hist: threadgroup u32[8]\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %1: u32 = threadgroup_id 1\n"
              "  %2: u32 = threads_per_threadgroup 2\n"
              "  %3: u32 = threadgroups_per_grid 1\n"
              "  %4: u32 = lane_id\n"
              "  %5: u32 = warp_id\n"
              "  %6: f32 = load src[%0]\n"
              "  array_store tile[%0] = %6\n"
              "  barrier\n"
              "  %7: f32 = array_load tile[%4]\n"
              "  load_vector src[%0] -> acc x4\n"
              "  store_vector out[%0] <- acc x4\n"
              "  %8: u32 = const 1\n"
              "  %9: u32 = atomic add counts[%0], %8\n"
              "  %10: u32 = array_atomic max hist[%4], %8\n"
              "  %11: u32 = array_atomic xor hist[%4], %8\n"
              "  warp_barrier\n"
              "  %12: f32 = warp_reduce add %7\n"
              "  %13: f32 = warp_reduce mul %7\n"
              "  %14: f32 = warp_shuffle xor %7, %4\n"
              "  %15: f32 = warp_shuffle index %7, %8\n"
              "  %16: f32 = warp_shuffle up %7, %8\n"
              "  %17: f32 = warp_shuffle down %7, %8\n"
              "  %18: f32 = warp_prefix_sum exclusive %7\n"
              "  %19: f32 = warp_prefix_sum inclusive %7\n"
              "  %20: f32 = threadgroup_reduce max %7\n"
              "  %21: f32 = threadgroup_reduce min %7\n"
              "  %22: u32 = threadgroup_argmax %7, %0\n"
              "  write best = %22\n"
              "}\n");
}

TEST(Print, ThreadgroupLinesAreTheirInstrs) {
  const Kernel k = threadgroup_kernel();
  const std::string text = print(k);
  for (const Instr& in : k.body.instrs) {
    const std::string line = "  " + print_instr(k, in) + "\n";
    EXPECT_NE(text.find(line), std::string::npos) << line << "not in:\n" << text;
  }
}

TEST(Print, ArraysOutOfRangeOrUnnamedStillPrint) {
  Kernel k;
  k.name = "arrays";
  k.params = {{"src", ParamKind::Input, DType::F32}};
  const ArrayId unnamed = k.new_array({"", DType::I32, MemorySpace::Thread, 2, {}});
  const ValueId i = emit(k.body, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr load = make::array_load(k, unnamed, i);
  EXPECT_EQ(print_instr(k, load), "%1: i32 = array_load a0[%0]");
  load.array = ArrayId{7};
  EXPECT_EQ(print_instr(k, load), "%1: i32 = array_load ?array[%0]");
  // A size param out of range shows as such in the header.
  k.arrays[0].size_param = ParamId{5};
  EXPECT_NE(print(k).find("  array a0: thread i32[size=?param]\n"), std::string::npos) << print(k);
}

}  // namespace
}  // namespace mt
