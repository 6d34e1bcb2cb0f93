// The kernel registry: every registered kernel x dtype traces, verifies and survives the
// optimiser; lookups by name work; unknown names and unsupported dtypes are mt::Errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/process.hpp"

namespace {

using mt::test::contains;

using mt::DType;

TEST(Registry, EveryKernelAndDtypeTracesVerifiesAndOptimises) {
  std::size_t built = 0;
  for (const mt::KernelInfo& info : mt::registered_kernels()) {
    ASSERT_NE(info.body, nullptr) << info.name;
    EXPECT_FALSE(info.dtypes.empty()) << info.name;
    for (DType t : info.dtypes) {
      SCOPED_TRACE(info.name + " " + std::string(mt::name_of(t)));
      mt::Kernel k;
      ASSERT_NO_THROW(k = info.build(t));
      EXPECT_EQ(k.name, info.name);
      EXPECT_EQ(k.mode, info.default_mode);
      EXPECT_NO_THROW(mt::verify(k));
      const std::string traced = mt::print(k);
      EXPECT_TRUE(traced.starts_with("kernel " + info.name)) << traced;
      // Tracing is deterministic, and build_kernel goes through the same builder.
      EXPECT_EQ(mt::print(mt::build_kernel(info.name, t)), traced);

      mt::Kernel optimised;
      ASSERT_NO_THROW(optimised = mt::passes::optimise(k));
      EXPECT_NO_THROW(mt::verify(optimised));
      EXPECT_EQ(optimised.name, info.name);
      EXPECT_EQ(optimised.mode, k.mode);
      // Passes may drop a parameter nothing reads, never invent one.
      for (const mt::Param& p : optimised.params) {
        EXPECT_TRUE(k.find_param(p.name).valid()) << "optimise added param " << p.name;
      }
      // Optimising again is safe (the pipeline's output is valid pipeline input).
      EXPECT_NO_THROW(mt::verify(mt::passes::optimise(optimised)));
      ++built;
    }
  }
  EXPECT_GE(built, 30u);  // at least the ten KV-cache kernels x three dtypes
}

TEST(Registry, ListsKernelsSortedUniqueAndFindsThemByName) {
  const std::vector<mt::KernelInfo>& all = mt::registered_kernels();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1].name, all[i].name) << "not sorted, or listed twice";
  }
  for (const mt::KernelInfo& info : all) EXPECT_EQ(mt::find_kernel(info.name), &info);
  EXPECT_EQ(&mt::registered_kernels(), &all) << "built once";
}

TEST(Registry, ListsEveryKvCacheKernelWithItsDtypes) {
  namespace kv = mt::kernels::ffai::kv_cache;
  const std::vector<std::string_view> names = {
      kv::kv_cache_update::name,          kv::kv_cache_update_many::name,
      kv::quantize_kv_int4::name,         kv::quantize_kv_int8::name,
      kv::bulk_dequant_kv_int4::name,     kv::bulk_dequant_kv_int8::name,
      kv::quantize_kv_fp8_e4m3::name,     kv::quantize_kv_fp8_e5m2::name,
      kv::bulk_dequant_kv_fp8_e4m3::name, kv::bulk_dequant_kv_fp8_e5m2::name,
      kv::bulk_dequant_kv_int4_x8::name,  kv::bulk_dequant_kv_int8_x8::name};
  const std::vector<DType> floats = {DType::F32, DType::F16, DType::BF16};
  for (std::string_view name : names) {
    const mt::KernelInfo* info = mt::find_kernel(name);
    ASSERT_NE(info, nullptr) << name << " is not registered";
    EXPECT_EQ(info->family, "ffai::kv_cache");
    EXPECT_EQ(info->default_mode, mt::KernelMode::Grid3D);
    EXPECT_EQ(info->dtypes, floats) << name;
  }
  const std::size_t in_family =
      std::count_if(mt::registered_kernels().begin(), mt::registered_kernels().end(),
                    [](const mt::KernelInfo& i) { return i.family == "ffai::kv_cache"; });
  EXPECT_EQ(in_family, names.size());
  // The typed entry point and the registry trace the same kernel.
  EXPECT_EQ(mt::print(kv::quantize_kv_int4::kernel_ir_for(DType::F16)),
            mt::print(mt::build_kernel("quantize_kv_int4", DType::F16)));
}

TEST(Registry, UnknownNameIsAnError) {
  EXPECT_EQ(mt::find_kernel("no_such_kernel"), nullptr);
  EXPECT_EQ(mt::find_kernel(""), nullptr);
  try {
    mt::build_kernel("no_such_kernel", DType::F32);
    ADD_FAILURE() << "no error for an unknown kernel";
  } catch (const mt::Error& e) {
    EXPECT_TRUE(contains(e.what(), "no_such_kernel")) << e.what();
  }
}

TEST(Registry, UnsupportedDtypeIsAnErrorNamingKernelAndDtype) {
  std::size_t rejected = 0;
  for (const mt::KernelInfo& info : mt::registered_kernels()) {
    for (DType t : mt::kAllDTypes) {
      if (std::find(info.dtypes.begin(), info.dtypes.end(), t) != info.dtypes.end()) continue;
      const std::string dtype(mt::name_of(t));
      SCOPED_TRACE(info.name + " " + dtype);
      // Through the registry and through the family's builder directly.
      for (int path = 0; path < 2; ++path) {
        try {
          if (path == 0)
            mt::build_kernel(info.name, t);
          else
            info.build(t);
          ADD_FAILURE() << "no error for dtype " << dtype << (path ? " (build)" : " (registry)");
        } catch (const mt::Error& e) {
          EXPECT_TRUE(contains(e.what(), "kernel '" + info.name + "'")) << e.what();
          EXPECT_TRUE(contains(e.what(), dtype)) << e.what();
        }
      }
      ++rejected;
    }
  }
  EXPECT_GE(rejected, 10u * 7u);  // each KV-cache kernel rejects the seven non-float-16/32 types
}

}  // namespace
