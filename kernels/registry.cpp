// The registry: one line per kernel family, gathered once; and the per-process cache of traced
// kernels that kernel_ir_for, build_kernel and run share.
#include "metaltile/kernels/registry.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/kernel_builder.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "metaltile/kernels/ffai/attention.hpp"
#include "metaltile/kernels/ffai/embedding.hpp"
#include "metaltile/kernels/ffai/kv_cache.hpp"
#include "metaltile/kernels/ffai/norms.hpp"
#include "metaltile/kernels/ffai/rope.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "metaltile/kernels/mlx/elementwise.hpp"
#include "metaltile/kernels/mlx/gemm.hpp"
#include "metaltile/kernels/mlx/gemv.hpp"
#include "metaltile/kernels/mlx/quantized.hpp"
#include "metaltile/kernels/mlx/rows.hpp"

namespace mt {
namespace {

std::vector<KernelInfo> gather() {
  std::vector<KernelInfo> all;
  auto add = [&](std::vector<KernelInfo> family) {
    for (KernelInfo& info : family) all.push_back(std::move(info));
  };
  add(kernels::engine::decoder::kernel_infos());
  add(kernels::ffai::attention::kernel_infos());
  add(kernels::ffai::embedding::kernel_infos());
  add(kernels::ffai::kv_cache::kernel_infos());
  add(kernels::ffai::norms::kernel_infos());
  add(kernels::ffai::rope::kernel_infos());
  add(kernels::ffai::sampling::kernel_infos());
  add(kernels::mlx::elementwise::kernel_infos());
  add(kernels::mlx::rows::kernel_infos());
  add(kernels::mlx::gemm::kernel_infos());
  add(kernels::mlx::gemv::kernel_infos());
  add(kernels::mlx::quantized::kernel_infos());
  std::sort(all.begin(), all.end(),
            [](const KernelInfo& a, const KernelInfo& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < all.size(); ++i) {
    MT_ASSERT(all[i - 1].name != all[i].name) << "kernel " << all[i].name << " registered twice";
  }
  for (const KernelInfo& info : all) {
    MT_ASSERT(info.body != nullptr && info.geometry && info.bench && !info.dtypes.empty())
        << "kernel " << info.name << ": registry entry without builder, geometry or bench shapes";
  }
  return all;
}

std::string dtype_list(const std::vector<DType>& dtypes) {
  std::string text;
  for (DType t : dtypes) text.append(text.empty() ? "" : ", ").append(name_of(t));
  return text;
}

// Traced kernels by (name, dtype). Entries are never removed, so references stay valid.
class TraceCache {
 public:
  const Kernel& get(const KernelInfo& info, DType t) {
    const std::pair<std::string, DType> key{info.name, t};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = kernels_.find(key); it != kernels_.end()) return *it->second;
    }
    // Trace outside the lock (tracing is pure); the first insert wins.
    auto traced = std::make_unique<const Kernel>(info.build(t));
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = kernels_.emplace(key, std::move(traced));
    return *it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, DType>, std::unique_ptr<const Kernel>> kernels_;
};

}  // namespace

bool KernelInfo::supports(DType t) const {
  return std::find(dtypes.begin(), dtypes.end(), t) != dtypes.end();
}

Kernel KernelInfo::build(DType t) const {
  if (!supports(t)) {
    throw kernel_error(name, "dtype " + std::string(name_of(t)) + " is not supported (" +
                                 dtype_list(dtypes) + ")");
  }
  return trace(name, default_mode, [&](KernelBuilder& k) { body(k, t); });
}

namespace kernels {
KernelInfo library_entry(KernelInfo info, std::string_view family, std::string_view name) {
  info.family = std::string(family);
  info.name = std::string(name);
  return info;
}
}  // namespace kernels

const std::vector<KernelInfo>& registered_kernels() {
  static const std::vector<KernelInfo> all = gather();  // thread-safe initialisation
  return all;
}

const KernelInfo* find_kernel(std::string_view name) {
  const std::vector<KernelInfo>& all = registered_kernels();
  auto it =
      std::lower_bound(all.begin(), all.end(), name,
                       [](const KernelInfo& info, std::string_view n) { return info.name < n; });
  return it != all.end() && it->name == name ? &*it : nullptr;
}

const KernelInfo& kernel_info(std::string_view name) {
  const KernelInfo* info = find_kernel(name);
  if (info == nullptr) {
    throw Error("no kernel named '" + std::string(name) +
                "' (mt::registered_kernels() and `tile list` show the registered ones)");
  }
  return *info;
}

const Kernel& traced_kernel(std::string_view name, DType t) {
  static TraceCache cache;
  return cache.get(kernel_info(name), t);
}

Kernel build_kernel(std::string_view name, DType t) { return traced_kernel(name, t); }

}  // namespace mt
