// The verifier's rules for threadgroup programming: arrays, thread identity, vector access,
// atomics, barriers and collectives. A good kernel passes; each rule fires on a corrupted copy
// with an mt::Error naming the kernel, the op and its operands.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt {
namespace {

ValueId emit(Block& block, Instr in) {
  const ValueId result = in.result;
  block.instrs.push_back(std::move(in));
  return result;
}

// A good kernel with every new op. Arrays: tile (threadgroup f32[256]), acc (thread f32[4]),
// buf (threadgroup f16, size from n), hist (threadgroup u32[8]).
Kernel sample() {
  Kernel k;
  k.name = "tg";
  k.mode = KernelMode::Reduction;
  k.params = {{"src", ParamKind::Input, DType::F32},
              {"out", ParamKind::Output, DType::F32},
              {"counts", ParamKind::Output, DType::U32},
              {"n", ParamKind::Scalar, DType::U32}};
  const ParamId src{0}, out{1}, counts{2}, n{3};
  const ArrayId tile = k.new_array({"tile", DType::F32, MemorySpace::Threadgroup, 256, {}});
  const ArrayId acc = k.new_array({"acc", DType::F32, MemorySpace::Thread, 4, {}});
  const ArrayId buf = k.new_array({"buf", DType::F16, MemorySpace::Threadgroup, 0, n});
  const ArrayId hist = k.new_array({"hist", DType::U32, MemorySpace::Threadgroup, 8, {}});

  const ValueId tid = emit(k.body, make::thread_index(k, OpKind::ThreadId, 0));
  emit(k.body, make::thread_index(k, OpKind::ThreadgroupId, 1));
  emit(k.body, make::thread_index(k, OpKind::ThreadsPerThreadgroup, 2));
  emit(k.body, make::thread_index(k, OpKind::ThreadgroupsPerGrid, 0));
  const ValueId lane = emit(k.body, make::thread_index(k, OpKind::LaneId, 0));
  emit(k.body, make::thread_index(k, OpKind::WarpId, 0));
  const ValueId x = emit(k.body, make::load(k, src, tid));
  emit(k.body, make::array_store(k, tile, tid, x));
  const ValueId h = emit(k.body, make::cast(k, DType::F16, x));
  emit(k.body, make::array_store(k, buf, tid, h));
  emit(k.body, make::barrier(OpKind::Barrier));
  const ValueId y = emit(k.body, make::array_load(k, tile, lane));
  emit(k.body, make::load_vector(k, src, tid, acc, 4));
  emit(k.body, make::store_vector(k, out, tid, acc, 2));  // 8 bytes of the 16 loaded
  const ValueId one = emit(k.body, make::constant(k, DType::U32, Scalar::of_int(1)));
  emit(k.body, make::atomic_global(k, CombineOp::Add, counts, tid, one));
  emit(k.body, make::atomic_array(k, CombineOp::Max, hist, lane, one));
  emit(k.body, make::barrier(OpKind::WarpBarrier));
  emit(k.body, make::warp_reduce(k, CombineOp::Mul, y));
  emit(k.body, make::warp_shuffle(k, ShuffleKind::Down, y, one));
  emit(k.body, make::warp_prefix_sum(k, false, y));
  emit(k.body, make::threadgroup_reduce(k, CombineOp::Min, y));
  emit(k.body, make::threadgroup_argmax(k, y, tid));
  return k;
}

// The first instruction (pre-order, contract then body) with this op.
Instr& find(Kernel& k, OpKind op) {
  for (Block* block : {&k.contract, &k.body}) {
    Instr* hit = nullptr;
    for_each_instr(*block, [&](Instr& in) {
      if (!hit && in.op == op) hit = &in;
    });
    if (hit) return *hit;
  }
  throw std::logic_error("no such op in the sample");
}

// Corrupts a fresh sample; verify must throw an mt::Error that starts with the kernel's name
// and contains `expected`.
void expect_rejected(const std::function<void(Kernel&)>& corrupt, const std::string& expected) {
  Kernel k = sample();
  corrupt(k);
  try {
    verify(k);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("kernel 'tg': verify: ", 0), 0u) << message;
    EXPECT_NE(message.find(expected), std::string::npos)
        << "message: " << message << "\nexpected to contain: " << expected;
    return;
  }
  ADD_FAILURE() << "verify accepted a kernel that breaks a rule (" << expected << "):\n"
                << print(k);
}

TEST(VerifyThreadgroup, GoodKernelPasses) {
  const Kernel k = sample();
  EXPECT_NO_THROW(verify(k)) << print(k);
}

TEST(VerifyThreadgroup, ArraysAreNamedOnceAndSizedAtCompileTime) {
  expect_rejected([](Kernel& k) { k.arrays[0].name.clear(); }, "an array has no name");
  expect_rejected([](Kernel& k) { k.arrays[1].name = "tile"; }, "array 'tile' is declared twice");
  expect_rejected([](Kernel& k) { k.arrays[0].size = 0; }, "array 'tile' has size 0");
  expect_rejected([](Kernel& k) { k.arrays[2].size_param = ParamId{9}; },
                  "array 'buf': size param is out of range");
  expect_rejected([](Kernel& k) { k.arrays[2].size_param = ParamId{0}; },
                  "array 'buf': size param 'src' is not a u32 scalar");
  expect_rejected([](Kernel& k) { k.arrays[2].size = 16; },
                  "array 'buf' has both a size and a size param");
  expect_rejected([](Kernel& k) { k.arrays[3].dtype = DType::Bool; },
                  "array 'hist': threadgroup arrays of bool are not supported");
  expect_rejected([](Kernel& k) { k.arrays[3].dtype = DType::F8E4M3; },
                  "array 'hist': threadgroup arrays of f8e4m3 are not supported");
  // A per-thread array may hold fp8 (a vector load of an fp8 tensor lands in one).
  Kernel k = sample();
  k.arrays.push_back({"bytes", DType::F8E5M2, MemorySpace::Thread, 8, {}});
  EXPECT_NO_THROW(verify(k));
}

// The launch shape (threads_per_threadgroup, threadgroups_per_grid) is launch-uniform and may
// enter a contract; a thread's own identity, memory and cooperation may not.
TEST(VerifyThreadgroup, ContractMayReadTheLaunchShape) {
  for (OpKind op : {OpKind::ThreadsPerThreadgroup, OpKind::ThreadgroupsPerGrid}) {
    Kernel k = sample();
    const ValueId v = emit(k.contract, make::thread_index(k, op, 1));
    const ValueId one = emit(k.contract, make::constant(k, DType::U32, Scalar::of_int(1)));
    const ValueId ok = emit(k.contract, make::compare(k, OpKind::Eq, v, one));
    k.contract.instrs.push_back(make::require(k, ok, "1-D"));
    EXPECT_NO_THROW(verify(k)) << op_name(op);
  }
}

TEST(VerifyThreadgroup, ContractHasNoThreadsMemoryOrCooperation) {
  for (OpKind op : {OpKind::ThreadId, OpKind::ThreadgroupId, OpKind::LaneId, OpKind::WarpId,
                    OpKind::LoadVector, OpKind::StoreVector, OpKind::AtomicGlobal,
                    OpKind::ArrayLoad, OpKind::ArrayStore, OpKind::AtomicArray, OpKind::Barrier,
                    OpKind::WarpBarrier, OpKind::WarpReduce, OpKind::WarpShuffle,
                    OpKind::WarpPrefixSum, OpKind::ThreadgroupReduce, OpKind::ThreadgroupArgmax}) {
    // A copy of the op in the contract, its operands constants defined there.
    Kernel k = sample();
    Instr in = find(k, op);
    for (ValueId& v : in.operands) {
      v = emit(k.contract, make::constant(k, k.type_of(v), Scalar{}));
    }
    if (has_result(op)) in.result = k.new_value(in.dtype);
    k.contract.instrs.push_back(std::move(in));
    try {
      verify(k);
      ADD_FAILURE() << op_name(op) << " accepted in the contract";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("kernel 'tg': verify: " + std::string(op_name(op)), 0), 0u)
          << message;
      EXPECT_NE(message.find("not allowed in the contract"), std::string::npos) << message;
    }
  }
}

TEST(VerifyThreadgroup, ThreadIdentityRules) {
  expect_rejected([](Kernel& k) { find(k, OpKind::ThreadId).axis = 3; },
                  "thread_id: axis 3 is not 0..2");
  expect_rejected([](Kernel& k) { find(k, OpKind::ThreadgroupsPerGrid).axis = -1; },
                  "axis -1 is not 0..2");
  expect_rejected([](Kernel& k) { find(k, OpKind::LaneId).axis = 1; },
                  "lane_id: has axis 1; lanes and warps have none (0)");
  expect_rejected([](Kernel& k) { find(k, OpKind::WarpId).axis = 2; }, "has axis 2");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::ThreadsPerThreadgroup);
        in.dtype = k.value_types[in.result.index] = DType::I32;
      },
      "result type i32 should be u32");
}

TEST(VerifyThreadgroup, VectorAccessRules) {
  expect_rejected([](Kernel& k) { find(k, OpKind::LoadVector).lanes = 3; },
                  "load_vector src acc %0: u32: 3 lanes of f32 are 12 bytes, not 2 or more lanes "
                  "of 4, 8 or 16");
  expect_rejected([](Kernel& k) { find(k, OpKind::StoreVector).lanes = 1; },
                  "1 lanes of f32 are 4 bytes, not 2 or more lanes of 4, 8 or 16");
  expect_rejected([](Kernel& k) { find(k, OpKind::LoadVector).array = ArrayId{0}; },
                  "array 'tile' is not per-thread");
  expect_rejected([](Kernel& k) { find(k, OpKind::StoreVector).array = ArrayId{8}; },
                  "array id 8 is out of range (4 arrays)");
  expect_rejected([](Kernel& k) { k.arrays[1].dtype = DType::I32; },
                  "array 'acc' holds i32, param 'src' f32");
  expect_rejected([](Kernel& k) { k.arrays[1].size = 3; },
                  "array 'acc' has 3 elements, fewer than 4 lanes");
  expect_rejected([](Kernel& k) { find(k, OpKind::StoreVector).param = ParamId{0}; },
                  "param 'src' is not an output");
  expect_rejected([](Kernel& k) { find(k, OpKind::LoadVector).param = ParamId{3}; },
                  "param 'n' is not a tensor");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::StoreVector);
        in.operands[0] = find(k, OpKind::ArrayLoad).result;
      },
      "index must be u32 or i32");
}

TEST(VerifyThreadgroup, AtomicRules) {
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicGlobal).param = ParamId{1}; },
                  "atomic value type differs from param 'out' (f32)");
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicGlobal).combine = CombineOp::Mul; },
                  "atomic mul does not accept u32");
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicGlobal).param = ParamId{0}; },
                  "param 'src' is not an output");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::AtomicGlobal);
        in.dtype = k.value_types[in.result.index] = DType::I32;
      },
      "result type i32 should be u32 (the old element)");
  expect_rejected([](Kernel& k) { k.arrays[3].space = MemorySpace::Thread; },
                  "array_atomic hist %4: u32, %9: u32: array 'hist' is per-thread");
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicArray).combine = CombineOp::Mul; },
                  "array_atomic mul does not accept u32");
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicArray).array = ArrayId{0}; },
                  "value type differs from array 'tile' (f32)");
}

TEST(VerifyThreadgroup, ArrayAccessRules) {
  expect_rejected([](Kernel& k) { find(k, OpKind::ArrayLoad).array = ArrayId{5}; },
                  "array_load ?array %4: u32: array id 5 is out of range (4 arrays)");
  expect_rejected([](Kernel& k) { find(k, OpKind::ArrayStore).array = ArrayId{3}; },
                  "value type differs from array 'hist' (u32)");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::ArrayLoad);
        in.dtype = k.value_types[in.result.index] = DType::F16;
      },
      "result type f16 should be f32 (the array's dtype)");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::ArrayStore);
        in.operands[0] = in.operands[1];
      },
      "array_store tile %6: f32, %6: f32: index must be u32 or i32");
}

TEST(VerifyThreadgroup, OperandCounts) {
  expect_rejected([](Kernel& k) { find(k, OpKind::Barrier).operands.push_back(ValueId{0}); },
                  "barrier %0: u32: has 1 operand, expected 0");
  expect_rejected([](Kernel& k) { find(k, OpKind::WarpShuffle).operands.pop_back(); },
                  "has 1 operand, expected 2");
  expect_rejected([](Kernel& k) { find(k, OpKind::ThreadgroupArgmax).operands.pop_back(); },
                  "has 1 operand, expected 2");
  expect_rejected([](Kernel& k) { find(k, OpKind::AtomicArray).operands.pop_back(); },
                  "has 1 operand, expected 2");
  expect_rejected([](Kernel& k) { find(k, OpKind::LoadVector).operands.push_back(ValueId{0}); },
                  "has 2 operands, expected 1");
  expect_rejected([](Kernel& k) { find(k, OpKind::WarpBarrier).blocks.resize(1); },
                  "has 1 block, expected 0");
  expect_rejected([](Kernel& k) { find(k, OpKind::Barrier).result = ValueId{0}; },
                  "has a result %0");
}

// Replaces operand i of the first `op` with a fresh value of type t, defined just before.
void retype_operand(Kernel& k, OpKind op, std::size_t i, DType t) {
  std::size_t at = 0;
  while (k.body.instrs[at].op != op) ++at;
  Instr c = make::constant(k, t, Scalar{});
  const ValueId v = c.result;
  k.body.instrs.insert(k.body.instrs.begin() + static_cast<std::ptrdiff_t>(at), std::move(c));
  k.body.instrs[at + 1].operands[i] = v;
  // The result follows the operand's type where the op says so, to isolate the rule.
  Instr& in = k.body.instrs[at + 1];
  if (i == 0 && op != OpKind::ThreadgroupArgmax) in.dtype = k.value_types[in.result.index] = t;
}

TEST(VerifyThreadgroup, CollectiveRules) {
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::WarpShuffle, 0, DType::F8E4M3); },
                  "fp8 values cannot be shuffled (storage only)");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::WarpShuffle, 1, DType::I32); },
                  "lane must be u32");
  expect_rejected([](Kernel& k) { find(k, OpKind::WarpReduce).combine = CombineOp::And; },
                  "warp_reduce and does not accept f32");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::WarpReduce, 0, DType::Bool); },
                  "warp_reduce mul does not accept bool");
  expect_rejected([](Kernel& k) { find(k, OpKind::ThreadgroupReduce).combine = CombineOp::Mul; },
                  "threadgroup_reduce mul does not accept f32");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::ThreadgroupReduce, 0, DType::U8); },
                  "threadgroup_reduce min does not accept u8");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::WarpPrefixSum, 0, DType::F8E5M2); },
                  "warp_prefix_sum does not accept f8e5m2");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::ThreadgroupArgmax, 0, DType::I8); },
                  "threadgroup_argmax does not accept i8");
  expect_rejected([](Kernel& k) { retype_operand(k, OpKind::ThreadgroupArgmax, 1, DType::I32); },
                  "threadgroup_argmax %8: f32, %17: i32: index must be u32");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::ThreadgroupArgmax);
        in.dtype = k.value_types[in.result.index] = DType::F32;
      },
      "result type f32 should be u32 (the index of the largest value)");
  expect_rejected(
      [](Kernel& k) {
        Instr& in = find(k, OpKind::WarpPrefixSum);
        in.dtype = k.value_types[in.result.index] = DType::F16;
      },
      "result type f16 should be f32 (the operand's type)");
}

// The combines each collective and atomic accepts (core/kernel.hpp, accepts_combine).
TEST(VerifyThreadgroup, AcceptedCombines) {
  // Reductions: i32, u32 and the 16/32-bit floats; not fp8, bool or 8-bit integers.
  for (DType t : {DType::I32, DType::U32, DType::F32, DType::F16, DType::BF16}) {
    EXPECT_TRUE(accepts_combine(OpKind::WarpReduce, CombineOp::Mul, t)) << name_of(t);
    EXPECT_TRUE(accepts_combine(OpKind::ThreadgroupReduce, CombineOp::Max, t)) << name_of(t);
    EXPECT_FALSE(accepts_combine(OpKind::ThreadgroupReduce, CombineOp::Mul, t)) << name_of(t);
    EXPECT_FALSE(accepts_combine(OpKind::WarpReduce, CombineOp::Xor, t)) << name_of(t);
  }
  for (DType t : {DType::F8E4M3, DType::F8E5M2, DType::Bool, DType::U8, DType::I8}) {
    EXPECT_FALSE(accepts_combine(OpKind::WarpReduce, CombineOp::Add, t)) << name_of(t);
    EXPECT_FALSE(accepts_combine(OpKind::AtomicGlobal, CombineOp::Add, t)) << name_of(t);
  }
  // Atomics: every combine but Mul on i32 and u32; only Add on f32; nothing on f16.
  for (CombineOp c : {CombineOp::Add, CombineOp::Max, CombineOp::Min, CombineOp::And, CombineOp::Or,
                      CombineOp::Xor}) {
    EXPECT_TRUE(accepts_combine(OpKind::AtomicArray, c, DType::I32)) << combine_name(c);
    EXPECT_TRUE(accepts_combine(OpKind::AtomicGlobal, c, DType::U32)) << combine_name(c);
    EXPECT_EQ(accepts_combine(OpKind::AtomicGlobal, c, DType::F32), c == CombineOp::Add)
        << combine_name(c);
    EXPECT_FALSE(accepts_combine(OpKind::AtomicGlobal, c, DType::F16)) << combine_name(c);
  }
  EXPECT_FALSE(accepts_combine(OpKind::AtomicGlobal, CombineOp::Mul, DType::U32));
}

}  // namespace
}  // namespace mt
