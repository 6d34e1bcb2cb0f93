// The generator's state and its two halves: values and expressions (generator_values.cpp),
// statements, control flow and memory phases (generator.cpp). Private to the fuzz library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fuzz/generator.hpp"
#include "fuzz/rng.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::fuzz::detail {

// The list's Unary or Binary ops, in list order (the generator picks among them, so a new op is
// fuzzed without a change to the generator).
const std::vector<OpKind>& ops_of_shape(OpShape shape);

// Over which threads a value (or the control flow reaching a point) is the same, from the
// widest to the narrowest. A barrier or threadgroup collective needs control flow uniform
// over the group; a warp collective over the warp.
enum class Uniformity : std::uint8_t { Launch, Group, Warp, Thread };

inline Uniformity widest(Uniformity a, Uniformity b) { return a > b ? a : b; }

// A threadgroup array whose elements may be read in the current region; warp_local: only
// elements of the reader's own warp were written in this phase.
struct ReadableArray {
  ArrayId array;
  bool warp_local = false;
};

class Generator {
 public:
  Generator(std::uint64_t seed, const GenOptions& options);
  FuzzProgram run();

 private:
  // --- values (generator_values.cpp) -------------------------------------------------------
  // A value of type t, reused or newly built (at most `depth` ops deep). Uses are counted by
  // the emission that consumes it.
  ValueId value(DType t, int depth);
  // A newly built value of type t.
  ValueId build(DType t, int depth);
  // A u32 in [0, size): any value, converted to u32, modulo the size (a Const, or `size_of`
  // read as a TensorLen or a scalar when given).
  ValueId index_below(std::uint32_t size, OpKind size_op = OpKind::Const, ParamId size_of = {});
  // An index of u32 or (sometimes) i32 type in [0, size).
  ValueId any_index_below(std::uint32_t size, OpKind size_op = OpKind::Const, ParamId size_of = {});
  ValueId constant(DType t, Scalar v);
  ValueId random_constant(DType t);
  // A value of the largest uniformity `limit` allows, or any value; restores the limit.
  ValueId value_within(DType t, int depth, Uniformity limit);
  Uniformity uniformity(ValueId v) const { return uni_[v.index]; }

  // --- emission (each counts one use of every operand) -------------------------------------
  // Appends `in` to the current block; its result has uniformity u and, when pooled, may be
  // reused until the block ends.
  ValueId emit_value(Instr in, Uniformity u, bool pooled = true);
  // The same with the widest uniformity of the operands.
  ValueId emit_op(Instr in);
  void emit_statement(Instr in);
  ValueId u32_const(std::uint32_t v) { return constant(DType::U32, Scalar::of_int(v)); }
  ValueId binary(OpKind op, ValueId a, ValueId b);

  // --- statements (generator.cpp) ----------------------------------------------------------
  void statements(int count);
  void statement();
  // Stores v to the next slot of its dtype's output (or of `approx_*` with a tolerance).
  void sink(ValueId v);
  void store_approx(ValueId v, OpKind op);
  void close_scope();

 private:
  // values
  ValueId reuse(DType t);
  ValueId leaf(DType t);
  ValueId load_input(DType t);
  ValueId scalar(DType t);
  ValueId identity();
  ValueId local_read(DType t);
  ValueId thread_array_read(DType t);
  ValueId group_array_read(DType t);
  ValueId unary(DType t, int depth);
  ValueId arithmetic(DType t, int depth);
  ValueId comparison(int depth);
  ValueId select(DType t, int depth);
  ValueId cast(DType t, int depth);
  ValueId bitcast(DType t, int depth);
  ValueId collective(DType t, int depth);
  ValueId canonical_nan(ValueId x);
  ValueId small_int_f32();
  ValueId index_source();

  // memory and parameters
  ParamId input(DType t);
  ParamId output(const std::string& name, DType t);
  ParamId new_scalar(DType t, bool small);
  LocalId local(DType t);
  ArrayId thread_array(DType t, std::uint32_t min_size);
  ArrayId group_array(DType t);
  void output_store(ParamId out, std::uint32_t slot, ValueId v);

  // statements
  void if_else();
  void for_loop();
  void group_phase();
  void warp_phase();
  void group_atomics(ArrayId a);
  void region();
  void thread_array_store();
  std::uint32_t vector_lanes(DType t);
  void vector_load();
  void vector_store();
  void global_atomic();
  void approx_math();
  void duplicate();
  void guarded_division();
  void dead_code();
  void accumulate(ValueId v);
  void header();
  void choose_launch();
  void finish_tensors();
  void overlap_prior_kernel();
  template <class Body>
  void nested(Block& block, Body body);

  bool can_group_sync() const { return control_ <= Uniformity::Group; }
  bool can_warp_sync() const { return control_ <= Uniformity::Warp; }
  bool exact() const { return options_.profile == Profile::Exact; }
  DType random_dtype();

  Rng rng_;
  GenOptions options_;
  FuzzProgram program_;
  Kernel& k_;        // program_.kernel
  int budget_ = 0;   // instructions still to generate
  int emitted_ = 0;  // instructions emitted so far
  int depth_ = 0;    // nesting of control flow
  int trips_ = 1;    // product of the enclosing loops' largest trip counts
  int in_loop_ = 0;  // enclosing loops
  Uniformity control_ = Uniformity::Launch;
  Uniformity limit_ = Uniformity::Thread;  // the widest uniformity values may have now
  Block* block_ = nullptr;
  std::vector<std::vector<ValueId>> scopes_;
  std::vector<Uniformity> uni_;
  std::vector<int> uses_;
  std::map<ValueId, Instr> pure_defs_;  // pure instructions by result, for duplicate()
  std::vector<ReadableArray> readable_;

  std::uint32_t threads_per_group_ = 1;
  std::uint32_t threads_ = 1;  // in the whole launch
  ValueId thread_in_group_;    // u32, linear within the group
  ValueId global_thread_;      // u32, unique in the launch: the output slot offset

  std::map<DType, ParamId> inputs_;
  std::map<ParamId, std::uint32_t> slots_;  // next free slot of each output
  std::map<DType, std::vector<LocalId>> locals_;
  std::vector<ArrayId> thread_arrays_;
  std::vector<ArrayId> group_arrays_;
  std::map<ArrayId, ParamId> array_size_params_;
  std::vector<ParamId> small_scalars_;
  std::map<DType, std::vector<ParamId>> scalars_;
  std::map<ArrayId, std::uint32_t> group_sizes_;  // threadgroup arrays, specialised or not
  std::map<ParamId, std::size_t> fixed_lengths_;  // outputs not laid out in slots
  Block prologue_;                                // writes of locals and per-thread arrays
  std::size_t header_size_ = 0;                   // instructions of the identity header
  int vector_outputs_ = 0;
};

}  // namespace mt::fuzz::detail
