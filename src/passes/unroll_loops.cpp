// unroll_loops: full unrolling of short loops with constant bounds, innermost loops first.
#include "metaltile/passes/unroll_loops.hpp"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "metaltile/core/mutator.hpp"
#include "metaltile/core/visitor.hpp"
#include "passes/known_constants.hpp"

namespace mt::passes {
namespace {

constexpr std::int64_t kMaxTrips = 16;
constexpr std::int64_t kMaxInstrs = 256;  // after unrolling, nested instructions counted

std::int64_t count_instrs(const Block& block) {
  std::int64_t n = 0;
  for_each_instr(block, [&](const Instr&) { ++n; });
  return n;
}

// Barriers and collectives anywhere in the body: unrolling would not change which threads
// reach them, but the pass does not try to prove that.
bool has_collective(const Block& block) {
  bool found = false;
  for_each_instr(block, [&](const Instr& in) { found = found || is_collective(in.op); });
  return found;
}

class Unroller : public BlockMutator {
 public:
  explicit Unroller(Kernel& k) : k_(k) {}

 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    constants_.record(in);
    // Inner loops first: an unrolled inner loop counts at its full size for the outer one.
    descend(in);
    if (in.op == OpKind::For) {
      if (std::optional<std::int64_t> trips = trip_count(in)) return expand(in, *trips, out);
    }
    out.push_back(std::move(in));
  }

 private:
  // lo, hi and step of a loop whose bounds are all constants.
  std::optional<std::vector<std::int64_t>> bounds(const Instr& loop) const {
    std::vector<std::int64_t> b;
    for (ValueId v : loop.operands) {
      const std::optional<Scalar> c = constants_.find(v);
      if (!c) return std::nullopt;
      b.push_back(c->i);
    }
    return b;
  }

  // The loop's exact trip count when it may be unrolled. Scalar::i holds u32 and i32 values
  // exactly, so the count is exact in 64 bits, as the interpreter steps (without wrapping).
  std::optional<std::int64_t> trip_count(const Instr& loop) const {
    if (!is_index_type(loop.dtype)) return std::nullopt;
    const std::optional<std::vector<std::int64_t>> b = bounds(loop);
    if (!b) return std::nullopt;
    const std::int64_t lo = (*b)[0], hi = (*b)[1], step = (*b)[2];
    if (step <= 0 || lo >= hi) return std::nullopt;  // the run reports a bad step; fold drops 0
    const std::int64_t trips = (hi - lo + step - 1) / step;
    if (trips > kMaxTrips) return std::nullopt;
    const Block& body = loop.blocks[0];
    if (trips * (1 + count_instrs(body)) > kMaxInstrs) return std::nullopt;
    if (has_collective(body)) return std::nullopt;
    return trips;
  }

  // Appends one copy of the body per trip to out, each after a Const holding the loop
  // variable's value for that trip.
  void expand(const Instr& loop, std::int64_t trips, std::vector<Instr>& out) {
    const std::vector<std::int64_t> b = *bounds(loop);
    for (std::int64_t t = 0; t < trips; ++t) {
      Instr value = make::constant(k_, loop.dtype, Scalar::of_int(b[0] + t * b[2]));
      std::unordered_map<ValueId, ValueId> fresh{{loop.result, value.result}};
      out.push_back(std::move(value));
      Block copy = loop.blocks[0];
      // Pre-order: each definition is renamed before the uses that follow it, nested blocks
      // (and a nested loop's variable before its body) included.
      for_each_instr(copy, [&](Instr& in) {
        for (ValueId& v : in.operands) {
          if (auto it = fresh.find(v); it != fresh.end()) v = it->second;
        }
        if (in.result.valid()) {
          const ValueId id = k_.new_value(k_.type_of(in.result));
          fresh[in.result] = id;
          in.result = id;
        }
      });
      for (Instr& in : copy.instrs) out.push_back(std::move(in));
    }
  }

  Kernel& k_;
  KnownConstants constants_;  // the Consts seen so far
};

}  // namespace

Kernel unroll_loops(Kernel k) {
  Unroller(k).mutate(k.body);  // the contract has no loops
  return k;
}

}  // namespace mt::passes
