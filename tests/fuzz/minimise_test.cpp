// The minimiser: it shrinks a program while a failure persists and keeps what the failure
// needs; drop_unused removes only what nothing observes.
#include "fuzz/minimise.hpp"

#include <gtest/gtest.h>

#include "fuzz/differential.hpp"
#include "fuzz/generator.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"

namespace mt::fuzz {
namespace {

template <class F>
bool any_instr(const Block& b, const F& f) {
  for (const Instr& in : b.instrs) {
    if (f(in)) return true;
    for (const Block& inner : in.blocks) {
      if (any_instr(inner, f)) return true;
    }
  }
  return false;
}

// A stand-in for a bug: "the program multiplies two i32 values inside a loop".
bool has_i32_mul_in_loop(const Block& b, bool in_loop = false) {
  for (const Instr& in : b.instrs) {
    if (in_loop && in.op == OpKind::Mul && in.dtype == DType::I32) return true;
    for (const Block& inner : in.blocks) {
      if (has_i32_mul_in_loop(inner, in_loop || in.op == OpKind::For)) return true;
    }
  }
  return false;
}

TEST(Minimise, ShrinksAProgramToWhatTheFailureNeeds) {
  int minimised = 0;
  for (std::uint64_t seed = 1; seed <= 2000 && minimised < 3; ++seed) {
    const FuzzProgram p = generate(seed);
    if (!has_i32_mul_in_loop(p.kernel.body)) continue;
    ++minimised;
    MinimiseStats stats;
    const FuzzProgram small = minimise(
        p, [](const FuzzProgram& c) { return has_i32_mul_in_loop(c.kernel.body); }, 3000, &stats);
    SCOPED_TRACE(describe(small));
    EXPECT_TRUE(has_i32_mul_in_loop(small.kernel.body));
    EXPECT_NO_THROW(verify(small.kernel));
    // A loop around a multiply of constants and a store of it: a handful of instructions.
    EXPECT_LE(small.instruction_count(), 8u) << "from " << p.instruction_count();
    EXPECT_EQ(small.dims.grid, (std::array<std::uint32_t, 3>{1, 1, 1}));
    EXPECT_EQ(small.dims.tpg, (std::array<std::uint32_t, 3>{1, 1, 1}));
    EXPECT_GT(stats.accepted, 0);
    EXPECT_LE(stats.tries, 3000);
  }
  EXPECT_EQ(minimised, 3) << "the first 2000 programs should hold i32 multiplies in loops";
}

// The minimised program of a real differential failure fails the same way: here a failure
// made up by comparing against a run that flips a bit of one output.
TEST(Minimise, KeepsTheFailureKind) {
  const std::string kind = "output u32 differs";
  const auto check = [&](const FuzzProgram& c) {
    Comparison r = check_pipeline(c);
    // Pretend the optimised run differs whenever the program still stores a u32.
    if (r.agree() && any_instr(c.kernel.body, [&](const Instr& in) {
          return in.op == OpKind::Store && c.kernel.param(in.param).dtype == DType::U32;
        })) {
      r.kind = kind;
    }
    return r;
  };
  std::uint64_t seed = 1;
  while (check(generate(seed)).kind != kind) ++seed;
  const FuzzProgram p = generate(seed);
  const FuzzProgram small = minimise_finding(p, kind, check, 2000);
  EXPECT_EQ(check(small).kind, kind);
  EXPECT_LE(small.instruction_count(), 4u) << describe(small);  // a constant, an index, a store
}

TEST(Minimise, DropUnusedKeepsEffectsAndRenumbers) {
  FuzzProgram p = generate(9);
  Kernel k = p.kernel;
  drop_unused(k);
  EXPECT_NO_THROW(verify(k)) << print(k);
  const auto count = [](const Block& b, OpKind op) {
    int n = 0;
    const auto walk = [&](const Block& x, const auto& self) -> void {
      for (const Instr& in : x.instrs) {
        n += in.op == op;
        for (const Block& inner : in.blocks) self(inner, self);
      }
    };
    walk(b, walk);
    return n;
  };
  for (OpKind op : {OpKind::Store, OpKind::StoreVector, OpKind::ArrayStore, OpKind::Barrier,
                    OpKind::AtomicGlobal}) {
    EXPECT_EQ(count(k.body, op), count(p.kernel.body, op)) << op_name(op);
  }
  // The same outputs, so the pruned kernel computes what the program did.
  FuzzProgram pruned = p;
  pruned.kernel = k;
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  const RunResult a = run(*cpu, reference_kernel(p), p);
  const RunResult b = run(*cpu, reference_kernel(pruned), pruned);
  ASSERT_FALSE(a.error.has_value()) << *a.error;
  EXPECT_EQ(a.outputs, b.outputs);
}

}  // namespace
}  // namespace mt::fuzz
