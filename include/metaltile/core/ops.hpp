// The IR's op kinds, listed once. The list generates OpKind, the printer's names and the
// op sets that passes ask about (is_binary, is_comparison, ...).
#pragma once

#include <cstdint>
#include <string_view>

namespace mt {

// X(Name, printed_name, Shape). Shapes: Leaf (no value operands), Unary, Binary, Compare,
// Ternary, Memory (tensor parameters), Local, Array (threadgroup / per-thread arrays),
// Control, Sync (barriers), Collective (warp / threadgroup cooperation), Matrix (tensor-core
// math and the asynchronous copies that feed it; no result), Statement. Semantics of
// each op are documented in core/kernel.hpp beside Instr and stated once, as arithmetic, in
// core/scalar_eval.cpp.
#define MT_FOR_EACH_OP(X)                                   \
  /* leaves */                                              \
  X(Const, "const", Leaf)                                   \
  X(ProgramId, "program_id", Leaf)                          \
  X(ScalarParam, "scalar", Leaf)                            \
  X(TensorLen, "len", Leaf)                                 \
  X(ThreadId, "thread_id", Leaf)                            \
  X(ThreadgroupId, "threadgroup_id", Leaf)                  \
  X(ThreadsPerThreadgroup, "threads_per_threadgroup", Leaf) \
  X(ThreadgroupsPerGrid, "threadgroups_per_grid", Leaf)     \
  X(LaneId, "lane_id", Leaf)                                \
  X(WarpId, "warp_id", Leaf)                                \
  /* memory */                                              \
  X(Load, "load", Memory)                                   \
  X(Store, "store", Memory)                                 \
  X(LoadVector, "load_vector", Memory)                      \
  X(StoreVector, "store_vector", Memory)                    \
  X(AtomicGlobal, "atomic", Memory)                         \
  /* arrays: threadgroup memory and per-thread arrays */    \
  X(ArrayLoad, "array_load", Array)                         \
  X(ArrayStore, "array_store", Array)                       \
  X(AtomicArray, "array_atomic", Array)                     \
  /* mutable locals */                                      \
  X(LocalRead, "read", Local)                               \
  X(LocalWrite, "write", Local)                             \
  /* unary arithmetic and math */                           \
  X(Neg, "neg", Unary)                                      \
  X(Not, "not", Unary)                                      \
  X(Abs, "abs", Unary)                                      \
  X(Floor, "floor", Unary)                                  \
  X(Ceil, "ceil", Unary)                                    \
  X(Round, "round", Unary)                                  \
  X(Trunc, "trunc", Unary)                                  \
  X(Exp, "exp", Unary)                                      \
  X(Exp2, "exp2", Unary)                                    \
  X(Log, "log", Unary)                                      \
  X(Log2, "log2", Unary)                                    \
  X(Sqrt, "sqrt", Unary)                                    \
  X(Rsqrt, "rsqrt", Unary)                                  \
  X(Sin, "sin", Unary)                                      \
  X(Cos, "cos", Unary)                                      \
  X(Tanh, "tanh", Unary)                                    \
  X(Erf, "erf", Unary)                                      \
  X(Sigmoid, "sigmoid", Unary)                              \
  X(Silu, "silu", Unary)                                    \
  X(Gelu, "gelu", Unary)                                    \
  X(Cast, "cast", Unary)                                    \
  X(Bitcast, "bitcast", Unary)                              \
  /* binary arithmetic */                                   \
  X(Add, "add", Binary)                                     \
  X(Sub, "sub", Binary)                                     \
  X(Mul, "mul", Binary)                                     \
  X(Div, "div", Binary)                                     \
  X(Rem, "rem", Binary)                                     \
  X(Min, "min", Binary)                                     \
  X(Max, "max", Binary)                                     \
  X(And, "and", Binary)                                     \
  X(Or, "or", Binary)                                       \
  X(Xor, "xor", Binary)                                     \
  X(Shl, "shl", Binary)                                     \
  X(Shr, "shr", Binary)                                     \
  /* comparisons (result bool) */                           \
  X(Eq, "eq", Compare)                                      \
  X(Ne, "ne", Compare)                                      \
  X(Lt, "lt", Compare)                                      \
  X(Le, "le", Compare)                                      \
  X(Gt, "gt", Compare)                                      \
  X(Ge, "ge", Compare)                                      \
  /* selection and fused multiply-add */                    \
  X(Select, "select", Ternary)                              \
  X(Fma, "fma", Ternary)                                    \
  /* structured control flow */                             \
  X(For, "for", Control)                                    \
  X(If, "if", Control)                                      \
  /* synchronisation and collectives */                     \
  X(Barrier, "barrier", Sync)                               \
  X(WarpBarrier, "warp_barrier", Sync)                      \
  X(WarpReduce, "warp_reduce", Collective)                  \
  X(WarpShuffle, "warp_shuffle", Collective)                \
  X(WarpPrefixSum, "warp_prefix_sum", Collective)           \
  X(ThreadgroupReduce, "threadgroup_reduce", Collective)    \
  X(ThreadgroupArgmax, "threadgroup_argmax", Collective)    \
  /* tensor cores and their staging (core/matrix.hpp) */    \
  X(Mma, "mma", Matrix)                                     \
  X(LoadMatrix, "load_matrix", Matrix)                      \
  X(CopyAsync, "copy_async", Matrix)                        \
  X(CopyAsyncCommit, "copy_async_commit", Matrix)           \
  X(CopyAsyncWait, "copy_async_wait", Matrix)               \
  /* host-side contract */                                  \
  X(Require, "require", Statement)                          \
  X(RequireLen, "require_len", Statement)                   \
  X(RequireLenMultiple, "require_len_multiple", Statement)

enum class OpKind {
#define MT_OP_ENUM(name, printed, shape) name,
  MT_FOR_EACH_OP(MT_OP_ENUM)
#undef MT_OP_ENUM
};

enum class OpShape {
  Leaf,
  Unary,
  Binary,
  Compare,
  Ternary,
  Memory,
  Local,
  Array,
  Control,
  Sync,
  Collective,
  Matrix,
  Statement
};

// How a reduction, scan or atomic combines values.
enum class CombineOp : std::uint8_t { Add, Mul, Max, Min, And, Or, Xor };
std::string_view combine_name(CombineOp c);
// Which lane a warp shuffle reads: lane `operand`, lane ^ operand, lane - operand (up),
// lane + operand (down).
enum class ShuffleKind : std::uint8_t { Index, Xor, Up, Down };
std::string_view shuffle_name(ShuffleKind s);

std::string_view op_name(OpKind op);
OpShape op_shape(OpKind op);

bool is_unary(OpKind op);         // one value operand, result of the same type (Cast/Bitcast aside)
bool is_binary(OpKind op);        // two operands of one type, result of that type
bool is_comparison(OpKind op);    // two operands of one type, bool result
bool is_commutative(OpKind op);   // Add Mul Min Max And Or Xor Eq Ne
bool is_float_only(OpKind op);    // math functions Floor..Gelu, and Fma
bool is_integer_only(OpKind op);  // Shl Shr
bool is_bitwise(OpKind op);       // Not And Or Xor (integers and bool)
// Ops whose result depends only on their operands and the thread's identity: no memory, no
// effects, no cooperation with other threads (collectives are not pure).
bool is_pure(OpKind op);
// Leaves whose value is the same for every thread of a launch and known on the host before
// it: Const, ScalarParam, TensorLen, ThreadsPerThreadgroup and ThreadgroupsPerGrid (a contract
// may use only these and pure ops on them).
bool is_launch_uniform(OpKind op);
// Ops every thread of a threadgroup (Barrier, ThreadgroupReduce, ThreadgroupArgmax) or of a
// warp (the warp ops, Mma and LoadMatrix) must reach together.
bool is_collective(OpKind op);
// False for Store, LocalWrite, If and the Require ops. For's result is its loop variable.
bool has_result(OpKind op);

}  // namespace mt
