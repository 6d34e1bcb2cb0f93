// Warpgroup MMA in the CUDA backend: the target architecture and the generated MMA helpers.
#include "backends/cuda/warpgroup_mma.hpp"

#include <set>
#include <sstream>
#include <utility>

#include "backends/cuda/bulk_copy.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt::cuda {
namespace {

bool is_warpgroup_op(OpKind op) {
  return op == OpKind::WarpgroupMma || op == OpKind::WarpgroupFence ||
         op == OpKind::WarpgroupCommit || op == OpKind::WarpgroupWait ||
         op == OpKind::FenceAsyncShared;
}

// One helper: D (n / 2 registers, read and written), the two descriptors, and scale-d as a
// predicate set from 1 (D accumulates). No transposes: both operands are k-major.
std::string helper(DType input, std::uint32_t n) {
  const std::string t(name_of(input));
  const std::uint32_t regs = warpgroup_accumulator_size(n);
  std::ostringstream list, outputs;
  for (std::uint32_t i = 0; i < regs; ++i) {
    list << (i == 0 ? "%" : ", %") << i;
    outputs << (i == 0 ? "" : i % 8 == 0 ? ",\n        " : ", ") << "\"+f\"(d[" << i << "])";
  }
  std::ostringstream out;
  out << "MT_DEVICE void " << warpgroup_mma_function(input, n)
      << "(float* d, unsigned long long a, unsigned long long b) {\n";
  out << "  asm volatile(\n";
  out << "      \"{\\n.reg .pred p;\\nsetp.ne.b32 p, %" << regs + 2 << ", 0;\\n\"\n";
  out << "      \"wgmma.mma_async.sync.aligned.m64n" << n << "k16.f32." << t << "." << t << " {"
      << list.str() << "}, %" << regs << ", %" << regs + 1 << ", p, 1, 1, 0, 0;\\n}\\n\"\n";
  out << "      : " << outputs.str() << "\n";
  out << "      : \"l\"(a), \"l\"(b), \"r\"(1)\n";
  out << "      : \"memory\");\n";
  out << "}\n";
  return out.str();
}

}  // namespace

bool uses_warpgroup_ops(const Kernel& k) {
  bool found = false;
  for_each_instr(k.body, [&](const Instr& in) { found = found || is_warpgroup_op(in.op); });
  return found;
}

std::string kernel_arch(const Kernel& k, std::string_view device_arch) {
  if (uses_bulk_copies(k) && device_arch < "sm_90" && device_arch.size() == 5) {
    throw kernel_error(k.name,
                       "async barriers and bulk tile copies (mbarrier, TMA) need an sm_90 "
                       "device or newer; this one is " +
                           std::string(device_arch));
  }
  if (!uses_warpgroup_ops(k)) return std::string(device_arch);
  if (device_arch == "sm_90" || device_arch == "sm_90a") return "sm_90a";
  throw kernel_error(k.name, "warpgroup MMA (wgmma) needs an sm_90 device; this one is " +
                                 std::string(device_arch));
}

std::string warpgroup_mma_function(DType input, std::uint32_t n) {
  return "mt_warpgroup_mma_" + std::string(name_of(input)) + "_n" + std::to_string(n);
}

std::string warpgroup_mma_helpers(const Kernel& k) {
  std::set<std::pair<DType, std::uint32_t>> used;
  for_each_instr(k.body, [&](const Instr& in) {
    if (in.op == OpKind::WarpgroupMma) {
      used.emplace(k.array(in.matrices[0].array).dtype, in.lanes);
    }
  });
  std::string out;
  for (const auto& [input, n] : used) out += helper(input, n);
  return out;
}

}  // namespace mt::cuda
