// evaluate_contract: a failed Require names the parameters its condition reads with their
// values, a contract that holds throws nothing, and a TensorLen must fit u32. (Lengths and
// checked arithmetic through dispatch: tests/runtime/contract_test.cpp.)
#include "metaltile/core/contract.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::error_of;
using test::IrBuilder;

// Contract: position < max_seq and len(src) == head_dim * 2.
Kernel contract_kernel() {
  IrBuilder b("kc", KernelMode::Grid3D);
  const ParamId src = b.input("src", DType::F16);
  const ParamId head_dim = b.scalar("head_dim", DType::U32);
  const ParamId max_seq = b.scalar("max_seq", DType::U32);
  const ParamId position = b.scalar("position", DType::U32);
  const ParamId eps = b.scalar("eps", DType::F32);
  b.in_contract([&] {
    b.require(b.cmp(OpKind::Lt, b.read_scalar(position), b.read_scalar(max_seq)),
              "position < max_seq");
    b.require(b.cmp(OpKind::Eq, b.len(src), b.bin(OpKind::Mul, b.read_scalar(head_dim), b.u32(2))),
              "len(src) == head_dim * 2");
    b.require(b.cmp(OpKind::Lt, b.read_scalar(eps), b.f32(1.0f)), "eps < 1");
    b.require(b.cmp(OpKind::Lt, b.u32(1), b.u32(1)), "never");
  });
  return b.k;
}

std::string contract_error(std::uint32_t position, std::int64_t src_elements, float eps) {
  const Kernel k = contract_kernel();
  const std::vector<Scalar> uniforms{Scalar::of_int(src_elements), Scalar::of_int(4),
                                     Scalar::of_int(8), Scalar::of_int(position),
                                     Scalar::of_float(eps)};
  return error_of([&] { evaluate_contract(k, uniforms, LaunchDims{}); });
}

TEST(Contract, RequireNamesParamsAndValues) {
  EXPECT_EQ(contract_error(9, 8, 0.5f),
            "kernel 'kc': param 'max_seq': precondition failed: position < max_seq "
            "(max_seq=8, position=9)");
  EXPECT_EQ(contract_error(3, 7, 0.5f),
            "kernel 'kc': param 'head_dim': precondition failed: len(src) == head_dim * 2 "
            "(head_dim=4, len(src)=7)");
  EXPECT_EQ(contract_error(3, 8, 1.5f),
            "kernel 'kc': param 'eps': precondition failed: eps < 1 (eps=1.5)");
  // With every parameter in range, the constant condition fails with no parameter to name.
  EXPECT_EQ(contract_error(3, 8, 0.1f), "kernel 'kc': precondition failed: never");
}

TEST(Contract, ThatHoldsThrowsNothing) {
  IrBuilder b("ok", KernelMode::Grid3D);
  const ParamId n = b.scalar("n", DType::I32);
  b.in_contract([&] { b.require(b.cmp(OpKind::Gt, b.read_scalar(n), b.i32(-3)), "n > -3"); });
  std::vector<Scalar> uniforms{Scalar::of_int(-2)};
  EXPECT_NO_THROW(evaluate_contract(b.k, uniforms, LaunchDims{}));
  uniforms[0] = Scalar::of_int(-3);
  EXPECT_EQ(error_of([&] { evaluate_contract(b.k, uniforms, LaunchDims{}); }),
            "kernel 'ok': param 'n': precondition failed: n > -3 (n=-3)");
}

// The condition reaches `n` through two ops and `limit` through one; `unused` is not named.
TEST(Contract, PreconditionNamesTheScalarsItDependsOn) {
  IrBuilder b("k", KernelMode::Grid3D);
  const ParamId src = b.input("src", DType::F32);
  const ParamId unused = b.scalar("unused", DType::I32);
  const ParamId limit = b.scalar("limit", DType::I32);
  const ParamId n = b.scalar("n", DType::I32);
  b.in_contract([&] {
    b.read_scalar(unused);
    const ValueId twice = b.bin(OpKind::Mul, b.read_scalar(n), b.i32(2));
    const ValueId len = b.cast(DType::I32, b.len(src));
    const ValueId ok = b.cmp(OpKind::Le, b.bin(OpKind::Add, twice, len), b.read_scalar(limit));
    b.require(ok, "2*n + len(src) <= limit");
  });
  const std::vector<Scalar> uniforms{Scalar::of_int(10), Scalar::of_int(1), Scalar::of_int(-4),
                                     Scalar::of_int(7)};
  EXPECT_EQ(error_of([&] { evaluate_contract(b.k, uniforms, LaunchDims{}); }),
            "kernel 'k': param 'limit': precondition failed: 2*n + len(src) <= limit "
            "(limit=-4, n=7, len(src)=10)");
}

// The launch shape is a uniform of the contract, named when a failed condition reads it.
TEST(Contract, ReadsTheLaunchShape) {
  IrBuilder b("shape", KernelMode::Grid3D);
  b.in_contract([&] {
    const ValueId tpg = b.emit(make::thread_index(b.k, OpKind::ThreadsPerThreadgroup, 0));
    b.require(b.cmp(OpKind::Eq, tpg, b.u32(32)), "tpg.x == 32");
  });
  LaunchDims dims;
  dims.tpg = {32, 1, 1};
  EXPECT_NO_THROW(evaluate_contract(b.k, {}, dims));
  dims.tpg = {64, 2, 1};
  EXPECT_EQ(error_of([&] { evaluate_contract(b.k, {}, dims); }),
            "kernel 'shape': precondition failed: tpg.x == 32 (tpg=(64,2,1))");
}

TEST(Contract, TensorLenMustFitU32) {
  IrBuilder b("k", KernelMode::Grid3D);
  b.len(b.input("src", DType::U8));
  const Instr& len = b.k.body.instrs.back();
  EXPECT_NO_THROW(check_tensor_len(b.k, len, 4294967295LL));
  EXPECT_EQ(error_of([&] { check_tensor_len(b.k, len, 4294967296LL); }),
            "kernel 'k': param 'src': 4294967296 elements are more than a u32 length counts: "
            "%0: u32 = len src");
}

}  // namespace
}  // namespace mt
