// mt::KernelInfo: one library kernel's registry entry. Besides the builder it carries what a
// user needs to run the kernel knowing only its name: the documentation of its buffers and
// scalars, the geometry rule that turns buffer sizes and scalars into launches, and the
// benchmark shapes `tile bench` measures.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/kernels/bench_case.hpp"
#include "metaltile/kernels/launch_plan.hpp"

namespace mt {

class KernelBuilder;

// One buffer or scalar of a kernel, as `tile inspect` shows it.
struct ParamDoc {
  std::string name;
  std::string text;  // "[n_kv_heads, head_dim] T: the new token's keys"
};

struct KernelDoc {
  // Default member initialisers let entries name only the fields they set.
  std::string summary{};            // one line: what the kernel computes
  std::string formula{};            // the math, in a few lines
  std::vector<ParamDoc> buffers{};  // inputs and outputs, in parameter order
  std::vector<ParamDoc> scalars{};
  std::string geometry{};  // the launch rule in words ("one thread per element, 256 a group")
};

struct KernelInfo {
  std::string family{};  // "ffai::kv_cache" (set by the family's list)
  std::string name{};    // "quantize_kv_int4" (set by the family's list)
  KernelMode default_mode = KernelMode::Grid3D;
  std::vector<DType> dtypes{};
  void (*body)(KernelBuilder&, DType) = nullptr;  // traces the kernel for one dtype
  KernelDoc doc{};
  GeometryRule geometry{};  // the launches for given buffer sizes and scalars
  BenchShapes bench{};      // the shapes `tile bench` measures

  // Traces the kernel for `t` (mode = default_mode); an mt::Error naming the kernel if t is
  // not among `dtypes`.
  Kernel build(DType t) const;
  bool supports(DType t) const;
};

// Library kernels are declared by a family list, one line a kernel, in the family's header:
//
//   #define MT_FFAI_KV_CACHE_KERNELS(X) X(kv_cache_update) X(quantize_kv_int4) ...
//   namespace mt::kernels::ffai::kv_cache {
//   inline constexpr std::string_view kFamily = "ffai::kv_cache";
//   MT_FFAI_KV_CACHE_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
//   inline std::vector<KernelInfo> kernel_infos() {
//     return {MT_FFAI_KV_CACHE_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
//   }
//   }
//
// Each kernel then defines `KernelInfo <name>::info()` (builder, docs, geometry, bench) in its
// source file; its name and family are filled in from the list, and
// `<name>::kernel_ir_for(t)` traces it through the registry.
#define MT_DECLARE_LIBRARY_KERNEL(kernel_name)                                               \
  struct kernel_name {                                                                       \
    static constexpr std::string_view name = #kernel_name;                                   \
    static ::mt::KernelInfo info();                                                          \
    static ::mt::Kernel kernel_ir_for(::mt::DType t) { return ::mt::build_kernel(name, t); } \
  };

#define MT_LIBRARY_KERNEL_ENTRY(kernel_name) \
  ::mt::kernels::library_entry(kernel_name::info(), kFamily, kernel_name::name),

// Traces `name` for `t` from the registry; an mt::Error if the name is unknown or t unsupported.
Kernel build_kernel(std::string_view name, DType t);

namespace kernels {
// The entry with its family and name filled in (used by MT_LIBRARY_KERNEL_ENTRY).
KernelInfo library_entry(KernelInfo info, std::string_view family, std::string_view name);
}  // namespace kernels

}  // namespace mt
