// The IR's op kinds, listed once with their properties. The list generates OpKind, the
// printer's names, and every property the passes, the verifier, the DSL and the backends ask
// about (is_commutative, accepts_operand_type, is_pure, has_result, op_ulps...): a new op
// states each property in its row, so forgetting one is a compile error.
#pragma once

#include <cstdint>
#include <string_view>

#include "metaltile/core/dtype.hpp"

namespace mt {

// X(Name, printed_name, Shape, Operands, Order, Purity, Result, Ulps). The columns:
//  Shape     how the op is built, printed, verified and run: Leaf (no value operands), Unary
//            (one operand, result of its type), Convert (Cast, Bitcast: one operand, result of a
//            named type), Binary, Compare, Ternary, Memory (tensor parameters), Local, Array
//            (threadgroup / per-thread arrays), Control, Sync (barriers), Collective (warp /
//            threadgroup cooperation), Matrix (tensor-core math and the asynchronous copies
//            that feed it; no result, core/matrix.hpp), Statement (the host-side contract).
//  Operands  which dtypes the value operands may have (OperandClass below).
//  Order     Commutative when swapping the two operands never changes the result; else Ordered.
//  Purity    Pure when the result depends only on the operands and the thread's identity (no
//            memory, effects or cooperation with other threads), so CSE, DCE and LICM may
//            merge, drop or move it; else Impure.
//  Result    what the result's dtype is (ResultKind below).
//  Ulps      how far, in ulps of f32 before the final rounding to the dtype, a backend's result
//            may be from scalar_eval's: 0 for exact ops (integer ops and IEEE correctly rounded
//            ones: every backend gives the same bits), 4 for a single libm-quality function
//            (CUDA's expf, sinf, tanhf... are within 2 ulp, the host's libm within 1), 8 for a
//            function composed of two or three rounded steps (sigmoid, silu, gelu).
// Semantics of each op are documented in core/kernel.hpp beside Instr and stated once, as
// arithmetic, in core/scalar_eval.cpp.
#define MT_FOR_EACH_OP(X)                                                                     \
  /* leaves */                                                                                \
  X(Const, "const", Leaf, Own, Ordered, Pure, Named, 0)                                       \
  X(ProgramId, "program_id", Leaf, Own, Ordered, Pure, U32, 0)                                \
  X(ScalarParam, "scalar", Leaf, Own, Ordered, Pure, Named, 0)                                \
  X(TensorLen, "len", Leaf, Own, Ordered, Pure, U32, 0)                                       \
  X(ThreadId, "thread_id", Leaf, Own, Ordered, Pure, U32, 0)                                  \
  X(ThreadgroupId, "threadgroup_id", Leaf, Own, Ordered, Pure, U32, 0)                        \
  X(ThreadsPerThreadgroup, "threads_per_threadgroup", Leaf, Own, Ordered, Pure, U32, 0)       \
  X(ThreadgroupsPerGrid, "threadgroups_per_grid", Leaf, Own, Ordered, Pure, U32, 0)           \
  X(LaneId, "lane_id", Leaf, Own, Ordered, Pure, U32, 0)                                      \
  X(WarpId, "warp_id", Leaf, Own, Ordered, Pure, U32, 0)                                      \
  /* memory */                                                                                \
  X(Load, "load", Memory, Own, Ordered, Impure, Named, 0)                                     \
  X(Store, "store", Memory, Own, Ordered, Impure, None, 0)                                    \
  X(LoadVector, "load_vector", Memory, Own, Ordered, Impure, None, 0)                         \
  X(StoreVector, "store_vector", Memory, Own, Ordered, Impure, None, 0)                       \
  X(AtomicGlobal, "atomic", Memory, Own, Ordered, Impure, Same, 0)                            \
  X(PrefetchL2, "prefetch_l2", Memory, Own, Ordered, Impure, None, 0)                         \
  /* arrays: threadgroup memory and per-thread arrays */                                      \
  X(ArrayLoad, "array_load", Array, Own, Ordered, Impure, Named, 0)                           \
  X(ArrayStore, "array_store", Array, Own, Ordered, Impure, None, 0)                          \
  X(AtomicArray, "array_atomic", Array, Own, Ordered, Impure, Same, 0)                        \
  /* mutable locals */                                                                        \
  X(LocalRead, "read", Local, Own, Ordered, Impure, Named, 0)                                 \
  X(LocalWrite, "write", Local, Own, Ordered, Impure, None, 0)                                \
  /* unary arithmetic and math */                                                             \
  X(Neg, "neg", Unary, Arithmetic, Ordered, Pure, Same, 0)                                    \
  X(Not, "not", Unary, Bits, Ordered, Pure, Same, 0)                                          \
  X(Abs, "abs", Unary, Arithmetic, Ordered, Pure, Same, 0)                                    \
  X(Floor, "floor", Unary, Float, Ordered, Pure, Same, 0)                                     \
  X(Ceil, "ceil", Unary, Float, Ordered, Pure, Same, 0)                                       \
  X(Round, "round", Unary, Float, Ordered, Pure, Same, 0)                                     \
  X(RoundEven, "round_even", Unary, Float, Ordered, Pure, Same, 0)                            \
  X(Trunc, "trunc", Unary, Float, Ordered, Pure, Same, 0)                                     \
  X(Exp, "exp", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Exp2, "exp2", Unary, Float, Ordered, Pure, Same, 4)                                       \
  X(Expm1, "expm1", Unary, Float, Ordered, Pure, Same, 4)                                     \
  X(Log, "log", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Log2, "log2", Unary, Float, Ordered, Pure, Same, 4)                                       \
  X(Log1p, "log1p", Unary, Float, Ordered, Pure, Same, 4)                                     \
  X(Sqrt, "sqrt", Unary, Float, Ordered, Pure, Same, 0)                                       \
  X(Rsqrt, "rsqrt", Unary, Float, Ordered, Pure, Same, 0)                                     \
  X(Sin, "sin", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Cos, "cos", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Tan, "tan", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Tanh, "tanh", Unary, Float, Ordered, Pure, Same, 4)                                       \
  X(Erf, "erf", Unary, Float, Ordered, Pure, Same, 4)                                         \
  X(Sigmoid, "sigmoid", Unary, Float, Ordered, Pure, Same, 8)                                 \
  X(Silu, "silu", Unary, Float, Ordered, Pure, Same, 8)                                       \
  X(Gelu, "gelu", Unary, Float, Ordered, Pure, Same, 8)                                       \
  X(GeluTanh, "gelu_tanh", Unary, Float, Ordered, Pure, Same, 8)                              \
  /* conversions */                                                                           \
  X(Cast, "cast", Convert, Any, Ordered, Pure, Named, 0)                                      \
  X(Bitcast, "bitcast", Convert, Any, Ordered, Pure, Named, 0)                                \
  /* binary arithmetic */                                                                     \
  X(Add, "add", Binary, Arithmetic, Commutative, Pure, Same, 0)                               \
  X(Sub, "sub", Binary, Arithmetic, Ordered, Pure, Same, 0)                                   \
  X(Mul, "mul", Binary, Arithmetic, Commutative, Pure, Same, 0)                               \
  X(Div, "div", Binary, Arithmetic, Ordered, Pure, Same, 0)                                   \
  X(Rem, "rem", Binary, Arithmetic, Ordered, Pure, Same, 0)                                   \
  X(Min, "min", Binary, Arithmetic, Commutative, Pure, Same, 0)                               \
  X(Max, "max", Binary, Arithmetic, Commutative, Pure, Same, 0)                               \
  X(And, "and", Binary, Bits, Commutative, Pure, Same, 0)                                     \
  X(Or, "or", Binary, Bits, Commutative, Pure, Same, 0)                                       \
  X(Xor, "xor", Binary, Bits, Commutative, Pure, Same, 0)                                     \
  X(Shl, "shl", Binary, Integer, Ordered, Pure, Same, 0)                                      \
  X(Shr, "shr", Binary, Integer, Ordered, Pure, Same, 0)                                      \
  X(Pow, "pow", Binary, Float, Ordered, Pure, Same, 4)                                        \
  X(Atan2, "atan2", Binary, Float, Ordered, Pure, Same, 4)                                    \
  /* comparisons (result bool) */                                                             \
  X(Eq, "eq", Compare, Equality, Commutative, Pure, Bool, 0)                                  \
  X(Ne, "ne", Compare, Equality, Commutative, Pure, Bool, 0)                                  \
  X(Lt, "lt", Compare, Arithmetic, Ordered, Pure, Bool, 0)                                    \
  X(Le, "le", Compare, Arithmetic, Ordered, Pure, Bool, 0)                                    \
  X(Gt, "gt", Compare, Arithmetic, Ordered, Pure, Bool, 0)                                    \
  X(Ge, "ge", Compare, Arithmetic, Ordered, Pure, Bool, 0)                                    \
  /* selection (operands: the arms; the condition is bool) and fused multiply-add */          \
  X(Select, "select", Ternary, Any, Ordered, Pure, Same, 0)                                   \
  X(Fma, "fma", Ternary, Float, Ordered, Pure, Same, 0)                                       \
  /* structured control flow */                                                               \
  X(For, "for", Control, Own, Ordered, Impure, Same, 0)                                       \
  X(If, "if", Control, Own, Ordered, Impure, None, 0)                                         \
  /* synchronisation and collectives */                                                       \
  X(Barrier, "barrier", Sync, Own, Ordered, Impure, None, 0)                                  \
  X(WarpBarrier, "warp_barrier", Sync, Own, Ordered, Impure, None, 0)                         \
  X(WaitPriorKernel, "wait_prior_kernel", Sync, Own, Ordered, Impure, None, 0)                \
  X(ReleaseNextKernel, "release_next_kernel", Sync, Own, Ordered, Impure, None, 0)            \
  X(DeviceFence, "device_fence", Sync, Own, Ordered, Impure, None, 0)                         \
  X(WarpReduce, "warp_reduce", Collective, Own, Ordered, Impure, Same, 0)                     \
  X(WarpShuffle, "warp_shuffle", Collective, Own, Ordered, Impure, Same, 0)                   \
  X(WarpPrefixSum, "warp_prefix_sum", Collective, Own, Ordered, Impure, Same, 0)              \
  X(ThreadgroupReduce, "threadgroup_reduce", Collective, Own, Ordered, Impure, Same, 0)       \
  X(ThreadgroupArgmax, "threadgroup_argmax", Collective, Own, Ordered, Impure, U32, 0)        \
  /* tensor cores and their staging (core/matrix.hpp) */                                      \
  X(Mma, "mma", Matrix, Own, Ordered, Impure, None, 0)                                        \
  X(LoadMatrix, "load_matrix", Matrix, Own, Ordered, Impure, None, 0)                         \
  X(CopyAsync, "copy_async", Matrix, Own, Ordered, Impure, None, 0)                           \
  X(CopyAsyncCommit, "copy_async_commit", Matrix, Own, Ordered, Impure, None, 0)              \
  X(CopyAsyncWait, "copy_async_wait", Matrix, Own, Ordered, Impure, None, 0)                  \
  /* Hopper warpgroup MMA and its ordering (core/warpgroup.hpp) */                            \
  X(WarpgroupMma, "warpgroup_mma", Matrix, Own, Ordered, Impure, None, 0)                     \
  X(WarpgroupFence, "warpgroup_fence", Matrix, Own, Ordered, Impure, None, 0)                 \
  X(WarpgroupCommit, "warpgroup_commit", Matrix, Own, Ordered, Impure, None, 0)               \
  X(WarpgroupWait, "warpgroup_wait", Matrix, Own, Ordered, Impure, None, 0)                   \
  X(FenceAsyncShared, "fence_async_shared", Matrix, Own, Ordered, Impure, None, 0)            \
  /* asynchronous barriers and bulk tile copies (core/async_barrier.hpp, tensor_map.hpp) */   \
  X(AsyncBarrierInit, "async_barrier_init", Matrix, Own, Ordered, Impure, None, 0)            \
  X(AsyncBarrierArrive, "async_barrier_arrive", Matrix, Own, Ordered, Impure, None, 0)        \
  X(AsyncBarrierExpect, "async_barrier_arrive_expect", Matrix, Own, Ordered, Impure, None, 0) \
  X(AsyncBarrierWait, "async_barrier_wait", Matrix, Own, Ordered, Impure, None, 0)            \
  X(BulkTensorLoad, "bulk_tensor_load", Matrix, Own, Ordered, Impure, None, 0)                \
  /* host-side contract */                                                                    \
  X(Require, "require", Statement, Own, Ordered, Impure, None, 0)                             \
  X(RequireLen, "require_len", Statement, Own, Ordered, Impure, None, 0)                      \
  X(RequireLenMultiple, "require_len_multiple", Statement, Own, Ordered, Impure, None, 0)     \
  X(TensorMapShape, "tensor_map_shape", Statement, Own, Ordered, Impure, None, 0)

enum class OpKind {
#define MT_OP_ENUM(name, ...) name,
  MT_FOR_EACH_OP(MT_OP_ENUM)
#undef MT_OP_ENUM
};

enum class OpShape {
  Leaf,
  Unary,
  Convert,
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

// Which dtypes an op's value operands may have. fp8 is a storage type: only Any takes it.
enum class OperandClass : std::uint8_t {
  Float,       // f32, f16, bf16 (math computed in f32)
  Integer,     // i32, u32, i8, u8
  Arithmetic,  // Float and Integer
  Bits,        // Integer and bool (bitwise ops; logical on bool)
  Equality,    // Arithmetic and bool
  Any,         // every dtype, fp8 included (Cast, Bitcast, Select's arms)
  Own,         // typed by the op's own rules (indices, bounds, parameters), checked by make::
};
enum class OperandOrder : std::uint8_t { Ordered, Commutative };
enum class Purity : std::uint8_t { Pure, Impure };
// The dtype of an op's result.
enum class ResultKind : std::uint8_t {
  None,   // no result (stores, writes, If, barriers, contract statements)
  Same,   // the value operands' dtype (For: the bounds'; atomics, collectives: the value's)
  Bool,   // comparisons
  U32,    // thread identity, tensor lengths, argmax indices
  Named,  // a dtype the instruction names: a literal's, a cast's target, a parameter's,
          // local's or array's element type
};

// How a reduction, scan or atomic combines values.
enum class CombineOp : std::uint8_t { Add, Mul, Max, Min, And, Or, Xor };
std::string_view combine_name(CombineOp c);
// Which lane a warp shuffle reads: lane `operand`, lane ^ operand, lane - operand (up),
// lane + operand (down).
enum class ShuffleKind : std::uint8_t { Index, Xor, Up, Down };
std::string_view shuffle_name(ShuffleKind s);

// The columns of the op list.
std::string_view op_name(OpKind op);
OpShape op_shape(OpKind op);
OperandClass operand_class(OpKind op);
ResultKind result_kind(OpKind op);
// The Ulps column: 0 for ops every backend computes bit for bit alike.
int op_ulps(OpKind op);
bool is_commutative(OpKind op);  // the Order column
// The Purity column: a function of the operands and the thread's identity only (collectives
// are not pure; leaves such as program_id are).
bool is_pure(OpKind op);
// Whether op's value operands may have dtype t (the Operands column; the DSL, make::, the
// verifier, scalar_eval and the emitters ask this).
bool accepts_operand_type(OpKind op, DType t);

// Op sets derived from the columns.
inline bool is_unary(OpKind op) { return op_shape(op) == OpShape::Unary; }
inline bool is_binary(OpKind op) { return op_shape(op) == OpShape::Binary; }
inline bool is_comparison(OpKind op) { return op_shape(op) == OpShape::Compare; }
inline bool is_float_only(OpKind op) { return operand_class(op) == OperandClass::Float; }
inline bool is_integer_only(OpKind op) { return operand_class(op) == OperandClass::Integer; }
inline bool is_bitwise(OpKind op) { return operand_class(op) == OperandClass::Bits; }
// False for Store, LocalWrite, If, the Require ops, vector access, ArrayStore and barriers.
// For's result is its loop variable.
inline bool has_result(OpKind op) { return result_kind(op) != ResultKind::None; }
// Leaves whose value is the same for every thread of a launch and known on the host before
// it: Const, ScalarParam, TensorLen, ThreadsPerThreadgroup and ThreadgroupsPerGrid (a contract
// may use only these and pure ops on them).
bool is_launch_uniform(OpKind op);
// Ops every thread of a threadgroup (Barrier, ThreadgroupReduce, ThreadgroupArgmax) or of a
// warp (the warp ops, Mma and LoadMatrix) or of a warpgroup (the Warpgroup ops) must reach
// together.
bool is_collective(OpKind op);

}  // namespace mt
