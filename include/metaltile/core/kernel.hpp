// The IR: mt::Kernel holds parameters, locals, the value table and a body of structured
// instructions (mt::Instr in nested mt::Block s). Instr::make_* check operand types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ids.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt {

// How program_id(axis) maps to threads (docs/ARCHITECTURE.md, "The IR"):
//  Grid3D:      program_id(a) = the global thread index on axis a.
//  Elementwise: program_id(0) = the global linear thread index (one thread per element).
//  Reduction:   program_id(a) = the threadgroup index on axis a (a group cooperates on a row).
enum class KernelMode : std::uint8_t { Elementwise, Reduction, Grid3D };
std::string_view mode_name(KernelMode mode);

enum class ParamKind : std::uint8_t {
  Input,   // a tensor the kernel only reads
  Output,  // a tensor the kernel writes (and may read); returned to the caller
  Scalar,  // a 32-bit value passed by value (bytes from the buffer map, or specialised)
};
std::string_view param_kind_name(ParamKind kind);

struct Param {
  std::string name;
  ParamKind kind = ParamKind::Input;
  DType dtype = DType::F32;
  bool is_tensor() const { return kind != ParamKind::Scalar; }
};

struct Local {
  std::string name;  // for printing and emitted code only
  DType dtype = DType::F32;
};

enum class MemorySpace : std::uint8_t {
  Threadgroup,  // shared by the threads of one threadgroup (CUDA __shared__)
  Thread,       // private to each thread (registers or local memory)
};
std::string_view memory_space_name(MemorySpace space);

// An array in threadgroup memory or per thread. Its element count is fixed at compile time:
// either `size` directly, or the value of the scalar parameter `size_param`, which must be
// specialised (specialise_scalars then sets `size` and clears `size_param`).
struct Array {
  std::string name;  // for printing and emitted code only
  DType dtype = DType::F32;
  MemorySpace space = MemorySpace::Threadgroup;
  std::uint32_t size = 0;
  ParamId size_param;
};

// A run of elements of a per-thread array starting at a constant offset: one operand of a
// tensor-core op (core/matrix.hpp says how many elements each role takes).
struct FragmentRef {
  ArrayId array;
  std::uint32_t offset = 0;
  friend bool operator==(const FragmentRef&, const FragmentRef&) = default;
};

// How a warpgroup MMA operand is laid out in threadgroup memory (core/warpgroup.hpp gives
// the addressing): the XOR swizzle of its rows and the byte distances the hardware's matrix
// descriptor carries. The operand's start is a value operand of the instruction.
enum class Swizzle : std::uint8_t { None, Bytes32, Bytes64, Bytes128 };
struct SharedMatrix {
  ArrayId array;                    // a threadgroup array of the inputs' type
  Swizzle swizzle = Swizzle::None;  //
  std::uint32_t leading_bytes = 0;  // between 8x16-byte core matrices along k (no swizzle)
  std::uint32_t stride_bytes = 0;   // between groups of 8 rows (m for A, n for B)
  friend bool operator==(const SharedMatrix&, const SharedMatrix&) = default;
};

// A set of `size` asynchronous barriers in threadgroup memory (one 8-byte word each on the
// GPU): each counts arrivals and transaction bytes towards its current phase, which completes
// when both reach zero (core/async_barrier.hpp gives the rules).
struct AsyncBarrier {
  std::string name;  // for printing and emitted code only
  std::uint32_t size = 0;
};

// A row-major 2-D view of a tensor parameter as the bulk copy engine reads it: boxes of
// box_rows x box_cols elements land in threadgroup memory laid out with `swizzle`. Its extent
// (rows, cols, row stride) is launch-uniform: a TensorMapShape statement of the contract gives
// it, and the host evaluates it before each launch (core/tensor_map.hpp).
struct TensorMap {
  std::string name;  // for printing and emitted code only
  ParamId tensor;
  std::uint32_t box_rows = 0, box_cols = 0;
  Swizzle swizzle = Swizzle::None;
};

struct Instr;
struct Block {
  std::vector<Instr> instrs;
};

// One instruction. Which fields are meaningful depends on `op`:
//  Const        result:dtype = literal
//  ProgramId    result:u32 = program id on `axis` (0..2), per the kernel mode
//  ScalarParam  result:param's dtype = value of scalar parameter `param`
//  TensorLen    result:u32 = element count of tensor parameter `param` as bound at launch
//               (uniform over the launch, like a scalar; usable in contracts)
//  Load         result:param's dtype = param[operands[0]]  (index i32 or u32, in elements)
//  Store        param[operands[0]] = operands[1]            (value of the param's dtype)
//  LocalRead    result:local's dtype = local
//  LocalWrite   local = operands[0]
//  unary        result = op(operands[0]); float math computes in f32 and rounds to dtype.
//               Neg on unsigned wraps; Not is bitwise (logical on bool); Round is half away
//               from zero, RoundEven half to even; Abs of INT_MIN wraps. GeluTanh is
//               x / (1 + exp(-2z)), z = 0.7978845608 (x + 0.044715 x^3) (the tanh form of
//               gelu without its cancellation). Cast converts value (float->int truncates
//               toward zero and saturates, NaN -> 0; float narrowing rounds to nearest even,
//               fp8 saturates); Bitcast reinterprets bits of a same-size type.
//  binary       result = operands[0] op operands[1], both of `dtype`. Integer ops wrap;
//               Div/Rem truncate toward zero (division by zero is an error); Shl/Shr take
//               the shift amount modulo the bit width (Shr is arithmetic on signed types);
//               float Min/Max return the non-NaN operand. Pow and Atan2 (floats) are C's
//               powf and atan2f.
//  comparison   result:bool; floats compare as IEEE (NaN unordered: only Ne is true)
//  Select       result = operands[0] (bool) ? operands[1] : operands[2]
//  Fma          result = operands[0] * operands[1] + operands[2], floats of `dtype`: the f32
//               fused multiply-add (one rounding, as C's fmaf), then rounded to `dtype`
//  For          result = loop variable, in [operands[0], operands[1]) stepping by
//               operands[2] (> 0); blocks[0] is the body; the variable is visible only there.
//               per_role: the body is pure values and role branches (If without else on a
//               value from outside the loop, no threadgroup barrier inside), whose threads
//               talk only through async barriers; a backend may then run each branch's trips
//               as one loop inside the branch instead of interleaving them (range_by_role)
//  If           operands[0] (bool); blocks[0] runs when true, blocks[1] when false
//  Require      host-side contract: operands[0] (bool) must hold, else `message` is reported
//  RequireLen   host-side contract: the element count of tensor `param` is operands[0] (u32);
//               `message` is the formula that gives it ("n_kv_heads*max_seq*head_dim/8")
//  RequireLenMultiple  the same, but the count must be a multiple of operands[0] (> 0)
// Contract arithmetic is checked: an integer op that wraps, or divides by zero, in the contract
// is an error naming the parameters it depends on (the body's arithmetic wraps as documented).
//
// Thread identity (u32, `axis` 0..2 where it has one; threads are linearised x fastest):
//  ThreadId                the thread's index in its threadgroup on `axis`
//  ThreadgroupId           the threadgroup's index in the grid on `axis`
//  ThreadsPerThreadgroup   tpg on `axis`;  ThreadgroupsPerGrid: grid on `axis`
//  LaneId, WarpId          linear thread index % 32 and / 32 (32-lane warps)
// Vector access and atomics on tensor parameters:
//  LoadVector   array[0..lanes) = param[operands[0] .. + lanes)   (per-thread `array`;
//               operands[0] must be a multiple of `lanes`; lanes*size_of(dtype) is 4, 8 or 16,
//               lanes >= 2)
//  StoreVector  param[operands[0] .. + lanes) = array[0..lanes)
//  AtomicGlobal result = old param[operands[0]]; param[operands[0]] = old `combine` operands[1]
//  PrefetchL2   a hint: param[operands[0] .. + operands[1]) (u32) may be fetched into the L2
//               cache; no effect on values, and the part outside the tensor is ignored
// Arrays:
//  ArrayLoad    result = array[operands[0]];  ArrayStore: array[operands[0]] = operands[1]
//  AtomicArray  like AtomicGlobal on a threadgroup array
// Synchronisation (every thread of the threadgroup / warp must reach it):
//  Barrier      threadgroup barrier: threadgroup-memory writes before it are visible after it
//  WarpBarrier  the same within one warp
//  DeviceFence  orders the calling thread's memory accesses before it against those after it
//               for every thread of the device (not a barrier: no thread waits for another).
//               With an atomic it publishes a group's writes to the group that sees the
//               atomic's result, which fences again before reading them
// Overlap with the neighbouring kernels of a stream (programmatic dependent launch; at the
// top of the body, reached by every thread, before any access of a tensor but PrefetchL2):
//  WaitPriorKernel    waits until the kernel before this one in the stream has finished and
//                     its writes are visible; a kernel holding it may be launched before
//                     that kernel ends (backends without overlap run it as a no-op)
//  ReleaseNextKernel  lets the next kernel of the stream start now (its WaitPriorKernel still
//                     waits for this whole kernel)
// Collectives (results of the operand's type unless stated):
//  WarpReduce         `combine` (Add, Mul, Max, Min) of operands[0] over the warp's threads
//  WarpShuffle        operands[0] of the lane chosen by `shuffle` and operands[1] (u32); a
//                     lane outside the warp (or an absent thread) yields the thread's own value
//  WarpPrefixSum      sum of operands[0] over lanes <= own (inclusive) or < own (exclusive,
//                     0 for lane 0)
//  ThreadgroupReduce  `combine` (Add, Max, Min) of operands[0] over the threadgroup
//  ThreadgroupArgmax  result:u32 = operands[1] (an index, u32) of the thread holding the
//                     largest operands[0]; the lowest index wins ties; NaN values never win
//                     unless every value is NaN
// Tensor cores (no results; layouts, shapes and rules in core/matrix.hpp):
//  Mma              fragments {D, A, B, C}: D = A * B + C over a warp, m16n8k16 for f16/bf16
//                   A and B with f32 C and D, m16n8k32 for i8 with i32 (which wraps)
//  LoadMatrix       fragments {dst} <- `lanes` (1, 2, 4) 8x8 matrices of 16-bit elements from
//                   threadgroup `array`; operands[0] is this lane's row start (lanes 8j..8j+7
//                   give matrix j's rows); `transpose` transposes each matrix
//  CopyAsync        array[operands[0] ..+ lanes) <- param[operands[1] ..+ lanes) (4, 8 or 16
//                   bytes), or zeros where operands[2] (bool) is false; the copy lands at the
//                   thread's CopyAsyncWait that retires its group, not before
//  CopyAsyncCommit  closes the thread's open copies into one group
//  CopyAsyncWait    waits until at most `lanes` of the thread's committed groups are pending
//  WarpgroupMma     fragments {D}: D[64 x lanes] += A[64 x 16] * B[16 x lanes] over a
//                   warpgroup (128 threads), f16/bf16 inputs read from threadgroup memory as
//                   `matrices` {A, B} say, starting at elements operands[0] and operands[1];
//                   asynchronous: D is ready at the WarpgroupWait that retires its group
//  WarpgroupFence   orders the warpgroup's earlier register and memory accesses before its
//                   next WarpgroupMma (needed before the first, and after D is written)
//  WarpgroupCommit  closes the warpgroup's issued MMAs into one group
//  WarpgroupWait    waits until at most `lanes` of those groups are pending
//  FenceAsyncShared makes the thread's earlier threadgroup-memory writes visible to the
//                   asynchronous reads of later WarpgroupMma (before the barrier that
//                   publishes them)
// Asynchronous barriers (`async_barrier` names the set, operands[0] the barrier in it, u32)
// and bulk tile copies (no results; rules in core/async_barrier.hpp and core/tensor_map.hpp):
//  AsyncBarrierInit    sets the barrier's arrival count to `lanes` (phase 0, no bytes)
//  AsyncBarrierArrive  one arrival of the calling thread on the current phase
//  AsyncBarrierExpect  adds operands[1] (u32) transaction bytes to the current phase, then
//                      arrives
//  AsyncBarrierWait    waits until the phase of parity operands[1] (u32, 0 or 1) has completed
//                      (arrivals and bytes both at zero; the barrier has moved past it)
//  BulkTensorLoad      array[operands[0] ..) <- the box of `tensor_map` whose corner is row
//                      operands[1], column operands[2] (i32), laid out with the map's swizzle,
//                      zeros outside the tensor; the copy counts its box bytes towards the
//                      current phase of `async_barrier`[operands[3]] and may be read only after
//                      a wait on that phase
//  TensorMapShape      (contract) `tensor_map` covers operands[0] rows of operands[1] columns,
//                      row r starting at element r * operands[2] of its tensor (u32 each)
// Collectives on f16/bf16 accumulate in f32 and round the final result to the type; integer
// sums wrap. The combining order of float sums is unspecified (the interpreter uses a
// pairwise tree), so float sums are compared with a tolerance; max, min and argmax are exact.
struct Instr {
  OpKind op = OpKind::Const;
  DType dtype = DType::F32;  // result type (meaningless where has_result(op) is false)
  ValueId result;            // invalid where has_result(op) is false
  std::vector<ValueId> operands;
  ParamId param;   // ScalarParam, TensorLen, memory ops, RequireLen(Multiple), CopyAsync
  LocalId local;   // LocalRead, LocalWrite
  Scalar literal;  // Const
  int axis = 0;    // ProgramId and the per-axis thread identity ops
  // ArrayLoad, ArrayStore, AtomicArray, LoadVector, StoreVector, LoadMatrix, CopyAsync
  ArrayId array;
  CombineOp combine = CombineOp::Add;        // WarpReduce, ThreadgroupReduce, atomics
  ShuffleKind shuffle = ShuffleKind::Index;  // WarpShuffle
  bool inclusive = true;                     // WarpPrefixSum
  // LoadVector, StoreVector; LoadMatrix (matrices), CopyAsync (elements), CopyAsyncWait and
  // WarpgroupWait (groups left pending), WarpgroupMma (n)
  std::uint32_t lanes = 0;
  std::vector<FragmentRef> fragments;  // Mma {D, A, B, C}, LoadMatrix {dst}, WarpgroupMma {D}
  std::vector<SharedMatrix> matrices;  // WarpgroupMma {A, B}
  bool transpose = false;              // LoadMatrix
  bool per_role = false;               // For (see above)
  std::string message;                 // Require, RequireLen, RequireLenMultiple
  AsyncBarrierId async_barrier;        // the AsyncBarrier ops, BulkTensorLoad
  TensorMapId tensor_map;              // BulkTensorLoad, TensorMapShape
  std::vector<Block> blocks;           // For: {body}; If: {then, else}
};

// A traced kernel. Value types are a table indexed by ValueId; fresh ids come from it.
struct Kernel {
  std::string name;
  KernelMode mode = KernelMode::Grid3D;
  std::vector<Param> params;
  std::vector<Local> locals;
  std::vector<Array> arrays;
  std::vector<AsyncBarrier> async_barriers;
  std::vector<TensorMap> tensor_maps;
  std::vector<DType> value_types;
  Block contract;  // evaluated once on the host before a launch: uniforms, consts, Require*
  Block body;      // run by every thread

  ValueId new_value(DType t);
  LocalId new_local(std::string name, DType t);
  ArrayId new_array(Array a);
  AsyncBarrierId new_async_barrier(AsyncBarrier b);
  TensorMapId new_tensor_map(TensorMap m);
  DType type_of(ValueId v) const;
  const Param& param(ParamId p) const;
  const Local& local(LocalId l) const;
  const Array& array(ArrayId a) const;
  const AsyncBarrier& async_barrier(AsyncBarrierId b) const;
  const TensorMap& tensor_map(TensorMapId m) const;
  // The parameter with this name, or an invalid id.
  ParamId find_param(std::string_view name) const;
};

// Checked constructors. Each asserts the operand types (MT_ASSERT: the DSL has already
// reported user mistakes with the kernel and the expression) and allocates the result value.
namespace make {
Instr constant(Kernel& k, DType t, Scalar literal);
Instr program_id(Kernel& k, int axis);
Instr scalar_param(Kernel& k, ParamId p);
Instr tensor_len(Kernel& k, ParamId p);
Instr load(Kernel& k, ParamId p, ValueId index);
Instr store(const Kernel& k, ParamId p, ValueId index, ValueId value);
Instr local_read(Kernel& k, LocalId l);
Instr local_write(const Kernel& k, LocalId l, ValueId value);
Instr unary(Kernel& k, OpKind op, ValueId a);
Instr cast(Kernel& k, DType to, ValueId a);
Instr bitcast(Kernel& k, DType to, ValueId a);
Instr binary(Kernel& k, OpKind op, ValueId a, ValueId b);
Instr compare(Kernel& k, OpKind op, ValueId a, ValueId b);
Instr select(Kernel& k, ValueId cond, ValueId a, ValueId b);
Instr fma(Kernel& k, ValueId a, ValueId b, ValueId c);
// The body is filled in afterwards (blocks[0]).
Instr for_loop(Kernel& k, ValueId lo, ValueId hi, ValueId step);
Instr if_then_else(const Kernel& k, ValueId cond);
Instr require(const Kernel& k, ValueId cond, std::string message);
// RequireLen (multiple = false) or RequireLenMultiple on tensor `p`; `count` is u32.
Instr require_len(const Kernel& k, ParamId p, ValueId count, bool multiple, std::string formula);
// Thread identity: ThreadId, ThreadgroupId, ThreadsPerThreadgroup, ThreadgroupsPerGrid take
// an axis; LaneId and WarpId ignore it.
Instr thread_index(Kernel& k, OpKind op, int axis);
Instr load_vector(const Kernel& k, ParamId p, ValueId index, ArrayId dst, std::uint32_t lanes);
Instr store_vector(const Kernel& k, ParamId p, ValueId index, ArrayId src, std::uint32_t lanes);
Instr atomic_global(Kernel& k, CombineOp combine, ParamId p, ValueId index, ValueId value);
Instr array_load(Kernel& k, ArrayId a, ValueId index);
Instr array_store(const Kernel& k, ArrayId a, ValueId index, ValueId value);
Instr atomic_array(Kernel& k, CombineOp combine, ArrayId a, ValueId index, ValueId value);
Instr barrier(OpKind op);         // Barrier, WarpBarrier or DeviceFence
Instr kernel_overlap(OpKind op);  // WaitPriorKernel or ReleaseNextKernel
Instr prefetch_l2(const Kernel& k, ParamId p, ValueId first, ValueId count);
Instr warp_reduce(Kernel& k, CombineOp combine, ValueId value);
Instr warp_shuffle(Kernel& k, ShuffleKind kind, ValueId value, ValueId lane);
Instr warp_prefix_sum(Kernel& k, bool inclusive, ValueId value);
Instr threadgroup_reduce(Kernel& k, CombineOp combine, ValueId value);
Instr threadgroup_argmax(Kernel& k, ValueId value, ValueId index);
}  // namespace make

// Which value types a combine accepts in a collective or atomic: reductions take i32, u32
// and floats (not fp8; And/Or/Xor only integers); atomics take i32 and u32 for every combine
// but Mul, and f32 for Add.
bool accepts_combine(OpKind op, CombineOp combine, DType t);

}  // namespace mt
