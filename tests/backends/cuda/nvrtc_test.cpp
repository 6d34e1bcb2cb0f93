// NVRTC (no GPU needed): emitted kernels covering every op kind on every dtype it accepts,
// every cast and bitcast, control flow, each kernel mode, threadgroup programming (arrays,
// vector access, atomics, barriers, warp and threadgroup collectives; built with the DSL) and
// awkward names compile for sm_90 in checked and unchecked mode with zero warnings; a broken
// source is an mt::Error with the log and the offending lines. Without NVRTC these tests FAIL,
// unless MT_ALLOW_NO_NVRTC=1.
#include "backends/cuda/nvrtc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/warpgroup_mma.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "support/nvrtc.hpp"

namespace mt::cuda {
namespace {

constexpr std::string_view kArch = "sm_90";

class NvrtcTest : public ::testing::Test {
 protected:
  void SetUp() override { MT_REQUIRE_NVRTC(); }
};

ValueId push(Block& block, Instr in) {
  const ValueId result = in.result;
  block.instrs.push_back(std::move(in));
  return result;
}

// Builds kernels whose every result is stored, each at its own index, so nothing is dead.
class KernelMaker {
 public:
  explicit KernelMaker(std::string name, KernelMode mode = KernelMode::Grid3D) {
    k_.name = std::move(name);
    k_.mode = mode;
    pid_ = push(k_.body, make::program_id(k_, 0));
  }
  Kernel& kernel() { return k_; }
  Block& body() { return k_.body; }

  ParamId param(const std::string& name, ParamKind kind, DType t) {
    k_.params.push_back({name, kind, t});
    return ParamId{static_cast<std::uint32_t>(k_.params.size() - 1)};
  }

  // out_<t>[pid + n] = v, with a fresh n per store and an output per dtype.
  void keep(Block& block, ValueId v) {
    const DType t = k_.type_of(v);
    const std::string name = "out_" + std::string(name_of(t));
    ParamId out = k_.find_param(name);
    if (!out.valid()) out = param(name, ParamKind::Output, t);
    const ValueId offset =
        push(block,
             make::constant(k_, DType::U32, Scalar::of_int(static_cast<std::int64_t>(stores_++))));
    const ValueId index = push(block, make::binary(k_, OpKind::Add, pid_, offset));
    push(block, make::store(k_, out, index, v));
  }

  ValueId pid() const { return pid_; }

 private:
  Kernel k_;
  ValueId pid_;
  std::uint32_t stores_ = 0;
};

// Compiles each kernel in checked mode and, if `unchecked_too`, in unchecked mode, and expects
// a cubin and an empty log.
// The compilations run on a few threads at once: faster, and NVRTC must allow it, since one
// Context compiles for several threads.
void expect_compile_cleanly(const std::vector<Kernel>& kernels, bool unchecked_too = true) {
  struct Job {
    const Kernel* kernel;
    bool checked;
    std::string failure;  // "" when it compiled with no warnings
  };
  std::vector<Job> jobs;
  for (const Kernel& k : kernels) {
    verify(k);
    jobs.push_back(Job{&k, true, ""});
    if (unchecked_too) jobs.push_back(Job{&k, false, ""});
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      Job& job = jobs[i];
      try {
        // sm_90a for the kernels with warpgroup MMA, as the backend compiles them on sm_90.
        const CompiledKernel c =
            compile_kernel(*job.kernel, {.checked = job.checked}, kernel_arch(*job.kernel, kArch));
        if (c.cubin.empty()) job.failure = "empty cubin";
        if (!c.log.empty()) job.failure = "warnings:\n" + c.log + "\nsource:\n" + c.source.code;
      } catch (const Error& e) {
        job.failure = std::string(e.what()) + "\nsource:\n" +
                      emit_cuda(*job.kernel, {.checked = job.checked}).code;
      }
    }
  };
  std::vector<std::thread> pool;
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const Job& job : jobs) {
    EXPECT_EQ(job.failure, "") << job.kernel->name << (job.checked ? " (checked)" : " (unchecked)");
  }
}

// One kernel per operand dtype: every unary, binary, comparison and Select op the dtype
// accepts, and every Cast and Bitcast from it, on values loaded from inputs of that dtype.
Kernel every_op_on(DType t) {
  KernelMaker m("ops_" + std::string(name_of(t)));
  Kernel& k = m.kernel();
  const ParamId a = m.param("a", ParamKind::Input, t);
  const ParamId b = m.param("b", ParamKind::Input, t);
  const ParamId cond = m.param("cond", ParamKind::Input, DType::Bool);
  const ValueId pid = m.pid();
  const ValueId va = push(m.body(), make::load(k, a, pid));
  const ValueId vb = push(m.body(), make::load(k, b, pid));
  const ValueId vc = push(m.body(), make::load(k, cond, pid));
  const auto each_op = [&](auto f) {
#define MT_EACH_OP(name, ...) f(OpKind::name);
    MT_FOR_EACH_OP(MT_EACH_OP)
#undef MT_EACH_OP
  };
  each_op([&](OpKind op) {
    if (!accepts_operand_type(op, t)) return;
    Block& body = m.body();
    if (op == OpKind::Cast) {
      for (DType to : kAllDTypes) m.keep(body, push(body, make::cast(k, to, va)));
    } else if (op == OpKind::Bitcast) {
      for (DType to : kAllDTypes) {
        if (size_of(to) != size_of(t) || to == DType::Bool || t == DType::Bool) continue;
        m.keep(body, push(body, make::bitcast(k, to, va)));
      }
    } else if (op == OpKind::Select) {
      m.keep(body, push(body, make::select(k, vc, va, vb)));
    } else if (op == OpKind::Fma) {
      m.keep(body, push(body, make::fma(k, va, vb, va)));
    } else if (is_unary(op)) {
      m.keep(body, push(body, make::unary(k, op, va)));
    } else if (is_binary(op)) {
      m.keep(body, push(body, make::binary(k, op, va, vb)));
    } else if (is_comparison(op)) {
      m.keep(body, push(body, make::compare(k, op, va, vb)));
    }
  });
  // A literal and a local of this dtype, and a scalar parameter where the dtype may be one.
  const LocalId local = k.new_local("x", t);
  push(m.body(), make::local_write(k, local, push(m.body(), make::constant(k, t, Scalar{}))));
  m.keep(m.body(), push(m.body(), make::local_read(k, local)));
  if (t == DType::U32 || t == DType::I32 || t == DType::F32) {
    const ParamId s = m.param("s", ParamKind::Scalar, t);
    m.keep(m.body(), push(m.body(), make::scalar_param(k, s)));
  }
  return k;
}

TEST_F(NvrtcTest, EveryOpOnEveryDTypeItAcceptsCompilesWithoutWarnings) {
  std::vector<Kernel> kernels;
  for (DType t : kAllDTypes) kernels.push_back(every_op_on(t));
  expect_compile_cleanly(kernels);
}

// Loops (u32 and i32 bounds) with locals, if/else nested in them, tensor lengths and program
// ids on every axis, in each kernel mode.
Kernel control_flow(KernelMode mode) {
  KernelMaker m("control_" + std::string(mode_name(mode)), mode);
  Kernel& k = m.kernel();
  const ParamId src = m.param("src", ParamKind::Input, DType::F32);
  const ParamId n = m.param("n", ParamKind::Scalar, DType::I32);
  const LocalId acc = k.new_local("acc", DType::F32);
  Block& body = m.body();
  for (int axis = 0; axis < 3; ++axis) m.keep(body, push(body, make::program_id(k, axis)));
  m.keep(body, push(body, make::tensor_len(k, src)));
  push(body, make::local_write(k, acc, push(body, make::constant(k, DType::F32, Scalar{}))));
  const ValueId lo = push(body, make::constant(k, DType::I32, Scalar::of_int(-3)));
  const ValueId hi = push(body, make::scalar_param(k, n));
  const ValueId step = push(body, make::constant(k, DType::I32, Scalar::of_int(2)));
  Instr loop = make::for_loop(k, lo, hi, step);
  {
    Block& inner = loop.blocks[0];
    const ValueId zero = push(inner, make::constant(k, DType::I32, Scalar::of_int(0)));
    const ValueId positive = push(inner, make::compare(k, OpKind::Ge, loop.result, zero));
    Instr branch = make::if_then_else(k, positive);
    const ValueId x = push(branch.blocks[0], make::load(k, src, loop.result));
    const ValueId a = push(branch.blocks[0], make::local_read(k, acc));
    push(branch.blocks[0],
         make::local_write(k, acc, push(branch.blocks[0], make::binary(k, OpKind::Add, a, x))));
    const ValueId one =
        push(branch.blocks[1], make::constant(k, DType::F32, Scalar::of_float(1.0)));
    const ValueId b = push(branch.blocks[1], make::local_read(k, acc));
    push(branch.blocks[1],
         make::local_write(k, acc, push(branch.blocks[1], make::binary(k, OpKind::Sub, b, one))));
    inner.instrs.push_back(std::move(branch));
  }
  body.instrs.push_back(std::move(loop));
  // A u32 loop, and an if without else.
  const ValueId ulo = push(body, make::constant(k, DType::U32, Scalar::of_int(0)));
  const ValueId uhi = push(body, make::tensor_len(k, src));
  const ValueId ustep = push(body, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr uloop = make::for_loop(k, ulo, uhi, ustep);
  {
    Block& inner = uloop.blocks[0];
    const ValueId x = push(inner, make::load(k, src, uloop.result));
    const ValueId big = push(inner, make::constant(k, DType::F32, Scalar::of_float(1048576.0)));
    const ValueId over = push(inner, make::compare(k, OpKind::Gt, x, big));
    Instr branch = make::if_then_else(k, over);
    push(branch.blocks[0], make::local_write(k, acc, x));
    inner.instrs.push_back(std::move(branch));
  }
  body.instrs.push_back(std::move(uloop));
  m.keep(body, push(body, make::local_read(k, acc)));
  return k;
}

TEST_F(NvrtcTest, ControlFlowInEveryModeCompilesWithoutWarnings) {
  expect_compile_cleanly({control_flow(KernelMode::Grid3D), control_flow(KernelMode::Elementwise),
                          control_flow(KernelMode::Reduction)});
}

// Keeps DSL values alive: out_<dtype>[base + n] = v, with a fresh n per value and one output
// tensor per dtype, so no pass or compiler can drop the op that made v.
class Keeper {
 public:
  Keeper(KernelBuilder& b, Val base) : b_(b), base_(base) {}
  void operator()(const Val& v) {
    auto it = outs_.find(v.dtype());
    if (it == outs_.end()) {
      it = outs_.emplace(v.dtype(), b_.output("out_" + std::string(name_of(v.dtype())), v.dtype()))
               .first;
    }
    it->second[base_ + u32(next_++)] = v;
  }

 private:
  KernelBuilder& b_;
  Val base_;
  std::map<DType, Tensor> outs_;
  std::uint32_t next_ = 0;
};

// Thread identity on every axis, barriers, a device fence and a threadgroup array sized by a
// specialised scalar.
Kernel thread_identity() {
  Kernel k = trace("thread_identity", KernelMode::Reduction, [](KernelBuilder& b) {
    const Val n = b.scalar_u32("n");
    const ArrayRef row = b.threadgroup_array("row", DType::U32, n);
    Keeper keep(b, threadgroup_id(0) * threads_per_threadgroup(0) + thread_id(0));
    for (int axis = 0; axis < 3; ++axis) {
      keep(thread_id(axis));
      keep(threadgroup_id(axis));
      keep(threads_per_threadgroup(axis));
      keep(threadgroups_per_grid(axis));
    }
    keep(lane_id());
    keep(warp_id());
    row[thread_id(0)] = lane_id();
    barrier();
    keep(row[warp_id()]);
    warp_barrier();
    device_fence();
  });
  return passes::specialise_scalars(std::move(k), {{"n", Scalar::of_int(96)}});
}

// Every threadgroup-programming op that dtype t accepts, on values loaded from an input of t:
// threadgroup and per-thread arrays (a per-thread array filled and read in short constant
// loops), 8- and 16-byte vector access, warp shuffles, reductions and scans, threadgroup
// reductions and argmax, and atomics on a tensor and on threadgroup memory; first, the overlap
// with the prior kernel (a prefetch of a, the wait and the release).
Kernel threadgroup_ops_on(DType t) {
  return trace("threadgroup_ops_" + std::string(name_of(t)), KernelMode::Reduction,
               [t](KernelBuilder& b) {
                 const Tensor a = b.input("a", t);
                 const Val tid = thread_id(0);
                 const Val i = threadgroup_id(0) * threads_per_threadgroup(0) + tid;
                 prefetch_l2(a, i, threads_per_threadgroup(0));
                 wait_for_prior_kernel();
                 release_next_kernel();
                 Keeper keep(b, i);
                 const Val x = a[i];

                 const ArrayRef mine = b.thread_array("mine", t, 8);
                 for (Val j : range(u32(0), u32(8))) mine[j] = x;
                 for (Val j : range(u32(0), u32(8), u32(3))) keep(mine[j]);
                 if (t != DType::Bool && !is_fp8(t)) {
                   const ArrayRef tile = b.threadgroup_array("tile", t, 256);
                   tile[tid] = x;
                   barrier();
                   keep(tile[(tid + 1u) % 256u]);
                   barrier();
                 }
                 for (std::uint32_t bytes : {8u, 16u}) {
                   const std::uint32_t lanes = bytes / static_cast<std::uint32_t>(size_of(t));
                   const Tensor out = b.output("vec" + std::to_string(bytes), t);
                   const ArrayRef v = load_vector(a, i * lanes, lanes);
                   store_vector(out, i * lanes, v, lanes);
                 }
                 if (!is_fp8(t)) {
                   const Val lane = lane_id();
                   keep(warp_shuffle(x, 31u - lane));
                   keep(warp_shuffle_xor(x, 5u));
                   keep(warp_shuffle_up(x, lane % 3u));
                   keep(warp_shuffle_down(x, 2u));
                   keep(warp_broadcast(x, 0u));
                 }
                 if (accepts_combine(OpKind::WarpReduce, CombineOp::Add, t)) {
                   keep(warp_sum(x));
                   keep(warp_product(x));
                   keep(warp_max(x));
                   keep(warp_min(x));
                   keep(warp_prefix_sum(x));
                   keep(warp_exclusive_prefix_sum(x));
                   keep(threadgroup_sum(x));
                   keep(threadgroup_max(x));
                   keep(threadgroup_min(x));
                   const ArgMax best = threadgroup_argmax(x, tid);
                   keep(best.value);
                   keep(best.index);
                 }
                 if (accepts_combine(OpKind::AtomicGlobal, CombineOp::Add, t)) {
                   const Tensor counts = b.output("counts", t);
                   const ArrayRef bins = b.threadgroup_array("bins", t, 64);
                   bins[tid % 64u] = x;
                   barrier();
                   const Val slot = tid % 7u;
                   keep(atomic_add(counts, slot, x));
                   keep(atomic_add(bins, slot, x));
                   if (t != DType::F32) {
                     keep(atomic_max(counts, slot, x));
                     keep(atomic_min(counts, slot, x));
                     keep(atomic_and(counts, slot, x));
                     keep(atomic_or(counts, slot, x));
                     keep(atomic_xor(counts, slot, x));
                     keep(atomic_max(bins, slot, x));
                     keep(atomic_min(bins, slot, x));
                     keep(atomic_and(bins, slot, x));
                     keep(atomic_or(bins, slot, x));
                     keep(atomic_xor(bins, slot, x));
                   }
                 }
               });
}

TEST_F(NvrtcTest, ThreadgroupOpsOnEveryDTypeTheyAcceptCompileWithoutWarnings) {
  std::vector<Kernel> kernels{thread_identity()};
  for (DType t : kAllDTypes) kernels.push_back(threadgroup_ops_on(t));
  expect_compile_cleanly(kernels);
}

// What CI checks without a GPU: every registered kernel, for every dtype it supports, as the
// backend will emit it (after the standard passes, checked mode; the kernels above cover
// unchecked mode).
TEST_F(NvrtcTest, EveryRegisteredKernelCompilesWithoutWarnings) {
  std::vector<Kernel> kernels;
  for (const KernelInfo& info : registered_kernels()) {
    for (DType t : info.dtypes) kernels.push_back(passes::optimise(info.build(t)));
  }
  ASSERT_FALSE(kernels.empty());
  expect_compile_cleanly(kernels, /*unchecked_too=*/false);
}

TEST_F(NvrtcTest, AwkwardNamesCompile) {
  KernelMaker m("odd name-1");
  Kernel& k = m.kernel();
  const ParamId f = m.param("float", ParamKind::Input, DType::F32);
  const ParamId v1 = m.param("v1", ParamKind::Scalar, DType::F32);
  const ParamId expf = m.param("expf", ParamKind::Scalar, DType::F32);
  const ParamId tid = m.param("threadIdx", ParamKind::Scalar, DType::U32);
  const ValueId x = push(m.body(), make::load(k, f, push(m.body(), make::scalar_param(k, tid))));
  const ValueId y = push(m.body(), make::unary(k, OpKind::Exp, x));
  const ValueId z =
      push(m.body(), make::binary(k, OpKind::Add, y, push(m.body(), make::scalar_param(k, v1))));
  m.keep(m.body(), push(m.body(), make::binary(k, OpKind::Mul, z,
                                               push(m.body(), make::scalar_param(k, expf)))));
  expect_compile_cleanly({k});
}

// The op-kind and control-flow kernels above, between them, use every op kind the body may
// hold (all but the contract's statements): a new op kind fails here until the kernels above
// compile it.
TEST(NvrtcKernels, CoverEveryOpKind) {
  std::set<OpKind> used;
  const auto collect = [&](const Kernel& k) {
    for_each_instr(k.body, [&](const Instr& in) { used.insert(in.op); });
  };
  for (DType t : kAllDTypes) {
    collect(every_op_on(t));
    collect(threadgroup_ops_on(t));
  }
  collect(control_flow(KernelMode::Grid3D));
  collect(thread_identity());
  std::vector<std::string> missing;
  // The tensor-core ops (shape Matrix) compile in emit_matrix_test.cpp.
#define MT_CHECK_OP(name, printed, shape, ...)                                     \
  if (OpShape::shape != OpShape::Statement && OpShape::shape != OpShape::Matrix && \
      used.count(OpKind::name) == 0)                                               \
    missing.push_back(printed);
  MT_FOR_EACH_OP(MT_CHECK_OP)
#undef MT_CHECK_OP
  EXPECT_TRUE(missing.empty()) << "op kinds no compiled kernel uses: "
                               << ::testing::PrintToString(missing);
}

TEST_F(NvrtcTest, CubinIsAnElfImage) {
  const CompiledKernel c = compile_kernel(control_flow(KernelMode::Grid3D), {}, kArch);
  ASSERT_GE(c.cubin.size(), 4u);
  EXPECT_EQ(c.cubin[0], 0x7F);
  EXPECT_EQ(c.cubin[1], 'E');
  EXPECT_EQ(c.cubin[2], 'L');
  EXPECT_EQ(c.cubin[3], 'F');
}

TEST_F(NvrtcTest, VersionAndArchitectures) {
  const NvrtcVersion v = Nvrtc::get().version();
  EXPECT_GE(v.major, 12) << v.major << "." << v.minor;
  const std::vector<std::string> archs = Nvrtc::get().supported_archs();
  EXPECT_NE(std::find(archs.begin(), archs.end(), "sm_90"), archs.end())
      << ::testing::PrintToString(archs);
  EXPECT_FALSE(Nvrtc::get().library_file().empty());
  std::cout << "NVRTC " << v.major << "." << v.minor << " from " << Nvrtc::get().library_file()
            << ", headers from " << cuda_include_dir() << "\n";
}

TEST_F(NvrtcTest, ACompileErrorShowsTheLogAndTheOffendingLine) {
  const std::string source =
      "extern \"C\" __global__ void broken(float* out) {\n"
      "  out[0] = 1.0f;\n"
      "  out[1] = undefined_name;\n"
      "}\n";
  try {
    Nvrtc::get().compile("broken", source, kArch, {});
    FAIL() << "expected mt::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string piece :
         {"kernel 'broken': nvrtcCompileProgram failed (NVRTC_ERROR_COMPILATION)",
          "broken.cu(3): error", "\"undefined_name\" is undefined", "broken.cu around line 3:",
          "        2 |   out[0] = 1.0f;\n  >     3 |   out[1] = undefined_name;\n"}) {
      EXPECT_NE(message.find(piece), std::string::npos) << "missing: " << piece << "\nin:\n"
                                                        << message;
    }
  }
}

// A template in a header, broken only when the source instantiates it: the log cites the
// header's line and, in its instantiation note, the source line ("at line 2 of ...").
TEST_F(NvrtcTest, AnErrorInAHeaderShowsTheHeaderAndTheInstantiatingLine) {
  const NvrtcHeader header{"helpers.cuh",
                           "// helpers\ntemplate <class T> __device__ T twice(T x) {\n"
                           "  return x * T::nope;\n}\n"};
  const std::string source =
      "#include \"helpers.cuh\"\n"
      "extern \"C\" __global__ void k(float* out) { out[0] = twice(out[0]); }\n";
  try {
    Nvrtc::get().compile("with_header", source, kArch, {}, {&header, 1});
    FAIL() << "expected mt::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string piece :
         {"helpers.cuh around line 3:", "  >     3 |   return x * T::nope;",
          "with_header.cu around line 2:", "  >     2 | extern \"C\" __global__ void k("}) {
      EXPECT_NE(message.find(piece), std::string::npos) << "missing: " << piece << "\nin:\n"
                                                        << message;
    }
  }
}

TEST_F(NvrtcTest, WarningsReachTheLog) {
  const std::string source =
      "extern \"C\" __global__ void k(float* out) {\n  int unused;\n  out[0] = 1.0f;\n}\n";
  const NvrtcOutput out = Nvrtc::get().compile("warns", source, kArch,
                                               std::vector<std::string>{"--display-error-number"});
  EXPECT_FALSE(out.cubin.empty());
  EXPECT_NE(out.log.find("warning #177-D"), std::string::npos) << out.log;
}

}  // namespace
}  // namespace mt::cuda
