// `tile device` as a user runs it (the binary in MT_TILE, set by tests/CMakeLists.txt): the
// backend line, then the GPU's properties or why CUDA is unavailable, NVRTC, checked mode and
// the compile cache; exit 0 with or without a GPU.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "support/process.hpp"

namespace {

using mt::test::CommandResult;
using mt::test::contains;

// `env` is prefixed to the command line ("NAME=value ..." or "").
CommandResult tile(const std::string& env, const std::string& args) {
  const std::string path = mt::test::tile_binary();
  if (path.empty()) return {};
  return mt::test::run_command(env + " '" + path + "' " + args + " 2>&1");
}

TEST(TileDevice, ReportsTheBackendAndTheGpuOrWhyThereIsNone) {
  const CommandResult r = tile("", "device");
  ASSERT_EQ(r.status, 0) << r.output;
  std::cout << r.output;
  EXPECT_TRUE(contains(r.output, "backend: ")) << r.output;
  const bool gpu = contains(r.output, "compute capability: ");
  const bool reason = contains(r.output, "cuda: unavailable: ");
  EXPECT_NE(gpu, reason) << "either the device or why CUDA is unavailable:\n" << r.output;
  if (gpu) {
    for (const char* line : {"device: ", "SMs: ", "memory: ", "driver: CUDA "}) {
      EXPECT_TRUE(contains(r.output, line)) << line << " missing:\n" << r.output;
    }
  } else {
    EXPECT_TRUE(contains(r.output, "backend: cpu")) << r.output;
  }
  EXPECT_TRUE(contains(r.output, "NVRTC: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "checked: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "compile cache: ")) << r.output;
}

TEST(TileDevice, ShowsCheckedModeAndTheCacheDirectory) {
  const CommandResult r =
      tile("MT_CUDA_CHECKED=0 MT_CACHE_DIR=/tmp/mt_tile_device_probe", "device");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "checked: no (MT_CUDA_CHECKED=0)")) << r.output;
  EXPECT_TRUE(contains(r.output, "compile cache: /tmp/mt_tile_device_probe")) << r.output;
  const CommandResult bad = tile("MT_CUDA_CHECKED=maybe MT_BACKEND=cpu", "device");
  EXPECT_EQ(bad.status, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "MT_CUDA_CHECKED='maybe'")) << bad.output;
}

TEST(TileDevice, ShowsKernelOverlap) {
  const CommandResult on = tile("MT_CACHE_DIR=/tmp/mt_tile_device_probe", "device");
  ASSERT_EQ(on.status, 0) << on.output;
  EXPECT_TRUE(contains(on.output, "kernel overlap: yes")) << on.output;
  const CommandResult off =
      tile("MT_KERNEL_OVERLAP=0 MT_CACHE_DIR=/tmp/mt_tile_device_probe", "device");
  ASSERT_EQ(off.status, 0) << off.output;
  EXPECT_TRUE(contains(off.output, "kernel overlap: no (MT_KERNEL_OVERLAP=0)")) << off.output;
  const CommandResult bad = tile("MT_KERNEL_OVERLAP=2 MT_BACKEND=cpu", "device");
  EXPECT_EQ(bad.status, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "MT_KERNEL_OVERLAP='2' is not 0 or 1")) << bad.output;
}

TEST(TileDevice, IsListedInHelp) {
  const CommandResult r = tile("", "help");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "tile device")) << r.output;
}

}  // namespace
