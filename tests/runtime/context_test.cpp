// mt::Context: backend choice, the dispatch contract's happy paths (binding by name, grid
// semantics, outputs returned as copies, specialisation) and the compile cache.

// The umbrella header, as a user includes it (this also proves it compiles on its own).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"
#include "support/forwarding_backend.hpp"

namespace mt {
namespace {

using test::Bytes;

// out[i] = src[i] * scale for i < n; threads past n write nothing.
Kernel scale_kernel(DType t) {
  return trace("scale", KernelMode::Grid3D, [t](KernelBuilder& b) {
    Tensor src = b.input("src", t);
    Tensor out = b.output("out", t);
    Val n = b.scalar_u32("n");
    Val scale = b.scalar_f32("scale");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = (src[i].to(DType::F32) * scale).to(t); });
  });
}

// out[y * width + x] = x * 1000 + y + bias: shows program_id is the global thread index per axis.
Kernel coords_kernel() {
  return trace("coords", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val width = b.scalar_u32("width");
    Val bias = b.scalar_i32("bias");
    Val x = program_id(0), y = program_id(1);
    out[y * width + x] = x * 1000u + y + bias.bitcast(DType::U32);
  });
}

std::vector<float> ramp(std::size_t n, float step) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = float(i) * step - 3.0f;
  return v;
}

BufferMap scale_buffers(DType t, const std::vector<float>& src, std::size_t out_len,
                        std::uint32_t n, float scale) {
  BufferMap b;
  b["src"] = test::pack(src, t);
  b["out"] = test::poisoned(out_len, t);
  b["n"] = test::le_bytes(n);
  b["scale"] = test::le_bytes(scale);
  return b;
}

// A backend that counts compiles and launches around the CPU interpreter, records what it was
// asked to compile, and can fail the next compiles on request.
class CountingBackend : public test::ForwardingBackend {
 public:
  CountingBackend() : ForwardingBackend(make_cpu_backend()) {}
  std::shared_ptr<const Executable> compile(const Kernel& k) override {
    ++compiles;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_compiled_ = k;
    }
    if (fail_compiles > 0) {
      --fail_compiles;
      throw Error("injected compile failure");
    }
    return ForwardingBackend::compile(k);
  }
  void launch(const Executable& exe, std::span<Argument> args, const LaunchDims& dims) override {
    ++launches;
    ForwardingBackend::launch(exe, args, dims);
  }
  // The default device API, host memory over launch() above: device-resident launches count
  // there too.
  DeviceApi& device() override { return KernelBackend::device(); }
  Kernel last_compiled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_compiled_;
  }

  std::atomic<int> compiles{0};
  std::atomic<int> launches{0};
  std::atomic<int> fail_compiles{0};

 private:
  mutable std::mutex mutex_;
  Kernel last_compiled_;
};

// Sets MT_BACKEND for one scope and restores the previous value.
class ScopedBackendEnv {
 public:
  explicit ScopedBackendEnv(const char* value) {
    if (const char* old = std::getenv("MT_BACKEND")) old_ = old;
    if (value != nullptr) {
      setenv("MT_BACKEND", value, 1);
    } else {
      unsetenv("MT_BACKEND");
    }
  }
  ~ScopedBackendEnv() {
    if (old_) {
      setenv("MT_BACKEND", old_->c_str(), 1);
    } else {
      unsetenv("MT_BACKEND");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(Context, CreateCpuIsTheInterpreter) {
  Context ctx = Context::create(Backend::Cpu);
  EXPECT_EQ(ctx.backend(), Backend::Cpu);
  EXPECT_FALSE(ctx.description().empty());
  const DeviceLimits limits = ctx.limits();
  EXPECT_GE(limits.max_threads_per_threadgroup, 256u);
}

// A Backend value cast from an integer is a user's mistake, not an internal error.
TEST(Context, CreateWithAnUnknownBackendIsAnError) {
  EXPECT_EQ(test::error_of([] { Context::create(static_cast<Backend>(7)); }),
            "Context::create: 7 is not a backend; choose Backend::Cpu or Backend::Cuda");
}

TEST(Context, CreateCudaSucceedsOrSaysWhy) {
  try {
    Context ctx = Context::create(Backend::Cuda);
    EXPECT_EQ(ctx.backend(), Backend::Cuda);
    std::cout << "cuda backend: " << ctx.description() << std::endl;
  } catch (const Error& e) {
    const std::string message = e.what();
    std::cout << "cuda backend unavailable: " << message << std::endl;
    EXPECT_NE(message.find("cuda"), std::string::npos) << message;
    EXPECT_NE(message.find(": "), std::string::npos) << "no reason given: " << message;
  }
}

TEST(Context, EnvironmentChoosesTheBackend) {
  {
    ScopedBackendEnv env("cpu");
    EXPECT_EQ(Context::create().backend(), Backend::Cpu);
  }
  {
    ScopedBackendEnv env("metal");
    try {
      (void)Context::create();
      ADD_FAILURE() << "MT_BACKEND=metal was accepted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("metal"), std::string::npos) << message;
      EXPECT_NE(message.find("cpu"), std::string::npos) << message;
      EXPECT_NE(message.find("cuda"), std::string::npos) << message;
    }
  }
  {
    ScopedBackendEnv env(nullptr);
    // Without the variable: CUDA exactly when it can be created, else the CPU.
    bool cuda_usable = true;
    try {
      (void)Context::create(Backend::Cuda);
    } catch (const Error&) {
      cuda_usable = false;
    }
    EXPECT_EQ(Context::create().backend(), cuda_usable ? Backend::Cuda : Backend::Cpu);
  }
}

TEST(Context, DispatchReturnsOutputsOnlyAndLeavesTheCallerBuffersAlone) {
  test::for_each_backend([](Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      SCOPED_TRACE(std::string(name_of(t)));
      const std::size_t len = 70, n = 61;  // the tail past n stays poisoned
      const std::vector<float> src = test::round_all(ramp(len, 0.37f), t);
      const BufferMap buffers = scale_buffers(t, src, len, n, 1.5f);
      const DispatchResult r =
          ctx.dispatch_with_grid(scale_kernel(t), buffers, {}, {3, 1, 1}, {32, 1, 1});

      ASSERT_EQ(r.outputs.size(), 1u);
      ASSERT_EQ(r.outputs.count("out"), 1u);
      const Bytes& out = r.outputs.at("out");
      ASSERT_EQ(out.size(), len * size_of(t));
      std::vector<float> expected(n);
      for (std::size_t i = 0; i < n; ++i) expected[i] = round_to(t, src[i] * 1.5f);
      const std::vector<float> got = test::unpack(out, t);
      test::expect_close(std::span(got).first(n), expected, 0.0, 0.0, "scaled elements");
      // Elements no thread wrote keep the caller's bytes: outputs start as a copy.
      EXPECT_TRUE(std::equal(out.begin() + n * size_of(t), out.end(),
                             buffers.at("out").begin() + n * size_of(t)));
      // The caller's map is const and stays poisoned.
      EXPECT_EQ(buffers.at("out"), test::poisoned(len, t));
      EXPECT_GE(r.elapsed_us, 0.0);
    }
  });
}

TEST(Context, GridCountsThreadgroupsAndProgramIdIsTheGlobalThreadIndex) {
  test::for_each_backend([](Context& ctx) {
    const std::uint32_t groups_x = 3, groups_y = 5, tpg_x = 4, tpg_y = 2;
    const std::uint32_t width = groups_x * tpg_x, height = groups_y * tpg_y;
    BufferMap buffers;
    buffers["out"] = test::poisoned(width * height, DType::U32);
    buffers["width"] = test::le_bytes(width);
    buffers["bias"] = test::le_bytes(std::int32_t{-7});
    const DispatchResult r = ctx.dispatch_with_grid(coords_kernel(), buffers, {},
                                                    {groups_x, groups_y, 1}, {tpg_x, tpg_y, 1});
    std::vector<std::uint32_t> expected(width * height);
    for (std::uint32_t y = 0; y < height; ++y) {
      for (std::uint32_t x = 0; x < width; ++x) expected[y * width + x] = x * 1000 + y - 7;
    }
    test::expect_equal(test::unpack_u32(r.outputs.at("out")), expected, "coords");
  });
}

TEST(Context, ConstsSpecialiseScalarsLikeTheirBuffers) {
  test::for_each_backend([](Context& ctx) {
    const std::vector<float> src = ramp(40, 0.25f);
    BufferMap by_buffer = scale_buffers(DType::F32, src, 40, 33, -2.0f);
    BufferMap by_const = by_buffer;
    by_const.erase("n");
    by_const.erase("scale");
    const ConstMap consts{{"n", std::uint32_t{33}}, {"scale", -2.0f}};
    const Kernel k = scale_kernel(DType::F32);
    const DispatchResult a = ctx.dispatch_with_grid(k, by_buffer, {}, {2, 1, 1}, {32, 1, 1});
    const DispatchResult b = ctx.dispatch_with_grid(k, by_const, consts, {2, 1, 1}, {32, 1, 1});
    EXPECT_EQ(a.outputs.at("out"), b.outputs.at("out"));
    const std::vector<float> got = test::unpack(b.outputs.at("out"), DType::F32);
    std::vector<float> expected(33);
    for (std::size_t i = 0; i < 33; ++i) expected[i] = src[i] * -2.0f;
    test::expect_close(std::span(got).first(33), expected, 0.0, 0.0, "specialised scale");
  });
}

TEST(Context, SignedConstSpecialisesAnI32Scalar) {
  test::for_each_backend([](Context& ctx) {
    BufferMap buffers;
    buffers["out"] = test::poisoned(8, DType::U32);
    buffers["width"] = test::le_bytes(std::uint32_t{8});
    const DispatchResult r = ctx.dispatch_with_grid(
        coords_kernel(), buffers, {{"bias", std::int32_t{-2}}}, {1, 1, 1}, {8, 1, 1});
    std::vector<std::uint32_t> expected(8);
    for (std::uint32_t x = 0; x < 8; ++x) expected[x] = x * 1000 - 2;
    test::expect_equal(test::unpack_u32(r.outputs.at("out")), expected, "coords with bias const");
  });
}

TEST(CompileCache, SameDispatchCompilesOnce) {
  auto backend = std::make_shared<CountingBackend>();
  Context ctx(backend);
  const BufferMap buffers = scale_buffers(DType::F32, ramp(32, 1.0f), 32, 32, 3.0f);
  const Kernel k = scale_kernel(DType::F32);
  const DispatchResult first = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
  // A second trace of the same kernel prints the same IR: it shares the entry too.
  const DispatchResult second =
      ctx.dispatch_with_grid(scale_kernel(DType::F32), buffers, {}, {4, 1, 1}, {8, 1, 1});
  EXPECT_EQ(backend->compiles, 1);
  EXPECT_EQ(backend->launches, 2);
  EXPECT_EQ(first.outputs.at("out"), second.outputs.at("out"));
  // A copy of the context shares its cache.
  Context copy = ctx;
  (void)copy.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
  EXPECT_EQ(backend->compiles, 1);
}

TEST(CompileCache, KeyHoldsIrModeAndSpecialisation) {
  auto backend = std::make_shared<CountingBackend>();
  Context ctx(backend);
  BufferMap buffers = scale_buffers(DType::F32, ramp(16, 1.0f), 16, 16, 3.0f);
  buffers.erase("n");
  Kernel k = scale_kernel(DType::F32);
  auto dispatch = [&](const Kernel& kernel, std::uint32_t n) {
    (void)ctx.dispatch_with_grid(kernel, buffers, {{"n", n}}, {1, 1, 1}, {16, 1, 1});
  };
  dispatch(k, 16);
  EXPECT_EQ(backend->compiles, 1);
  dispatch(k, 16);
  EXPECT_EQ(backend->compiles, 1) << "same specialisation must hit the cache";
  dispatch(k, 8);
  EXPECT_EQ(backend->compiles, 2) << "another const value is another executable";
  dispatch(scale_kernel(DType::F16), 16);  // F16 kernel but F32 buffers: 16 f32 = 32 f16
  EXPECT_EQ(backend->compiles, 3) << "other IR is another executable";
  k.mode = KernelMode::Elementwise;
  dispatch(k, 16);
  EXPECT_EQ(backend->compiles, 4) << "the mode is part of the key";
  // The specialised parameter is gone from what the backend compiled.
  const Kernel compiled = backend->last_compiled();
  EXPECT_FALSE(compiled.find_param("n").valid());
  EXPECT_TRUE(compiled.find_param("scale").valid());
}

TEST(CompileCache, FailedCompileIsNotCached) {
  auto backend = std::make_shared<CountingBackend>();
  Context ctx(backend);
  const BufferMap buffers = scale_buffers(DType::F32, ramp(8, 1.0f), 8, 8, 2.0f);
  backend->fail_compiles = 1;
  EXPECT_THROW(ctx.dispatch_with_grid(scale_kernel(DType::F32), buffers, {}, {1, 1, 1}, {8, 1, 1}),
               Error);
  const DispatchResult r =
      ctx.dispatch_with_grid(scale_kernel(DType::F32), buffers, {}, {1, 1, 1}, {8, 1, 1});
  EXPECT_EQ(backend->compiles, 2);
  const std::vector<float> src = ramp(8, 1.0f);
  std::vector<float> expected(8);
  for (std::size_t i = 0; i < 8; ++i) expected[i] = src[i] * 2.0f;
  test::expect_close(test::unpack(r.outputs.at("out"), DType::F32), expected, 0.0, 0.0,
                     "after a failed compile");
}

TEST(CompileCache, RejectedDispatchCompilesNothing) {
  auto backend = std::make_shared<CountingBackend>();
  Context ctx(backend);
  BufferMap buffers = scale_buffers(DType::F32, ramp(8, 1.0f), 8, 8, 2.0f);
  buffers.erase("src");
  EXPECT_THROW(ctx.dispatch_with_grid(scale_kernel(DType::F32), buffers, {}, {1, 1, 1}, {8, 1, 1}),
               Error);
  EXPECT_EQ(backend->compiles, 0);
  EXPECT_EQ(backend->launches, 0);
}

}  // namespace
}  // namespace mt
