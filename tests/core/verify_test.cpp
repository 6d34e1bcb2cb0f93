// The verifier: good kernels pass, and each rule fires on a kernel corrupted to break it,
// with an mt::Error that names the kernel, the op and its typed operands.
#include "metaltile/core/verify.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt {
namespace {

ValueId emit(Block& block, Instr in) {
  const ValueId result = in.result;
  block.instrs.push_back(std::move(in));
  return result;
}

// A good kernel with every op shape; tests corrupt one thing in it. Value ids by role:
struct Sample {
  Kernel k;
  ParamId src{0}, out{1}, n{2}, bits{3};
  LocalId acc{0};
  ValueId cn, limit, ok;               // contract: %0 %1 %2
  ValueId pid, bn, inside;             // body: %3 %4 %5
  ValueId x, xf, zero, one, i;         // in the if: %6 %7 %8 %9, loop variable %10
  ValueId a, e, sum;                   // in the loop: %11 %12 %13
  ValueId total, big, pick, word, sh;  // after the loop: %14 .. %18
};

Sample sample() {
  Sample s;
  Kernel& k = s.k;
  k.name = "sample";
  k.params = {{"src", ParamKind::Input, DType::F16},
              {"out", ParamKind::Output, DType::F32},
              {"n", ParamKind::Scalar, DType::U32},
              {"bits", ParamKind::Output, DType::U32}};
  k.new_local("acc", DType::F32);
  s.cn = emit(k.contract, make::scalar_param(k, s.n));
  s.limit = emit(k.contract, make::constant(k, DType::U32, Scalar::of_int(1024)));
  s.ok = emit(k.contract, make::compare(k, OpKind::Le, s.cn, s.limit));
  emit(k.contract, make::require(k, s.ok, "n <= 1024"));

  s.pid = emit(k.body, make::program_id(k, 0));
  s.bn = emit(k.body, make::scalar_param(k, s.n));
  s.inside = emit(k.body, make::compare(k, OpKind::Lt, s.pid, s.bn));
  Instr branch = make::if_then_else(k, s.inside);
  Block& then = branch.blocks[0];
  s.x = emit(then, make::load(k, s.src, s.pid));
  s.xf = emit(then, make::cast(k, DType::F32, s.x));
  s.zero = emit(then, make::constant(k, DType::U32, Scalar::of_int(0)));
  s.one = emit(then, make::constant(k, DType::U32, Scalar::of_int(1)));
  Instr loop = make::for_loop(k, s.zero, s.bn, s.one);
  s.i = loop.result;
  Block& body = loop.blocks[0];
  s.a = emit(body, make::local_read(k, s.acc));
  s.e = emit(body, make::unary(k, OpKind::Exp, s.xf));
  s.sum = emit(body, make::binary(k, OpKind::Add, s.a, s.e));
  emit(body, make::local_write(k, s.acc, s.sum));
  emit(then, std::move(loop));
  s.total = emit(then, make::local_read(k, s.acc));
  s.big = emit(then, make::compare(k, OpKind::Gt, s.total, s.xf));
  s.pick = emit(then, make::select(k, s.big, s.total, s.xf));
  s.word = emit(then, make::bitcast(k, DType::U32, s.pick));
  s.sh = emit(then, make::binary(k, OpKind::Shl, s.word, s.one));
  emit(then, make::store(k, s.out, s.pid, s.pick));
  emit(then, make::store(k, s.bits, s.pid, s.sh));
  emit(k.body, std::move(branch));
  return s;
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

// verify(k) must throw mt::Error whose message contains `expected`; the message always
// starts with the kernel's name.
void expect_rejected(const Kernel& k, const std::string& expected) {
  try {
    verify(k);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("kernel '" + k.name + "': verify: ", 0), 0u) << message;
    EXPECT_NE(message.find(expected), std::string::npos)
        << "message: " << message << "\nexpected to contain: " << expected;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what() << "\nexpected: " << expected;
    return;
  }
  ADD_FAILURE() << "verify accepted a kernel that breaks a rule (" << expected << "):\n"
                << print(k);
}

// Corrupts a fresh sample and expects the given message fragment.
void expect_rejected(const std::function<void(Sample&)>& corrupt, const std::string& expected) {
  Sample s = sample();
  corrupt(s);
  expect_rejected(s.k, expected);
}

// --- good kernels ------------------------------------------------------------------------

TEST(Verify, GoodKernelsPass) {
  Sample s = sample();
  EXPECT_NO_THROW(verify(s.k)) << print(s.k);

  Kernel empty;
  empty.name = "empty";
  EXPECT_NO_THROW(verify(empty));

  // Cast converts any type to any other; fp8 may be selected; NaN and inf are literals;
  // values from an outer block are visible in nested ones.
  Kernel k;
  k.name = "casts";
  k.params = {{"out", ParamKind::Output, DType::F8E4M3}};
  const ValueId b = emit(k.body, make::constant(k, DType::Bool, Scalar::of_int(1)));
  const ValueId f8 = emit(k.body, make::cast(k, DType::F8E4M3, b));
  const ValueId back = emit(k.body, make::cast(k, DType::Bool, f8));
  const ValueId other = emit(k.body, make::constant(k, DType::F8E4M3, Scalar::of_float(NAN)));
  emit(k.body, make::constant(k, DType::F16, Scalar::of_float(-INFINITY)));
  emit(k.body, make::constant(k, DType::I8, Scalar::of_int(-128)));
  Instr branch = make::if_then_else(k, back);
  const ValueId pick = emit(branch.blocks[1], make::select(k, back, f8, other));
  const ValueId at = emit(branch.blocks[1], make::program_id(k, 2));
  emit(branch.blocks[1], make::store(k, ParamId{0}, at, pick));
  emit(k.body, std::move(branch));
  EXPECT_NO_THROW(verify(k)) << print(k);
}

TEST(Verify, TensorLengthsAreUniformAndMayBeUsedInTheContract) {
  Sample s = sample();
  const ValueId len = emit(s.k.contract, make::tensor_len(s.k, s.out));
  const ValueId fits = emit(s.k.contract, make::compare(s.k, OpKind::Le, s.cn, len));
  emit(s.k.contract, make::require(s.k, fits, "n <= len(out)"));
  EXPECT_NO_THROW(verify(s.k)) << print(s.k);

  const auto add_len = [](Sample& t) {
    t.k.contract.instrs.push_back(make::tensor_len(t.k, t.src));
  };
  expect_rejected(
      [&](Sample& t) {
        add_len(t);
        t.k.contract.instrs.back().param = t.n;
      },
      "len n: param 'n' is not a tensor");
  expect_rejected(
      [&](Sample& t) {
        add_len(t);
        t.k.contract.instrs.back().param = ParamId{9};
      },
      "len ?param: param id 9 is out of range (4 params)");
  expect_rejected(
      [&](Sample& t) {
        add_len(t);
        Instr& in = t.k.contract.instrs.back();
        in.dtype = DType::I32;
        t.k.value_types[in.result.index] = DType::I32;
      },
      "len src: result type i32 should be u32");
}

TEST(Verify, MessageNamesTheOpAndItsTypedOperands) {
  Sample s = sample();
  Instr& add = find(s.k, OpKind::Add);
  add.operands[1] = s.one;  // f32 + u32
  try {
    verify(s.k);
    ADD_FAILURE() << "accepted add of f32 and u32";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "kernel 'sample': verify: add %11: f32, %9: u32: operand types differ");
  }
}

// --- kernel-level rules --------------------------------------------------------------------

TEST(Verify, ParamsHaveUniqueNamesAndScalarsAre32Bit) {
  expect_rejected([](Sample& s) { s.k.params[3].name = "src"; },
                  "parameter 'src' is declared twice");
  expect_rejected([](Sample& s) { s.k.params[0].name = ""; }, "a parameter has no name");
  expect_rejected([](Sample& s) { s.k.params[2].dtype = DType::U8; },
                  "scalar parameter 'n' has type u8");
}

// --- where ops may appear -------------------------------------------------------------------

TEST(Verify, ContractHoldsOnlyHostComputableOps) {
  expect_rejected([](Sample& s) { s.k.contract.instrs.push_back(make::program_id(s.k, 0)); },
                  "program_id: not allowed in the contract");
  expect_rejected([](Sample& s) { s.k.contract.instrs.push_back(make::load(s.k, s.src, s.cn)); },
                  "load src %0: u32: not allowed in the contract");
  expect_rejected([](Sample& s) { s.k.contract.instrs.push_back(make::local_read(s.k, s.acc)); },
                  "read acc: not allowed in the contract");
  expect_rejected([](Sample& s) { s.k.contract.instrs.push_back(make::if_then_else(s.k, s.ok)); },
                  "if %2: bool: not allowed in the contract");
}

// wait_prior_kernel lets a backend start the kernel before the prior one ends: it must be at
// the top level (every thread reaches it), before any tensor access; a prefetch may precede it.
TEST(Verify, WaitForThePriorKernelComesFirst) {
  const auto with_wait = [](std::size_t at, bool prefetch_first) {
    Sample s = sample();
    auto& body = s.k.body.instrs;
    std::vector<Instr> front;
    if (prefetch_first) front.push_back(make::prefetch_l2(s.k, s.src, s.pid, s.bn));
    front.push_back(make::kernel_overlap(OpKind::WaitPriorKernel));
    front.push_back(make::kernel_overlap(OpKind::ReleaseNextKernel));
    body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), front.begin(), front.end());
    return s;
  };
  // After the thread id and n, before the branch that loads and stores.
  EXPECT_NO_THROW(verify(with_wait(2, true).k)) << print(with_wait(2, true).k);
  EXPECT_NO_THROW(verify(with_wait(3, false).k));
  expect_rejected(with_wait(4, false).k, "wait_prior_kernel comes after load src");
  Sample nested = sample();
  find(nested.k, OpKind::If)
      .blocks[0]
      .instrs.insert(find(nested.k, OpKind::If).blocks[0].instrs.begin(),
                     make::kernel_overlap(OpKind::WaitPriorKernel));
  expect_rejected(nested.k, "wait_prior_kernel must be at the top of the body");
  expect_rejected(
      [](Sample& s) {
        Instr half = make::constant(s.k, DType::F32, Scalar::of_float(0.5));
        Instr prefetch = make::prefetch_l2(s.k, s.src, s.pid, s.pid);
        prefetch.operands[1] = half.result;  // f32: not a count
        auto at = s.k.body.instrs.begin() + 2;
        at = s.k.body.instrs.insert(at, std::move(half)) + 1;
        s.k.body.instrs.insert(at, std::move(prefetch));
      },
      "prefetch_l2's first element and count must be u32");
}

TEST(Verify, BodyHoldsNoRequire) {
  expect_rejected(
      [](Sample& s) {
        find(s.k, OpKind::For).blocks[0].instrs.push_back(make::require(s.k, s.inside, "x"));
      },
      "require %5: bool: not allowed in the body");
}

// --- arity ----------------------------------------------------------------------------------

TEST(Verify, OperandAndBlockCounts) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands.pop_back(); },
                  "add %11: f32: has 1 operand, expected 2");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Select).operands.push_back(s.xf); },
                  "has 4 operands, expected 3");
  expect_rejected([](Sample& s) { find(s.k, OpKind::For).blocks.clear(); },
                  "for %8: u32, %4: u32, %9: u32: has 0 blocks, expected 1");
  expect_rejected([](Sample& s) { find(s.k, OpKind::If).blocks.pop_back(); },
                  "if %5: bool: has 1 block, expected 2");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Const).blocks.resize(1); },
                  "const: has 1 block, expected 0");
}

// --- ids and scopes ---------------------------------------------------------------------------

TEST(Verify, OperandsAreInRangeAndDefinedBeforeUse) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands[0] = ValueId{99}; },
                  "add %99: ?, %12: f32: operand %99: ? is out of range (19 values)");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands[0] = ValueId{}; },
                  "operand %? is out of range");
  // %13 is defined by the add itself: a use of one's own result.
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands[0] = s.sum; },
                  "add %13: f32, %12: f32: operand %13 is not defined before this use");
  // %14 is defined later in the enclosing block.
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands[0] = s.total; },
                  "operand %14 is not defined before this use in an enclosing scope");
}

TEST(Verify, ValuesAreVisibleOnlyInTheirScope) {
  // The loop variable, after the loop.
  expect_rejected(
      [](Sample& s) {
        Instr& branch = find(s.k, OpKind::If);
        branch.blocks[0].instrs.push_back(make::store(s.k, s.bits, s.i, s.sh));
      },
      "store bits %10: u32, %18: u32: operand %10 is not defined");
  // A value of the then-arm, after the if.
  expect_rejected(
      [](Sample& s) { s.k.body.instrs.push_back(make::store(s.k, s.out, s.pid, s.xf)); },
      "store out %3: u32, %7: f32: operand %7 is not defined");
  // A value of the then-arm, in the else-arm.
  expect_rejected(
      [](Sample& s) {
        find(s.k, OpKind::If).blocks[1].instrs.push_back(make::store(s.k, s.out, s.pid, s.xf));
      },
      "operand %7 is not defined");
  // The contract and the body are separate programs (host and device).
  expect_rejected(
      [](Sample& s) { s.k.body.instrs.push_back(make::compare(s.k, OpKind::Lt, s.pid, s.limit)); },
      "lt %3: u32, %1: u32: operand %1 is not defined");
}

TEST(Verify, EachResultIsDefinedOnceWithItsTableType) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Exp).result = s.a; },
                  "exp %7: f32: result %11 is defined twice");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Exp).result = ValueId{40}; },
                  "exp %7: f32: result %40: ? is out of range (19 values)");
  expect_rejected([](Sample& s) { find(s.k, OpKind::ProgramId).result = ValueId{}; },
                  "program_id: result %? is out of range");
  expect_rejected([](Sample& s) { s.k.value_types[s.e.index] = DType::F16; },
                  "exp %7: f32: result %12 has type f32 but the value table says f16");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Store).result = s.x; },
                  "store out %3: u32, %16: f32: has a result %6");
}

// --- leaves -------------------------------------------------------------------------------------

TEST(Verify, LeafRules) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::ProgramId).axis = 3; },
                  "program_id: axis 3 is not 0..2");
  expect_rejected([](Sample& s) { find(s.k, OpKind::ProgramId).axis = -1; }, "axis -1 is not 0..2");
  expect_rejected(
      [](Sample& s) {
        find(s.k, OpKind::ProgramId).dtype = DType::I32;
        s.k.value_types[s.pid.index] = DType::I32;
      },
      "program_id: result type i32 should be u32");
  expect_rejected([](Sample& s) { find(s.k, OpKind::ScalarParam).param = s.src; },
                  "scalar src: param 'src' is not a scalar");
  expect_rejected([](Sample& s) { find(s.k, OpKind::ScalarParam).param = ParamId{7}; },
                  "scalar ?param: param id 7 is out of range (4 params)");
  expect_rejected(
      [](Sample& s) {
        s.k.params[2].dtype = DType::I32;  // the param changed under the read
      },
      "scalar n: result type u32 should be i32");
}

TEST(Verify, ConstLiteralsAreNormalisedToTheirType) {
  const auto with_literal = [](DType t, Scalar v) {
    return [t, v](Sample& s) {
      Instr& c = find(s.k, OpKind::Const);
      c.dtype = t;
      s.k.value_types[c.result.index] = t;
      c.literal = v;
      // keep the kernel otherwise well-typed: the constant's users are replaced
      s.k.contract.instrs.resize(2);
    };
  };
  expect_rejected(with_literal(DType::U32, Scalar::of_int(-1)),
                  "const: literal is not a normalised u32 value");
  expect_rejected(with_literal(DType::U32, Scalar::of_int(1ll << 32)), "normalised u32");
  expect_rejected(with_literal(DType::I32, Scalar::of_int(1ll << 31)), "normalised i32");
  expect_rejected(with_literal(DType::U8, Scalar::of_int(256)), "normalised u8");
  expect_rejected(with_literal(DType::I8, Scalar::of_int(-129)), "normalised i8");
  expect_rejected(with_literal(DType::Bool, Scalar::of_int(2)), "normalised bool");
  expect_rejected(with_literal(DType::U32, Scalar{0.5, 1}), "normalised u32");
  expect_rejected(with_literal(DType::F32, Scalar::of_float(0.1)), "normalised f32");
  expect_rejected(with_literal(DType::F32, Scalar::of_float(1e300)), "normalised f32");
  expect_rejected(with_literal(DType::F32, Scalar{1.0, 1}), "normalised f32");
  expect_rejected(with_literal(DType::F16, Scalar::of_float(0.1f)), "normalised f16");
  expect_rejected(with_literal(DType::BF16, Scalar::of_float(1.0f + 0x1p-10f)), "normalised bf16");
  expect_rejected(with_literal(DType::F8E4M3, Scalar::of_float(INFINITY)), "normalised f8e4m3");
  // and the same kernels with representable literals pass
  const std::pair<DType, Scalar> representable[] = {
      {DType::U32, Scalar::of_int(4294967295)},    {DType::I32, Scalar::of_int(-2147483648)},
      {DType::F16, Scalar::of_float(65504)},       {DType::BF16, Scalar::of_float(1.0f + 0x1p-7f)},
      {DType::F8E4M3, Scalar::of_float(448)},      {DType::F32, Scalar::of_float(-0.0)},
      {DType::F8E5M2, Scalar::of_float(-INFINITY)}};  // inf is an E5M2 value
  for (const auto& [t, v] : representable) {
    Sample s = sample();
    with_literal(t, v)(s);
    EXPECT_NO_THROW(verify(s.k)) << print(s.k);
  }
}

// --- memory and locals
// ----------------------------------------------------------------------------

TEST(Verify, MemoryRules) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Load).param = s.n; },
                  "load n %3: u32: param 'n' is not a tensor");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Load).param = ParamId{}; },
                  "load ?param %3: u32: param id ? is out of range");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Load).operands[0] = s.inside; },
                  "load src %5: bool: index must be u32 or i32");
  expect_rejected([](Sample& s) { s.k.params[0].dtype = DType::BF16; },
                  "load src %3: u32: result type f16 should be bf16");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Store).param = s.src; },
                  "store src %3: u32, %16: f32: param 'src' is not an output");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Store).param = s.n; },
                  "param 'n' is not an output");
  expect_rejected(
      [](Sample& s) { find(s.k, OpKind::Store).param = s.bits; },
      "store bits %3: u32, %16: f32: stored value type differs from param 'bits' (u32)");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Store).operands[0] = s.xf; },
                  "store out %7: f32, %16: f32: index must be u32 or i32");
}

TEST(Verify, LocalRules) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::LocalRead).local = LocalId{3}; },
                  "read ?local: local id 3 is out of range (1 local)");
  expect_rejected([](Sample& s) { find(s.k, OpKind::LocalWrite).local = LocalId{}; },
                  "write ?local %13: f32: local id ? is out of range");
  expect_rejected([](Sample& s) { s.k.locals[0].dtype = DType::F16; },
                  "read acc: result type f32 should be f16");
  expect_rejected(
      [](Sample& s) {
        Instr& write = find(s.k, OpKind::LocalWrite);
        write.operands[0] = s.i;
      },
      "write acc %10: u32: written value type differs from the local (f32)");
}

// --- arithmetic -----------------------------------------------------------------------------

TEST(Verify, UnaryRules) {
  expect_rejected(
      [](Sample& s) {
        Instr& exp = find(s.k, OpKind::Exp);
        exp.operands[0] = s.pid;
      },
      "exp %3: u32: exp does not accept u32");
  expect_rejected(
      [](Sample& s) {
        Instr& exp = find(s.k, OpKind::Exp);
        exp.op = OpKind::Neg;
        exp.operands[0] = s.inside;
        exp.dtype = DType::Bool;
        s.k.value_types[exp.result.index] = DType::Bool;
      },
      "neg %5: bool: neg does not accept bool");
  expect_rejected(
      [](Sample& s) {
        Instr& exp = find(s.k, OpKind::Exp);
        exp.operands[0] = s.x;
      },
      "exp %6: f16: result type f32 should be f16");
  expect_rejected(
      [](Sample& s) {
        Instr& exp = find(s.k, OpKind::Exp);
        exp.op = OpKind::Not;
        exp.operands[0] = s.x;
      },
      "not %6: f16: not does not accept f16");
}

TEST(Verify, BitcastKeepsTheSizeAndAvoidsBool) {
  expect_rejected(
      [](Sample& s) {
        Instr& b = find(s.k, OpKind::Bitcast);
        b.operands[0] = s.x;  // f16 -> u32
      },
      "bitcast %6: f16: bitcast to u32 changes the size");
  expect_rejected(
      [](Sample& s) {
        Instr& b = find(s.k, OpKind::Bitcast);
        b.operands[0] = s.big;
      },
      "bitcast %15: bool: bitcast of bool");
}

TEST(Verify, BinaryRules) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Add).operands[1] = s.one; },
                  "add %11: f32, %9: u32: operand types differ");
  expect_rejected(
      [](Sample& s) {
        Instr& shl = find(s.k, OpKind::Shl);
        shl.operands = {s.pick, s.pick};
        shl.dtype = DType::F32;
        s.k.value_types[shl.result.index] = DType::F32;
      },
      "shl %16: f32, %16: f32: shl does not accept f32");
  expect_rejected(
      [](Sample& s) {
        Instr& add = find(s.k, OpKind::Add);
        add.dtype = DType::F16;
        s.k.value_types[add.result.index] = DType::F16;
      },
      "add %11: f32, %12: f32: result type f16 should be f32");
  // fp8 is a storage type: it is loaded, stored, cast and selected, never computed with.
  Kernel k;
  k.name = "fp8";
  const ValueId a = emit(k.body, make::constant(k, DType::F8E4M3, Scalar::of_float(1)));
  Instr add;
  add.op = OpKind::Add;
  add.dtype = DType::F8E4M3;
  add.operands = {a, a};
  add.result = k.new_value(DType::F8E4M3);
  emit(k.body, add);
  expect_rejected(k, "add %0: f8e4m3, %0: f8e4m3: add does not accept f8e4m3");
}

TEST(Verify, ComparisonsGiveBool) {
  expect_rejected(
      [](Sample& s) {
        Instr& lt = find(s.k, OpKind::Lt);
        lt.dtype = DType::U32;
        s.k.value_types[lt.result.index] = DType::U32;
      },
      "lt %3: u32, %4: u32: result type u32 should be bool");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Gt).operands[1] = s.x; },
                  "gt %14: f32, %6: f16: operand types differ");
  // Ordering is not defined on bool (equality is).
  expect_rejected(
      [](Sample& s) {
        find(s.k, OpKind::Gt).operands = {s.inside, s.inside};
      },
      "gt %5: bool, %5: bool: gt does not accept bool");
}

TEST(Verify, SelectRules) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::Select).operands[0] = s.xf; },
                  "select %7: f32, %14: f32, %7: f32: condition must be bool");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Select).operands[2] = s.pid; },
                  "select %15: bool, %14: f32, %3: u32: arm types differ");
  expect_rejected(
      [](Sample& s) {
        Instr& sel = find(s.k, OpKind::Select);
        sel.operands = {s.big, s.x, s.x};
      },
      "select %15: bool, %6: f16, %6: f16: result type f32 should be f16");
}

// The sample's select turned into an fma (f32 result, like the select's).
TEST(Verify, FmaRules) {
  expect_rejected(
      [](Sample& s) {
        Instr& in = find(s.k, OpKind::Select);
        in.op = OpKind::Fma;
        in.operands = {s.xf, s.xf, s.x};
      },
      "fma %7: f32, %7: f32, %6: f16: operand types differ");
  expect_rejected(
      [](Sample& s) {
        Instr& in = find(s.k, OpKind::Select);
        in.op = OpKind::Fma;
        in.operands = {s.pid, s.pid, s.pid};
      },
      "fma does not accept u32");
  expect_rejected(
      [](Sample& s) {
        Instr& in = find(s.k, OpKind::Select);
        in.op = OpKind::Fma;
        in.operands = {s.x, s.x, s.x};
      },
      "result type f32 should be f16");
}

// --- control flow and the contract ------------------------------------------------------------

TEST(Verify, ForRules) {
  expect_rejected(
      [](Sample& s) {
        Instr& loop = find(s.k, OpKind::For);
        loop.operands = {s.xf, s.xf, s.xf};
      },
      "for %7: f32, %7: f32, %7: f32: loop bounds must be u32 or i32");
  expect_rejected([](Sample& s) { find(s.k, OpKind::For).operands[2] = s.inside; },
                  "for %8: u32, %4: u32, %5: bool: loop bound types differ");
  expect_rejected(
      [](Sample& s) {
        Instr& loop = find(s.k, OpKind::For);
        loop.dtype = DType::I32;
        s.k.value_types[loop.result.index] = DType::I32;
      },
      "for %8: u32, %4: u32, %9: u32: result type i32 should be u32");
}

TEST(Verify, ConditionsAreBool) {
  expect_rejected([](Sample& s) { find(s.k, OpKind::If).operands[0] = s.pid; },
                  "if %3: u32: condition must be bool");
  expect_rejected([](Sample& s) { find(s.k, OpKind::Require).operands[0] = s.cn; },
                  "require %0: u32: condition must be bool");
}

// A length requirement names a tensor and a u32 count, and belongs in the contract.
TEST(Verify, LengthRequirementsNameATensorAndAU32Count) {
  const auto add = [](Sample& s, ParamId p, ValueId count) {
    s.k.contract.instrs.push_back(make::require_len(s.k, s.src, s.cn, false, "n"));
    s.k.contract.instrs.back().param = p;
    s.k.contract.instrs.back().operands[0] = count;
  };
  Sample good = sample();
  add(good, good.src, good.cn);
  EXPECT_NO_THROW(verify(good.k));
  expect_rejected([&](Sample& s) { add(s, s.n, s.cn); },
                  "require_len n %0: u32: param 'n' is not a tensor");
  expect_rejected([&](Sample& s) { add(s, ParamId{9}, s.cn); },
                  "require_len ?param %0: u32: param id 9 is out of range (4 params)");
  expect_rejected([&](Sample& s) { add(s, s.src, s.ok); },
                  "require_len src %2: bool: element count must be u32");
  expect_rejected(
      [](Sample& s) {
        find(s.k, OpKind::For)
            .blocks[0]
            .instrs.push_back(make::require_len(s.k, s.src, s.bn, true, "n"));
      },
      "require_len_multiple src %4: u32: not allowed in the body");
}

}  // namespace
}  // namespace mt
