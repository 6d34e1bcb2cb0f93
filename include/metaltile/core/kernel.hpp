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

// How program_id(axis) maps to threads (see DESIGN.md, "The dispatch contract"):
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
//               from zero; Abs of INT_MIN wraps. Cast converts value (float->int truncates
//               toward zero and saturates, NaN -> 0; float narrowing rounds to nearest even,
//               fp8 saturates); Bitcast reinterprets bits of a same-size type.
//  binary       result = operands[0] op operands[1], both of `dtype`. Integer ops wrap;
//               Div/Rem truncate toward zero (division by zero is an error); Shl/Shr take
//               the shift amount modulo the bit width (Shr is arithmetic on signed types);
//               float Min/Max return the non-NaN operand.
//  comparison   result:bool; floats compare as IEEE (NaN unordered: only Ne is true)
//  Select       result = operands[0] (bool) ? operands[1] : operands[2]
//  For          result = loop variable, in [operands[0], operands[1]) stepping by
//               operands[2] (> 0); blocks[0] is the body; the variable is visible only there
//  If           operands[0] (bool); blocks[0] runs when true, blocks[1] when false
//  Require      host-side contract: operands[0] (bool) must hold, else `message` is reported
struct Instr {
  OpKind op = OpKind::Const;
  DType dtype = DType::F32;       // result type (meaningless where has_result(op) is false)
  ValueId result;                 // invalid where has_result(op) is false
  std::vector<ValueId> operands;
  ParamId param;                  // ScalarParam, TensorLen, Load, Store
  LocalId local;                  // LocalRead, LocalWrite
  Scalar literal;                 // Const
  int axis = 0;                   // ProgramId
  std::string message;            // Require
  std::vector<Block> blocks;      // For: {body}; If: {then, else}
};

// A traced kernel. Value types are a table indexed by ValueId; fresh ids come from it.
struct Kernel {
  std::string name;
  KernelMode mode = KernelMode::Grid3D;
  std::vector<Param> params;
  std::vector<Local> locals;
  std::vector<DType> value_types;
  Block contract;  // evaluated once on the host before a launch: scalars, consts, Require
  Block body;      // run by every thread

  ValueId new_value(DType t);
  LocalId new_local(std::string name, DType t);
  DType type_of(ValueId v) const;
  const Param& param(ParamId p) const;
  const Local& local(LocalId l) const;
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
// The body is filled in afterwards (blocks[0]).
Instr for_loop(Kernel& k, ValueId lo, ValueId hi, ValueId step);
Instr if_then_else(const Kernel& k, ValueId cond);
Instr require(const Kernel& k, ValueId cond, std::string message);
}  // namespace make

// Which dtypes an op accepts for its operands (the verifier and the DSL both ask this).
bool accepts_operand_type(OpKind op, DType t);

}  // namespace mt
