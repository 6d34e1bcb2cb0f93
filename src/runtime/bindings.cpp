// Dispatch-contract checks and argument binding for the byte-map dispatch and the device-resident
// launch (see bindings.hpp and docs/ARCHITECTURE.md, "The dispatch contract").
#include "runtime/bindings.hpp"

#include <cstdint>
#include <limits>
#include <sstream>

#include "metaltile/core/contract.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt {
namespace {

constexpr std::size_t kU32Max = std::numeric_limits<std::uint32_t>::max();

std::string dims_text(const std::array<std::size_t, 3>& d) {
  std::ostringstream s;
  s << "[" << d[0] << ", " << d[1] << ", " << d[2] << "]";
  return s.str();
}

// "src (input f32), n (scalar u32)": lets an error show what the kernel does accept.
std::string params_text(const Kernel& k) {
  if (k.params.empty()) return "(none)";
  std::string text;
  for (const Param& p : k.params) {
    if (!text.empty()) text += ", ";
    text.append(p.name).append(" (").append(param_kind_name(p.kind)).append(" ");
    text.append(name_of(p.dtype)).append(")");
  }
  return text;
}

std::string param_text(const Param& p) {
  std::string text(param_kind_name(p.kind));
  text.append(p.is_tensor() ? " tensor of " : " ").append(name_of(p.dtype));
  return text;
}

DType const_dtype(const ConstValue& v) {
  if (std::holds_alternative<std::uint32_t>(v)) return DType::U32;
  if (std::holds_alternative<std::int32_t>(v)) return DType::I32;
  return DType::F32;
}

Scalar const_scalar(const ConstValue& v) {
  if (const auto* u = std::get_if<std::uint32_t>(&v)) return Scalar::of_int(*u);
  if (const auto* i = std::get_if<std::int32_t>(&v)) return Scalar::of_int(*i);
  return Scalar::of_float(std::get<float>(v));
}

// "buffer of 10 bytes is not a multiple of the f32 element size (4 bytes)", "buffer of N
// elements is more than a u32 length counts", or empty when the length is a whole number of
// elements a kernel can count: the same words for byte maps and device buffers.
std::string tensor_length_text(std::size_t bytes, DType t) {
  const std::size_t element = size_of(t);
  if (bytes % element != 0) {
    return "buffer of " + quantity(bytes, "byte") + " is not a multiple of the " +
           std::string(name_of(t)) + " element size (" + quantity(element, "byte") + ")";
  }
  if (bytes / element > kU32Max) {
    return "buffer of " + quantity(bytes / element, "element") + " (" + quantity(bytes, "byte") +
           ") is more than a kernel's u32 length can count (" + std::to_string(kU32Max) + ")";
  }
  return {};
}

// What a device binding holds: "a DeviceBuffer" or the dtype of its value.
std::string binding_text(const DeviceArg& arg) {
  switch (arg.index()) {
    case 0: return "a DeviceBuffer";
    case 1: return "a value of type u32";
    case 2: return "a value of type i32";
    default: return "a value of type f32";
  }
}

bool holds_dtype(const DeviceArg& arg, DType t) {
  return (t == DType::U32 && std::holds_alternative<std::uint32_t>(arg)) ||
         (t == DType::I32 && std::holds_alternative<std::int32_t>(arg)) ||
         (t == DType::F32 && std::holds_alternative<float>(arg));
}

Scalar binding_scalar(const DeviceArg& arg) {
  if (const auto* u = std::get_if<std::uint32_t>(&arg)) return Scalar::of_int(*u);
  if (const auto* i = std::get_if<std::int32_t>(&arg)) return Scalar::of_int(*i);
  MT_ASSERT(std::holds_alternative<float>(arg)) << "a DeviceBuffer bound as a scalar";
  return Scalar::of_float(std::get<float>(arg));
}

// Each axis of `d` is at least 1 and at most max_axis; `limit` names where the maximum comes
// from ("the device limit", "the u32 range").
void check_axes(const Kernel& k, const char* what, const std::array<std::size_t, 3>& d,
                const std::array<std::size_t, 3>& max_axis, const char* limit) {
  for (int a = 0; a < 3; ++a) {
    std::ostringstream s;
    if (d[a] == 0) {
      s << what << " " << dims_text(d) << ": axis " << a << " is 0; every axis must be at least 1";
    } else if (d[a] > max_axis[a]) {
      s << what << " " << dims_text(d) << ": axis " << a << " is " << d[a] << ", over " << limit
        << " of " << max_axis[a];
    } else {
      continue;
    }
    throw kernel_error(k.name, s.str());
  }
}

std::array<std::size_t, 3> widen(const std::array<std::uint32_t, 3>& d) {
  return {d[0], d[1], d[2]};
}

// How one kind of named argument is checked and read: byte buffers or device bindings.
struct BufferRules {
  static constexpr const char* kNoun = "buffer";
  static constexpr const char* kSpecialisedToo =
      "given both as a const and as a buffer; pass it in one of them";

  // What is wrong with `bytes` for parameter p, or "".
  static std::string problem(const Param& p, const std::vector<std::uint8_t>& bytes) {
    if (p.is_tensor()) return tensor_length_text(bytes.size(), p.dtype);
    if (bytes.size() == size_of(p.dtype)) return {};
    std::ostringstream s;
    s << "scalar " << name_of(p.dtype) << " needs exactly " << size_of(p.dtype) << " bytes, got "
      << bytes.size();
    return s.str();
  }

  static Scalar uniform(const Param& p, const std::vector<std::uint8_t>& bytes) {
    if (p.is_tensor())
      return Scalar::of_int(static_cast<std::int64_t>(bytes.size() / size_of(p.dtype)));
    return read_element(bytes.data(), p.dtype);
  }
};

struct DeviceRules {
  static constexpr const char* kNoun = "binding";
  static constexpr const char* kSpecialisedToo =
      "specialised when the kernel was prepared; it cannot also be bound";

  static std::string problem(const Param& p, const DeviceArg& arg) {
    if (!p.is_tensor()) {
      if (holds_dtype(arg, p.dtype)) return {};
      return "bound to " + binding_text(arg) + " for a scalar of type " +
             std::string(name_of(p.dtype));
    }
    const auto* buffer = std::get_if<DeviceBuffer>(&arg);
    if (buffer == nullptr) {
      return "bound to " + binding_text(arg) + ", but this is an " + param_text(p) +
             "; bind a DeviceBuffer";
    }
    if (!buffer->valid())
      return "bound to an empty DeviceBuffer; allocate one with Context::allocate";
    return tensor_length_text(buffer->size(), p.dtype);
  }

  static Scalar uniform(const Param& p, const DeviceArg& arg) {
    if (!p.is_tensor()) return binding_scalar(arg);
    const std::size_t elements = std::get<DeviceBuffer>(arg).size() / size_of(p.dtype);
    return Scalar::of_int(static_cast<std::int64_t>(elements));
  }
};

// The one bind step: a walk over k's parameters that finds each in `named`, checks it and
// computes its uniform. Every name in `named` must be a parameter; that is checked only when the
// walk found fewer names than `named` holds, or before reporting a parameter's own mistake, so
// an unknown name is still the first thing reported.
template <class Rules, class Value>
Binding<Value> bind_by_name(const Kernel& k, const std::map<std::string, Value>& named,
                            const std::map<std::string, Scalar>& specialised) {
  const auto check_unknown = [&] {
    for (const auto& entry : named) {
      if (k.find_param(entry.first).valid()) continue;
      throw kernel_error(k.name, "unknown " + std::string(Rules::kNoun) + " '" + entry.first +
                                     "': the kernel's parameters are " + params_text(k));
    }
  };
  const auto fail = [&](const Param& p, const std::string& detail) {
    check_unknown();
    throw param_error(k.name, p.name, detail);
  };
  Binding<Value> b;
  b.values.assign(k.params.size(), nullptr);
  b.uniforms.resize(k.params.size());
  std::size_t found = 0;
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    const Param& p = k.params[i];
    const auto it = named.find(p.name);
    found += it != named.end() ? 1 : 0;
    if (auto c = specialised.find(p.name); c != specialised.end()) {
      if (it != named.end()) fail(p, Rules::kSpecialisedToo);
      b.uniforms[i] = c->second;
      continue;
    }
    if (it == named.end()) {
      fail(p, "missing " + std::string(Rules::kNoun) + " (expected " + param_text(p) + ")");
    }
    if (const std::string problem = Rules::problem(p, it->second); !problem.empty()) {
      fail(p, problem);
    }
    b.values[i] = &it->second;
    b.uniforms[i] = Rules::uniform(p, it->second);
  }
  if (found != named.size()) check_unknown();
  return b;
}

// Calls f(param of `compiled`, its index in `traced`) for each parameter of `compiled`: the
// parameters of `traced` that were not specialised, in their order (specialise_scalars keeps
// it, and no other pass touches parameters).
template <class Value, class F>
void for_each_compiled_param(const Kernel& traced, const Kernel& compiled, const Binding<Value>& b,
                             F f) {
  std::size_t next = 0;
  for (std::size_t i = 0; i < b.values.size(); ++i) {
    if (b.values[i] == nullptr) continue;  // specialised: not a parameter of `compiled`
    MT_ASSERT(next < compiled.params.size() && compiled.params[next].name == traced.params[i].name)
        << "kernel '" << compiled.name << "': param '" << traced.params[i].name
        << "' is bound but is not the compiled kernel's parameter " << next;
    f(compiled.params[next++], i);
  }
  MT_ASSERT(next == compiled.params.size())
      << "kernel '" << compiled.name << "': param '" << compiled.params[next].name
      << "' survived the passes but has no checked binding";
}

}  // namespace

LaunchDims check_launch_dims(const Kernel& k, const std::array<std::size_t, 3>& grid,
                             const std::array<std::size_t, 3>& tpg, const DeviceLimits& limits) {
  const std::array<std::size_t, 3> u32_range{kU32Max, kU32Max, kU32Max};
  // Zero axes and u32 overflow first (they are mistakes on any device), then device limits.
  check_axes(k, "grid", grid, u32_range, "the u32 range");
  check_axes(k, "tpg", tpg, u32_range, "the u32 range");
  check_axes(k, "tpg", tpg, widen(limits.max_tpg), "the device limit");
  // Each axis is <= u32 max, so the product may exceed 64 bits: double is exact enough here.
  const double threads = double(tpg[0]) * double(tpg[1]) * double(tpg[2]);
  if (threads > double(limits.max_threads_per_threadgroup)) {
    std::ostringstream s;
    s << "tpg " << dims_text(tpg) << ": " << threads
      << " threads per threadgroup, over the device limit of "
      << limits.max_threads_per_threadgroup;
    throw kernel_error(k.name, s.str());
  }
  check_axes(k, "grid", grid, widen(limits.max_grid), "the device limit");
  for (int a = 0; a < 3; ++a) {
    // Both factors are <= u32 max, so the product cannot wrap 64 bits.
    if (grid[a] * tpg[a] > kU32Max) {
      std::ostringstream s;
      s << "grid " << dims_text(grid) << " x tpg " << dims_text(tpg) << ": axis " << a << " has "
        << grid[a] * tpg[a] << " threads, more than a u32 program_id can index";
      throw kernel_error(k.name, s.str());
    }
  }
  // Elementwise program_id(0) is the linear index over the whole launch.
  const double total = threads * double(grid[0]) * double(grid[1]) * double(grid[2]);
  if (k.mode == KernelMode::Elementwise && total > double(kU32Max)) {
    std::ostringstream s;
    s << "grid " << dims_text(grid) << " x tpg " << dims_text(tpg) << ": " << total
      << " threads, more than an Elementwise kernel's u32 program_id can index";
    throw kernel_error(k.name, s.str());
  }
  LaunchDims dims;
  for (int a = 0; a < 3; ++a) {
    dims.grid[a] = static_cast<std::uint32_t>(grid[a]);
    dims.tpg[a] = static_cast<std::uint32_t>(tpg[a]);
  }
  return dims;
}

std::map<std::string, Scalar> check_consts(const Kernel& k, const ConstMap& consts) {
  std::map<std::string, Scalar> values;
  for (const auto& [name, value] : consts) {
    ParamId id = k.find_param(name);
    if (!id.valid()) {
      throw param_error(k.name, name,
                        "unknown const: the kernel has no parameter of that name; its "
                        "parameters are " +
                            params_text(k));
    }
    const Param& p = k.param(id);
    if (p.kind != ParamKind::Scalar) {
      throw param_error(
          k.name, name,
          "a const can only specialise a scalar parameter, but this is an " + param_text(p));
    }
    if (const_dtype(value) != p.dtype) {
      std::string detail = "const of type ";
      detail.append(name_of(const_dtype(value))).append(" for a scalar of type ");
      detail.append(name_of(p.dtype));
      throw param_error(k.name, name, detail);
    }
    values.emplace(name, const_scalar(value));
  }
  // An array's size is fixed at compile time, so the scalar that gives it must be specialised;
  // reported here, before any compile, as a const that is missing or too small.
  for (const Array& a : k.arrays) {
    if (!a.size_param.valid()) continue;
    const std::string& name = k.param(a.size_param).name;
    auto it = values.find(name);
    if (it == values.end()) {
      throw param_error(k.name, name,
                        "array '" + a.name +
                            "' takes its size from this scalar, which must be "
                            "specialised (pass it in consts)");
    }
    if (it->second.i < 1) {
      throw param_error(k.name, name,
                        "specialised to " + std::to_string(it->second.i) + ", but array '" +
                            a.name + "' takes its size from it; an array size must be at least 1");
    }
  }
  return values;
}

void check_arrays_fit(const Kernel& k, const std::map<std::string, Scalar>& specialised,
                      const DeviceLimits& limits) {
  check_array_limits(
      k,
      [&](const Array& a) -> std::uint64_t {
        if (!a.size_param.valid()) return a.size;
        return static_cast<std::uint64_t>(specialised.at(k.param(a.size_param).name).i);
      },
      limits);
}

void check_contract(const Kernel& k, std::span<const Scalar> uniforms, const LaunchDims& dims) {
  // Core states the contract's semantics, whichever backend launches.
  evaluate_contract(k, uniforms, dims);
}

void check_contract_without_launch_shape(const Kernel& k, std::span<const Scalar> uniforms) {
  // The contract is straight-line code: one forward walk finds what depends on the shape.
  std::vector<bool> shaped(k.value_types.size(), false);
  Kernel reduced;
  reduced.name = k.name;
  reduced.mode = k.mode;
  reduced.params = k.params;
  reduced.value_types = k.value_types;
  for (const Instr& in : k.contract.instrs) {
    bool depends = in.op == OpKind::ThreadsPerThreadgroup || in.op == OpKind::ThreadgroupsPerGrid;
    for (ValueId v : in.operands) depends = depends || shaped[v.index];
    if (has_result(in.op)) {
      shaped[in.result.index] = depends;
    } else if (depends) {
      continue;  // a requirement on the launch shape
    }
    if (!depends) reduced.contract.instrs.push_back(in);
  }
  // The launch shape is never read now; any shape will do.
  evaluate_contract(reduced, uniforms, LaunchDims{});
}

std::map<std::string, Scalar> uniforms_by_name(const Kernel& k, std::span<const Scalar> uniforms) {
  MT_ASSERT(uniforms.size() == k.params.size()) << "kernel '" << k.name << "': uniforms";
  std::map<std::string, Scalar> by_name;
  for (std::size_t p = 0; p < k.params.size(); ++p) by_name.emplace(k.params[p].name, uniforms[p]);
  return by_name;
}

BufferBinding bind_buffers(const Kernel& k, const BufferMap& buffers,
                           const std::map<std::string, Scalar>& specialised) {
  return bind_by_name<BufferRules>(k, buffers, specialised);
}

DeviceBinding bind_device(const Kernel& k, const DeviceBindings& bindings,
                          const std::map<std::string, Scalar>& specialised) {
  return bind_by_name<DeviceRules>(k, bindings, specialised);
}

BoundArguments buffer_arguments(const Kernel& traced, const Kernel& compiled,
                                const BufferBinding& b) {
  BoundArguments bound;
  // Every output of the traced kernel comes back, even one the passes found unused.
  std::vector<std::vector<std::uint8_t>*> copies(traced.params.size(), nullptr);
  for (std::size_t i = 0; i < traced.params.size(); ++i) {
    const Param& p = traced.params[i];
    if (p.kind == ParamKind::Output)
      copies[i] = &bound.outputs.emplace(p.name, *b.values[i]).first->second;
  }
  bound.args.reserve(compiled.params.size());
  for_each_compiled_param(traced, compiled, b, [&](const Param& p, std::size_t i) {
    Argument arg;
    switch (p.kind) {
      case ParamKind::Output: arg.bytes = std::span<std::uint8_t>(*copies[i]); break;
      case ParamKind::Input: {
        // Backends never write an input (mt::Argument), so the caller's const bytes are safe.
        auto& bytes = const_cast<std::vector<std::uint8_t>&>(*b.values[i]);
        arg.bytes = std::span<std::uint8_t>(bytes.data(), bytes.size());
        break;
      }
      case ParamKind::Scalar: arg.scalar = b.uniforms[i]; break;
    }
    bound.args.push_back(arg);
  });
  return bound;
}

std::vector<DeviceArgument> device_arguments(const Kernel& traced, const Kernel& compiled,
                                             const DeviceBinding& b) {
  std::vector<DeviceArgument> args;
  args.reserve(compiled.params.size());
  for_each_compiled_param(traced, compiled, b, [&](const Param& p, std::size_t i) {
    DeviceArgument arg;
    if (p.is_tensor()) {
      arg.memory = &std::get<DeviceBuffer>(*b.values[i]).memory();
    } else {
      arg.scalar = b.uniforms[i];
    }
    args.push_back(arg);
  });
  return args;
}

}  // namespace mt
