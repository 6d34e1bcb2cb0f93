// mt::KernelBuilder: records a kernel while its C++ builder function runs. Parameters are
// declared on it; expressions on the Vals it hands out append instructions to the current
// block. trace() runs a builder function and returns the verified mt::Kernel.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"
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

  // A host-side precondition on scalar parameters, checked before every launch; `text` is
  // reported when it fails. cond may use only scalars and constants.
  void require(const Val& cond, std::string text);

  // The kernel so far. finish() verifies it and hands it over.
  const Kernel& kernel() const { return kernel_; }
  Kernel finish();

  // The builder whose function is running on this thread (for program_id(), range(), ...).
  static KernelBuilder& current();

  // --- used by Val, Var, Tensor and the builtins -------------------------------------------
  Kernel& mutable_kernel() { return kernel_; }
  // Appends an instruction to the current block; returns its result (if it has one).
  Val append(Instr in);
  void append_statement(Instr in);
  // Opens a nested block of the instruction just appended; close_block() returns to the parent.
  void open_block(std::size_t block_index);
  void close_block();
  // An mt::Error "kernel 'K': <what>" for a mistake in the kernel's code.
  [[noreturn]] void fail(std::string_view what) const;
  // Describes a value for error messages: "%12 (u32)".
  std::string describe(const Val& v) const;

 private:
  struct Frame {
    Block* block;
    std::size_t parent_instr;  // index in the enclosing block of the instr owning `block`
    std::size_t block_index;
  };
  Block& current_block();
  ParamId add_param(std::string name, ParamKind kind, DType t);

  Kernel kernel_;
  std::vector<std::pair<std::size_t, std::size_t>> open_;  // (instr index, block index) path
  bool in_contract_ = false;
  KernelBuilder* previous_ = nullptr;
  friend class ContractScope;
};

// Runs `body` with a fresh builder and returns the verified kernel.
Kernel trace(std::string name, KernelMode mode, const std::function<void(KernelBuilder&)>& body);

}  // namespace mt
