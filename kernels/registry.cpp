// The registry: one line per kernel family, gathered once.
#include "metaltile/kernels/registry.hpp"

#include <algorithm>

#include "metaltile/core/error.hpp"
#include "metaltile/kernels/ffai/kv_cache.hpp"
#include "metaltile/kernels/mlx/rows.hpp"

namespace mt {
namespace {

std::vector<KernelInfo> gather() {
  std::vector<KernelInfo> all;
  auto add = [&](std::vector<KernelInfo> family) {
    for (KernelInfo& info : family) all.push_back(std::move(info));
  };
  add(kernels::ffai::kv_cache::kernel_infos());
  add(kernels::mlx::kernel_infos());
  std::sort(all.begin(), all.end(),
            [](const KernelInfo& a, const KernelInfo& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < all.size(); ++i) {
    MT_ASSERT(all[i - 1].name != all[i].name) << "kernel " << all[i].name << " registered twice";
  }
  return all;
}

}  // namespace

const std::vector<KernelInfo>& registered_kernels() {
  static const std::vector<KernelInfo> all = gather();  // thread-safe initialisation
  return all;
}

const KernelInfo* find_kernel(std::string_view name) {
  for (const KernelInfo& info : registered_kernels()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

Kernel build_kernel(std::string_view name, DType t) {
  const KernelInfo* info = find_kernel(name);
  if (info == nullptr) throw Error("no kernel named '" + std::string(name) + "'");
  if (std::find(info->dtypes.begin(), info->dtypes.end(), t) == info->dtypes.end()) {
    throw kernel_error(name, "dtype " + std::string(name_of(t)) + " is not supported");
  }
  return info->build(t);
}

}  // namespace mt
