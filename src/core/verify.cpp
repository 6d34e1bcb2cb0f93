// The IR verifier: kernel-level rules, then one walk over contract and body that checks
// scopes and ids, where each op may appear, its arity, and per-shape type rules.
// Every failure is an mt::Error "kernel 'K': verify: <op> <operands>: <what is wrong>".
#include "metaltile/core/verify.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/matrix.hpp"
#include "metaltile/core/tensor_map.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt {
namespace {

enum class Region { Contract, Body };

// How many value operands and nested blocks an op has.
struct Arity {
  std::size_t operands;
  std::size_t blocks;
};

Arity arity_of(OpKind op) {
  switch (op_shape(op)) {
    case OpShape::Leaf: return {0, 0};
    case OpShape::Memory:
      return {
          op == OpKind::Store || op == OpKind::AtomicGlobal || op == OpKind::PrefetchL2 ? 2u : 1u,
          0};
    case OpShape::Array: return {op == OpKind::ArrayLoad ? 1u : 2u, 0};
    case OpShape::Sync: return {0, 0};
    case OpShape::Collective:
      return {op == OpKind::WarpShuffle || op == OpKind::ThreadgroupArgmax ? 2u : 1u, 0};
    case OpShape::Local: return {op == OpKind::LocalWrite ? 1u : 0u, 0};
    case OpShape::Unary:
    case OpShape::Convert: return {1, 0};
    case OpShape::Binary:
    case OpShape::Compare: return {2, 0};
    case OpShape::Ternary: return {3, 0};
    case OpShape::Control: return op == OpKind::For ? Arity{3, 1} : Arity{1, 2};
    case OpShape::Matrix:
      switch (op) {
        case OpKind::BulkTensorLoad: return {4, 0};
        case OpKind::CopyAsync: return {3, 0};
        case OpKind::WarpgroupMma:
        case OpKind::AsyncBarrierExpect:
        case OpKind::AsyncBarrierWait: return {2, 0};
        case OpKind::LoadMatrix:
        case OpKind::AsyncBarrierInit:
        case OpKind::AsyncBarrierArrive: return {1, 0};
        default: return {0, 0};
      }
    case OpShape::Statement: return {op == OpKind::TensorMapShape ? 3u : 1u, 0};
  }
  return {0, 0};
}

// The contract runs once on the host, before any thread exists: it may compute only from
// constants, scalar parameters, tensor lengths and the launch shape (no thread identity,
// memory, arrays, barriers or collectives). The body runs on every thread and checks nothing.
bool allowed_in(Region region, OpKind op) {
  switch (op_shape(op)) {
    case OpShape::Leaf: return region == Region::Body || is_launch_uniform(op);
    case OpShape::Unary:
    case OpShape::Convert:
    case OpShape::Binary:
    case OpShape::Compare:
    case OpShape::Ternary: return true;
    case OpShape::Memory:
    case OpShape::Local:
    case OpShape::Array:
    case OpShape::Control:
    case OpShape::Sync:
    case OpShape::Collective:
    case OpShape::Matrix: return region == Region::Body;
    case OpShape::Statement: return region == Region::Contract;
  }
  return false;
}

bool is_thread_index(OpKind op) {
  return op == OpKind::ThreadId || op == OpKind::ThreadgroupId ||
         op == OpKind::ThreadsPerThreadgroup || op == OpKind::ThreadgroupsPerGrid ||
         op == OpKind::LaneId || op == OpKind::WarpId;
}

// A literal is stored normalised to its dtype (core/scalar.hpp); anything else would make
// two equal constants compare unequal and the printed IR ambiguous.
bool is_normalised(DType t, const Scalar& s) {
  if (is_float(t)) {
    if (s.i != 0) return false;
    if (std::isnan(s.f)) return true;
    // inf is an E5M2 value, which normalise() keeps: only a conversion saturates it.
    if (t == DType::F8E5M2 && std::isinf(s.f)) return true;
    if (!std::isinf(s.f) && std::fabs(s.f) > std::numeric_limits<float>::max()) return false;
    const float x = static_cast<float>(s.f);
    return static_cast<double>(x) == s.f && round_to(t, x) == x;
  }
  if (s.f != 0.0) return false;
  switch (t) {
    case DType::Bool: return s.i == 0 || s.i == 1;
    case DType::U8: return s.i >= 0 && s.i <= 0xff;
    case DType::I8: return s.i >= -128 && s.i <= 127;
    case DType::U32: return s.i >= 0 && s.i <= 0xffffffffll;
    case DType::I32:
      return s.i >= std::numeric_limits<std::int32_t>::min() &&
             s.i <= std::numeric_limits<std::int32_t>::max();
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8E4M3:
    case DType::F8E5M2: break;
  }
  return false;
}

class Verifier {
 public:
  explicit Verifier(const Kernel& k)
      : k_(k), defined_(k.value_types.size(), false), visible_(k.value_types.size(), false) {}

  void run() {
    check_params();
    check_arrays();
    check_async_memory();
    walk(k_.contract, Region::Contract);
    walk(k_.body, Region::Body);
    check_kernel_overlap();
  }

 private:
  // WaitPriorKernel lets the backend start the kernel before the one it follows has ended, so
  // it must come before the body touches any tensor (a prefetch is only a hint), at the top
  // level where every thread reaches it.
  void check_kernel_overlap() const {
    const Instr* first_access = nullptr;
    for (const Instr& in : k_.body.instrs) {
      if (in.op == OpKind::WaitPriorKernel) {
        if (first_access != nullptr) {
          fail(in, "wait_prior_kernel comes after " + describe(*first_access) +
                       ", which may read or write what the prior kernel has not finished");
        }
        return;
      }
      if (first_access == nullptr) first_access = first_tensor_access(in);
    }
    for_each_instr(k_.body, [&](const Instr& in) {
      if (in.op == OpKind::WaitPriorKernel) {
        fail(in, "wait_prior_kernel must be at the top of the body, where every thread reaches it");
      }
    });
  }

  // The first instruction, in order, of `in` and the blocks inside it that accesses a tensor
  // parameter's memory (a prefetch is only a hint); null if none does.
  static const Instr* first_tensor_access(const Instr& in) {
    const Instr* found = nullptr;
    const auto access = [&found](const Instr& i) {
      if (found == nullptr && ((op_shape(i.op) == OpShape::Memory && i.op != OpKind::PrefetchL2) ||
                               i.op == OpKind::CopyAsync || i.op == OpKind::BulkTensorLoad)) {
        found = &i;
      }
    };
    access(in);
    for (const Block& b : in.blocks) for_each_instr(b, access);
    return found;
  }

  // --- messages --------------------------------------------------------------------------
  std::string value_text(ValueId v) const {
    if (!v.valid()) return "%?";
    // Appended: g++ 12 at -O3 misreads "%" + a temporary string as an overlapping copy.
    std::string s = "%";
    s.append(std::to_string(v.index)).append(": ");
    return s.append(v.index < k_.value_types.size() ? name_of(k_.value_types[v.index]) : "?");
  }

  // "store out %7: u32, %5: f16": the op, the param or local it names, its typed operands.
  std::string describe(const Instr& in) const {
    std::string s(op_name(in.op));
    if (op_shape(in.op) == OpShape::Memory || in.op == OpKind::ScalarParam ||
        in.op == OpKind::TensorLen || in.op == OpKind::RequireLen ||
        in.op == OpKind::RequireLenMultiple) {
      s += " " + (has_param(in) ? k_.params[in.param.index].name : std::string("?param"));
    }
    if (op_shape(in.op) == OpShape::Array || in.op == OpKind::LoadVector ||
        in.op == OpKind::StoreVector) {
      s += " " + (has_array(in) ? k_.arrays[in.array.index].name : std::string("?array"));
    }
    if (in.op == OpKind::LocalRead || in.op == OpKind::LocalWrite) {
      s += " " + (has_local(in) ? k_.locals[in.local.index].name : std::string("?local"));
    }
    for (std::size_t i = 0; i < in.operands.size(); ++i) {
      s += (i ? ", " : " ") + value_text(in.operands[i]);
    }
    return s;
  }

  [[noreturn]] void fail(const Instr& in, const std::string& what) const {
    throw kernel_error(k_.name, "verify: " + describe(in) + ": " + what);
  }
  [[noreturn]] void fail_kernel(const std::string& what) const {
    throw kernel_error(k_.name, "verify: " + what);
  }

  bool has_param(const Instr& in) const {
    return in.param.valid() && in.param.index < k_.params.size();
  }
  bool has_local(const Instr& in) const {
    return in.local.valid() && in.local.index < k_.locals.size();
  }
  bool has_array(const Instr& in) const {
    return in.array.valid() && in.array.index < k_.arrays.size();
  }
  DType type(ValueId v) const { return k_.value_types[v.index]; }  // after check_operands
  DType operand_type(const Instr& in, std::size_t i) const { return type(in.operands[i]); }

  // --- kernel-level rules ----------------------------------------------------------------
  // Parameters are bound by name, so names are unique; scalars travel as 32-bit words.
  void check_params() const {
    std::set<std::string> seen;
    for (const Param& p : k_.params) {
      if (p.name.empty()) fail_kernel("a parameter has no name");
      if (!seen.insert(p.name).second) fail_kernel("parameter '" + p.name + "' is declared twice");
      if (p.kind == ParamKind::Scalar && p.dtype != DType::U32 && p.dtype != DType::I32 &&
          p.dtype != DType::F32) {
        fail_kernel("scalar parameter '" + p.name + "' has type " + std::string(name_of(p.dtype)) +
                    "; scalars are u32, i32 or f32");
      }
    }
  }

  // Arrays are declared by name (emitted code names them); the size is fixed at compile time,
  // directly or by a u32 scalar that specialisation bakes in.
  void check_arrays() const {
    std::set<std::string> seen;
    for (const Array& a : k_.arrays) {
      if (a.name.empty()) fail_kernel("an array has no name");
      const std::string what = "array '" + a.name + "'";
      if (!seen.insert(a.name).second) fail_kernel(what + " is declared twice");
      if (a.size_param.valid()) {
        if (a.size_param.index >= k_.params.size())
          fail_kernel(what + ": size param is out of range");
        const Param& p = k_.params[a.size_param.index];
        if (p.kind != ParamKind::Scalar || p.dtype != DType::U32) {
          fail_kernel(what + ": size param '" + p.name + "' is not a u32 scalar");
        }
        if (a.size != 0) fail_kernel(what + " has both a size and a size param");
      } else if (a.size == 0) {
        fail_kernel(what + " has size 0");
      }
      if (a.space == MemorySpace::Threadgroup && (is_fp8(a.dtype) || a.dtype == DType::Bool)) {
        fail_kernel(what + ": threadgroup arrays of " + std::string(name_of(a.dtype)) +
                    " are not supported");
      }
    }
  }

  // Async barrier sets and tensor maps are declared by name, like arrays; each map's extent is
  // given by exactly one TensorMapShape statement of the contract.
  void check_async_memory() const {
    std::set<std::string> seen;
    for (const AsyncBarrier& b : k_.async_barriers) {
      const std::string what = "async barrier set '" + b.name + "'";
      if (b.name.empty()) fail_kernel("an async barrier set has no name");
      if (!seen.insert(b.name).second) fail_kernel(what + " is declared twice");
      if (b.size == 0) fail_kernel(what + " has no barriers");
    }
    std::vector<int> shapes(k_.tensor_maps.size(), 0);
    for (const Instr& in : k_.contract.instrs) {
      if (in.op == OpKind::TensorMapShape && in.tensor_map.valid() &&
          in.tensor_map.index < shapes.size()) {
        ++shapes[in.tensor_map.index];
      }
    }
    seen.clear();
    for (std::size_t i = 0; i < k_.tensor_maps.size(); ++i) {
      const TensorMap& m = k_.tensor_maps[i];
      if (m.name.empty()) fail_kernel("a tensor map has no name");
      if (!seen.insert(m.name).second) fail_kernel("tensor map '" + m.name + "' is declared twice");
      if (std::string p = tensor_map_problem(k_, m); !p.empty()) fail_kernel(p);
      if (shapes[i] != 1) {
        fail_kernel("tensor map '" + m.name + "' has " + quantity(shapes[i], "shape statement") +
                    " in the contract; it needs exactly one");
      }
    }
  }

  // --- the walk ---------------------------------------------------------------------------
  // Values defined in a block stay visible until the block ends; `scope` collects them.
  void walk(const Block& block, Region region) {
    std::vector<ValueId> scope;
    for (const Instr& in : block.instrs) check(in, region, scope);
    for (ValueId v : scope) visible_[v.index] = false;
  }

  void check(const Instr& in, Region region, std::vector<ValueId>& scope) {
    if (!allowed_in(region, in.op)) {
      fail(in, region == Region::Contract ? "not allowed in the contract (only constants, "
                                            "scalars, lengths, pure ops and require)"
                                          : "not allowed in the body (require belongs in the "
                                            "contract)");
    }
    check_arity(in);
    check_operands(in);
    check_result(in);
    check_types(in);
    if (in.op == OpKind::For) {
      if (in.per_role) check_per_role(in);
      // The loop variable exists only inside the body.
      visible_[in.result.index] = true;
      walk(in.blocks[0], region);
      visible_[in.result.index] = false;
      return;
    }
    for (const Block& inner : in.blocks) walk(inner, region);
    if (has_result(in.op)) {
      visible_[in.result.index] = true;
      scope.push_back(in.result);
    }
  }

  void check_per_role(const Instr& loop) const {
    if (std::string problem = role_split_problem(loop); !problem.empty()) fail(loop, problem);
  }

  void check_arity(const Instr& in) const {
    const Arity a = arity_of(in.op);
    if (in.operands.size() != a.operands) {
      fail(in, "has " + quantity(in.operands.size(), "operand") + ", expected " +
                   std::to_string(a.operands));
    }
    if (in.blocks.size() != a.blocks) {
      fail(in,
           "has " + quantity(in.blocks.size(), "block") + ", expected " + std::to_string(a.blocks));
    }
  }

  // Every operand names a value defined earlier in this block or an enclosing one.
  void check_operands(const Instr& in) const {
    for (ValueId v : in.operands) {
      if (!v.valid() || v.index >= k_.value_types.size()) {
        fail(in, "operand " + value_text(v) + " is out of range (" +
                     quantity(k_.value_types.size(), "value") + ")");
      }
      if (!visible_[v.index]) {
        fail(in, "operand %" + std::to_string(v.index) +
                     " is not defined before this use in an enclosing scope");
      }
    }
  }

  void check_result(const Instr& in) {
    if (!has_result(in.op)) {
      if (in.result.valid()) fail(in, "has a result %" + std::to_string(in.result.index));
      return;
    }
    const ValueId r = in.result;
    if (!r.valid() || r.index >= k_.value_types.size()) {
      fail(in, "result " + value_text(r) + " is out of range (" +
                   quantity(k_.value_types.size(), "value") + ")");
    }
    if (defined_[r.index]) fail(in, "result %" + std::to_string(r.index) + " is defined twice");
    defined_[r.index] = true;
    if (in.dtype != type(r)) {
      fail(in, "result %" + std::to_string(r.index) + " has type " +
                   std::string(name_of(in.dtype)) + " but the value table says " +
                   std::string(name_of(type(r))));
    }
  }

  // --- per-shape type rules (the rules of make:: in core/kernel.cpp) -----------------------
  void check_types(const Instr& in) const {
    switch (op_shape(in.op)) {
      case OpShape::Leaf: return check_leaf(in);
      case OpShape::Memory: return check_memory(in);
      case OpShape::Array: return check_array(in);
      case OpShape::Sync: return;
      case OpShape::Collective: return check_collective(in);
      case OpShape::Local: return check_local(in);
      case OpShape::Unary: return check_unary(in);
      case OpShape::Convert: return check_convert(in);
      case OpShape::Binary: return check_binary(in);
      case OpShape::Compare: return check_compare(in);
      case OpShape::Ternary: return in.op == OpKind::Fma ? check_fma(in) : check_select(in);
      case OpShape::Control: return check_control(in);
      case OpShape::Matrix: return check_matrix(in);
      case OpShape::Statement: return check_requirement(in);
    }
  }

  void expect_result(const Instr& in, DType t, const std::string& why) const {
    if (in.dtype != t) {
      fail(in, "result type " + std::string(name_of(in.dtype)) + " should be " +
                   std::string(name_of(t)) + " (" + why + ")");
    }
  }

  void expect_bool(const Instr& in, std::size_t i, const std::string& what) const {
    if (operand_type(in, i) != DType::Bool) fail(in, what + " must be bool");
  }

  void expect_index(const Instr& in, std::size_t i) const {
    if (!is_index_type(operand_type(in, i))) fail(in, "index must be u32 or i32");
  }

  void expect_accepted(const Instr& in, DType t) const {
    if (!accepts_operand_type(in.op, t)) {
      fail(in, std::string(op_name(in.op)) + " does not accept " + std::string(name_of(t)));
    }
  }

  void expect_param(const Instr& in) const {
    if (!has_param(in)) {
      fail(in, "param id " + (in.param.valid() ? std::to_string(in.param.index) : "?") +
                   " is out of range (" + quantity(k_.params.size(), "param") + ")");
    }
  }

  void check_leaf(const Instr& in) const {
    if (in.op == OpKind::ProgramId || is_thread_index(in.op)) {
      if (in.axis < 0 || in.axis > 2) fail(in, "axis " + std::to_string(in.axis) + " is not 0..2");
      if ((in.op == OpKind::LaneId || in.op == OpKind::WarpId) && in.axis != 0) {
        fail(in, "has axis " + std::to_string(in.axis) + "; lanes and warps have none (0)");
      }
      expect_result(in, DType::U32, "thread indices are u32");
    } else if (in.op == OpKind::ScalarParam) {
      expect_param(in);
      const Param& p = k_.params[in.param.index];
      if (p.kind != ParamKind::Scalar) fail(in, "param '" + p.name + "' is not a scalar");
      expect_result(in, p.dtype, "the param's dtype");
    } else if (in.op == OpKind::TensorLen) {
      expect_param(in);
      const Param& p = k_.params[in.param.index];
      if (!p.is_tensor()) fail(in, "param '" + p.name + "' is not a tensor");
      expect_result(in, DType::U32, "lengths are u32");
    } else if (in.op == OpKind::Const && !is_normalised(in.dtype, in.literal)) {
      fail(in, "literal is not a normalised " + std::string(name_of(in.dtype)) + " value");
    }
  }

  void check_memory(const Instr& in) const {
    expect_param(in);
    const Param& p = k_.params[in.param.index];
    expect_index(in, 0);
    if (in.op == OpKind::PrefetchL2) {
      if (!p.is_tensor()) fail(in, "param '" + p.name + "' is not a tensor");
      if (operand_type(in, 0) != DType::U32 || operand_type(in, 1) != DType::U32) {
        fail(in, "prefetch_l2's first element and count must be u32");
      }
      return;
    }
    if (in.op == OpKind::Load || in.op == OpKind::LoadVector) {
      if (!p.is_tensor()) fail(in, "param '" + p.name + "' is not a tensor");
      if (in.op == OpKind::LoadVector) return check_vector(in, p);
      return expect_result(in, p.dtype, "the param's dtype");
    }
    // Store, StoreVector and AtomicGlobal write: outputs only.
    if (p.kind != ParamKind::Output) fail(in, "param '" + p.name + "' is not an output");
    if (in.op == OpKind::StoreVector) return check_vector(in, p);
    if (in.op == OpKind::AtomicGlobal) {
      if (operand_type(in, 1) != p.dtype) {
        fail(in, "atomic value type differs from param '" + p.name + "' (" +
                     std::string(name_of(p.dtype)) + ")");
      }
      expect_combine(in, p.dtype);
      return expect_result(in, p.dtype, "the old element");
    }
    if (operand_type(in, 1) != p.dtype) {
      fail(in, "stored value type differs from param '" + p.name + "' (" +
                   std::string(name_of(p.dtype)) + ")");
    }
  }

  // lanes (2 or more) elements of the tensor, 4, 8 or 16 bytes, to or from a per-thread array
  // of its type.
  void check_vector(const Instr& in, const Param& p) const {
    const std::size_t bytes = std::size_t{in.lanes} * size_of(p.dtype);
    if (in.lanes < 2 || (bytes != 4 && bytes != 8 && bytes != 16)) {
      fail(in, std::to_string(in.lanes) + " lanes of " + std::string(name_of(p.dtype)) + " are " +
                   std::to_string(bytes) + " bytes, not 2 or more lanes of 4, 8 or 16");
    }
    const Array& a = expect_array(in);
    if (a.space != MemorySpace::Thread) fail(in, "array '" + a.name + "' is not per-thread");
    if (a.dtype != p.dtype) {
      fail(in, "array '" + a.name + "' holds " + std::string(name_of(a.dtype)) + ", param '" +
                   p.name + "' " + std::string(name_of(p.dtype)));
    }
    if (!a.size_param.valid() && a.size < in.lanes) {
      fail(in, "array '" + a.name + "' has " + quantity(a.size, "element") + ", fewer than " +
                   std::to_string(in.lanes) + " lanes");
    }
  }

  const Array& expect_array(const Instr& in) const {
    if (!has_array(in)) {
      fail(in, "array id " + (in.array.valid() ? std::to_string(in.array.index) : "?") +
                   " is out of range (" + quantity(k_.arrays.size(), "array") + ")");
    }
    return k_.arrays[in.array.index];
  }

  void expect_combine(const Instr& in, DType t) const {
    if (!accepts_combine(in.op, in.combine, t)) {
      fail(in, std::string(op_name(in.op)) + " " + std::string(combine_name(in.combine)) +
                   " does not accept " + std::string(name_of(t)));
    }
  }

  void check_array(const Instr& in) const {
    const Array& a = expect_array(in);
    expect_index(in, 0);
    if (in.op == OpKind::ArrayLoad) return expect_result(in, a.dtype, "the array's dtype");
    if (operand_type(in, 1) != a.dtype) {
      fail(in, "value type differs from array '" + a.name + "' (" + std::string(name_of(a.dtype)) +
                   ")");
    }
    if (in.op == OpKind::ArrayStore) return;
    if (a.space != MemorySpace::Threadgroup) {
      fail(in, "array '" + a.name + "' is per-thread; atomics need threadgroup memory");
    }
    expect_combine(in, a.dtype);
    expect_result(in, a.dtype, "the old element");
  }

  void check_collective(const Instr& in) const {
    const DType t = operand_type(in, 0);
    if (in.op == OpKind::WarpShuffle) {
      if (is_fp8(t)) fail(in, "fp8 values cannot be shuffled (storage only)");
      if (operand_type(in, 1) != DType::U32) fail(in, "lane must be u32");
    } else if (in.op == OpKind::WarpPrefixSum) {
      if (!accepts_combine(in.op, CombineOp::Add, t)) {
        fail(in, "warp_prefix_sum does not accept " + std::string(name_of(t)));
      }
    } else if (in.op == OpKind::ThreadgroupArgmax) {
      if (!accepts_combine(in.op, CombineOp::Max, t)) {
        fail(in, "threadgroup_argmax does not accept " + std::string(name_of(t)));
      }
      if (operand_type(in, 1) != DType::U32) fail(in, "index must be u32");
      return expect_result(in, DType::U32, "the index of the largest value");
    } else {
      expect_combine(in, t);  // WarpReduce, ThreadgroupReduce
    }
    expect_result(in, t, "the operand's type");
  }

  void check_local(const Instr& in) const {
    if (!has_local(in)) {
      fail(in, "local id " + (in.local.valid() ? std::to_string(in.local.index) : "?") +
                   " is out of range (" + quantity(k_.locals.size(), "local") + ")");
    }
    const DType t = k_.locals[in.local.index].dtype;
    if (in.op == OpKind::LocalRead) return expect_result(in, t, "the local's dtype");
    if (operand_type(in, 0) != t) {
      fail(in, "written value type differs from the local (" + std::string(name_of(t)) + ")");
    }
  }

  void check_unary(const Instr& in) const {
    const DType a = operand_type(in, 0);
    expect_accepted(in, a);
    expect_result(in, a, "the operand's type");
  }

  void check_convert(const Instr& in) const {
    if (in.op == OpKind::Cast) return;  // converts any type to any type
    const DType a = operand_type(in, 0);
    if (a == DType::Bool || in.dtype == DType::Bool) fail(in, "bitcast of bool");
    if (size_of(a) != size_of(in.dtype)) {
      fail(in, "bitcast to " + std::string(name_of(in.dtype)) + " changes the size");
    }
  }

  void check_binary(const Instr& in) const {
    const DType a = operand_type(in, 0);
    if (operand_type(in, 1) != a) fail(in, "operand types differ");
    expect_accepted(in, a);
    expect_result(in, a, "the operands' type");
  }

  void check_compare(const Instr& in) const {
    const DType a = operand_type(in, 0);
    if (operand_type(in, 1) != a) fail(in, "operand types differ");
    expect_accepted(in, a);
    expect_result(in, DType::Bool, "comparisons give bool");
  }

  void check_select(const Instr& in) const {
    expect_bool(in, 0, "condition");
    const DType a = operand_type(in, 1);
    if (operand_type(in, 2) != a) fail(in, "arm types differ");
    expect_accepted(in, a);
    expect_result(in, a, "the arms' type");
  }

  // Fragments, arrays and element counts of the tensor-core ops (core/matrix.cpp).
  void check_matrix(const Instr& in) const {
    if (std::string problem = matrix_problem(k_, in); !problem.empty()) fail(in, problem);
  }

  // Require takes a bool condition; RequireLen and RequireLenMultiple a tensor and a u32 count;
  // TensorMapShape a map and three u32 values.
  void check_requirement(const Instr& in) const {
    if (in.op == OpKind::Require) return expect_bool(in, 0, "condition");
    if (in.op == OpKind::TensorMapShape) {
      if (std::string problem = bulk_copy_problem(k_, in); !problem.empty()) fail(in, problem);
      return;
    }
    expect_param(in);
    const Param& p = k_.params[in.param.index];
    if (!p.is_tensor()) fail(in, "param '" + p.name + "' is not a tensor");
    if (operand_type(in, 0) != DType::U32) fail(in, "element count must be u32");
  }

  void check_fma(const Instr& in) const {
    const DType a = operand_type(in, 0);
    if (operand_type(in, 1) != a || operand_type(in, 2) != a) fail(in, "operand types differ");
    expect_accepted(in, a);
    expect_result(in, a, "the operands' type");
  }

  void check_control(const Instr& in) const {
    if (in.op == OpKind::If) return expect_bool(in, 0, "condition");
    const DType t = operand_type(in, 0);
    if (!is_index_type(t)) fail(in, "loop bounds must be u32 or i32");
    if (operand_type(in, 1) != t || operand_type(in, 2) != t) fail(in, "loop bound types differ");
    expect_result(in, t, "the loop bounds' type");
  }

  const Kernel& k_;
  std::vector<bool> defined_;  // results seen so far: each value is defined once
  std::vector<bool> visible_;  // values in scope at the current point of the walk
};

}  // namespace

// A per_role loop's body: pure values and role branches that a backend may turn into one loop
// each, so their conditions must not change from trip to trip and no branch may wait at a
// threadgroup barrier for threads that run another role's loop.
std::string role_split_problem(const Instr& loop) {
  std::set<std::uint32_t> inside{loop.result.index};
  for (const Instr& in : loop.blocks[0].instrs) {
    if (in.op != OpKind::If) {
      if (!is_pure(in.op) || !has_result(in.op)) {
        return "a per_role loop's body holds only pure values and role branches, not " +
               std::string(op_name(in.op));
      }
      inside.insert(in.result.index);
      continue;
    }
    if (inside.contains(in.operands[0].index)) {
      return "a per_role loop's branch condition %" + std::to_string(in.operands[0].index) +
             " is computed in the loop; a role must not change between trips";
    }
    if (!in.blocks[1].instrs.empty()) {
      return "a per_role loop's role branch has an else block; write each role's branch";
    }
    bool barrier = false;
    for_each_instr(in.blocks[0],
                   [&](const Instr& inner) { barrier = barrier || inner.op == OpKind::Barrier; });
    if (barrier) {
      return "a per_role loop's role branch has a threadgroup barrier, which threads running "
             "another role's loop would never reach";
    }
  }
  return "";
}

void verify(const Kernel& k) { Verifier(k).run(); }

}  // namespace mt
