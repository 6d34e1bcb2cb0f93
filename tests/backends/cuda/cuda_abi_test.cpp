// The error record of checked CUDA kernels reads exactly like the interpreter: for each failing
// access (tensor load and store, atomics, array loads, stores and atomics, vector access out of
// bounds or misaligned), the interpreter runs a kernel in which one thread fails, and the record
// the GPU would write for that thread decodes to the same message.
#include "backends/cuda/cuda_abi.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"

namespace mt::cuda {
namespace {

constexpr std::uint32_t kThreads = 8;
constexpr std::uint32_t kFailing = 5;  // the thread whose index goes out of range

// A flat kernel run by one group of kThreads threads. Parameters: x (input f32[32]),
// o (output f32[32]), c (output u32[8]); arrays: tile (threadgroup f32[8]), hist (threadgroup
// u32[8]), priv (per-thread u32[8]), each element written by its thread before a barrier.
// `off` is 100 for thread kFailing and 0 elsewhere; `fail` appends the failing instruction.
struct Scenario {
  Kernel k;
  ValueId tid, off, one;
  ArrayId tile, hist, priv;
  std::uint32_t site = 0;  // of the failing instruction

  ValueId push(Instr in) {
    const ValueId result = in.result;
    k.body.instrs.push_back(std::move(in));
    return result;
  }
  ValueId u32(std::uint32_t v) { return push(make::constant(k, DType::U32, Scalar::of_int(v))); }
  ValueId add(ValueId a, ValueId b) { return push(make::binary(k, OpKind::Add, a, b)); }
  ValueId mul(ValueId a, ValueId b) { return push(make::binary(k, OpKind::Mul, a, b)); }
  void fail(Instr in) {
    site = static_cast<std::uint32_t>(k.body.instrs.size());
    push(std::move(in));
  }
};

Scenario scenario() {
  Scenario s;
  Kernel& k = s.k;
  k.name = "broken";
  k.mode = KernelMode::Reduction;
  k.params = {{"x", ParamKind::Input, DType::F32},
              {"o", ParamKind::Output, DType::F32},
              {"c", ParamKind::Output, DType::U32}};
  s.tile = k.new_array({"tile", DType::F32, MemorySpace::Threadgroup, kThreads, {}});
  s.hist = k.new_array({"hist", DType::U32, MemorySpace::Threadgroup, kThreads, {}});
  s.priv = k.new_array({"priv", DType::U32, MemorySpace::Thread, kThreads, {}});
  s.tid = s.push(make::thread_index(k, OpKind::ThreadId, 0));
  s.one = s.push(make::constant(k, DType::F32, Scalar::of_float(1.0)));
  s.push(make::array_store(k, s.tile, s.tid, s.one));
  s.push(make::array_store(k, s.hist, s.tid, s.tid));
  s.push(make::array_store(k, s.priv, s.tid, s.tid));
  s.push(make::barrier(OpKind::Barrier));
  const ValueId bad = s.push(make::compare(k, OpKind::Eq, s.tid, s.u32(kFailing)));
  s.off = s.push(make::select(k, bad, s.u32(100), s.u32(0)));
  return s;
}

struct Case {
  std::string what;
  std::function<void(Scenario&)> fail;  // appends the failing instruction
  ErrorKind kind;
  std::int64_t value;  // what the device records
};

TEST(CudaAbi, ErrorRecordsReadExactlyLikeTheInterpretersErrors) {
  const std::vector<Case> cases = {
      {"load", [](Scenario& s) { s.fail(make::load(s.k, ParamId{0}, s.add(s.tid, s.off))); },
       ErrorKind::LoadOutOfBounds, 105},
      {"store",
       [](Scenario& s) {
         s.fail(make::store(s.k, ParamId{1}, s.add(s.tid, s.mul(s.off, s.off)), s.one));
       },
       ErrorKind::StoreOutOfBounds, 10005},
      {"atomic",
       [](Scenario& s) {
         s.fail(make::atomic_global(s.k, CombineOp::Max, ParamId{2}, s.add(s.tid, s.off), s.tid));
       },
       ErrorKind::StoreOutOfBounds, 105},
      {"array_load threadgroup",
       [](Scenario& s) { s.fail(make::array_load(s.k, s.tile, s.add(s.tid, s.off))); },
       ErrorKind::ArrayOutOfBounds, 105},
      {"array_load per-thread",
       [](Scenario& s) { s.fail(make::array_load(s.k, s.priv, s.add(s.tid, s.off))); },
       ErrorKind::ArrayOutOfBounds, 105},
      {"array_store",
       [](Scenario& s) { s.fail(make::array_store(s.k, s.tile, s.add(s.tid, s.off), s.one)); },
       ErrorKind::ArrayOutOfBounds, 105},
      {"array_atomic",
       [](Scenario& s) {
         s.fail(make::atomic_array(s.k, CombineOp::Add, s.hist, s.add(s.tid, s.off), s.tid));
       },
       ErrorKind::ArrayOutOfBounds, 105},
      {"load_vector misaligned",
       [](Scenario& s) {
         const ArrayId v = s.k.new_array({"v", DType::F32, MemorySpace::Thread, 4, {}});
         const ValueId at = s.add(s.mul(s.tid, s.u32(4)),
                                  s.push(make::binary(s.k, OpKind::Div, s.off, s.u32(50))));
         s.fail(make::load_vector(s.k, ParamId{0}, at, v, 4));
       },
       ErrorKind::VectorMisaligned, 22},
      {"load_vector out of bounds",
       [](Scenario& s) {
         const ArrayId v = s.k.new_array({"v", DType::F32, MemorySpace::Thread, 4, {}});
         const ValueId at = s.mul(s.add(s.tid, s.off), s.u32(4));
         s.fail(make::load_vector(s.k, ParamId{0}, at, v, 4));
       },
       ErrorKind::LoadOutOfBounds, 420},
      {"store_vector out of bounds",
       [](Scenario& s) {
         const ArrayId v = s.k.new_array({"v", DType::F32, MemorySpace::Thread, 2, {}});
         const ValueId two = s.u32(2);
         s.push(make::load_vector(s.k, ParamId{0}, s.mul(s.tid, two), v, 2));
         s.fail(make::store_vector(s.k, ParamId{1}, s.mul(s.add(s.tid, s.off), two), v, 2));
       },
       ErrorKind::StoreOutOfBounds, 210},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Scenario s = scenario();
    c.fail(s);
    verify(s.k);
    std::vector<std::uint8_t> x(32 * 4, 0), o(32 * 4, 0), counts(kThreads * 4, 0);
    std::vector<Argument> args(3);
    args[0].bytes = x;
    args[1].bytes = o;
    args[2].bytes = counts;
    LaunchDims dims;
    dims.grid = {1, 1, 1};
    dims.tpg = {kThreads, 1, 1};
    std::string interpreter;
    try {
      cpu::interpret(s.k, args, dims, DeviceLimits{}, 1);
    } catch (const Error& e) {
      interpreter = e.what();
    }
    ASSERT_FALSE(interpreter.empty()) << "the interpreter found no error";
    ErrorRecord record;
    record.kind = c.kind;
    record.site = s.site;
    record.value = c.value;
    record.thread = {kFailing, 0, 0};
    const std::uint64_t elements[] = {32, 32, kThreads};
    EXPECT_EQ(std::string(error_from_record(s.k, record, elements, dims).what()), interpreter);
  }
}

TEST(CudaAbi, DeviceConstantsNameTheNewKinds) {
  const std::string c = device_abi_constants();
  EXPECT_NE(c.find("  mt_error_array = 4u,\n"), std::string::npos) << c;
  EXPECT_NE(c.find("  mt_error_vector_align = 5u,\n"), std::string::npos) << c;
}

}  // namespace
}  // namespace mt::cuda
