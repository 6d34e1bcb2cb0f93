// mt::KernelBuilder: records a kernel while its C++ builder function runs. Parameters are
// declared on it; expressions on the Vals it hands out append instructions to the current
// block. trace() runs a builder function and returns the verified mt::Kernel.
#pragma once

#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

class Tensor;

class KernelBuilder {
 public:
  KernelBuilder(std::string name, KernelMode mode);
  KernelBuilder(const KernelBuilder&) = delete;
  KernelBuilder& operator=(const KernelBuilder&) = delete;
  ~KernelBuilder();

  // Parameters, bound by name at dispatch.
  Tensor input(std::string name, DType t);
  Tensor output(std::string name, DType t);
  Val scalar(std::string name, DType t);  // u32, i32 or f32
  Val scalar_u32(std::string name) { return scalar(std::move(name), DType::U32); }
  Val scalar_i32(std::string name) { return scalar(std::move(name), DType::I32); }
  Val scalar_f32(std::string name) { return scalar(std::move(name), DType::F32); }

  // Threadgroup memory shared by the threads of a threadgroup, of a fixed element count or of
  // the count held by a scalar parameter that is specialised at dispatch (ConstMap).
  ArrayRef threadgroup_array(std::string name, DType t, std::uint32_t size);
  ArrayRef threadgroup_array(std::string name, DType t, const Val& specialised_size);
  // A per-thread array (registers when indexed with constants, else local memory).
  ArrayRef thread_array(std::string name, DType t, std::uint32_t size);

  // A host-side precondition, checked before every launch; `text` is reported when it fails.
  // cond may use only launch-uniform values: constants, scalars, tensor lengths (len()) and the
  // launch shape (threads_per_threadgroup(a), threadgroups_per_grid(a)).
  void require(const Val& cond, std::string text);
  // The element count of tensor t must be `count` (u32, launch-uniform like a condition), which
  // `formula` states in the kernel's terms ("n_kv_heads*max_seq*head_dim/8"). A mismatch is
  // reported with the tensor, the expected and actual lengths and the values behind count.
  void require_len(const Tensor& t, const Val& count, std::string formula);
  // The same for a length that must be a multiple of `unit` (which must not be 0): a tensor
  // holding a whole number of rows or heads.
  void require_len_multiple(const Tensor& t, const Val& unit, std::string formula);

  // The contract's copy of the launch-uniform value v (constants, scalars, lengths, the launch
  // shape and pure ops on them), for a contract-level declaration such as a tensor map's
  // extent; `what` names the declaration in errors (v not uniform, a call inside a loop).
  ValueId to_contract(const Val& v, std::string_view what) { return contract_value(v, what); }

  // The kernel so far. finish() verifies it and hands it over.
  const Kernel& kernel() const { return kernel_; }
  Kernel finish();

  // The builder whose function is running on this thread (for program_id(), range(), ...).
  static KernelBuilder& current();
  // This trace's serial number: unique in the process, never 0, and 0 once finish()ed.
  std::uint64_t trace_serial() const { return trace_; }
  // The running builder, if its serial is `trace` (the serial a Val, Tensor, ArrayRef or Var
  // was made with); else an mt::Error: the thing belongs to another kernel's trace, or its
  // trace has ended.
  static KernelBuilder& of_trace(std::uint64_t trace);

  // The kernel author's line of the DSL call being recorded, for error messages: the DSL's
  // entry points note it (a std::source_location default argument), and fail() ends its
  // message with "(at file:line)". Lines inside the DSL itself (its headers and sources) are
  // not noted, so a helper's error points at the kernel code that called it.
  static void note_location(const std::source_location& where);
  // The running builder if its serial is `trace`, else nullptr (no error).
  static KernelBuilder* running(std::uint64_t trace);
  // The innermost loop being traced (a serial unique in this trace), or 0 outside loops.
  std::uint32_t innermost_loop() const { return block_loops_.back(); }

  // --- used by Val, Var, Tensor and the builtins -------------------------------------------
  Kernel& mutable_kernel() { return kernel_; }
  // Appends an instruction to the current block; returns its result (if it has one).
  Val append(Instr in);
  void append_statement(Instr in);
  // Opens a nested block of the instruction just appended; close_block() returns to the parent.
  void open_block(std::size_t block_index);
  void close_block();
  std::size_t current_block_size() const { return blocks_.back()->instrs.size(); }
  // An mt::Error "kernel 'K': <what>" for a mistake in the kernel's code.
  [[noreturn]] void fail(std::string_view what) const;
  // Describes a value for error messages: "%12 (u32)".
  std::string describe(const Val& v) const;
  // The literal of a value that is a constant (a Const), for checks at trace time.
  std::optional<Scalar> constant_value(const Val& v) const;

 private:
  Block& current_block() { return *blocks_.back(); }
  ParamId add_param(std::string name, ParamKind kind, DType t);
  // Copies the scalar-only computation of `v` into the contract block (fresh ids).
  ValueId copy_to_contract(ValueId v, std::unordered_map<std::uint32_t, ValueId>& copied);
  // The contract's copy of `v`, for a requirement stated at the top level (`what` names it).
  ValueId contract_value(const Val& v, std::string_view what);
  void record_len(const Tensor& t, const Val& count, bool multiple, std::string formula);

  Kernel kernel_;
  std::uint64_t trace_;
  // Open blocks, innermost last. Appends go only to the innermost block, so the pointers to
  // enclosing blocks stay valid while it is open.
  std::vector<Block*> blocks_;
  // For each open block, the innermost loop enclosing it (0: none).
  std::vector<std::uint32_t> block_loops_;
  std::uint32_t loops_opened_ = 0;
  // The last noted location (file_name() is a string of static storage), or none.
  const char* location_file_ = nullptr;
  std::uint32_t location_line_ = 0;
  // Definitions of values that a contract may copy: constants, scalars and pure ops.
  std::unordered_map<std::uint32_t, Instr> pure_defs_;
  KernelBuilder* previous_ = nullptr;
};

// Runs `body` with a fresh builder and returns the verified kernel.
Kernel trace(std::string name, KernelMode mode, const std::function<void(KernelBuilder&)>& body);

}  // namespace mt
