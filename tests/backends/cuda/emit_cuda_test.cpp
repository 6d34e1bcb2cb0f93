// The CUDA emitter's text: explicit types and no `auto`, accesses through the prelude's helpers
// (checked or plain per the MT_CHECKED it defines), program_id per kernel mode, names, literals,
// conversions, the ABI's parameter list and error-record sites. Kernels are built with
// mt::make directly (no DSL).
#include "backends/cuda/emit_cuda.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_dialect.hpp"
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

// out[pid] = src[pid] for dtype t: %0 pid, %1 load; store.
Kernel copy_kernel(DType t, KernelMode mode = KernelMode::Grid3D) {
  Kernel k;
  k.name = "copy";
  k.mode = mode;
  k.params = {{"src", ParamKind::Input, t}, {"out", ParamKind::Output, t}};
  const ValueId pid = push(k.body, make::program_id(k, 0));
  const ValueId x = push(k.body, make::load(k, ParamId{0}, pid));
  push(k.body, make::store(k, ParamId{1}, pid, x));
  verify(k);
  return k;
}

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

#define EXPECT_CONTAINS(text, piece) \
  EXPECT_TRUE(contains(text, piece)) << "missing: " << (piece) << "\nin:\n" << (text)
#define EXPECT_LACKS(text, piece) \
  EXPECT_FALSE(contains(text, piece)) << "unexpected: " << (piece) << "\nin:\n" << (text)

// A kernel using every control construct: out[i] = sum over j < n of f16 src[j] (as f32),
// under if (pid < n). The contract requires n <= 4096 and must not appear in the code.
Kernel sum_kernel() {
  Kernel k;
  k.name = "sum";
  k.params = {{"src", ParamKind::Input, DType::F16},
              {"out", ParamKind::Output, DType::F32},
              {"n", ParamKind::Scalar, DType::U32}};
  const LocalId acc = k.new_local("acc", DType::F32);
  const ValueId cn = push(k.contract, make::scalar_param(k, ParamId{2}));
  const ValueId cap = push(k.contract, make::constant(k, DType::U32, Scalar::of_int(4096)));
  const ValueId ok = push(k.contract, make::compare(k, OpKind::Le, cn, cap));
  push(k.contract, make::require(k, ok, "n <= 4096"));

  const ValueId pid = push(k.body, make::program_id(k, 0));
  const ValueId n = push(k.body, make::scalar_param(k, ParamId{2}));
  const ValueId inside = push(k.body, make::compare(k, OpKind::Lt, pid, n));
  Instr branch = make::if_then_else(k, inside);
  Block& then = branch.blocks[0];
  const ValueId zero = push(then, make::constant(k, DType::F32, Scalar::of_float(0.0)));
  push(then, make::local_write(k, acc, zero));
  const ValueId lo = push(then, make::constant(k, DType::U32, Scalar::of_int(0)));
  const ValueId step = push(then, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr loop = make::for_loop(k, lo, n, step);
  Block& body = loop.blocks[0];
  const ValueId x = push(body, make::load(k, ParamId{0}, loop.result));
  const ValueId xf = push(body, make::cast(k, DType::F32, x));
  const ValueId a = push(body, make::local_read(k, acc));
  const ValueId s = push(body, make::binary(k, OpKind::Add, a, xf));
  push(body, make::local_write(k, acc, s));
  then.instrs.push_back(std::move(loop));
  const ValueId total = push(then, make::local_read(k, acc));
  push(then, make::store(k, ParamId{1}, pid, total));
  k.body.instrs.push_back(std::move(branch));
  verify(k);
  return k;
}

TEST(EmitCuda, WholeKernelReadsAsExpected) {
  const CudaSource src = emit_cuda(sum_kernel(), EmitOptions{.checked = false});
  EXPECT_EQ(src.entry, "mt_sum");
  const std::string expected_body = R"(#define MT_CHECKED 0
#include "metaltile_prelude.cuh"

extern "C" __global__ void mt_sum(
    const __half* __restrict__ src,
    float* __restrict__ out,
    unsigned int n,
    unsigned long long mt_count_src,
    unsigned long long mt_count_out,
    unsigned int* __restrict__ mt_error) {
  float acc = 0.0f;
  mt_fault mt_first_fault = {};
  const unsigned int v3 = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned int v4 = n;
  const bool v5 = v3 < v4;
  if (v5) {
    const float v6 = 0.0f;
    acc = v6;
    const unsigned int v7 = 0u;
    const unsigned int v8 = 1u;
    for (unsigned int v9 = mt_loop_start(v7, v4, v8, mt_first_fault, 8u); v9 < v4; v9 += v8) {
      const __half v10 = mt_load(src, v9, mt_count_src, mt_first_fault, 9u);
      const float v11 = __half2float(v10);
      const float v12 = acc;
      const float v13 = v12 + v11;
      acc = v13;
    }
    const float v14 = acc;
    mt_store(out, v3, v14, mt_count_out, mt_first_fault, 15u);
  }
  mt_report(mt_first_fault, mt_error);
}
)";
  const std::size_t at = src.code.find("#define MT_CHECKED");
  ASSERT_NE(at, std::string::npos) << src.code;
  EXPECT_EQ(src.code.substr(at), expected_body);
  // The contract (n <= 4096) is evaluated on the host, never emitted.
  EXPECT_LACKS(src.code, "4096");
}

TEST(EmitCuda, EveryValueHasAnExplicitTypeAndNoAuto) {
  for (bool checked : {false, true}) {
    const std::string code = emit_cuda(sum_kernel(), EmitOptions{.checked = checked}).code;
    EXPECT_FALSE(std::regex_search(code, std::regex("\\bauto\\b"))) << code;
    const std::regex value_line("^\\s*const (float|__half|unsigned int|bool) v[0-9]+ = .*;$");
    int values = 0;
    std::size_t start = 0;
    while (start < code.size()) {
      const std::size_t end = code.find('\n', start);
      const std::string line = code.substr(start, end - start);
      start = end == std::string::npos ? code.size() : end + 1;
      if (line.find(" v") == std::string::npos || line.find(" = ") == std::string::npos) continue;
      if (line.find("const ") == std::string::npos) continue;
      EXPECT_TRUE(std::regex_match(line, value_line)) << "line: " << line;
      ++values;
    }
    EXPECT_EQ(values, 11) << code;  // %3..%8 and %10..%14 (the loop variable %9 is no const)
  }
}

TEST(EmitCuda, EveryAccessAndLoopGoesThroughAHelper) {
  const Kernel k = sum_kernel();
  const std::string checked = emit_cuda(k, EmitOptions{.checked = true}).code;
  EXPECT_CONTAINS(checked,
                  "const __half v10 = mt_load(src, v9, mt_count_src, mt_first_fault, 9u);");
  EXPECT_CONTAINS(checked, "mt_store(out, v3, v14, mt_count_out, mt_first_fault, 15u);");
  EXPECT_CONTAINS(checked,
                  "for (unsigned int v9 = mt_loop_start(v7, v4, v8, mt_first_fault, 8u); "
                  "v9 < v4; v9 += v8) {");
  EXPECT_LACKS(checked, "src[");
  EXPECT_LACKS(checked, "out[");
  // Each thread keeps its first failure in registers and reports it when the body ends.
  EXPECT_CONTAINS(checked, "  float acc = 0.0f;\n  mt_fault mt_first_fault = {};\n");
  const std::string tail = "  mt_report(mt_first_fault, mt_error);\n}\n";
  EXPECT_EQ(checked.substr(checked.size() - tail.size()), tail) << checked;

  EXPECT_CONTAINS(checked, "#define MT_CHECKED 1\n#include \"metaltile_prelude.cuh\"\n");
}

// Checked and unchecked builds differ in one line, MT_CHECKED, which picks the prelude's
// definitions of the access helpers; the walker writes the same calls (and the header comment
// says which build it is).
TEST(EmitCuda, CheckedAndUncheckedBuildsWriteTheSameCalls) {
  const auto without_mode = [](std::string code) {
    for (const char* line :
         {"// kernel 'sum', mode Grid3D, checked: generated",
          "// kernel 'sum', mode Grid3D, unchecked: generated", "#define MT_CHECKED"}) {
      const std::size_t at = code.find(line);
      if (at != std::string::npos) code.erase(at, code.find('\n', at) + 1 - at);
    }
    return code;
  };
  const Kernel k = sum_kernel();
  const std::string checked = emit_cuda(k, EmitOptions{.checked = true}).code;
  const std::string unchecked = emit_cuda(k, EmitOptions{.checked = false}).code;
  EXPECT_CONTAINS(unchecked, "#define MT_CHECKED 0\n");
  EXPECT_NE(without_mode(checked).size(), checked.size());
  EXPECT_EQ(without_mode(checked), without_mode(unchecked));
}

// The prelude's unchecked helpers are the plain operations, force-inlined, so unchecked code is
// plain indexing once compiled.
TEST(EmitCuda, UncheckedHelpersAreThePlainOperations) {
  const std::string prelude(kCuda.prelude);
  const std::size_t plain = prelude.find("#else  // unchecked: the plain operations");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_LT(prelude.find("#if MT_CHECKED"), plain);
  const std::string unchecked =
      prelude.substr(plain, prelude.find("#endif  // MT_CHECKED") - plain);
  EXPECT_CONTAINS(unchecked, "struct mt_fault {};");
  EXPECT_CONTAINS(unchecked, "MT_DEVICE void mt_report(const mt_fault&, unsigned int*) {}");
  for (const char* body :
       {"  return p[index];\n", "  p[index] = value;\n", "  return lo;\n", "  return a[index];\n",
        "  a[index] = value;\n", "  return C::atomic(a + index, value);\n",
        "  return C::atomic(p + index, value);\n", "  mt_vector_copy_in<N>(dst, p + index);\n",
        "  mt_vector_copy_out<N>(p + index, src);\n"}) {
    EXPECT_CONTAINS(unchecked, body);
  }
  EXPECT_LACKS(unchecked, "mt_note");
  EXPECT_CONTAINS(prelude, "#define MT_DEVICE static __device__ __forceinline__");
}

TEST(EmitCuda, SitesNameTheInstructionsTheHostFindsAgain) {
  const Kernel k = sum_kernel();
  const std::string code = emit_cuda(k).code;
  const std::regex site("mt_(load|store|loop_start)\\(.*, ([0-9]+)u\\)");
  int found = 0;
  for (auto it = std::sregex_iterator(code.begin(), code.end(), site); it != std::sregex_iterator();
       ++it) {
    const std::string kind = (*it)[1];
    const Instr* in = instr_at_site(k, static_cast<std::uint32_t>(std::stoul((*it)[2])));
    ASSERT_NE(in, nullptr) << it->str();
    const OpKind want = kind == "load"    ? OpKind::Load
                        : kind == "store" ? OpKind::Store
                                          : OpKind::For;
    EXPECT_EQ(in->op, want) << it->str();
    ++found;
  }
  EXPECT_EQ(found, 3) << code;
}

// A kernel that overlaps the prior one: the prefetch of src's range, the wait and the release
// become the prelude's helpers (griddepcontrol and the bulk L2 prefetch, sm_90 only), in order
// and before the copy's load.
TEST(EmitCuda, KernelOverlapGoesThroughThePrelude) {
  Kernel k = copy_kernel(DType::BF16);
  const ValueId pid = k.body.instrs[0].result;
  std::vector<Instr> front;
  front.push_back(make::prefetch_l2(k, ParamId{0}, pid, pid));
  front.push_back(make::kernel_overlap(OpKind::WaitPriorKernel));
  front.push_back(make::kernel_overlap(OpKind::ReleaseNextKernel));
  k.body.instrs.insert(k.body.instrs.begin() + 1, front.begin(), front.end());
  verify(k);
  for (bool checked : {false, true}) {
    const std::string code = emit_cuda(k, EmitOptions{.checked = checked}).code;
    const std::size_t prefetch = code.find("mt_prefetch_l2(src, v0, v0, mt_count_src);");
    const std::size_t wait = code.find("mt_wait_prior_kernel();");
    const std::size_t release = code.find("mt_release_next_kernel();");
    const std::size_t load = code.find("mt_load(");
    ASSERT_NE(prefetch, std::string::npos) << code;
    EXPECT_TRUE(prefetch < wait && wait < release && release < load) << code;
  }
  const std::string prelude(kCuda.prelude);
  EXPECT_CONTAINS(prelude, "griddepcontrol.wait;");
  EXPECT_CONTAINS(prelude, "griddepcontrol.launch_dependents;");
  EXPECT_CONTAINS(prelude, "cp.async.bulk.prefetch.L2.global");
}

// A device fence between a store and a later load stays where it is, as the hardware fence.
TEST(EmitCuda, DeviceFenceIsAThreadFenceInPlace) {
  Kernel k = copy_kernel(DType::F32);
  // After the load, before the store: ordering statements keep their place.
  const auto store = std::find_if(k.body.instrs.begin(), k.body.instrs.end(),
                                  [](const Instr& in) { return in.op == OpKind::Store; });
  ASSERT_NE(store, k.body.instrs.end());
  k.body.instrs.insert(store, make::barrier(OpKind::DeviceFence));
  verify(k);
  for (bool checked : {false, true}) {
    const std::string code = emit_cuda(k, EmitOptions{.checked = checked}).code;
    const std::size_t load = code.find("mt_load(");
    const std::size_t fence = code.find("__threadfence();");
    const std::size_t stored = code.find("mt_store(");
    ASSERT_NE(fence, std::string::npos) << code;
    EXPECT_TRUE(load < fence && fence < stored) << code;
  }
}

TEST(EmitCuda, ProgramIdPerMode) {
  const auto first_value = [](KernelMode mode, int axis) {
    Kernel k;
    k.name = "pid";
    k.mode = mode;
    k.params = {{"out", ParamKind::Output, DType::U32}};
    const ValueId pid = push(k.body, make::program_id(k, axis));
    push(k.body, make::store(k, ParamId{0}, pid, pid));
    const std::string code = emit_cuda(k).code;
    const std::size_t at = code.find("const unsigned int v0 = ");
    return at == std::string::npos ? code : code.substr(at, code.find('\n', at) - at);
  };
  EXPECT_EQ(first_value(KernelMode::Grid3D, 0),
            "const unsigned int v0 = blockIdx.x * blockDim.x + threadIdx.x;");
  EXPECT_EQ(first_value(KernelMode::Grid3D, 2),
            "const unsigned int v0 = blockIdx.z * blockDim.z + threadIdx.z;");
  EXPECT_EQ(first_value(KernelMode::Reduction, 1), "const unsigned int v0 = blockIdx.y;");
  // The interpreter's linear index: x fastest over the whole grid of threads.
  EXPECT_EQ(first_value(KernelMode::Elementwise, 0),
            "const unsigned int v0 = blockIdx.x * blockDim.x + threadIdx.x + gridDim.x * "
            "blockDim.x * (blockIdx.y * blockDim.y + threadIdx.y + gridDim.y * blockDim.y * "
            "(blockIdx.z * blockDim.z + threadIdx.z));");
  EXPECT_EQ(first_value(KernelMode::Elementwise, 1), "const unsigned int v0 = 0u;");
}

TEST(EmitCuda, HalfPrecisionComputesInFloatAndRoundsAfterEachOp) {
  for (DType t : {DType::F16, DType::BF16}) {
    Kernel k;
    k.name = "axpy";
    k.params = {{"x", ParamKind::Input, t}, {"out", ParamKind::Output, t}};
    const ValueId pid = push(k.body, make::program_id(k, 0));
    const ValueId x = push(k.body, make::load(k, ParamId{0}, pid));
    const ValueId y = push(k.body, make::binary(k, OpKind::Mul, x, x));
    const ValueId z = push(k.body, make::unary(k, OpKind::Exp, y));
    const ValueId lt = push(k.body, make::compare(k, OpKind::Lt, y, z));
    const ValueId w = push(k.body, make::select(k, lt, y, z));
    const ValueId f = push(k.body, make::fma(k, w, x, y));
    push(k.body, make::store(k, ParamId{1}, pid, f));
    const std::string code = emit_cuda(k).code;
    const std::string T(kCuda.value_type(t)), to(kCuda.widen_function(t)),
        from(kCuda.narrow_function(t));
    SCOPED_TRACE(std::string(name_of(t)));
    EXPECT_CONTAINS(code, "const " + T + " v2 = " + from + "(" + to + "(v1) * " + to + "(v1));");
    EXPECT_CONTAINS(code, "const " + T + " v3 = " + from + "(expf(" + to + "(v2)));");
    EXPECT_CONTAINS(code, "const bool v4 = " + to + "(v2) < " + to + "(v3);");
    EXPECT_CONTAINS(code, "const " + T + " v5 = v4 ? v2 : v3;");
    // fma rounds once in f32 (an explicit fmaf is fused whatever --fmad says), then to T.
    EXPECT_CONTAINS(code, "const " + T + " v6 = " + from + "(fmaf(" + to + "(v5), " + to +
                              "(v1), " + to + "(v2)));");
  }
}

TEST(EmitCuda, IntegerOpsWrapThroughThePreludeOrNativeUnsigned) {
  Kernel k;
  k.name = "ints";
  k.params = {{"a", ParamKind::Input, DType::I32},   {"b", ParamKind::Input, DType::U32},
              {"c", ParamKind::Input, DType::I8},    {"o32", ParamKind::Output, DType::I32},
              {"ou", ParamKind::Output, DType::U32}, {"o8", ParamKind::Output, DType::I8}};
  const ValueId pid = push(k.body, make::program_id(k, 0));
  const ValueId a = push(k.body, make::load(k, ParamId{0}, pid));
  const ValueId b = push(k.body, make::load(k, ParamId{1}, pid));
  const ValueId c = push(k.body, make::load(k, ParamId{2}, pid));
  push(k.body, make::store(k, ParamId{3}, pid, push(k.body, make::binary(k, OpKind::Add, a, a))));
  push(k.body, make::store(k, ParamId{4}, pid, push(k.body, make::binary(k, OpKind::Add, b, b))));
  push(k.body, make::store(k, ParamId{4}, pid, push(k.body, make::binary(k, OpKind::Shl, b, b))));
  push(k.body, make::store(k, ParamId{4}, pid, push(k.body, make::binary(k, OpKind::Div, b, b))));
  push(k.body, make::store(k, ParamId{5}, pid, push(k.body, make::binary(k, OpKind::Mul, c, c))));
  push(k.body, make::store(k, ParamId{5}, pid, push(k.body, make::unary(k, OpKind::Neg, c))));
  verify(k);
  const std::string code = emit_cuda(k, EmitOptions{.checked = false}).code;
  EXPECT_CONTAINS(code, "const int v4 = mt_add(v1, v1);");
  EXPECT_CONTAINS(code, "const unsigned int v5 = v2 + v2;");
  EXPECT_CONTAINS(code, "const unsigned int v6 = v2 << (v2 & 31u);");
  EXPECT_CONTAINS(code, "const unsigned int v7 = mt_div(v2, v2);");
  EXPECT_CONTAINS(code, "const signed char v8 = mt_mul(v3, v3);");
  EXPECT_CONTAINS(code, "const signed char v9 = mt_neg(v3);");
}

TEST(EmitCuda, BoolTensorsAreStoredAsBytes) {
  const std::string code = emit_cuda(copy_kernel(DType::Bool), EmitOptions{.checked = false}).code;
  EXPECT_CONTAINS(code, "const unsigned char* __restrict__ src,");
  EXPECT_CONTAINS(code, "const bool v1 = mt_load(src, v0, mt_count_src, mt_first_fault, 1u) != 0;");
  EXPECT_CONTAINS(code, "mt_store(out, v0, (unsigned char)v1, mt_count_out, mt_first_fault, 2u);");
}

// The walker spells nothing itself: a copy of CUDA's dialect with other spellings gives them.
TEST(EmitCuda, SpellingsComeFromTheDialectValue) {
  CDialect other = kCuda;
  std::vector<TypeSpelling> types(kCuda.types.begin(), kCuda.types.end());
  types[static_cast<std::size_t>(DType::F16)].value = "half";
  types[static_cast<std::size_t>(DType::F16)].storage = "half";
  other.types = types;
  other.kernel_prefix = "__kernel void";
  other.restrict_qualifier = "restrict";
  other.barrier = "barrier(CLK_LOCAL_MEM_FENCE)";
  other.group_index = {"get_group_id(0)", "get_group_id(1)", "get_group_id(2)"};
  other.prelude_name = "other_prelude.h";
  other.checked_macro = "OTHER_CHECKED";
  Kernel k = copy_kernel(DType::F16);
  push(k.body, make::barrier(OpKind::Barrier));
  const std::string code = emit_cuda(k, other, EmitOptions{.checked = true}).code;
  EXPECT_CONTAINS(code, "#define OTHER_CHECKED 1\n#include \"other_prelude.h\"\n");
  EXPECT_CONTAINS(code, "__kernel void mt_copy(\n    const half* restrict src,");
  EXPECT_CONTAINS(code, "get_group_id(0) * blockDim.x + threadIdx.x");
  EXPECT_CONTAINS(code, "const half v1 = mt_load(src, v0, mt_count_src, mt_first_fault, 1u);");
  EXPECT_CONTAINS(code, "  barrier(CLK_LOCAL_MEM_FENCE);\n");
  EXPECT_LACKS(code, "__syncthreads");
  EXPECT_LACKS(code, "__half");
  // CUDA's own value is untouched.
  EXPECT_EQ(kCuda.value_type(DType::F16), "__half");
}

TEST(EmitCuda, TypeNamesPerDType) {
  const std::pair<DType, std::string> expected[] = {{DType::F32, "float"},
                                                    {DType::F16, "__half"},
                                                    {DType::BF16, "__nv_bfloat16"},
                                                    {DType::I32, "int"},
                                                    {DType::U32, "unsigned int"},
                                                    {DType::I8, "signed char"},
                                                    {DType::U8, "unsigned char"},
                                                    {DType::Bool, "bool"},
                                                    {DType::F8E4M3, "unsigned char"},
                                                    {DType::F8E5M2, "unsigned char"}};
  for (const auto& [t, name] : expected) {
    EXPECT_EQ(kCuda.value_type(t), name) << name_of(t);
    const std::string code = emit_cuda(copy_kernel(t)).code;
    EXPECT_CONTAINS(code, "const " + std::string(kCuda.storage_type(t)) + "* __restrict__ src,");
  }
}

TEST(EmitCuda, LiteralsAreExact) {
  EXPECT_EQ(kCuda.literal(DType::F32, Scalar::of_float(1.0)), "1.0f");
  EXPECT_EQ(kCuda.literal(DType::F32, Scalar::of_float(0.1f)), "0.1f");
  EXPECT_EQ(kCuda.literal(DType::F32, Scalar::of_float(-0.0)), "-0.0f");
  EXPECT_EQ(kCuda.literal(DType::F32, Scalar::of_float(1e-5f)), "1e-05f");
  EXPECT_EQ(kCuda.literal(DType::F32, Scalar::of_float(std::numeric_limits<double>::infinity())),
            "__uint_as_float(0x7F800000u)");
  EXPECT_EQ(kCuda.literal(DType::F16, Scalar::of_float(0.5)), "__float2half_rn(0.5f)");
  EXPECT_EQ(kCuda.literal(DType::F16, Scalar::of_float(-std::numeric_limits<double>::infinity())),
            "__ushort_as_half((unsigned short)0xFC00u)");
  EXPECT_EQ(kCuda.literal(DType::BF16, Scalar::of_float(2.0)), "__float2bfloat16_rn(2.0f)");
  EXPECT_EQ(kCuda.literal(DType::I32, Scalar::of_int(-7)), "-7");
  EXPECT_EQ(kCuda.literal(DType::I32, Scalar::of_int(INT32_MIN)), "(-2147483647 - 1)");
  EXPECT_EQ(kCuda.literal(DType::U32, Scalar::of_int(4294967295)), "4294967295u");
  EXPECT_EQ(kCuda.literal(DType::I8, Scalar::of_int(-128)), "(signed char)-128");
  EXPECT_EQ(kCuda.literal(DType::U8, Scalar::of_int(255)), "(unsigned char)255u");
  EXPECT_EQ(kCuda.literal(DType::Bool, Scalar::of_int(1)), "true");
  EXPECT_EQ(kCuda.literal(DType::F8E4M3, Scalar::of_float(1.0)), "(unsigned char)0x38u");
  EXPECT_EQ(kCuda.literal(DType::F8E5M2, Scalar::of_float(-2.0)), "(unsigned char)0xC0u");
  // inf is an E5M2 value (only a conversion saturates it).
  EXPECT_EQ(kCuda.literal(DType::F8E5M2, Scalar::of_float(std::numeric_limits<double>::infinity())),
            "(unsigned char)0x7Cu");
}

TEST(EmitCuda, CastsAndBitcasts) {
  EXPECT_EQ(kCuda.cast_expression(DType::F32, DType::I32, "v"), "mt_f32_to_i32(v)");
  EXPECT_EQ(kCuda.cast_expression(DType::F16, DType::U8, "v"), "mt_f32_to_u8(__half2float(v))");
  EXPECT_EQ(kCuda.cast_expression(DType::BF16, DType::F16, "v"),
            "__float2half_rn(__bfloat162float(v))");
  EXPECT_EQ(kCuda.cast_expression(DType::F32, DType::F8E4M3, "v"), "mt_f32_to_e4m3(v)");
  EXPECT_EQ(kCuda.cast_expression(DType::F8E5M2, DType::F32, "v"), "mt_e5m2_to_f32(v)");
  EXPECT_EQ(kCuda.cast_expression(DType::I32, DType::BF16, "v"), "__float2bfloat16_rn((float)v)");
  EXPECT_EQ(kCuda.cast_expression(DType::I32, DType::I8, "v"), "(signed char)v");
  EXPECT_EQ(kCuda.cast_expression(DType::F32, DType::Bool, "v"), "v != 0.0f");
  EXPECT_EQ(kCuda.cast_expression(DType::U8, DType::Bool, "v"), "v != 0");
  EXPECT_EQ(kCuda.cast_expression(DType::Bool, DType::F16, "v"),
            "__float2half_rn(v ? 1.0f : 0.0f)");
  EXPECT_EQ(kCuda.cast_expression(DType::Bool, DType::I32, "v"), "(int)v");
  EXPECT_EQ(kCuda.bitcast_expression(DType::F32, DType::U32, "v"), "__float_as_uint(v)");
  EXPECT_EQ(kCuda.bitcast_expression(DType::I32, DType::F32, "v"), "__int_as_float(v)");
  EXPECT_EQ(kCuda.bitcast_expression(DType::F16, DType::BF16, "v"),
            "__ushort_as_bfloat16(__half_as_ushort(v))");
  EXPECT_EQ(kCuda.bitcast_expression(DType::F8E4M3, DType::I8, "v"), "(signed char)v");
  EXPECT_EQ(kCuda.bitcast_expression(DType::Bool, DType::U8, "v"), "");
  EXPECT_EQ(kCuda.bitcast_expression(DType::F32, DType::F16, "v"), "");
}

TEST(EmitCuda, NamesAreSanitisedAndDistinct) {
  Kernel k;
  k.name = "odd names-1";
  k.params = {
      {"float", ParamKind::Input, DType::F32},     {"a-b", ParamKind::Input, DType::F32},
      {"a_b", ParamKind::Output, DType::F32},      {"v1", ParamKind::Scalar, DType::F32},
      {"mt_error", ParamKind::Scalar, DType::U32}, {"threadIdx", ParamKind::Scalar, DType::U32},
      {"9lives", ParamKind::Scalar, DType::I32},   {"__x", ParamKind::Scalar, DType::I32}};
  k.new_local("expf", DType::F32);
  k.new_local("acc", DType::F32);
  k.new_local("acc", DType::F32);
  k.new_local("", DType::F32);
  k.new_local("x_", DType::F32);
  k.new_local("x_", DType::F32);
  const std::string code = emit_cuda(k).code;
  EXPECT_EQ(emit_cuda(k).entry, "mt_odd_names_1");
  EXPECT_CONTAINS(code, "void mt_odd_names_1(");
  EXPECT_CONTAINS(code, "const float* __restrict__ p_float,");
  EXPECT_CONTAINS(code, "const float* __restrict__ a_b,");
  EXPECT_CONTAINS(code, "float* __restrict__ a_b_2,");
  EXPECT_CONTAINS(code, "float p_v1,");
  EXPECT_CONTAINS(code, "unsigned int p_mt_error,");
  EXPECT_CONTAINS(code, "unsigned int p_threadIdx,");
  EXPECT_CONTAINS(code, "int p_9lives,");
  EXPECT_CONTAINS(code, "int x,");
  EXPECT_CONTAINS(code, "unsigned long long mt_count_a_b_2,");
  EXPECT_CONTAINS(code, "float p_expf = 0.0f;");
  EXPECT_CONTAINS(code, "float acc = 0.0f;");
  EXPECT_CONTAINS(code, "float acc_2 = 0.0f;");
  EXPECT_CONTAINS(code, "float l3 = 0.0f;");  // unnamed: the printer's name
  EXPECT_CONTAINS(code, "float x_ = 0.0f;");
  EXPECT_CONTAINS(code, "float x_2 = 0.0f;");
  EXPECT_LACKS(code, "x__");
}

TEST(EmitCuda, TensorLenReadsTheHiddenCount) {
  Kernel k;
  k.name = "len";
  k.params = {{"src", ParamKind::Input, DType::F32}, {"out", ParamKind::Output, DType::U32}};
  const ValueId n = push(k.body, make::tensor_len(k, ParamId{0}));
  const ValueId zero = push(k.body, make::constant(k, DType::U32, Scalar::of_int(0)));
  push(k.body, make::store(k, ParamId{1}, zero, n));
  EXPECT_CONTAINS(emit_cuda(k).code, "const unsigned int v0 = (unsigned int)mt_count_src;");
}

TEST(EmitCuda, AnOpWithoutARenderingIsAnErrorNamingOpAndDType) {
  Kernel k = copy_kernel(DType::I32);
  // Bypass make::unary's assertion, as a broken pass might.
  Instr bad;
  bad.op = OpKind::Exp;
  bad.dtype = DType::I32;
  bad.operands = {ValueId{1}};
  bad.result = k.new_value(DType::I32);
  k.body.instrs.insert(k.body.instrs.begin() + 2, bad);
  try {
    emit_cuda(k);
    FAIL() << "expected mt::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_CONTAINS(message, "kernel 'copy'");
    EXPECT_CONTAINS(message, "'exp'");
    EXPECT_CONTAINS(message, "'i32'");
  }
}

TEST(EmitCuda, RequireInTheBodyIsAnError) {
  Kernel k = copy_kernel(DType::F32);
  const ValueId t = push(k.body, make::constant(k, DType::Bool, Scalar::of_int(1)));
  push(k.body, make::require(k, t, "always"));
  EXPECT_THROW(emit_cuda(k), Error);
}

TEST(CudaAbi, SlotsAreParamsThenCountsThenTheErrorRecord) {
  Kernel k;
  k.name = "abi";
  k.params = {{"a", ParamKind::Input, DType::F16},
              {"s", ParamKind::Scalar, DType::U32},
              {"b", ParamKind::Output, DType::I8},
              {"h", ParamKind::Scalar, DType::F16}};
  const std::vector<Slot> slots = kernel_slots(k);
  ASSERT_EQ(slots.size(), 7u);
  const SlotKind kinds[] = {SlotKind::Tensor,     SlotKind::Scalar,       SlotKind::Tensor,
                            SlotKind::Scalar,     SlotKind::ElementCount, SlotKind::ElementCount,
                            SlotKind::ErrorRecord};
  const std::uint32_t params[] = {0, 1, 2, 3, 0, 2, ParamId::kInvalid};
  const std::size_t sizes[] = {8, 4, 8, 2, 8, 8, 8};
  for (std::size_t i = 0; i < slots.size(); ++i) {
    EXPECT_EQ(slots[i].kind, kinds[i]) << "slot " << i;
    EXPECT_EQ(slots[i].param.index, params[i]) << "slot " << i;
    EXPECT_EQ(slots[i].size, sizes[i]) << "slot " << i;
  }
  // The emitted signature follows the slots.
  const std::string code = emit_cuda(k).code;
  const std::size_t a = code.find(" a,"), s = code.find(" s,"), b = code.find(" b,"),
                    h = code.find(" h,"), ca = code.find("mt_count_a,"),
                    cb = code.find("mt_count_b,"), e = code.find("mt_error)");
  ASSERT_NE(e, std::string::npos) << code;
  EXPECT_TRUE(a < s && s < b && b < h && h < ca && ca < cb && cb < e) << code;
}

TEST(CudaAbi, ErrorRecordDecodesToTheInterpretersMessage) {
  const Kernel k = sum_kernel();
  std::array<std::uint32_t, kErrorRecordWords> words{};
  words[kErrorKind] = static_cast<std::uint32_t>(ErrorKind::LoadOutOfBounds);
  words[kErrorSite] = 9;  // the load of src in the loop
  const std::int64_t index = -5;
  words[kErrorValueLo] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(index));
  words[kErrorValueHi] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(index) >> 32);
  words[kErrorGroupX] = 3;
  words[kErrorThreadX] = 7;
  const ErrorRecord r = decode_error_record(words);
  EXPECT_EQ(r.kind, ErrorKind::LoadOutOfBounds);
  EXPECT_EQ(r.value, -5);
  const std::uint64_t elements[] = {100, 200, 0};
  LaunchDims dims;
  dims.tpg = {32, 1, 1};
  const std::string message = error_from_record(k, r, elements, dims).what();
  EXPECT_EQ(message,
            "kernel 'sum': param 'src': load index -5 out of bounds (100 elements) at thread "
            "(103,0,0) of threadgroup (3,0,0): %10: f16 = load src[%9]");

  words[kErrorKind] = static_cast<std::uint32_t>(ErrorKind::LoopStep);
  words[kErrorSite] = 8;  // the loop
  words[kErrorValueLo] = 0;
  words[kErrorValueHi] = 0;
  const std::string loop = error_from_record(k, decode_error_record(words), elements, dims).what();
  EXPECT_CONTAINS(loop, "kernel 'sum': loop step 0 is not positive at thread (103,0,0)");
}

TEST(CudaAbi, DeviceConstantsFollowTheLayout) {
  const std::string c = device_abi_constants();
  EXPECT_CONTAINS(c, "enum : unsigned int {\n");
  EXPECT_CONTAINS(c, "  mt_error_load = 1u,\n");
  EXPECT_CONTAINS(c, "  mt_error_word_site = 1u,\n");
  EXPECT_CONTAINS(c, "  mt_error_word_thread = 7u,\n");
  EXPECT_CONTAINS(emit_cuda(sum_kernel()).code, c);
}

}  // namespace
}  // namespace mt::cuda
