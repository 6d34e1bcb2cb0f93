// KernelBuilder: parameters, the block stack, contracts and trace().
#include "metaltile/dsl/kernel_builder.hpp"

#include <atomic>
#include <sstream>

#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/tensor.hpp"

namespace mt {
namespace {
thread_local KernelBuilder* active_builder = nullptr;
std::atomic<std::uint64_t> next_trace{1};

// Arrays are named in printed IR and emitted code, so a name is given once.
void check_array_name(const KernelBuilder& b, const std::string& what, const std::string& name) {
  if (name.empty()) b.fail(what + ": an array needs a name");
  for (const Array& a : b.kernel().arrays) {
    if (a.name == name) b.fail(what + " '" + name + "': an array of that name already exists");
  }
}
}  // namespace

KernelBuilder::KernelBuilder(std::string name, KernelMode mode) : trace_(next_trace++) {
  kernel_.name = std::move(name);
  kernel_.mode = mode;
  blocks_.push_back(&kernel_.body);
  block_loops_.push_back(0);
  previous_ = active_builder;
  active_builder = this;
}

KernelBuilder::~KernelBuilder() { active_builder = previous_; }

KernelBuilder& KernelBuilder::current() {
  if (active_builder == nullptr) {
    throw Error("DSL: no kernel is being traced on this thread (call inside mt::trace)");
  }
  return *active_builder;
}

KernelBuilder& KernelBuilder::of_trace(std::uint64_t trace) {
  KernelBuilder* active = active_builder;
  if (active != nullptr && active->trace_ == trace && trace != 0) [[likely]]
    return *active;
  const std::string which = "trace #" + std::to_string(trace);
  if (active == nullptr) {
    throw Error("DSL: a value (Val, Var, Tensor or ArrayRef) of " + which +
                " is used outside any trace: it outlived the kernel function that made it");
  }
  if (active->trace_ == 0) {
    active->fail(
        "a value (Val, Var, Tensor or ArrayRef) is used after finish(): the trace has "
        "ended");
  }
  active->fail("a value (Val, Var, Tensor or ArrayRef) of another kernel's trace (" + which +
               "; this is trace #" + std::to_string(active->trace_) +
               ") is used here: values cannot cross kernels");
}

void dsl_detail::note_location(const std::source_location& where) {
  KernelBuilder::note_location(where);
}

KernelBuilder* KernelBuilder::running(std::uint64_t trace) {
  KernelBuilder* active = active_builder;
  return active != nullptr && active->trace_ == trace && trace != 0 ? active : nullptr;
}

void KernelBuilder::note_location(const std::source_location& where) {
  KernelBuilder* active = active_builder;
  if (active == nullptr) return;
  const std::string_view file = where.file_name();
  // The DSL's own lines: its public headers and its sources.
  if (file.find("metaltile/dsl/") != std::string_view::npos ||
      file.find("src/dsl/") != std::string_view::npos) {
    return;
  }
  active->location_file_ = where.file_name();
  active->location_line_ = where.line();
}

void KernelBuilder::fail(std::string_view what) const {
  if (location_file_ == nullptr) throw kernel_error(kernel_.name, what);
  std::string located(what);
  located.append(" (at ").append(location_file_).append(":");
  located.append(std::to_string(location_line_)).append(")");
  throw kernel_error(kernel_.name, located);
}

std::string KernelBuilder::describe(const Val& v) const {
  std::ostringstream out;
  out << "%" << v.id().index << " (" << name_of(v.dtype()) << ")";
  return out.str();
}

std::optional<Scalar> KernelBuilder::constant_value(const Val& v) const {
  auto def = pure_defs_.find(v.id().index);
  if (def == pure_defs_.end() || def->second.op != OpKind::Const) return std::nullopt;
  return def->second.literal;
}

ParamId KernelBuilder::add_param(std::string name, ParamKind kind, DType t) {
  if (name.empty()) fail("a parameter needs a name");
  if (kernel_.find_param(name).valid()) {
    throw param_error(kernel_.name, name, "declared twice");
  }
  kernel_.params.push_back(Param{std::move(name), kind, t});
  return ParamId{static_cast<std::uint32_t>(kernel_.params.size() - 1)};
}

Tensor KernelBuilder::input(std::string name, DType t) {
  return Tensor(*this, add_param(std::move(name), ParamKind::Input, t), t);
}

Tensor KernelBuilder::output(std::string name, DType t) {
  return Tensor(*this, add_param(std::move(name), ParamKind::Output, t), t);
}

Val KernelBuilder::scalar(std::string name, DType t) {
  if (t != DType::U32 && t != DType::I32 && t != DType::F32) {
    throw param_error(kernel_.name, name,
                      "a scalar parameter must be u32, i32 or f32, not " + std::string(name_of(t)));
  }
  ParamId p = add_param(std::move(name), ParamKind::Scalar, t);
  return append(make::scalar_param(kernel_, p));
}

ArrayRef KernelBuilder::threadgroup_array(std::string name, DType t, std::uint32_t size) {
  check_array_name(*this, "threadgroup_array", name);
  if (size == 0) fail("threadgroup_array '" + name + "': size must be at least 1");
  if (is_fp8(t) || t == DType::Bool)
    fail("threadgroup_array '" + name + "': element type " + std::string(name_of(t)) +
         " is not supported");
  ArrayId id =
      kernel_.new_array(Array{std::move(name), t, MemorySpace::Threadgroup, size, ParamId{}});
  return ArrayRef(*this, id, t, MemorySpace::Threadgroup);
}

ArrayRef KernelBuilder::threadgroup_array(std::string name, DType t, const Val& specialised_size) {
  check_array_name(*this, "threadgroup_array", name);
  auto def = pure_defs_.find(specialised_size.id().index);
  if (def == pure_defs_.end() || def->second.op != OpKind::ScalarParam ||
      specialised_size.dtype() != DType::U32) {
    fail("threadgroup_array '" + name +
         "': the size must be a u32 scalar parameter (specialised at dispatch), not " +
         describe(specialised_size));
  }
  if (is_fp8(t) || t == DType::Bool)
    fail("threadgroup_array '" + name + "': element type " + std::string(name_of(t)) +
         " is not supported");
  ArrayId id =
      kernel_.new_array(Array{std::move(name), t, MemorySpace::Threadgroup, 0, def->second.param});
  return ArrayRef(*this, id, t, MemorySpace::Threadgroup);
}

ArrayRef KernelBuilder::thread_array(std::string name, DType t, std::uint32_t size) {
  check_array_name(*this, "thread_array", name);
  if (size == 0) fail("thread_array '" + name + "': size must be at least 1");
  ArrayId id = kernel_.new_array(Array{std::move(name), t, MemorySpace::Thread, size, ParamId{}});
  return ArrayRef(*this, id, t, MemorySpace::Thread);
}

Val KernelBuilder::append(Instr in) {
  MT_ASSERT(has_result(in.op)) << op_name(in.op) << " has no result";
  Val v(*this, in.result, in.dtype);
  // Only launch-uniform leaves and pure ops on them may be copied into a contract.
  if (is_pure(in.op) && (op_shape(in.op) != OpShape::Leaf || is_launch_uniform(in.op))) {
    pure_defs_.emplace(in.result.index, in);
  }
  current_block().instrs.push_back(std::move(in));
  return v;
}

void KernelBuilder::append_statement(Instr in) { current_block().instrs.push_back(std::move(in)); }

void KernelBuilder::open_block(std::size_t block_index) {
  Block& parent = current_block();
  MT_ASSERT(!parent.instrs.empty()) << "no instruction to open";
  Instr& owner = parent.instrs.back();
  MT_ASSERT(block_index < owner.blocks.size()) << op_name(owner.op) << " block " << block_index;
  blocks_.push_back(&owner.blocks[block_index]);
  block_loops_.push_back(owner.op == OpKind::For ? ++loops_opened_ : block_loops_.back());
}

void KernelBuilder::close_block() {
  MT_ASSERT(blocks_.size() > 1) << "closing the kernel body";
  blocks_.pop_back();
  block_loops_.pop_back();
}

ValueId KernelBuilder::copy_to_contract(ValueId v,
                                        std::unordered_map<std::uint32_t, ValueId>& copied) {
  if (auto it = copied.find(v.index); it != copied.end()) return it->second;
  auto def = pure_defs_.find(v.index);
  if (def == pure_defs_.end()) {
    fail(
        "require: the condition may use only constants, scalar parameters, tensor lengths and "
        "the launch shape, but %" +
        std::to_string(v.index) + " depends on a per-thread value");
  }
  Instr copy = def->second;
  for (ValueId& operand : copy.operands) operand = copy_to_contract(operand, copied);
  copy.result = kernel_.new_value(copy.dtype);
  ValueId result = copy.result;
  kernel_.contract.instrs.push_back(std::move(copy));
  copied.emplace(v.index, result);
  return result;
}

ValueId KernelBuilder::contract_value(const Val& v, std::string_view what) {
  // The contract runs before the launch, unconditionally: inside a loop or an if_ it would
  // look conditional but is not.
  if (blocks_.size() != 1) {
    fail(std::string(what) + ": call it at the top level of the kernel, not inside a loop or if_");
  }
  std::unordered_map<std::uint32_t, ValueId> copied;
  return copy_to_contract(v.id(), copied);
}

void KernelBuilder::require(const Val& cond, std::string text) {
  if (cond.dtype() != DType::Bool) fail("require: condition " + describe(cond) + " is not bool");
  const ValueId c = contract_value(cond, "require");
  kernel_.contract.instrs.push_back(make::require(kernel_, c, std::move(text)));
}

void KernelBuilder::record_len(const Tensor& t, const Val& count, bool multiple,
                               std::string formula) {
  const std::string what = multiple ? "require_len_multiple" : "require_len";
  if (count.dtype() != DType::U32) {
    fail(what + ": the element count " + describe(count) + " is not u32");
  }
  if (formula.empty()) fail(what + ": state the formula of the length (\"n_heads*head_dim\")");
  const ValueId c = contract_value(count, what);
  kernel_.contract.instrs.push_back(
      make::require_len(kernel_, t.param(), c, multiple, std::move(formula)));
}

void KernelBuilder::require_len(const Tensor& t, const Val& count, std::string formula) {
  record_len(t, count, false, std::move(formula));
}

void KernelBuilder::require_len_multiple(const Tensor& t, const Val& unit, std::string formula) {
  record_len(t, unit, true, std::move(formula));
}

Kernel KernelBuilder::finish() {
  if (blocks_.size() != 1) {
    fail("a loop or conditional was left open (a `break` or `return` inside a range loop?)");
  }
  verify(kernel_);
  trace_ = 0;  // the kernel is handed over: no value of this trace may add to it
  Kernel k = std::move(kernel_);
  kernel_.name = k.name;  // for messages about values used after this
  return k;
}

Kernel trace(std::string name, KernelMode mode, const std::function<void(KernelBuilder&)>& body) {
  KernelBuilder builder(std::move(name), mode);
  body(builder);
  return builder.finish();
}

}  // namespace mt
