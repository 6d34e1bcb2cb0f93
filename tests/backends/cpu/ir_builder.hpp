// A small hand builder of IR for the CPU backend tests (built on mt::make::*, so these tests
// do not depend on the DSL), and argument lists bound to test-owned byte buffers.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::test {

class IrBuilder {
 public:
  IrBuilder(std::string name, KernelMode mode) {
    k.name = std::move(name);
    k.mode = mode;
    open_.push_back(&k.body);
  }

  ParamId param(std::string name, ParamKind kind, DType t) {
    k.params.push_back(Param{std::move(name), kind, t});
    return ParamId{static_cast<std::uint32_t>(k.params.size() - 1)};
  }
  ParamId input(std::string name, DType t) { return param(std::move(name), ParamKind::Input, t); }
  ParamId output(std::string name, DType t) { return param(std::move(name), ParamKind::Output, t); }
  ParamId scalar(std::string name, DType t) { return param(std::move(name), ParamKind::Scalar, t); }

  // Appends to the innermost open block and returns the result (invalid for statements).
  ValueId emit(Instr in) {
    const ValueId result = in.result;
    open_.back()->instrs.push_back(std::move(in));
    return result;
  }
  ValueId constant(DType t, Scalar v) { return emit(make::constant(k, t, v)); }
  ValueId u32(std::uint32_t v) { return constant(DType::U32, Scalar::of_int(v)); }
  ValueId i32(std::int32_t v) { return constant(DType::I32, Scalar::of_int(v)); }
  ValueId f32(float v) { return constant(DType::F32, Scalar::of_float(v)); }
  ValueId pid(int axis) { return emit(make::program_id(k, axis)); }
  ValueId read_scalar(ParamId p) { return emit(make::scalar_param(k, p)); }
  ValueId len(ParamId p) { return emit(make::tensor_len(k, p)); }
  ValueId bin(OpKind op, ValueId a, ValueId b) { return emit(make::binary(k, op, a, b)); }
  ValueId cmp(OpKind op, ValueId a, ValueId b) { return emit(make::compare(k, op, a, b)); }
  ValueId cast(DType to, ValueId a) { return emit(make::cast(k, to, a)); }
  ValueId load(ParamId p, ValueId index) { return emit(make::load(k, p, index)); }
  void store(ParamId p, ValueId index, ValueId v) { emit(make::store(k, p, index, v)); }
  LocalId local(std::string name, DType t) { return k.new_local(std::move(name), t); }
  ValueId read(LocalId l) { return emit(make::local_read(k, l)); }
  void write(LocalId l, ValueId v) { emit(make::local_write(k, l, v)); }
  void require(ValueId cond, std::string message) {
    emit(make::require(k, cond, std::move(message)));
  }

  // for (var in [lo, hi) step step) body(var)
  template <class Body>
  void loop(ValueId lo, ValueId hi, ValueId step, Body body) {
    Instr in = make::for_loop(k, lo, hi, step);
    open_.push_back(&in.blocks[0]);
    body(in.result);
    open_.pop_back();
    emit(std::move(in));
  }

  template <class Then, class Else>
  void if_else(ValueId cond, Then then, Else otherwise) {
    Instr in = make::if_then_else(k, cond);
    open_.push_back(&in.blocks[0]);
    then();
    open_.back() = &in.blocks[1];
    otherwise();
    open_.pop_back();
    emit(std::move(in));
  }
  template <class Then>
  void if_(ValueId cond, Then then) {
    if_else(cond, then, [] {});
  }

  // Emits into the contract block instead of the body while f runs.
  template <class F>
  void in_contract(F f) {
    open_.push_back(&k.contract);
    f();
    open_.pop_back();
  }

  Kernel k;

 private:
  std::vector<Block*> open_;
};

// One argument per parameter: tensors point at their buffer here, scalars hold a value.
// Buffers are sized up front and never reallocated, so the spans stay valid.
class ArgList {
 public:
  explicit ArgList(const Kernel& k) : buffers_(k.params.size()), args_(k.params.size()) {}
  std::vector<std::uint8_t>& buffer(ParamId p) { return buffers_[p.index]; }
  void bind(ParamId p, std::vector<std::uint8_t> bytes) {
    buffers_[p.index] = std::move(bytes);
    args_[p.index].bytes = std::span<std::uint8_t>(buffers_[p.index]);
  }
  // Binds only the first `prefix` bytes: the rest are guard bytes no access may touch.
  void bind_prefix(ParamId p, std::vector<std::uint8_t> bytes, std::size_t prefix) {
    buffers_[p.index] = std::move(bytes);
    args_[p.index].bytes = std::span<std::uint8_t>(buffers_[p.index]).first(prefix);
  }
  void set(ParamId p, Scalar v) { args_[p.index].scalar = v; }
  std::span<Argument> args() { return args_; }

 private:
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<Argument> args_;
};

// out[i] = in[i] + add (u32), one thread per element: the smallest kernel a backend test runs.
inline Kernel add_u32_kernel() {
  IrBuilder b("add", KernelMode::Elementwise);
  const ParamId in = b.input("in", DType::U32);
  const ParamId out = b.output("out", DType::U32);
  const ParamId add = b.scalar("add", DType::U32);
  const ValueId i = b.pid(0);
  b.store(out, i, b.bin(OpKind::Add, b.load(in, i), b.read_scalar(add)));
  return b.k;
}

}  // namespace mt::test
