// The lockstep interpreter. A Launch holds what every group shares (bindings, scalars, the
// value table layout); a GroupRunner holds one worker's per-thread state (values, locals,
// arrays) and runs groups. Collectives live in collectives.cpp, arrays in arrays.cpp.
#include "backends/cpu/interpreter.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "backends/cpu/arrays.hpp"
#include "backends/cpu/barrier_phases.hpp"
#include "backends/cpu/bulk_copy.hpp"
#include "backends/cpu/checks.hpp"
#include "backends/cpu/collectives.hpp"
#include "backends/cpu/lanes.hpp"
#include "backends/cpu/matrix.hpp"
#include "backends/cpu/warpgroup.hpp"
#include "metaltile/core/contract.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::cpu {
namespace {

constexpr std::uint32_t kNoSlot = ValueId::kInvalid;

// A tensor argument as the runner addresses it.
struct Binding {
  std::uint8_t* data = nullptr;
  std::size_t elements = 0;
  std::size_t element_size = 0;
};

// What a launch shares between groups and workers; read-only while groups run.
struct Launch {
  const Kernel& kernel;
  LaunchDims dims;
  LaneGeometry geometry;
  std::vector<Binding> bindings{};  // by ParamId; unused for scalars
  // By ParamId: a scalar's value (normalised), a tensor's element count. Both are uniform over
  // the launch, and a failed Require reports them.
  std::vector<Scalar> uniforms{};
  std::vector<TensorMapExtent> tensor_maps{};  // by TensorMapId: the extent at this launch
  std::vector<std::uint32_t> slot_of{};        // ValueId -> row of the value table
  std::size_t slots = 0;
  std::size_t depth = 0;  // nesting levels of For/If, one mask level each
  // Serialises global atomics between workers running different groups at once.
  std::unique_ptr<std::mutex> atomics = std::make_unique<std::mutex>();
};

// Gives each value defined in `block` a row (only those: a body never reads contract values),
// checks that operands are defined first, and returns the nesting depth of control flow.
std::size_t assign_slots(Launch& l, const Block& block) {
  std::size_t depth = 0;
  for (const Instr& in : block.instrs) {
    for (ValueId v : in.operands) {
      MT_ASSERT(v.index < l.slot_of.size() && l.slot_of[v.index] != kNoSlot)
          << "kernel " << l.kernel.name << ": %" << v.index << " used before its definition";
    }
    if (has_result(in.op)) {
      MT_ASSERT(in.result.index < l.slot_of.size()) << "value %" << in.result.index;
      l.slot_of[in.result.index] = static_cast<std::uint32_t>(l.slots++);
    }
    std::size_t inner = 0;
    for (const Block& b : in.blocks) inner = std::max(inner, assign_slots(l, b));
    if (!in.blocks.empty()) depth = std::max(depth, inner + 1);
  }
  return depth;
}

Launch prepare(const Kernel& k, std::span<const Argument> args, const LaunchDims& dims) {
  check_argument_count(k, args);
  Launch l{.kernel = k, .dims = dims, .geometry = LaneGeometry(dims.tpg)};
  l.bindings.resize(k.params.size());
  l.uniforms.resize(k.params.size());
  for (std::size_t p = 0; p < k.params.size(); ++p) {
    const Param& param = k.params[p];
    if (param.is_tensor()) {
      const std::size_t size = size_of(param.dtype);
      l.bindings[p] = Binding{args[p].bytes.data(), args[p].bytes.size() / size, size};
      l.uniforms[p] = Scalar::of_int(static_cast<std::int64_t>(l.bindings[p].elements));
    } else {
      l.uniforms[p] = normalise(args[p].scalar, param.dtype);
    }
  }
  l.tensor_maps = evaluate_tensor_maps(k, l.uniforms, dims);
  l.slot_of.assign(k.value_types.size(), kNoSlot);
  l.depth = assign_slots(l, k.body);
  return l;
}

// One worker's state: value rows, locals and masks for a whole group, reused group to group.
class GroupRunner {
 public:
  explicit GroupRunner(const Launch& launch)
      : l_(launch), k_(launch.kernel), where_(launch.geometry, {0, 0, 0}) {
    const std::size_t lanes = l_.geometry.lanes();
    values_.reset(l_.slots, lanes);
    locals_.reset(k_.locals.size(), lanes);
    masks_.reset(l_.depth, lanes);
    phases_.reset(k_, lanes);
    arrays_.reset(k_, lanes, phases_);
    warpgroups_.reset(k_, lanes);
    scratch_.reserve(lanes);
  }

  void run(std::array<std::uint32_t, 3> group) {
    where_ = ThreadLocator(l_.geometry, group);
    local_written_.assign(k_.locals.size() * l_.geometry.lanes(), 0);
    arrays_.begin_group();
    phases_.begin_group();
    warpgroups_.begin_group();
    exec_block(k_.body, l_.geometry.all(), 0);
    warpgroups_.end_group(MatrixContext{k_, arrays_, where_, l_.geometry.lanes()});
    phases_.end_group(k_, where_);
  }

 private:
  Scalar* row(ValueId v) { return values_.row(l_.slot_of[v.index]); }
  std::uint8_t& written(LocalId local, Lane lane) {
    return local_written_[local.index * l_.geometry.lanes() + lane];
  }

  void exec_block(const Block& block, ActiveLanes active, std::size_t depth) {
    for (const Instr& in : block.instrs) exec(in, active, depth);
  }

  template <class F>
  void fill(const Instr& in, ActiveLanes active, F value_of) {
    Scalar* out = row(in.result);
    for (Lane lane : active) out[lane] = value_of(lane);
  }

  // Applies scalar_eval to the first N operands of each active lane. An mt::Error from the
  // arithmetic (integer division by zero) is reported with the kernel, op and thread.
  template <std::size_t N>
  void eval(const Instr& in, DType operand_type, ActiveLanes active) {
    Scalar* out = row(in.result);
    const Scalar* src[N];
    for (std::size_t i = 0; i < N; ++i) src[i] = row(in.operands[i]);
    for (Lane lane : active) {
      Scalar args[N];
      for (std::size_t i = 0; i < N; ++i) args[i] = src[i][lane];
      try {
        out[lane] = scalar_eval(in.op, in.dtype, operand_type, args);
      } catch (const Error& e) {
        throw thread_error(k_, in, e.what(), where_, lane);
      }
    }
  }

  std::uint32_t program_id(Lane lane, int axis) const {
    const LaunchDims& d = l_.dims;
    const std::array<std::uint32_t, 3> group = where_.group();
    const auto global = [&](int a) {
      return std::uint64_t{group[a]} * d.tpg[a] + l_.geometry.local(lane, a);
    };
    switch (k_.mode) {
      case KernelMode::Grid3D: return static_cast<std::uint32_t>(global(axis));
      case KernelMode::Reduction: return group[axis];
      case KernelMode::Elementwise: {
        if (axis != 0) return 0;
        const std::uint64_t width = std::uint64_t{d.grid[0]} * d.tpg[0];
        const std::uint64_t height = std::uint64_t{d.grid[1]} * d.tpg[1];
        // check_launch_dims has proved the linear index fits.
        return static_cast<std::uint32_t>(global(0) + width * (global(1) + height * global(2)));
      }
    }
    MT_ASSERT(false) << "kernel mode " << static_cast<int>(k_.mode);
    return 0;
  }

  void load(const Instr& in, ActiveLanes active) {
    const Binding& b = l_.bindings[in.param.index];
    const Scalar* index = row(in.operands[0]);
    Scalar* out = row(in.result);
    for (Lane lane : active) {
      check_index(k_, in, index[lane].i, b.elements, where_, lane);
      out[lane] = read_element(b.data + index[lane].i * b.element_size, in.dtype);
    }
  }

  // Checks every lane before writing any, so a failed store writes nothing at all.
  void store(const Instr& in, ActiveLanes active) {
    const Binding& b = l_.bindings[in.param.index];
    const DType t = k_.param(in.param).dtype;
    const Scalar* index = row(in.operands[0]);
    const Scalar* value = row(in.operands[1]);
    for (Lane lane : active) check_index(k_, in, index[lane].i, b.elements, where_, lane);
    for (Lane lane : active) write_element(b.data + index[lane].i * b.element_size, t, value[lane]);
  }

  void local_read(const Instr& in, ActiveLanes active) {
    const Scalar* local = locals_.row(in.local.index);
    for (Lane lane : active) {
      check_local_written(k_, in, written(in.local, lane) != 0, where_, lane);
    }
    fill(in, active, [&](Lane lane) { return local[lane]; });
  }

  void local_write(const Instr& in, ActiveLanes active) {
    Scalar* local = locals_.row(in.local.index);
    const Scalar* value = row(in.operands[0]);
    for (Lane lane : active) {
      local[lane] = value[lane];
      written(in.local, lane) = 1;
    }
  }

  // Each lane runs its own trip count: the body runs while any lane is still in range, under
  // the mask of those lanes. Bounds compare as int64, where i32 and u32 values are both exact.
  void for_loop(const Instr& in, ActiveLanes active, std::size_t depth) {
    const Scalar* lo = row(in.operands[0]);
    const Scalar* hi = row(in.operands[1]);
    const Scalar* step = row(in.operands[2]);
    Scalar* var = row(in.result);
    std::vector<Lane>& live = masks_.level(depth);
    filter_lanes(active, live, [&](Lane lane) {
      var[lane] = lo[lane];
      if (lo[lane].i >= hi[lane].i) return false;
      check_loop_step(k_, in, step[lane].i, where_, lane);
      return true;
    });
    while (!live.empty()) {
      exec_block(in.blocks[0], live, depth + 1);
      retain_lanes(live, [&](Lane lane) {
        const std::int64_t next = var[lane].i + step[lane].i;
        if (next >= hi[lane].i) return false;
        var[lane].i = next;
        return true;
      });
    }
  }

  void if_then_else(const Instr& in, ActiveLanes active, std::size_t depth) {
    const Scalar* cond = row(in.operands[0]);
    std::vector<Lane>& taken = masks_.level(depth);
    filter_lanes(active, taken, [&](Lane lane) { return cond[lane].i != 0; });
    if (!taken.empty()) exec_block(in.blocks[0], taken, depth + 1);
    filter_lanes(active, taken, [&](Lane lane) { return cond[lane].i == 0; });
    if (!taken.empty()) exec_block(in.blocks[1], taken, depth + 1);
  }

  // The per-axis and warp identity of each thread, and the launch shape.
  void thread_identity(const Instr& in, ActiveLanes active) {
    const int a = in.axis;
    if (in.op == OpKind::ThreadId) {
      fill(in, active, [&](Lane lane) { return Scalar::of_int(l_.geometry.local(lane, a)); });
      return;
    }
    if (in.op == OpKind::LaneId || in.op == OpKind::WarpId) {
      const bool lane_id = in.op == OpKind::LaneId;
      fill(in, active, [&](Lane lane) {
        return Scalar::of_int(lane_id ? lane % kWarpSize : lane / kWarpSize);
      });
      return;
    }
    std::uint32_t value = 0;  // the same for every thread of the group
    if (in.op == OpKind::ThreadgroupId) {
      value = where_.group()[a];
    } else if (in.op == OpKind::ThreadsPerThreadgroup) {
      value = l_.dims.tpg[a];
    } else {
      MT_ASSERT(in.op == OpKind::ThreadgroupsPerGrid) << op_name(in.op) << " is not an identity";
      value = l_.dims.grid[a];
    }
    fill(in, active, [&](Lane) { return Scalar::of_int(value); });
  }

  // param[index .. + lanes) -> the per-thread array, for each lane; every lane's access is
  // checked before any is made.
  void load_vector(const Instr& in, ActiveLanes active) {
    const Binding& b = l_.bindings[in.param.index];
    const Scalar* index = row(in.operands[0]);
    const DType t = k_.param(in.param).dtype;
    for (Lane lane : active) check_vector_access(k_, in, index[lane].i, b.elements, where_, lane);
    for (Lane lane : active) {
      const std::uint8_t* from = b.data + index[lane].i * b.element_size;
      for (std::uint32_t e = 0; e < in.lanes; ++e) {
        arrays_.write_thread(in, in.array, e, lane, read_element(from + e * b.element_size, t),
                             where_);
      }
    }
  }

  // The per-thread array -> param[index .. + lanes). Reads (and checks) every element of every
  // lane before writing any, so a failed check writes nothing.
  void store_vector(const Instr& in, ActiveLanes active) {
    const Binding& b = l_.bindings[in.param.index];
    const Scalar* index = row(in.operands[0]);
    for (Lane lane : active) {
      check_vector_access(k_, in, index[lane].i, b.elements, where_, lane);
      for (std::uint32_t e = 0; e < in.lanes; ++e) arrays_.read_thread(in, e, lane, where_);
    }
    const DType t = k_.param(in.param).dtype;
    for (Lane lane : active) {
      std::uint8_t* to = b.data + index[lane].i * b.element_size;
      for (std::uint32_t e = 0; e < in.lanes; ++e) {
        write_element(to + e * b.element_size, t, arrays_.read_thread(in, e, lane, where_));
      }
    }
  }

  // Applies the lanes' atomics in lane order, under the launch's lock (other workers may run
  // groups that touch the same elements); each lane gets the value before its own update.
  void atomic_global(const Instr& in, ActiveLanes active) {
    const Binding& b = l_.bindings[in.param.index];
    const Scalar* index = row(in.operands[0]);
    const Scalar* value = row(in.operands[1]);
    Scalar* out = row(in.result);
    for (Lane lane : active) check_index(k_, in, index[lane].i, b.elements, where_, lane);
    const std::lock_guard<std::mutex> lock(*l_.atomics);
    for (Lane lane : active) {
      std::uint8_t* element = b.data + index[lane].i * b.element_size;
      const Scalar old = read_element(element, in.dtype);
      write_element(element, in.dtype, combine(in.combine, in.dtype, old, value[lane]));
      out[lane] = old;
    }
  }

  // Barriers and collectives: each first checks that its whole group (or warp) is here.
  void cooperate(const Instr& in, ActiveLanes active) {
    const std::size_t n = l_.geometry.lanes();
    if (is_warp_op(in.op)) {
      check_warp_converged(k_, in, active, n, where_);
    } else {
      check_threadgroup_converged(k_, in, active, n, where_);
    }
    if (in.op == OpKind::Barrier) {
      arrays_.barrier();
    } else if (in.op == OpKind::WarpBarrier) {
      arrays_.warp_barrier(active);
    } else if (in.op == OpKind::WarpReduce) {
      warp_reduce(in.combine, in.dtype, active, row(in.operands[0]), row(in.result), scratch_);
    } else if (in.op == OpKind::WarpShuffle) {
      warp_shuffle(in.shuffle, active, n, row(in.operands[0]), row(in.operands[1]), row(in.result));
    } else if (in.op == OpKind::WarpPrefixSum) {
      warp_prefix_sum(in.inclusive, in.dtype, active, row(in.operands[0]), row(in.result));
    } else if (in.op == OpKind::ThreadgroupReduce) {
      const Scalar r =
          threadgroup_reduce(in.combine, in.dtype, active, row(in.operands[0]), scratch_);
      fill(in, active, [&](Lane) { return r; });
    } else {
      MT_ASSERT(in.op == OpKind::ThreadgroupArgmax) << op_name(in.op) << " is not a collective";
      const Scalar r = threadgroup_argmax(k_.type_of(in.operands[0]), active, row(in.operands[0]),
                                          row(in.operands[1]));
      fill(in, active, [&](Lane) { return r; });
    }
  }
  // Tensor-core ops and asynchronous copies (matrix.cpp).
  void matrix(const Instr& in, ActiveLanes active) {
    const MatrixContext m{k_, arrays_, where_, l_.geometry.lanes()};
    switch (in.op) {
      case OpKind::Mma: return run_mma(m, in, active);
      case OpKind::LoadMatrix: return run_load_matrix(m, in, active, row(in.operands[0]));
      case OpKind::CopyAsync: {
        const Binding& b = l_.bindings[in.param.index];
        return run_copy_async(m, in, active, row(in.operands[0]), row(in.operands[1]),
                              row(in.operands[2]), {b.data, b.elements, b.element_size});
      }
      case OpKind::CopyAsyncCommit:
        for (Lane lane : active) arrays_.commit_async(lane);
        return;
      case OpKind::CopyAsyncWait:
        for (Lane lane : active) arrays_.wait_async(lane, in.lanes);
        return;
      case OpKind::WarpgroupMma:
        return warpgroups_.mma(m, in, active, row(in.operands[0]), row(in.operands[1]));
      case OpKind::WarpgroupFence: return warpgroups_.fence(m, in, active);
      case OpKind::WarpgroupCommit: return warpgroups_.commit(m, in, active);
      case OpKind::WarpgroupWait: return warpgroups_.wait(m, in, active);
      // Memory is coherent between the interpreter's proxies, but warpgroup MMAs check that
      // what they read was fenced by its writer, as the hardware's async proxy needs.
      case OpKind::FenceAsyncShared: return arrays_.fence_async_shared(active);
      case OpKind::AsyncBarrierInit:
        return phases_.init(k_, in, active, row(in.operands[0]), arrays_.epoch(), where_);
      case OpKind::AsyncBarrierArrive:
        return phases_.arrive(k_, in, active, row(in.operands[0]), nullptr, arrays_.epoch(),
                              where_);
      case OpKind::AsyncBarrierExpect:
        return phases_.arrive(k_, in, active, row(in.operands[0]), row(in.operands[1]),
                              arrays_.epoch(), where_);
      case OpKind::AsyncBarrierWait:
        return phases_.wait(k_, in, active, row(in.operands[0]), row(in.operands[1]),
                            arrays_.epoch(), where_);
      case OpKind::BulkTensorLoad: {
        const TensorMap& map = k_.tensor_map(in.tensor_map);
        const Binding& b = l_.bindings[map.tensor.index];
        return run_bulk_tensor_load(m, in, active, row(in.operands[0]), row(in.operands[1]),
                                    row(in.operands[2]), row(in.operands[3]),
                                    {b.data, b.element_size, l_.tensor_maps[in.tensor_map.index]},
                                    phases_);
      }
      default: MT_ASSERT(false) << op_name(in.op) << " is not a tensor-core op";
    }
  }

  static bool is_warp_op(OpKind op) {
    return op == OpKind::WarpBarrier || op == OpKind::WarpReduce || op == OpKind::WarpShuffle ||
           op == OpKind::WarpPrefixSum;
  }

  // Dispatches on the op's shape first: every Unary, Convert, Binary, Compare and Ternary op is
  // scalar_eval's, so a new arithmetic op needs no case here.
  void exec(const Instr& in, ActiveLanes active, std::size_t depth) {
    switch (op_shape(in.op)) {
      case OpShape::Leaf: return leaf(in, active);
      case OpShape::Memory: return memory(in, active);
      case OpShape::Array: return array(in, active);
      case OpShape::Local:
        return in.op == OpKind::LocalRead ? local_read(in, active) : local_write(in, active);
      // The value operands' type is the last operand's (Select's first operand is its bool
      // condition).
      case OpShape::Unary:
      case OpShape::Convert: return eval<1>(in, k_.type_of(in.operands.back()), active);
      case OpShape::Binary:
      case OpShape::Compare: return eval<2>(in, k_.type_of(in.operands.back()), active);
      case OpShape::Ternary: return eval<3>(in, k_.type_of(in.operands.back()), active);
      case OpShape::Control:
        return in.op == OpKind::For ? for_loop(in, active, depth) : if_then_else(in, active, depth);
      case OpShape::Sync:
        // The interpreter runs a stream's kernels one after another: nothing overlaps. A group
        // runs on one host thread and atomics take a lock, which orders its accesses already.
        if (in.op == OpKind::WaitPriorKernel || in.op == OpKind::ReleaseNextKernel ||
            in.op == OpKind::DeviceFence) {
          return;
        }
        return cooperate(in, active);
      case OpShape::Collective: return cooperate(in, active);
      case OpShape::Matrix: return matrix(in, active);
      case OpShape::Statement:
        // Requirements are the contract's (core/contract.hpp); the verifier keeps them out of
        // the body.
        MT_ASSERT(false) << "kernel " << k_.name << ": " << op_name(in.op) << " in the body";
        return;
    }
    MT_ASSERT(false) << "op " << static_cast<int>(in.op);
  }

  void leaf(const Instr& in, ActiveLanes active) {
    if (in.op == OpKind::Const) return fill(in, active, [&](Lane) { return in.literal; });
    if (in.op == OpKind::ProgramId) {
      return fill(in, active, [&](Lane lane) { return Scalar::of_int(program_id(lane, in.axis)); });
    }
    if (in.op == OpKind::ScalarParam || in.op == OpKind::TensorLen) {
      const Scalar value = l_.uniforms[in.param.index];
      if (in.op == OpKind::TensorLen) check_tensor_len(k_, in, value.i);
      return fill(in, active, [&](Lane) { return value; });
    }
    thread_identity(in, active);
  }

  void memory(const Instr& in, ActiveLanes active) {
    if (in.op == OpKind::Load) return load(in, active);
    if (in.op == OpKind::Store) return store(in, active);
    if (in.op == OpKind::LoadVector) return load_vector(in, active);
    if (in.op == OpKind::StoreVector) return store_vector(in, active);
    if (in.op == OpKind::PrefetchL2) return;  // a cache hint: no effect on values
    MT_ASSERT(in.op == OpKind::AtomicGlobal) << op_name(in.op) << " is not a memory op";
    atomic_global(in, active);
  }

  void array(const Instr& in, ActiveLanes active) {
    if (k_.array(in.array).space == MemorySpace::Thread) warpgroups_.note_access(in, active);
    if (in.op == OpKind::ArrayLoad) {
      return arrays_.load(in, active, row(in.operands[0]), row(in.result), where_);
    }
    if (in.op == OpKind::ArrayStore) {
      return arrays_.store(in, active, row(in.operands[0]), row(in.operands[1]), where_);
    }
    MT_ASSERT(in.op == OpKind::AtomicArray) << op_name(in.op) << " is not an array op";
    arrays_.atomic(in, active, row(in.operands[0]), row(in.operands[1]), row(in.result), where_);
  }

  const Launch& l_;
  const Kernel& k_;
  ThreadLocator where_;  // the group being run
  LaneRows values_;
  LaneRows locals_;
  std::vector<std::uint8_t> local_written_;
  MaskStack masks_;
  BarrierPhases phases_;  // before arrays_, which reads it
  ArrayMemory arrays_;
  Warpgroups warpgroups_;
  std::vector<Scalar> scratch_;  // for reductions; capacity for a whole group
};

// Group index g (x fastest) -> its coordinates.
std::array<std::uint32_t, 3> group_at(const LaunchDims& dims, std::uint64_t g) {
  const std::uint64_t gx = dims.grid[0], gy = dims.grid[1];
  return {static_cast<std::uint32_t>(g % gx), static_cast<std::uint32_t>(g / gx % gy),
          static_cast<std::uint32_t>(g / (gx * gy))};
}

// Starting a std::thread costs tens of microseconds, so each worker should get at least this
// many threads of work; the cap keeps concurrent launches from oversubscribing the machine.
constexpr std::uint64_t kThreadsPerWorker = 1 << 14;
constexpr unsigned kMaxWorkers = 8;

// Runs every group, spread over workers. Workers take groups in increasing order and stop at
// the lowest failure so far, so every group below the lowest failing one runs to completion
// and the error reported is the one an in-order run would report.
void run_groups(const Launch& l, unsigned max_workers) {
  const LaunchDims& d = l.dims;
  const std::uint64_t groups = std::uint64_t{d.grid[0]} * d.grid[1] * d.grid[2];
  const std::uint64_t threads = groups * l.geometry.lanes();
  std::uint64_t workers = max_workers != 0 ? max_workers : std::thread::hardware_concurrency();
  workers = std::min({workers, std::uint64_t{kMaxWorkers}, groups, threads / kThreadsPerWorker});
  if (workers <= 1) {
    GroupRunner runner(l);
    for (std::uint64_t g = 0; g < groups; ++g) runner.run(group_at(d, g));
    return;
  }
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> first_failure{groups};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto record = [&](std::uint64_t g) {
    const std::lock_guard<std::mutex> lock(failure_mutex);
    if (g < first_failure.load()) {
      first_failure.store(g);
      failure = std::current_exception();
    }
  };
  const auto work = [&] {
    std::uint64_t g = next.fetch_add(1);
    try {
      GroupRunner runner(l);
      for (; g < groups && g < first_failure.load(); g = next.fetch_add(1)) {
        runner.run(group_at(d, g));
      }
    } catch (...) {
      record(g);
    }
  };
  std::vector<std::thread> pool;
  for (std::uint64_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the workers already started share the groups
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

void interpret(const Kernel& k, std::span<Argument> args, const LaunchDims& dims,
               const DeviceLimits& limits, unsigned max_workers) {
  check_launch_dims(k, dims, limits);
  check_array_sizes(k);
  check_array_limits(
      k, [](const Array& a) -> std::uint64_t { return a.size; }, limits);
  const Launch l = prepare(k, args, dims);
  run_groups(l, max_workers);
}

}  // namespace mt::cpu
