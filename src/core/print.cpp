// The IR's stable text form: one line per instruction, nested blocks indented two spaces.
// The text is canonical (hashed by the compile cache, compared by pass tests), so every
// spelling here is deterministic and independent of the locale.
#include "metaltile/core/print.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/core/matrix.hpp"
#include "metaltile/core/tensor_map.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt {
namespace {

// "%12", "p3": a prefix and an index, appended (g++ 12 at -O3 misreads "%" + a temporary
// string as an overlapping copy, -Wrestrict).
std::string numbered(char prefix, std::uint32_t index) {
  std::string text(1, prefix);
  return text.append(std::to_string(index));
}

// Printing must work on broken IR too (MT_DUMP_IR shows what a faulty pass produced), so
// lookups never assert: an out-of-range id prints as a visible placeholder instead.
std::string value(ValueId v) { return v.valid() ? numbered('%', v.index) : std::string("%?"); }

std::string param_name(const Kernel& k, ParamId p) {
  if (!p.valid() || p.index >= k.params.size()) return "?param";
  const std::string& name = k.params[p.index].name;
  return name.empty() ? numbered('p', p.index) : name;
}

std::string local_name(const Kernel& k, LocalId l) {
  if (!l.valid() || l.index >= k.locals.size()) return "?local";
  const std::string& name = k.locals[l.index].name;
  return name.empty() ? numbered('l', l.index) : name;
}

std::string array_name(const Kernel& k, ArrayId a) {
  if (!a.valid() || a.index >= k.arrays.size()) return "?array";
  const std::string& name = k.arrays[a.index].name;
  return name.empty() ? numbered('a', a.index) : name;
}

// "add ": how a reduction or atomic combines, with the space that follows it.
std::string combine(const Instr& in) { return std::string(combine_name(in.combine)) + " "; }

std::string operand(const Instr& in, std::size_t i) {
  return i < in.operands.size() ? value(in.operands[i]) : std::string("%?");
}

// Shortest text that reads back to the same number: as an f32 when the stored double is an
// f32 value (every float dtype's literals are), else as a double. to_chars is locale-free.
std::string float_literal(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  std::to_chars_result r;
  const bool fits_f32 = std::fabs(v) <= std::numeric_limits<float>::max() &&
                        static_cast<double>(static_cast<float>(v)) == v;
  if (fits_f32) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);
  }
  return std::string(buf, r.ptr);
}

std::string literal(DType t, const Scalar& s) {
  if (t == DType::Bool && (s.i == 0 || s.i == 1)) return s.i ? "true" : "false";
  if (is_float(t)) return float_literal(s.f);
  return std::to_string(s.i);  // integers, and a malformed bool shown as it is
}

// Require messages are quoted; quotes, backslashes and control characters are escaped so the
// text stays one line and unambiguous.
std::string quoted(const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// "%1, %2, %3": every operand present, so broken IR shows what it holds.
std::string operand_list(const Instr& in) {
  std::string out;
  for (std::size_t i = 0; i < in.operands.size(); ++i)
    out += (i ? ", " : "") + value(in.operands[i]);
  return out;
}

// The right-hand side of a leaf: "const 128", "program_id 0", "scalar head_dim", "len src".
std::string leaf(const Kernel& k, const Instr& in) {
  const std::string name(op_name(in.op));
  if (in.op == OpKind::Const) return name + " " + literal(in.dtype, in.literal);
  if (in.op == OpKind::ProgramId || in.op == OpKind::ThreadId || in.op == OpKind::ThreadgroupId ||
      in.op == OpKind::ThreadsPerThreadgroup || in.op == OpKind::ThreadgroupsPerGrid) {
    return name + " " + std::to_string(in.axis);
  }
  if (in.op == OpKind::ScalarParam || in.op == OpKind::TensorLen) {
    return name + " " + param_name(k, in.param);
  }
  return name;
}

// "mma acc[0..4) = a[0..8) * b[0..4) + acc[0..4)", "load_matrix x4 trans a[0..8) <- sa[%3]",
// "copy_async x8 sa[%4] <- src[%5] if %6", "copy_async_wait 1",
// "warpgroup_mma n64 acc[0..32) += sa[%7] 128B lbo 0 sbo 1024 * sb[%8] 128B lbo 0 sbo 1024",
// "async_barrier_init full[%3] arrivals 1", "async_barrier_arrive_expect full[%3] bytes %9",
// "async_barrier_wait full[%3] parity %7", "bulk_tensor_load sa[%4] <- a_map[%5, %6] on full[%3]".
std::string matrix_instr(const Kernel& k, const Instr& in) {
  const std::string name(op_name(in.op));
  const auto shared = [&](std::size_t i) {
    return array_name(k, in.array) + "[" + operand(in, i) + "]";
  };
  switch (in.op) {
    case OpKind::Mma: {
      if (in.fragments.size() != 4 || !in.fragments[1].array.valid() ||
          in.fragments[1].array.index >= k.arrays.size()) {
        return name + " ?";
      }
      const DType input = k.arrays[in.fragments[1].array.index].dtype;
      if (!is_mma_input_type(input)) return name + " ?";
      const auto frag = [&](std::size_t i, FragmentRole role) {
        return fragment_text(k, in.fragments[i], fragment_size(role, input));
      };
      return name + " " + frag(0, FragmentRole::Accumulator) + " = " + frag(1, FragmentRole::A) +
             " * " + frag(2, FragmentRole::B) + " + " + frag(3, FragmentRole::Accumulator);
    }
    case OpKind::LoadMatrix: {
      if (in.fragments.size() != 1 || !in.array.valid() || in.array.index >= k.arrays.size()) {
        return name + " ?";
      }
      const std::uint32_t size = load_matrix_size(k.arrays[in.array.index].dtype, in.lanes);
      return name + " x" + std::to_string(in.lanes) + (in.transpose ? " trans " : " ") +
             fragment_text(k, in.fragments[0], size) + " <- " + shared(0);
    }
    case OpKind::CopyAsync:
      return name + " x" + std::to_string(in.lanes) + " " + shared(0) + " <- " +
             param_name(k, in.param) + "[" + operand(in, 1) + "] if " + operand(in, 2);
    case OpKind::CopyAsyncWait:
    case OpKind::WarpgroupWait: return name + " " + std::to_string(in.lanes);
    case OpKind::WarpgroupMma: {
      if (in.fragments.size() != 1 || in.matrices.size() != 2 || in.operands.size() != 2) {
        return name + " ?";
      }
      const auto matrix = [&](std::size_t i) {
        const SharedMatrix& m = in.matrices[i];
        return array_name(k, m.array) + "[" + operand(in, i) + "] " +
               std::string(swizzle_name(m.swizzle)) + " lbo " + std::to_string(m.leading_bytes) +
               " sbo " + std::to_string(m.stride_bytes);
      };
      return name + " n" + std::to_string(in.lanes) + " " +
             fragment_text(k, in.fragments[0], warpgroup_accumulator_size(in.lanes)) +
             " += " + matrix(0) + " * " + matrix(1);
    }
    case OpKind::AsyncBarrierInit:
      return name + " " + async_barrier_text(k, in, 0) + " arrivals " + std::to_string(in.lanes);
    case OpKind::AsyncBarrierArrive: return name + " " + async_barrier_text(k, in, 0);
    case OpKind::AsyncBarrierExpect:
      return name + " " + async_barrier_text(k, in, 0) + " bytes " + operand(in, 1);
    case OpKind::AsyncBarrierWait:
      return name + " " + async_barrier_text(k, in, 0) + " parity " + operand(in, 1);
    case OpKind::BulkTensorLoad:
      return name + " " + shared(0) + " <- " + tensor_map_name(k, in.tensor_map) + "[" +
             operand(in, 1) + ", " + operand(in, 2) + "] on " + async_barrier_text(k, in, 3);
    default: return name;
  }
}

void print_block(const Kernel& k, const Block& block, int depth, std::string& out);

void print_nested(const Kernel& k, const Instr& in, int depth, std::string& out) {
  const std::string indent(2 * depth, ' ');
  out += indent + print_instr(k, in) + "\n";
  if (!in.blocks.empty()) print_block(k, in.blocks[0], depth + 1, out);
  // An If always has two blocks; the else arm is shown only when it holds something.
  if (in.op == OpKind::If && in.blocks.size() > 1 && !in.blocks[1].instrs.empty()) {
    out += indent + "} else {\n";
    print_block(k, in.blocks[1], depth + 1, out);
  }
  out += indent + "}\n";
}

void print_block(const Kernel& k, const Block& block, int depth, std::string& out) {
  for (const Instr& in : block.instrs) {
    if (op_shape(in.op) == OpShape::Control) {
      print_nested(k, in, depth, out);
    } else {
      out += std::string(2 * depth, ' ') + print_instr(k, in) + "\n";
    }
  }
}

}  // namespace

std::string print_instr(const Kernel& k, const Instr& in) {
  const std::string name(op_name(in.op));
  const std::string typed = value(in.result) + ": " + std::string(name_of(in.dtype));
  switch (op_shape(in.op)) {
    case OpShape::Leaf: return typed + " = " + leaf(k, in);
    case OpShape::Memory: {
      const std::string place = param_name(k, in.param) + "[" + operand(in, 0) + "]";
      const std::string lanes = " x" + std::to_string(in.lanes);
      if (in.op == OpKind::Store) return name + " " + place + " = " + operand(in, 1);
      if (in.op == OpKind::PrefetchL2) return name + " " + place + " x" + operand(in, 1);
      if (in.op == OpKind::LoadVector)
        return name + " " + place + " -> " + array_name(k, in.array) + lanes;
      if (in.op == OpKind::StoreVector)
        return name + " " + place + " <- " + array_name(k, in.array) + lanes;
      if (in.op == OpKind::AtomicGlobal)
        return typed + " = " + name + " " + combine(in) + place + ", " + operand(in, 1);
      return typed + " = " + name + " " + place;
    }
    case OpShape::Array: {
      const std::string place = array_name(k, in.array) + "[" + operand(in, 0) + "]";
      if (in.op == OpKind::ArrayStore) return name + " " + place + " = " + operand(in, 1);
      if (in.op == OpKind::AtomicArray)
        return typed + " = " + name + " " + combine(in) + place + ", " + operand(in, 1);
      return typed + " = " + name + " " + place;
    }
    case OpShape::Sync: return name;
    case OpShape::Collective: {
      std::string how;  // the variant, where the op has one
      if (in.op == OpKind::WarpReduce || in.op == OpKind::ThreadgroupReduce) how = combine(in);
      if (in.op == OpKind::WarpShuffle) how = std::string(shuffle_name(in.shuffle)) + " ";
      if (in.op == OpKind::WarpPrefixSum) how = in.inclusive ? "inclusive " : "exclusive ";
      return typed + " = " + name + " " + how + operand_list(in);
    }
    case OpShape::Local:
      if (in.op == OpKind::LocalWrite)
        return name + " " + local_name(k, in.local) + " = " + operand(in, 0);
      return typed + " = " + name + " " + local_name(k, in.local);
    case OpShape::Unary:
    case OpShape::Convert:
    case OpShape::Binary:
    case OpShape::Compare:
    case OpShape::Ternary: return typed + " = " + name + " " + operand_list(in);
    case OpShape::Control:
      if (in.op == OpKind::For) {
        return name + " " + typed + " in [" + operand(in, 0) + ", " + operand(in, 1) + ") step " +
               operand(in, 2) + (in.per_role ? " per_role" : "") + " {";
      }
      return name + " " + operand(in, 0) + " {";
    case OpShape::Matrix: return matrix_instr(k, in);
    case OpShape::Statement:
      // "require %5 \"text\"", "require_len out_w, %9 \"n_kv_heads*max_seq*head_dim/8\"",
      // "tensor_map_shape a_map rows %2 cols %3 stride %3"
      if (in.op == OpKind::TensorMapShape) {
        return name + " " + tensor_map_name(k, in.tensor_map) + " rows " + operand(in, 0) +
               " cols " + operand(in, 1) + " stride " + operand(in, 2);
      }
      if (in.op != OpKind::Require) {
        return name + " " + param_name(k, in.param) + ", " + operand(in, 0) + " " +
               quoted(in.message);
      }
      return name + " " + operand(in, 0) + " " + quoted(in.message);
  }
  return name;
}

std::string print(const Kernel& k) {
  std::string out = "kernel " + k.name + " mode=" + std::string(mode_name(k.mode)) + "\n";
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    const Param& p = k.params[i];
    out += "  param " + param_name(k, ParamId{static_cast<std::uint32_t>(i)}) + ": " +
           std::string(param_kind_name(p.kind)) + " " + std::string(name_of(p.dtype)) + "\n";
  }
  for (std::size_t i = 0; i < k.locals.size(); ++i) {
    out += "  local " + local_name(k, LocalId{static_cast<std::uint32_t>(i)}) + ": " +
           std::string(name_of(k.locals[i].dtype)) + "\n";
  }
  for (std::size_t i = 0; i < k.arrays.size(); ++i) {
    const Array& a = k.arrays[i];
    // A size still taken from a scalar shows the scalar; specialise_scalars replaces it.
    const std::string size =
        a.size_param.valid() ? "size=" + param_name(k, a.size_param) : std::to_string(a.size);
    out += "  array " + array_name(k, ArrayId{static_cast<std::uint32_t>(i)}) + ": " +
           std::string(memory_space_name(a.space)) + " " + std::string(name_of(a.dtype)) + "[" +
           size + "]\n";
  }
  for (const AsyncBarrier& b : k.async_barriers) {
    out += "  async_barrier " + b.name + "[" + std::to_string(b.size) + "]\n";
  }
  for (const TensorMap& m : k.tensor_maps) {
    out += "  tensor_map " + m.name + ": " + param_name(k, m.tensor) + " box " +
           std::to_string(m.box_rows) + "x" + std::to_string(m.box_cols) + " " +
           std::string(swizzle_name(m.swizzle)) + "\n";
  }
  if (!k.contract.instrs.empty()) {
    out += "contract {\n";
    print_block(k, k.contract, 1, out);
    out += "}\n";
  }
  out += "body {\n";
  print_block(k, k.body, 1, out);
  out += "}\n";
  return out;
}

}  // namespace mt
