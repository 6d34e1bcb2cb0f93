// BlockMutator: the default keeps every instruction, nested blocks included; an override can
// drop, replace or expand one; Backward order visits last to first; enter_block and
// leave_block bracket every block.
#include "metaltile/core/mutator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "metaltile/core/print.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt {
namespace {

// A loop holding an if, with stores at every level.
Kernel nested() {
  return trace("nested", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    out[i] = n;
    for (Val j : range(n)) {
      if_(j < 2u, [&] { out[j] = i; }).else_([&] { out[j] = j; });
    }
  });
}

std::vector<OpKind> ops_of(const Block& block) {
  std::vector<OpKind> ops;
  for_each_instr(block, [&](const Instr& in) { ops.push_back(in.op); });
  return ops;
}

TEST(BlockMutator, TheDefaultKeepsEveryInstruction) {
  const Kernel k = nested();
  Kernel copy = k;
  BlockMutator().mutate(copy.body);
  EXPECT_EQ(print(copy), print(k));
}

// Drops every store, wherever it is nested.
class StoreDropper : public BlockMutator {
 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    if (in.op == OpKind::Store) return;
    BlockMutator::visit(std::move(in), out);
  }
};

TEST(BlockMutator, AnOverrideDropsInstructionsInNestedBlocks) {
  Kernel k = nested();
  StoreDropper().mutate(k.body);
  for (OpKind op : ops_of(k.body)) EXPECT_NE(op, OpKind::Store);
  std::size_t ifs = 0;
  for_each_instr(k.body, [&](const Instr& in) {
    if (in.op != OpKind::If) return;
    ++ifs;
    EXPECT_TRUE(in.blocks[0].instrs.empty());
    EXPECT_TRUE(in.blocks[1].instrs.empty());
  });
  EXPECT_EQ(ifs, 1u);
}

// Replaces each If by its then-arm: one instruction becomes several.
class ThenInliner : public BlockMutator {
 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    if (in.op != OpKind::If) return BlockMutator::visit(std::move(in), out);
    for (Instr& inner : in.blocks[0].instrs) visit(std::move(inner), out);
  }
};

TEST(BlockMutator, AnInstructionCanBecomeSeveral) {
  Kernel k = nested();
  ThenInliner().mutate(k.body);
  const Instr& loop = k.body.instrs.back();
  ASSERT_EQ(loop.op, OpKind::For);
  std::vector<OpKind> body;
  for (const Instr& in : loop.blocks[0].instrs) body.push_back(in.op);
  // The comparison and its constant, then the then-arm's store in the If's place.
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body.back(), OpKind::Store);
  for (OpKind op : body) EXPECT_NE(op, OpKind::If);
}

// Records the order of visits and the blocks entered and left.
class Recorder : public BlockMutator {
 public:
  explicit Recorder(Order order) : BlockMutator(order) {}
  std::string log;

 protected:
  void enter_block() override { log += "{"; }
  void leave_block() override { log += "}"; }
  void visit(Instr in, std::vector<Instr>& out) override {
    log += std::string(op_name(in.op)) + " ";
    BlockMutator::visit(std::move(in), out);
  }
};

TEST(BlockMutator, VisitsInOrderAndBracketsEveryBlock) {
  Kernel k = trace("order", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    if_(i < 2u, [&] { out[i] = i; });
  });
  const std::string before = print(k);
  Recorder forward(BlockMutator::Order::Forward);
  forward.mutate(k.body);
  EXPECT_EQ(forward.log, "{program_id const lt if {store }{}}");
  Recorder backward(BlockMutator::Order::Backward);
  backward.mutate(k.body);
  EXPECT_EQ(backward.log, "{if {store }{}lt const program_id }");
  // Either order keeps the instructions where they were.
  EXPECT_EQ(print(k), before);
}

}  // namespace
}  // namespace mt
