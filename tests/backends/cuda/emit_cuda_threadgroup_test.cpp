// The CUDA emitter's text for threadgroup programming: thread identity, arrays (declared at the
// top, aligned, guarded in checked mode), vector access, atomics, barriers, warp and
// threadgroup collectives, and the unrolling of short constant loops. Kernels are built with
// mt::make directly, so value numbers are known.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_dialect.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"

namespace mt::cuda {
namespace {

const CDialect& kCuda = cuda_dialect();

ValueId push(Block& block, Instr in) {
  const ValueId result = in.result;
  block.instrs.push_back(std::move(in));
  return result;
}

// Appended: g++ 12 at -O3 misreads "v" + a temporary string as an overlapping copy.
std::string v(ValueId id) { return std::string("v").append(std::to_string(id.index)); }

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

#define EXPECT_CONTAINS(text, piece) \
  EXPECT_TRUE(contains(text, piece)) << "missing: " << (piece) << "\nin:\n" << (text)
#define EXPECT_LACKS(text, piece) \
  EXPECT_FALSE(contains(text, piece)) << "unexpected: " << (piece) << "\nin:\n" << (text)

std::string checked(const Kernel& k) { return emit_cuda(k, EmitOptions{.checked = true}).code; }
std::string unchecked(const Kernel& k) { return emit_cuda(k, EmitOptions{.checked = false}).code; }

// The site number the emitter gives the first instruction of kind `op` (pre-order).
std::string site_of(const Kernel& k, OpKind op) {
  for (std::uint32_t site = 0;; ++site) {
    const Instr* in = instr_at_site(k, site);
    if (in == nullptr) return "no site";
    if (in->op == op) return std::to_string(site) + "u";
  }
}

Kernel kernel_named(std::string name, std::vector<Param> params) {
  Kernel k;
  k.name = std::move(name);
  k.mode = KernelMode::Reduction;
  k.params = std::move(params);
  return k;
}

TEST(EmitCudaThreadgroup, ThreadIdentityPerAxis) {
  Kernel k = kernel_named("ids", {{"out", ParamKind::Output, DType::U32}});
  const std::pair<OpKind, std::string> expected[] = {{OpKind::ThreadId, "threadIdx."},
                                                     {OpKind::ThreadgroupId, "blockIdx."},
                                                     {OpKind::ThreadsPerThreadgroup, "blockDim."},
                                                     {OpKind::ThreadgroupsPerGrid, "gridDim."}};
  std::vector<std::string> lines;
  for (const auto& [op, spelling] : expected) {
    for (int axis = 0; axis < 3; ++axis) {
      const ValueId id = push(k.body, make::thread_index(k, op, axis));
      push(k.body, make::store(k, ParamId{0}, id, id));
      lines.push_back("const unsigned int " + v(id) + " = " + spelling +
                      std::string(1, "xyz"[axis]) + ";");
    }
  }
  const ValueId lane = push(k.body, make::thread_index(k, OpKind::LaneId, 0));
  const ValueId warp = push(k.body, make::thread_index(k, OpKind::WarpId, 0));
  push(k.body, make::store(k, ParamId{0}, lane, warp));
  verify(k);
  const std::string code = unchecked(k);
  for (const std::string& line : lines) EXPECT_CONTAINS(code, line);
  EXPECT_CONTAINS(code, "const unsigned int " + v(lane) + " = mt_lane_id();");
  EXPECT_CONTAINS(code, "const unsigned int " + v(warp) + " = mt_warp_id();");
}

// tile: threadgroup f32[256]; acc: thread f32[4]; flags: thread bool[8]; each stored and
// loaded at thread_id(0).
Kernel arrays_kernel() {
  Kernel k = kernel_named(
      "arrays", {{"out", ParamKind::Output, DType::F32}, {"ok", ParamKind::Output, DType::Bool}});
  const ArrayId tile = k.new_array({"tile", DType::F32, MemorySpace::Threadgroup, 256, {}});
  const ArrayId acc = k.new_array({"acc", DType::F32, MemorySpace::Thread, 4, {}});
  const ArrayId flags = k.new_array({"flags", DType::Bool, MemorySpace::Thread, 8, {}});
  const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));  // %0
  const ValueId one = push(k.body, make::constant(k, DType::F32, Scalar::of_float(1.0)));
  const ValueId yes = push(k.body, make::constant(k, DType::Bool, Scalar::of_int(1)));
  push(k.body, make::array_store(k, tile, tid, one));
  push(k.body, make::array_store(k, acc, tid, one));
  push(k.body, make::array_store(k, flags, tid, yes));
  push(k.body, make::barrier(OpKind::Barrier));
  const ValueId a = push(k.body, make::array_load(k, tile, tid));   // %3
  const ValueId b = push(k.body, make::array_load(k, acc, tid));    // %4
  const ValueId c = push(k.body, make::array_load(k, flags, tid));  // %5
  push(k.body, make::store(k, ParamId{0}, tid, push(k.body, make::binary(k, OpKind::Add, a, b))));
  push(k.body, make::store(k, ParamId{1}, tid, c));
  verify(k);
  return k;
}

TEST(EmitCudaThreadgroup, ArraysAreDeclaredAtTheTopAlignedInStorageTypes) {
  const Kernel k = arrays_kernel();
  const std::string code = unchecked(k);
  const std::string top =
      "    unsigned int* __restrict__ mt_error) {\n"
      "  __shared__ __align__(16) float tile[256];\n"
      "  float acc[4];\n"
      "  unsigned char flags[8];\n"
      "  mt_fault mt_first_fault = {};\n"
      "  const unsigned int v0 = threadIdx.x;\n";
  EXPECT_CONTAINS(code, top);
  // No collectives: no scratch.
  EXPECT_LACKS(code, "mt_scratch");
}

// The helpers check the index against the array's size in checked builds (the prelude's).
TEST(EmitCudaThreadgroup, ArrayAccessesPassTheArraysSize) {
  const Kernel k = arrays_kernel();
  const std::string code = checked(k);
  const std::string s = site_of(k, OpKind::ArrayStore);
  EXPECT_CONTAINS(code, "mt_array_store(tile, v0, v1, 256ull, mt_first_fault, " + s + ");");
  EXPECT_CONTAINS(code, "mt_array_store(acc, v0, v1, 4ull, mt_first_fault, 4u);");
  EXPECT_CONTAINS(code, "mt_array_store(flags, v0, (unsigned char)v2, 8ull, mt_first_fault, 5u);");
  EXPECT_CONTAINS(code, "const float v3 = mt_array_load(tile, v0, 256ull, mt_first_fault, 7u);");
  EXPECT_CONTAINS(code, "const bool v5 = mt_array_load(flags, v0, 8ull, mt_first_fault, 9u) != 0;");
  EXPECT_LACKS(code, "tile[v0]");
  for (std::uint32_t site : {3u, 4u, 5u, 7u, 8u, 9u}) {
    const Instr* in = instr_at_site(k, site);
    ASSERT_NE(in, nullptr);
    EXPECT_TRUE(in->op == OpKind::ArrayStore || in->op == OpKind::ArrayLoad) << site;
  }
}

TEST(EmitCudaThreadgroup, ArrayNamesAreSanitisedAndDistinctFromParams) {
  Kernel k = kernel_named("names", {{"tile", ParamKind::Output, DType::F32}});
  const ArrayId a = k.new_array({"tile", DType::F32, MemorySpace::Threadgroup, 4, {}});
  const ArrayId b = k.new_array({"a-b", DType::I32, MemorySpace::Thread, 2, {}});
  const ArrayId c = k.new_array({"uint4", DType::U32, MemorySpace::Thread, 2, {}});
  const ValueId zero = push(k.body, make::constant(k, DType::U32, Scalar::of_int(0)));
  const ValueId x = push(k.body, make::array_load(k, a, zero));
  push(k.body, make::store(k, ParamId{0}, zero, x));
  push(k.body, make::array_load(k, b, zero));
  push(k.body, make::array_load(k, c, zero));
  const std::string code = unchecked(k);
  EXPECT_CONTAINS(code, "__shared__ __align__(16) float tile_2[4];");
  EXPECT_CONTAINS(code, "  int a_b[2];");
  EXPECT_CONTAINS(code, "unsigned int p_uint4[2];");
}

TEST(EmitCudaThreadgroup, AnArraySizedByAnUnspecialisedScalarIsAnError) {
  Kernel k = kernel_named("sized", {{"n", ParamKind::Scalar, DType::U32}});
  k.new_array({"row", DType::F32, MemorySpace::Threadgroup, 0, ParamId{0}});
  try {
    emit_cuda(k);
    FAIL() << "expected mt::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "kernel 'sized': array 'row': size comes from scalar 'n', which must be "
              "specialised (pass it in consts)");
  }
}

// load_vector src[i .. i+4) -> vec; store_vector out[i .. i+4) <- vec; i = thread_id * 4.
Kernel vector_kernel(DType t, std::uint32_t lanes) {
  Kernel k = kernel_named("vectors", {{"src", ParamKind::Input, t}, {"out", ParamKind::Output, t}});
  const ArrayId vec = k.new_array({"src_vec", t, MemorySpace::Thread, lanes, {}});
  const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));
  const ValueId n = push(k.body, make::constant(k, DType::U32, Scalar::of_int(lanes)));
  const ValueId i = push(k.body, make::binary(k, OpKind::Mul, tid, n));
  push(k.body, make::load_vector(k, ParamId{0}, i, vec, lanes));
  push(k.body, make::store_vector(k, ParamId{1}, i, vec, lanes));
  verify(k);
  return k;
}

TEST(EmitCudaThreadgroup, VectorAccessIsOneWideCopyThroughTheHelpers) {
  const Kernel k = vector_kernel(DType::F32, 4);
  const std::string code = checked(k);
  EXPECT_CONTAINS(code, "  float src_vec[4];\n");
  EXPECT_CONTAINS(code, "mt_load_vector<4u>(src_vec, src, v2, mt_count_src, mt_first_fault, 3u);");
  EXPECT_CONTAINS(code, "mt_store_vector<4u>(out, v2, src_vec, mt_count_out, mt_first_fault, 4u);");
  EXPECT_LACKS(code, "mt_vector_copy");
  // Eight halves make 16 bytes; a bool array is stored as bytes.
  EXPECT_CONTAINS(unchecked(vector_kernel(DType::F16, 8)),
                  "mt_load_vector<8u>(src_vec, src, v2, mt_count_src, mt_first_fault, 3u);");
  EXPECT_CONTAINS(unchecked(vector_kernel(DType::Bool, 16)), "  unsigned char src_vec[16];\n");
}

TEST(EmitCudaThreadgroup, AtomicsOnTensorsAndThreadgroupArrays) {
  Kernel k = kernel_named("atomics", {{"hist", ParamKind::Output, DType::U32},
                                      {"total", ParamKind::Output, DType::F32},
                                      {"count", ParamKind::Output, DType::I32}});
  const ArrayId bins = k.new_array({"bins", DType::I32, MemorySpace::Threadgroup, 64, {}});
  const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));  // %0
  const ValueId one = push(k.body, make::constant(k, DType::F32, Scalar::of_float(1.0)));
  const ValueId ione = push(k.body, make::constant(k, DType::I32, Scalar::of_int(1)));
  const CombineOp combines[] = {CombineOp::Add, CombineOp::Max, CombineOp::Min,
                                CombineOp::And, CombineOp::Or,  CombineOp::Xor};
  const std::string combine_types[] = {"mt_combine_add", "mt_combine_max", "mt_combine_min",
                                       "mt_combine_and", "mt_combine_or",  "mt_combine_xor"};
  std::vector<ValueId> global, shared;
  for (CombineOp c : combines) {
    global.push_back(push(k.body, make::atomic_global(k, c, ParamId{0}, tid, tid)));
    shared.push_back(push(k.body, make::atomic_array(k, c, bins, tid, ione)));
  }
  const ValueId f = push(k.body, make::atomic_global(k, CombineOp::Add, ParamId{1}, tid, one));
  verify(k);
  const std::string guarded = checked(k);
  for (std::size_t i = 0; i < global.size(); ++i) {
    SCOPED_TRACE(combine_types[i]);
    EXPECT_CONTAINS(guarded, "const unsigned int " + v(global[i]) + " = mt_atomic<" +
                                 combine_types[i] +
                                 ">(hist, v0, v0, mt_count_hist, mt_first_fault, ");
    EXPECT_CONTAINS(guarded, "const int " + v(shared[i]) + " = mt_array_atomic<" +
                                 combine_types[i] + ">(bins, v0, v2, 64ull, mt_first_fault, ");
  }
  EXPECT_CONTAINS(guarded, "const float " + v(f) +
                               " = mt_atomic<mt_combine_add>(total, v0, v1, mt_count_total, "
                               "mt_first_fault, 15u);");
  EXPECT_EQ(instr_at_site(k, 15)->op, OpKind::AtomicGlobal);
}

TEST(EmitCudaThreadgroup, Barriers) {
  Kernel k = kernel_named("sync", {});
  push(k.body, make::barrier(OpKind::Barrier));
  push(k.body, make::barrier(OpKind::WarpBarrier));
  const std::string code = unchecked(k);
  EXPECT_CONTAINS(code, "  __syncthreads();\n  __syncwarp(mt_warp_mask());\n");
}

TEST(EmitCudaThreadgroup, WarpCollectivesWidenHalfTypesAndRoundOnce) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U32}) {
    SCOPED_TRACE(std::string(name_of(t)));
    Kernel k = kernel_named("warp", {{"x", ParamKind::Input, t}, {"out", ParamKind::Output, t}});
    const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));  // %0
    const ValueId x = push(k.body, make::load(k, ParamId{0}, tid));                // %1
    const ValueId sum = push(k.body, make::warp_reduce(k, CombineOp::Add, x));
    const ValueId prod = push(k.body, make::warp_reduce(k, CombineOp::Mul, x));
    const ValueId max = push(k.body, make::warp_reduce(k, CombineOp::Max, x));
    const ValueId min = push(k.body, make::warp_reduce(k, CombineOp::Min, x));
    const ValueId incl = push(k.body, make::warp_prefix_sum(k, true, x));
    const ValueId excl = push(k.body, make::warp_prefix_sum(k, false, x));
    for (ValueId r : {sum, prod, max, min, incl, excl})
      push(k.body, make::store(k, ParamId{1}, tid, r));
    const std::string code = unchecked(k);
    const std::string T(kCuda.value_type(t));
    const std::string wide = call(kCuda.widen_function(t), "v1");
    const auto round = [&](const std::string& e) { return call(kCuda.narrow_function(t), e); };
    EXPECT_CONTAINS(code, "const " + T + " " + v(sum) + " = " +
                              round("mt_warp_reduce<mt_combine_add>(" + wide + ")") + ";");
    EXPECT_CONTAINS(code, "const " + T + " " + v(prod) + " = " +
                              round("mt_warp_reduce<mt_combine_mul>(" + wide + ")") + ";");
    EXPECT_CONTAINS(code, "const " + T + " " + v(max) + " = " +
                              round("mt_warp_reduce<mt_combine_max>(" + wide + ")") + ";");
    EXPECT_CONTAINS(code, "const " + T + " " + v(min) + " = " +
                              round("mt_warp_reduce<mt_combine_min>(" + wide + ")") + ";");
    EXPECT_CONTAINS(code, "const " + T + " " + v(incl) + " = " +
                              round("mt_warp_prefix_sum(" + wide + ", true)") + ";");
    EXPECT_CONTAINS(code, "const " + T + " " + v(excl) + " = " +
                              round("mt_warp_prefix_sum(" + wide + ", false)") + ";");
  }
}

TEST(EmitCudaThreadgroup, ShufflesMoveTheValueUnchanged) {
  Kernel k = kernel_named("shuffles", {{"x", ParamKind::Input, DType::F16}});
  const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));  // %0
  const ValueId x = push(k.body, make::load(k, ParamId{0}, tid));                // %1
  const std::pair<ShuffleKind, std::string> kinds[] = {{ShuffleKind::Index, "mt_shuffle"},
                                                       {ShuffleKind::Xor, "mt_shuffle_xor"},
                                                       {ShuffleKind::Up, "mt_shuffle_up"},
                                                       {ShuffleKind::Down, "mt_shuffle_down"}};
  for (const auto& [kind, function] : kinds) {
    const ValueId r = push(k.body, make::warp_shuffle(k, kind, x, tid));
    EXPECT_CONTAINS(unchecked(k), "const __half " + v(r) + " = " + function + "(v1, v0);");
  }
}

TEST(EmitCudaThreadgroup, ThreadgroupCollectivesShareOneScratch) {
  Kernel k = kernel_named("group", {{"x", ParamKind::Input, DType::BF16},
                                    {"out", ParamKind::Output, DType::BF16},
                                    {"best", ParamKind::Output, DType::U32}});
  const ValueId tid = push(k.body, make::thread_index(k, OpKind::ThreadId, 0));  // %0
  const ValueId x = push(k.body, make::load(k, ParamId{0}, tid));                // %1
  const ValueId sum = push(k.body, make::threadgroup_reduce(k, CombineOp::Add, x));
  const ValueId max = push(k.body, make::threadgroup_reduce(k, CombineOp::Max, x));
  const ValueId min = push(k.body, make::threadgroup_reduce(k, CombineOp::Min, x));
  const ValueId arg = push(k.body, make::threadgroup_argmax(k, x, tid));
  for (ValueId r : {sum, max, min}) push(k.body, make::store(k, ParamId{1}, tid, r));
  push(k.body, make::store(k, ParamId{2}, tid, arg));
  verify(k);
  const std::string code = unchecked(k);
  const std::string scratch =
      "__shared__ __align__(16) unsigned char mt_scratch[mt_scratch_bytes];";
  EXPECT_CONTAINS(code, "  " + scratch + "\n  mt_fault mt_first_fault = {};\n");
  EXPECT_EQ(code.find(scratch), code.rfind(scratch)) << "declared once:\n" << code;
  EXPECT_CONTAINS(code, "const __nv_bfloat16 " + v(sum) +
                            " = __float2bfloat16_rn(mt_threadgroup_reduce<mt_combine_add>("
                            "__bfloat162float(v1), mt_scratch));");
  EXPECT_CONTAINS(code, "mt_threadgroup_reduce<mt_combine_max>(__bfloat162float(v1), mt_scratch)");
  EXPECT_CONTAINS(code, "mt_threadgroup_reduce<mt_combine_min>(__bfloat162float(v1), mt_scratch)");
  // The result is the index: no rounding.
  EXPECT_CONTAINS(code, "const unsigned int " + v(arg) +
                            " = mt_threadgroup_argmax(__bfloat162float(v1), v0, mt_scratch);");
}

// for (i in [lo, hi) step 1) acc[0] = acc[0] + 1, with constant or scalar bounds.
std::string loop_code(std::int64_t lo, std::int64_t hi, bool scalar_hi) {
  Kernel k = kernel_named("loop", {{"n", ParamKind::Scalar, DType::U32}});
  const ArrayId acc = k.new_array({"acc", DType::U32, MemorySpace::Thread, 1, {}});
  const ValueId first = push(k.body, make::constant(k, DType::U32, Scalar::of_int(lo)));
  const ValueId last = scalar_hi ? push(k.body, make::scalar_param(k, ParamId{0}))
                                 : push(k.body, make::constant(k, DType::U32, Scalar::of_int(hi)));
  const ValueId step = push(k.body, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr loop = make::for_loop(k, first, last, step);
  const ValueId zero = push(loop.blocks[0], make::constant(k, DType::U32, Scalar::of_int(0)));
  push(loop.blocks[0], make::array_store(k, acc, zero, loop.result));
  k.body.instrs.push_back(std::move(loop));
  return unchecked(k);
}

TEST(EmitCudaThreadgroup, ShortConstantLoopsAreUnrolled) {
  const std::regex unrolled("#pragma unroll\n *for \\(");
  EXPECT_TRUE(std::regex_search(loop_code(0, 8, false), unrolled)) << loop_code(0, 8, false);
  EXPECT_TRUE(std::regex_search(loop_code(10, 74, false), unrolled)) << "64 trips";
  EXPECT_FALSE(std::regex_search(loop_code(10, 75, false), unrolled)) << "65 trips";
  EXPECT_FALSE(std::regex_search(loop_code(0, 8, true), unrolled)) << "bound from a scalar";
}

}  // namespace
}  // namespace mt::cuda
