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
#define MT_OP_ENTRY(name, printed, shape) {OpKind::name, printed, OpShape::shape},
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
  EXPECT_EQ(
      where(is_unary),
      (std::set<std::string>{"neg",  "not",     "abs",  "floor", "ceil",  "round",  "trunc", "exp",
                             "exp2", "log",     "log2", "sqrt",  "rsqrt", "sin",    "cos",   "tanh",
                             "erf",  "sigmoid", "silu", "gelu",  "cast",  "bitcast"}));
  EXPECT_EQ(where(is_binary), (std::set<std::string>{"add", "sub", "mul", "div", "rem", "min",
                                                     "max", "and", "or", "xor", "shl", "shr"}));
  EXPECT_EQ(where(is_comparison), (std::set<std::string>{"eq", "ne", "lt", "le", "gt", "ge"}));
}

TEST(Ops, OpSets) {
  EXPECT_EQ(where(is_commutative),
            (std::set<std::string>{"add", "mul", "min", "max", "and", "or", "xor", "eq", "ne"}));
  EXPECT_EQ(where(is_float_only),
            (std::set<std::string>{"floor", "ceil", "round", "trunc", "exp", "exp2", "log", "log2",
                                   "sqrt", "rsqrt", "sin", "cos", "tanh", "erf", "sigmoid", "silu",
                                   "gelu", "fma"}));
  EXPECT_EQ(where(is_integer_only), (std::set<std::string>{"shl", "shr"}));
  EXPECT_EQ(where(is_bitwise), (std::set<std::string>{"not", "and", "or", "xor"}));
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
                                        "copy_async_wait"};
  for (const OpEntry& e : all_ops()) {
    EXPECT_EQ(is_pure(e.op), !impure.contains(std::string(e.name))) << e.name;
  }
  const std::set<std::string> no_result = {"store",          "write",        "if",
                                           "require",        "require_len",  "require_len_multiple",
                                           "load_vector",    "store_vector", "array_store",
                                           "barrier",        "warp_barrier", "mma",
                                           "load_matrix",    "copy_async",   "copy_async_commit",
                                           "copy_async_wait"};
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
                                   "mma", "load_matrix"}));
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
