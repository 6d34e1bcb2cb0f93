// The op list: every op has a distinct printed name and a shape, and each op set holds exactly
// the ops its comment names (the passes and the verifier rely on these answers).
#include "metaltile/core/ops.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace mt {
namespace {

struct OpEntry {
  OpKind op;
  std::string_view name;
  OpShape shape;
};

const std::vector<OpEntry>& all_ops() {
  static const std::vector<OpEntry> ops = {
#define MT_OP_ENTRY(name, printed, shape, ...) {OpKind::name, printed, OpShape::shape},
      MT_FOR_EACH_OP(MT_OP_ENTRY)
#undef MT_OP_ENTRY
  };
  return ops;
}

// The ops for which pred holds, by printed name.
std::set<std::string> where(bool (*pred)(OpKind)) {
  std::set<std::string> names;
  for (const OpEntry& e : all_ops()) {
    if (pred(e.op)) names.insert(std::string(e.name));
  }
  return names;
}

TEST(Ops, NamesAndShapesComeFromTheList) {
  std::set<std::string_view> seen;
  for (const OpEntry& e : all_ops()) {
    EXPECT_EQ(op_name(e.op), e.name);
    EXPECT_EQ(op_shape(e.op), e.shape) << e.name;
    EXPECT_FALSE(e.name.empty());
    EXPECT_TRUE(seen.insert(e.name).second) << "printed name '" << e.name << "' twice";
  }
  EXPECT_EQ(op_name(OpKind::ScalarParam), "scalar");
  EXPECT_EQ(op_name(OpKind::LocalRead), "read");
  EXPECT_EQ(op_name(OpKind::LocalWrite), "write");
  EXPECT_EQ(op_name(OpKind::TensorLen), "len");
}

TEST(Ops, ShapePredicates) {
  EXPECT_EQ(where(is_unary),
            (std::set<std::string>{
                "neg",  "not",   "abs", "floor",   "ceil",  "round", "round_even", "trunc", "exp",
                "exp2", "expm1", "log", "log2",    "log1p", "sqrt",  "rsqrt",      "sin",   "cos",
                "tan",  "tanh",  "erf", "sigmoid", "silu",  "gelu",  "gelu_tanh"}));
  const auto is_conversion = [](OpKind op) { return op_shape(op) == OpShape::Convert; };
  EXPECT_EQ(where(is_conversion), (std::set<std::string>{"cast", "bitcast"}));
  EXPECT_EQ(where(is_binary),
            (std::set<std::string>{"add", "sub", "mul", "div", "rem", "min", "max", "and", "or",
                                   "xor", "shl", "shr", "pow", "atan2"}));
  EXPECT_EQ(where(is_comparison), (std::set<std::string>{"eq", "ne", "lt", "le", "gt", "ge"}));
}

TEST(Ops, OpSets) {
  EXPECT_EQ(where(is_commutative),
            (std::set<std::string>{"add", "mul", "min", "max", "and", "or", "xor", "eq", "ne"}));
  EXPECT_EQ(where(is_float_only),
            (std::set<std::string>{
                "floor",   "ceil",  "round", "round_even", "trunc", "exp",   "exp2", "expm1", "log",
                "log2",    "log1p", "sqrt",  "rsqrt",      "sin",   "cos",   "tan",  "tanh",  "erf",
                "sigmoid", "silu",  "gelu",  "gelu_tanh",  "pow",   "atan2", "fma"}));
  EXPECT_EQ(where(is_integer_only), (std::set<std::string>{"shl", "shr"}));
  EXPECT_EQ(where(is_bitwise), (std::set<std::string>{"not", "and", "or", "xor"}));
  const auto any_type = [](OpKind op) { return operand_class(op) == OperandClass::Any; };
  EXPECT_EQ(where(any_type), (std::set<std::string>{"cast", "bitcast", "select"}));
  const auto equality = [](OpKind op) { return operand_class(op) == OperandClass::Equality; };
  EXPECT_EQ(where(equality), (std::set<std::string>{"eq", "ne"}));
}

// accepts_operand_type is the Operands column: fp8 only where the class is Any, bool only for
// bitwise ops, equality and Any, and each class on exactly its dtypes.
TEST(Ops, OperandClassesAcceptTheirDTypes) {
  const auto accepted = [](OpKind op) {
    std::set<std::string> names;
    for (DType t : kAllDTypes) {
      if (accepts_operand_type(op, t)) names.insert(std::string(name_of(t)));
    }
    return names;
  };
  const std::set<std::string> floats = {"f32", "f16", "bf16"};
  const std::set<std::string> integers = {"i32", "u32", "i8", "u8"};
  std::set<std::string> arithmetic = floats, bits = integers, equality, any;
  arithmetic.insert(integers.begin(), integers.end());
  bits.insert("bool");
  equality = arithmetic;
  equality.insert("bool");
  for (DType t : kAllDTypes) any.insert(std::string(name_of(t)));
  EXPECT_EQ(accepted(OpKind::Exp), floats);
  EXPECT_EQ(accepted(OpKind::Fma), floats);
  EXPECT_EQ(accepted(OpKind::Shl), integers);
  EXPECT_EQ(accepted(OpKind::Add), arithmetic);
  EXPECT_EQ(accepted(OpKind::Neg), arithmetic);
  EXPECT_EQ(accepted(OpKind::Lt), arithmetic);
  EXPECT_EQ(accepted(OpKind::Xor), bits);
  EXPECT_EQ(accepted(OpKind::Eq), equality);
  EXPECT_EQ(accepted(OpKind::Select), any);
  EXPECT_EQ(accepted(OpKind::Cast), any);
}

// The Result column: comparisons give bool, arithmetic its operands' type, conversions the
// named type; thread identity and lengths are u32.
TEST(Ops, ResultKinds) {
  const auto kind_is = [](ResultKind kind) {
    return [kind](OpKind op) { return result_kind(op) == kind; };
  };
  for (const OpEntry& e : all_ops()) {
    if (e.shape == OpShape::Unary || e.shape == OpShape::Binary || e.shape == OpShape::Ternary) {
      EXPECT_EQ(result_kind(e.op), ResultKind::Same) << e.name;
    }
    if (e.shape == OpShape::Compare) {
      EXPECT_EQ(result_kind(e.op), ResultKind::Bool) << e.name;
    }
    if (e.shape == OpShape::Convert) {
      EXPECT_EQ(result_kind(e.op), ResultKind::Named) << e.name;
    }
  }
  std::set<std::string> u32 = {"program_id",
                               "len",
                               "thread_id",
                               "threadgroup_id",
                               "threads_per_threadgroup",
                               "threadgroups_per_grid",
                               "lane_id",
                               "warp_id",
                               "threadgroup_argmax"};
  std::set<std::string> u32_results;
  for (const OpEntry& e : all_ops()) {
    if (kind_is(ResultKind::U32)(e.op)) u32_results.insert(std::string(e.name));
  }
  EXPECT_EQ(u32_results, u32);
}

// The Ulps column: exact ops are bit-identical on every backend; libm functions get 4 ulps and
// functions composed of a few rounded steps 8.
TEST(Ops, UlpsOfTheMathFunctions) {
  std::set<std::string> approximate;
  for (const OpEntry& e : all_ops()) {
    if (op_ulps(e.op) != 0) approximate.insert(std::string(e.name));
  }
  EXPECT_EQ(approximate, (std::set<std::string>{"exp", "exp2", "expm1", "log", "log2", "log1p",
                                                "sin", "cos", "tan", "tanh", "erf", "sigmoid",
                                                "silu", "gelu", "gelu_tanh", "pow", "atan2"}));
  EXPECT_EQ(op_ulps(OpKind::Exp), 4);
  EXPECT_EQ(op_ulps(OpKind::Gelu), 8);
  EXPECT_EQ(op_ulps(OpKind::Sqrt), 0);
}

TEST(Ops, PurityAndResults) {
  // Pure: a function of the operands (and of the thread or launch, for leaves: thread identity
  // included); never memory, arrays, atomics, locals, control flow, barriers, collectives or the
  // contract's require.
  const std::set<std::string> impure = {"load",
                                        "store",
                                        "load_vector",
                                        "store_vector",
                                        "atomic",
                                        "array_load",
                                        "array_store",
                                        "array_atomic",
                                        "read",
                                        "write",
                                        "for",
                                        "if",
                                        "barrier",
                                        "warp_barrier",
                                        "warp_reduce",
                                        "warp_shuffle",
                                        "require",
                                        "require_len",
                                        "require_len_multiple",
                                        "warp_prefix_sum",
                                        "threadgroup_reduce",
                                        "threadgroup_argmax",
                                        "mma",
                                        "load_matrix",
                                        "copy_async",
                                        "copy_async_commit",
                                        "copy_async_wait",
                                        "warpgroup_mma",
                                        "warpgroup_fence",
                                        "warpgroup_commit",
                                        "warpgroup_wait",
                                        "fence_async_shared",
                                        "async_barrier_init",
                                        "async_barrier_arrive",
                                        "async_barrier_arrive_expect",
                                        "async_barrier_wait",
                                        "bulk_tensor_load",
                                        "tensor_map_shape",
                                        "prefetch_l2",
                                        "wait_prior_kernel",
                                        "release_next_kernel",
                                        "device_fence"};
  for (const OpEntry& e : all_ops()) {
    EXPECT_EQ(is_pure(e.op), !impure.contains(std::string(e.name))) << e.name;
  }
  const std::set<std::string> no_result = {"store",
                                           "write",
                                           "if",
                                           "require",
                                           "require_len",
                                           "require_len_multiple",
                                           "load_vector",
                                           "store_vector",
                                           "array_store",
                                           "barrier",
                                           "warp_barrier",
                                           "mma",
                                           "load_matrix",
                                           "copy_async",
                                           "copy_async_commit",
                                           "copy_async_wait",
                                           "warpgroup_mma",
                                           "warpgroup_fence",
                                           "warpgroup_commit",
                                           "warpgroup_wait",
                                           "fence_async_shared",
                                           "async_barrier_init",
                                           "async_barrier_arrive",
                                           "async_barrier_arrive_expect",
                                           "async_barrier_wait",
                                           "bulk_tensor_load",
                                           "tensor_map_shape",
                                           "prefetch_l2",
                                           "wait_prior_kernel",
                                           "release_next_kernel",
                                           "device_fence"};
  for (const OpEntry& e : all_ops()) {
    EXPECT_EQ(has_result(e.op), !no_result.contains(std::string(e.name))) << e.name;
  }
}

TEST(Ops, LaunchUniformLeavesAndCollectives) {
  EXPECT_EQ(where(is_launch_uniform),
            (std::set<std::string>{"const", "scalar", "len", "threads_per_threadgroup",
                                   "threadgroups_per_grid"}));
  EXPECT_EQ(where(is_collective),
            (std::set<std::string>{"barrier", "warp_barrier", "warp_reduce", "warp_shuffle",
                                   "warp_prefix_sum", "threadgroup_reduce", "threadgroup_argmax",
                                   "mma", "load_matrix", "warpgroup_mma", "warpgroup_fence",
                                   "warpgroup_commit", "warpgroup_wait"}));
}

TEST(Ops, CombineAndShuffleNames) {
  EXPECT_EQ(combine_name(CombineOp::Add), "add");
  EXPECT_EQ(combine_name(CombineOp::Mul), "mul");
  EXPECT_EQ(combine_name(CombineOp::Max), "max");
  EXPECT_EQ(combine_name(CombineOp::Min), "min");
  EXPECT_EQ(combine_name(CombineOp::And), "and");
  EXPECT_EQ(combine_name(CombineOp::Or), "or");
  EXPECT_EQ(combine_name(CombineOp::Xor), "xor");
  EXPECT_EQ(shuffle_name(ShuffleKind::Index), "index");
  EXPECT_EQ(shuffle_name(ShuffleKind::Xor), "xor");
  EXPECT_EQ(shuffle_name(ShuffleKind::Up), "up");
  EXPECT_EQ(shuffle_name(ShuffleKind::Down), "down");
}

}  // namespace
}  // namespace mt
