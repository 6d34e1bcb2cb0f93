// The generator's program structure: the launch, the thread-identity header, statements,
// control flow, memory phases and the final tensors; values come from generator_values.cpp.
#include "fuzz/generator.hpp"

#include <algorithm>

#include "fuzz/generator_state.hpp"
#include "fuzz/sample.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/verify.hpp"

namespace mt::fuzz {

Tolerance gpu_tolerance(OpKind op, DType t) {
  const bool composed = op_ulps(op) > 4;
  // Where exp(-x) overflows on one side and not the other, sigmoid is 0 against a tiny
  // subnormal: 1e-30 absolute covers that edge and nothing else of any size.
  const double absolute = op == OpKind::Gelu ? 2e-6 : composed ? 1e-30 : 0.0;
  if (t != DType::F32) return Tolerance{1, absolute};
  return Tolerance{op_ulps(op), absolute};
}

FuzzProgram generate(std::uint64_t seed, const GenOptions& options) {
  return detail::Generator(seed, options).run();
}

namespace detail {
namespace {

constexpr std::uint8_t kPoison = 0xA5;  // outputs start as this byte, so an unwritten element shows

}  // namespace

Generator::Generator(std::uint64_t seed, const GenOptions& opts)
    : rng_(seed), options_(opts), k_(program_.kernel) {
  program_.seed = seed;
  const GenOptions defaults;
  program_.generator_flags = opts.profile == Profile::Gpu ? " --profile gpu" : " --profile exact";
  if (opts.max_instructions != defaults.max_instructions) {
    program_.generator_flags += " --max-instructions " + std::to_string(opts.max_instructions);
  }
}

DType Generator::random_dtype() {
  static const std::vector<int> weights = {4, 2, 2, 4, 4, 1, 1, 2, 1, 1};  // order of kAllDTypes
  return kAllDTypes[rng_.weighted(weights)];
}

// --- parameters, locals and arrays ------------------------------------------------------------

ParamId Generator::input(DType t) {
  if (auto it = inputs_.find(t); it != inputs_.end()) return it->second;
  const std::string name = "in_" + std::string(name_of(t));
  k_.params.push_back(Param{name, ParamKind::Input, t});
  const ParamId p{static_cast<std::uint32_t>(k_.params.size() - 1)};
  // A multiple of 16 elements, so every vector width divides it.
  program_.tensors[name] = random_tensor(rng_, t, 16u * rng_.range(1, 12));
  inputs_[t] = p;
  return p;
}

ParamId Generator::output(const std::string& name, DType t) {
  if (const ParamId p = k_.find_param(name); p.valid()) return p;
  k_.params.push_back(Param{name, ParamKind::Output, t});
  return ParamId{static_cast<std::uint32_t>(k_.params.size() - 1)};
}

ParamId Generator::new_scalar(DType t, bool small) {
  // Appended rather than "n" + to_string(...): g++ 12 at -O3 reports a false -Wrestrict
  // overlap for operator+(const char*, string&&).
  std::string name(1, small ? 'n' : 's');
  name += std::to_string(k_.params.size());
  k_.params.push_back(Param{name, ParamKind::Scalar, t});
  const ParamId p{static_cast<std::uint32_t>(k_.params.size() - 1)};
  program_.scalars[name] = small ? Scalar::of_int(rng_.range(0, 6)) : random_scalar(rng_, t);
  (small ? small_scalars_ : scalars_[t]).push_back(p);
  return p;
}

// Locals are written in the prologue, before any statement reads them.
LocalId Generator::local(DType t) {
  std::vector<LocalId>& known = locals_[t];
  if (!known.empty() && (known.size() >= 3 || rng_.percent(60))) return rng_.pick(known);
  const LocalId l = k_.new_local("acc" + std::to_string(k_.locals.size()), t);
  known.push_back(l);
  Block* saved = block_;
  block_ = &prologue_;
  const ValueId init = random_constant(t);
  emit_statement(make::local_write(k_, l, init));
  block_ = saved;
  return l;
}

// Per-thread arrays are written in full in the prologue.
ArrayId Generator::thread_array(DType t, std::uint32_t min_size) {
  std::vector<ArrayId> fitting;
  for (ArrayId a : thread_arrays_) {
    if (k_.array(a).dtype == t && k_.array(a).size >= min_size) fitting.push_back(a);
  }
  if (!fitting.empty() && rng_.percent(70)) return rng_.pick(fitting);
  const auto size = std::max<std::uint32_t>(min_size, static_cast<std::uint32_t>(rng_.range(1, 8)));
  const ArrayId a = k_.new_array(
      Array{"pa" + std::to_string(k_.arrays.size()), t, MemorySpace::Thread, size, ParamId{}});
  thread_arrays_.push_back(a);
  Block* saved = block_;
  block_ = &prologue_;
  for (std::uint32_t e = 0; e < size; ++e) {
    const ValueId v = random_constant(t);
    emit_statement(make::array_store(k_, a, u32_const(e), v));
  }
  block_ = saved;
  return a;
}

// A threadgroup array no region is reading now, of threads * (1..3) elements; sometimes sized
// by a scalar that every run specialises.
ArrayId Generator::group_array(DType t) {
  std::vector<ArrayId> free;
  for (ArrayId a : group_arrays_) {
    const bool read = std::any_of(readable_.begin(), readable_.end(),
                                  [&](const ReadableArray& r) { return r.array == a; });
    if (!read && k_.array(a).dtype == t) free.push_back(a);
  }
  if (!free.empty() && rng_.percent(50)) return rng_.pick(free);
  const std::uint32_t size = threads_per_group_ * static_cast<std::uint32_t>(rng_.range(1, 3));
  Array array{"tg" + std::to_string(k_.arrays.size()), t, MemorySpace::Threadgroup, size, {}};
  ParamId size_param;
  if (rng_.percent(25)) {
    size_param = new_scalar(DType::U32, false);
    program_.scalars[k_.param(size_param).name] = Scalar::of_int(size);
    program_.required_constants.insert(k_.param(size_param).name);
    array.size = 0;
    array.size_param = size_param;
  }
  const ArrayId a = k_.new_array(std::move(array));
  group_sizes_[a] = size;
  if (size_param.valid()) array_size_params_[a] = size_param;
  group_arrays_.push_back(a);
  return a;
}

// --- output ------------------------------------------------------------------------------------

void Generator::output_store(ParamId out, std::uint32_t slot, ValueId v) {
  ValueId index = binary(OpKind::Add, u32_const(slot * threads_), global_thread_);
  if (rng_.percent(10)) index = emit_op(make::cast(k_, DType::I32, index));
  emit_statement(make::store(k_, out, index, v));
}

void Generator::sink(ValueId v) {
  const DType t = k_.type_of(v);
  const ParamId out = output("out_" + std::string(name_of(t)), t);
  output_store(out, slots_[out]++, v);
}

void Generator::store_approx(ValueId v, OpKind op) {
  const DType t = k_.type_of(v);
  const std::string name = "approx_" + std::string(name_of(t));
  const ParamId out = output(name, t);
  OutputLayout& layout = program_.layouts[name];
  layout.threads = threads_;
  layout.slots.push_back(gpu_tolerance(op, t));
  output_store(out, slots_[out]++, v);
}

// Folds v into a local of its type (stored at the end): inside a loop every trip's value
// then reaches the output, not only the last one's.
void Generator::accumulate(ValueId v) {
  const DType t = k_.type_of(v);
  if (is_fp8(t)) return sink(v);
  const LocalId l = local(t);
  const ValueId old = emit_value(make::local_read(k_, l), Uniformity::Thread);
  const OpKind op = is_float(t)                              ? OpKind::Add
                    : (t == DType::Bool || rng_.percent(50)) ? OpKind::Xor
                                                             : OpKind::Add;
  emit_statement(make::local_write(k_, l, binary(op, old, v)));
}

// Every value of the closing block that nothing used reaches an output.
void Generator::close_scope() {
  std::vector<ValueId>& scope = scopes_.back();
  for (std::size_t i = 0; i < scope.size(); ++i) {
    const ValueId v = scope[i];
    if (uses_[v.index] != 0) continue;
    if (in_loop_ > 0 && rng_.percent(60)) {
      accumulate(v);
    } else {
      sink(v);
    }
  }
  scopes_.pop_back();
}

// --- the launch and the header ---------------------------------------------------------------

void Generator::choose_launch() {
  const int mode = rng_.range(0, 99);
  k_.mode = mode < 50   ? KernelMode::Grid3D
            : mode < 85 ? KernelMode::Reduction
                        : KernelMode::Elementwise;
  // Widths around warp boundaries, and now and then a large group (up to the CUDA limit).
  const std::uint32_t xs[] = {1, 2, 5, 16, 31, 32, 33, 48, 64, 96, 128, 256, 320, 1000, 1024};
  LaunchDims& d = program_.dims;
  do {
    d.tpg = {rng_.pick(xs), rng_.percent(20) ? static_cast<std::uint32_t>(rng_.range(2, 3)) : 1u,
             rng_.percent(10) ? 2u : 1u};
  } while (d.tpg[0] * d.tpg[1] * d.tpg[2] > options_.max_threads_per_group);
  do {
    d.grid = {static_cast<std::uint32_t>(rng_.range(1, 3)), rng_.percent(25) ? 2u : 1u,
              rng_.percent(10) ? 2u : 1u};
  } while (d.grid[0] * d.grid[1] * d.grid[2] > options_.max_groups);
  // Large groups come one or two at a time: the interpreter runs every thread.
  if (d.tpg[0] * d.tpg[1] * d.tpg[2] > 256) d.grid = {std::min(d.grid[0], 2u), 1, 1};
  threads_per_group_ = d.tpg[0] * d.tpg[1] * d.tpg[2];
  threads_ = threads_per_group_ * d.grid[0] * d.grid[1] * d.grid[2];
}

// The thread's linear index in its group, and a launch-unique index for its output slots:
// from the group and thread ids, or (Grid3D, Elementwise) from the program ids.
void Generator::header() {
  const LaunchDims& d = program_.dims;
  auto leaf = [&](OpKind op, int axis, Uniformity u) {
    return emit_value(make::thread_index(k_, op, axis), u);
  };
  auto linear = [&](ValueId x, ValueId width, ValueId y) {  // x + width * y
    return binary(OpKind::Add, x, binary(OpKind::Mul, width, y));
  };
  const Uniformity T = Uniformity::Thread, G = Uniformity::Group;
  const ValueId tz = leaf(OpKind::ThreadId, 2, T);
  const ValueId ty = leaf(OpKind::ThreadId, 1, T);
  const ValueId tx = leaf(OpKind::ThreadId, 0, T);
  const ValueId py = leaf(OpKind::ThreadsPerThreadgroup, 1, G);
  const ValueId px = leaf(OpKind::ThreadsPerThreadgroup, 0, G);
  thread_in_group_ = linear(tx, px, linear(ty, py, tz));
  if (k_.mode == KernelMode::Elementwise && rng_.percent(60)) {
    global_thread_ = emit_value(make::program_id(k_, 0), T);
  } else if (k_.mode == KernelMode::Grid3D && rng_.percent(50)) {
    const ValueId width = u32_const(d.grid[0] * d.tpg[0]);
    const ValueId height = u32_const(d.grid[1] * d.tpg[1]);
    const ValueId p0 = emit_value(make::program_id(k_, 0), T);
    const ValueId p1 = emit_value(make::program_id(k_, 1), T);
    const ValueId p2 = emit_value(make::program_id(k_, 2), T);
    global_thread_ = linear(p0, width, linear(p1, height, p2));
  } else {
    const ValueId gz = leaf(OpKind::ThreadgroupId, 2, G);
    const ValueId gy = leaf(OpKind::ThreadgroupId, 1, G);
    const ValueId gx = leaf(OpKind::ThreadgroupId, 0, G);
    const ValueId ny = leaf(OpKind::ThreadgroupsPerGrid, 1, G);
    const ValueId nx = leaf(OpKind::ThreadgroupsPerGrid, 0, G);
    const ValueId group = linear(gx, nx, linear(gy, ny, gz));
    global_thread_ = linear(thread_in_group_, u32_const(threads_per_group_), group);
  }
  // Used by every store: never sunk themselves.
  ++uses_[thread_in_group_.index];
  ++uses_[global_thread_.index];
  header_size_ = k_.body.instrs.size();
}

FuzzProgram Generator::run() {
  k_.name = "fuzz";
  choose_launch();
  block_ = &k_.body;
  scopes_.emplace_back();
  header();
  budget_ = rng_.range(options_.min_instructions, options_.max_instructions);
  while (emitted_ < budget_) statement();
  // Locals hold what loops accumulated: their final values are outputs too.
  for (const auto& [t, locals] : locals_) {
    for (LocalId l : locals) sink(emit_value(make::local_read(k_, l), Uniformity::Thread));
  }
  close_scope();
  k_.body.instrs.insert(k_.body.instrs.begin() + static_cast<std::ptrdiff_t>(header_size_),
                        prologue_.instrs.begin(), prologue_.instrs.end());
  finish_tensors();
  overlap_prior_kernel();
  verify(k_);
  return std::move(program_);
}

// Half the programs start like a kernel that overlaps the one before it: a prefetch of one
// tensor's range, the wait and the release, after the identity header and before anything
// touches memory. They change no value; on a GPU such a program is launched to overlap.
void Generator::overlap_prior_kernel() {
  if (!rng_.percent(50)) return;
  std::vector<Instr> front;
  for (std::size_t p = 0; p < k_.params.size(); ++p) {
    if (!k_.params[p].is_tensor()) continue;
    Instr count = make::constant(k_, DType::U32, Scalar::of_int(rng_.range(1, 4096)));
    front.push_back(make::prefetch_l2(k_, ParamId{static_cast<std::uint32_t>(p)}, global_thread_,
                                      count.result));
    front.insert(front.end() - 1, std::move(count));
    break;
  }
  front.push_back(make::kernel_overlap(OpKind::WaitPriorKernel));
  front.push_back(make::kernel_overlap(OpKind::ReleaseNextKernel));
  k_.body.instrs.insert(k_.body.instrs.begin() + static_cast<std::ptrdiff_t>(header_size_),
                        std::make_move_iterator(front.begin()),
                        std::make_move_iterator(front.end()));
}

void Generator::finish_tensors() {
  for (const Param& p : k_.params) {
    if (p.kind != ParamKind::Output) continue;
    const ParamId id = k_.find_param(p.name);
    std::size_t elements = 0;
    if (auto fixed = fixed_lengths_.find(id); fixed != fixed_lengths_.end()) {
      elements = fixed->second;
    } else {
      elements = std::size_t{slots_[id]} * threads_;
    }
    if (p.name.starts_with("atomic_")) {
      program_.tensors[p.name] = exact() && rng_.percent(50)
                                     ? random_tensor(rng_, p.dtype, elements)
                                     : small_integer_tensor(rng_, p.dtype, elements);
    } else {
      program_.tensors[p.name].assign(elements * size_of(p.dtype), kPoison);
    }
  }
  for (const auto& [name, value] : program_.scalars) {
    if (!program_.required_constants.contains(name) && rng_.percent(50)) {
      program_.optional_constants.insert(name);
    }
  }
}

}  // namespace detail
}  // namespace mt::fuzz
