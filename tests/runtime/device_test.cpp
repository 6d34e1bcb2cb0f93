// The device-resident API on every available backend: buffers (upload/download, offsets, range
// errors), prepare + launch + synchronize, launch misuse followed by a good launch, run-time
// access errors reported at synchronize, graph capture and replay, and concurrent streams.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <iostream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::Bytes;
using test::error_of;
using test::expect_mentions;

constexpr std::size_t kLen = 100;
constexpr std::array<std::size_t, 3> kGrid{4, 1, 1}, kTpg{32, 1, 1};  // 128 threads >= kLen

// out[i] = src[i] * scale for i < n; requires 1 <= n <= len(out) (a contract on a tensor length).
Kernel scaler() {
  return trace("scaler", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val scale = b.scalar_f32("scale");
    b.require(n >= 1u, "n >= 1");
    b.require(n <= out.len(), "n <= len(out)");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = src[i] * scale; });
  });
}

// out[i] = op(src[i], c) for i < n: the steps of the captured graph.
Kernel elementwise(const std::string& name, const std::function<Val(Val, Val)>& op) {
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val c = b.scalar_f32("c");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = op(src[i], c); });
  });
}

// Exactly representable inputs, so every expected value below is exact in f32.
std::vector<float> source(std::size_t n, float offset) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.25f * float(i) - 7.5f + offset;
  return v;
}

std::vector<float> download_f32(const DeviceBuffer& b) {
  return test::unpack(b.download(), DType::F32);
}

// Buffers for scaler(): src = source(kLen, 0), out poisoned, both of kLen f32 elements.
struct ScalerBuffers {
  explicit ScalerBuffers(const Context& ctx)
      : src(ctx.upload(test::pack(source(kLen, 0.0f), DType::F32))),
        out(ctx.upload(test::poisoned(kLen, DType::F32))) {}
  DeviceBindings bindings(std::uint32_t n, float scale) const {
    return {{"src", src}, {"out", out}, {"n", n}, {"scale", scale}};
  }
  DeviceBuffer src, out;
};

// Launches scaler() with n elements and `scale` on `stream`, synchronises and checks out:
// src * scale below n, the poison above it.
void expect_good_launch(const Context& ctx, const PreparedKernel& k, const Stream& stream,
                        std::uint32_t n, float scale, const std::string& label) {
  ScalerBuffers b(ctx);
  ctx.launch(k, b.bindings(n, scale), kGrid, kTpg, stream);
  stream.synchronize();
  const std::vector<float> src = source(kLen, 0.0f);
  const std::vector<float> got = download_f32(b.out);
  ASSERT_EQ(got.size(), kLen) << label;
  std::vector<float> expected(n);
  for (std::size_t i = 0; i < n; ++i) expected[i] = src[i] * scale;
  test::expect_close(std::span(got).first(n), expected, 0.0, 0.0, label);
  const Bytes bytes = b.out.download();
  const Bytes tail(bytes.begin() + std::ptrdiff_t{n} * 4, bytes.end());
  EXPECT_EQ(tail, test::poisoned(kLen - n, DType::F32))
      << label << ": elements at or past n were written";
}

TEST(DeviceBuffer, UploadDownloadRoundTripWithOffsets) {
  test::for_each_backend([](Context& ctx) {
    Bytes pattern(64);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::uint8_t(i * 7 + 3);
    DeviceBuffer buf = ctx.allocate(64);
    ASSERT_TRUE(buf.valid());
    EXPECT_EQ(buf.size(), 64u);
    buf.upload(pattern);
    EXPECT_EQ(buf.download(), pattern);

    // A write at an offset changes exactly those bytes; a read at an offset returns them.
    const Bytes patch{0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7};
    buf.upload(patch, 16);
    Bytes expected = pattern;
    std::copy(patch.begin(), patch.end(), expected.begin() + 16);
    EXPECT_EQ(buf.download(), expected);
    Bytes part(8);
    buf.download(part, 16);
    EXPECT_EQ(part, patch);
    Bytes last(4);
    buf.download(last, 60);  // ends exactly at the end
    EXPECT_EQ(last, Bytes(expected.begin() + 60, expected.end()));

    // Context::upload allocates exactly the bytes given.
    DeviceBuffer copy = ctx.upload(pattern);
    EXPECT_EQ(copy.size(), pattern.size());
    EXPECT_EQ(copy.download(), pattern);
  });
}

// More memory than any device has is an mt::Error (the CPU backend's std::bad_alloc used to
// escape), and the context allocates normally afterwards.
TEST(DeviceBuffer, AllocatingTooMuchIsAnError) {
  test::for_each_backend([](Context& ctx) {
    const std::string what = error_of([&] { ctx.allocate(SIZE_MAX); });
    expect_mentions(what, {"18446744073709551615 bytes"});
    EXPECT_EQ(ctx.allocate(16).size(), 16u);
  });
}

TEST(DeviceBuffer, OutOfRangeCopiesAreErrorsAndChangeNothing) {
  test::for_each_backend([](Context& ctx) {
    Bytes pattern(64);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::uint8_t(255 - i);
    DeviceBuffer buf = ctx.upload(pattern);
    const Bytes eight(8, 0x11);
    Bytes out(8);
    expect_mentions(error_of([&] { buf.upload(eight, 60); }), {"8 bytes", "offset 60", "64"});
    expect_mentions(error_of([&] { buf.upload(Bytes(65)); }), {"65 bytes", "64"});
    expect_mentions(error_of([&] { buf.download(out, 57); }), {"8 bytes", "offset 57", "64"});
    // An offset past the end, even with nothing to copy.
    expect_mentions(error_of([&] { buf.download(std::span<std::uint8_t>(), 65); }), {"offset 65"});
    // A huge offset must not wrap around the bounds check.
    expect_mentions(error_of([&] { buf.upload(eight, std::size_t(-4)); }), {"out of range"});
    EXPECT_EQ(buf.download(), pattern) << "a failed copy wrote bytes";

    // An empty (default-constructed) buffer is an error, not a crash.
    DeviceBuffer empty;
    EXPECT_FALSE(empty.valid());
    EXPECT_EQ(empty.size(), 0u);
    expect_mentions(error_of([&] { empty.upload(eight); }), {"empty", "Context::allocate"});
  });
}

TEST(DeviceLaunch, PrepareLaunchSynchronizeGivesTheResults) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel k = ctx.prepare(scaler());
    EXPECT_EQ(k.kernel().name, "scaler");
    const Stream stream = ctx.create_stream();
    expect_good_launch(ctx, k, stream, 93, 1.5f, "n=93, scale=1.5");
    expect_good_launch(ctx, k, stream, kLen, -2.0f, "n=100, scale=-2");

    // A specialised scalar is baked in and not bound at launch.
    const PreparedKernel special = ctx.prepare(scaler(), {{"scale", 0.5f}});
    ScalerBuffers b(ctx);
    ctx.launch(special, {{"src", b.src}, {"out", b.out}, {"n", std::uint32_t{kLen}}}, kGrid, kTpg,
               stream);
    stream.synchronize();
    const std::vector<float> src = source(kLen, 0.0f);
    std::vector<float> expected(kLen);
    for (std::size_t i = 0; i < kLen; ++i) expected[i] = src[i] * 0.5f;
    test::expect_close(download_f32(b.out), expected, 0.0, 0.0, "specialised scale=0.5");
  });
}

TEST(DeviceLaunch, MisuseIsAnErrorAndTheNextLaunchWorks) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel k = ctx.prepare(scaler());
    const PreparedKernel special = ctx.prepare(scaler(), {{"n", std::uint32_t{kLen}}});
    const Stream stream = ctx.create_stream();
    ScalerBuffers b(ctx);
    const DeviceBuffer ragged = ctx.allocate(kLen * 4 - 2);
    const DeviceBuffer short_out = ctx.upload(test::poisoned(40, DType::F32));
    const Context other = Context::create(ctx.backend());
    const DeviceBuffer foreign = other.upload(test::pack(source(kLen, 0.0f), DType::F32));

    struct Case {
      std::string label;
      std::function<void()> launch;
      std::vector<std::string> parts;
    };
    const auto with = [&](const std::string& name, const DeviceArg& arg) {
      DeviceBindings bindings = b.bindings(kLen, 2.0f);
      bindings.insert_or_assign(name, arg);
      return bindings;
    };
    const auto launch = [&](const DeviceBindings& bindings) {
      return [&ctx, &k, &stream, bindings] { ctx.launch(k, bindings, kGrid, kTpg, stream); };
    };
    DeviceBindings missing = b.bindings(kLen, 2.0f);
    missing.erase("src");
    const std::vector<Case> cases = {
        {"missing binding", launch(missing), {"param 'src'", "missing binding"}},
        {"wrong scalar type", launch(with("n", std::int32_t{kLen})), {"param 'n'", "i32", "u32"}},
        {"float for a u32", launch(with("n", 100.0f)), {"param 'n'", "f32", "u32"}},
        {"size not a multiple", launch(with("src", ragged)), {"param 'src'", "multiple"}},
        {"unknown name", launch(with("scr", b.src)), {"unknown binding 'scr'", "src", "out"}},
        {"unknown name before a missing one",
         [&] {
           DeviceBindings typo = missing;
           typo.emplace("scr", b.src);
           ctx.launch(k, typo, kGrid, kTpg, stream);
         },
         {"unknown binding 'scr'"}},
        {"value for a tensor", launch(with("out", 1.0f)), {"param 'out'", "DeviceBuffer"}},
        {"buffer for a scalar", launch(with("scale", b.src)), {"param 'scale'", "DeviceBuffer"}},
        {"empty buffer", launch(with("src", DeviceBuffer())), {"param 'src'", "empty"}},
        {"failed contract", launch(with("n", std::uint32_t{0})), {"param 'n'", "n >= 1"}},
        {"contract on a length",
         launch(with("out", short_out)),
         {"param 'n'", "n <= len(out)", "len(out)=40"}},
        {"buffer of another context", launch(with("src", foreign)), {"param 'src'", "another"}},
        {"specialised bound again",
         [&] { ctx.launch(special, b.bindings(kLen, 2.0f), kGrid, kTpg, stream); },
         {"param 'n'", "specialised"}},
        {"zero grid",
         [&] {
           ctx.launch(k, b.bindings(kLen, 2.0f), {0, 1, 1}, kTpg, stream);
         },
         {"grid", "axis 0"}},
        {"kernel of another context",
         [&] { ctx.launch(other.prepare(scaler()), b.bindings(kLen, 2.0f), kGrid, kTpg, stream); },
         {"prepared by another Context"}},
        {"stream of another context",
         [&] { ctx.launch(k, b.bindings(kLen, 2.0f), kGrid, kTpg, other.create_stream()); },
         {"another Context"}},
    };
    for (const Case& c : cases) {
      SCOPED_TRACE(c.label);
      const std::string message = error_of(c.launch);
      std::cout << "  " << c.label << ": " << message << std::endl;
      std::vector<std::string> parts{"kernel 'scaler'"};
      parts.insert(parts.end(), c.parts.begin(), c.parts.end());
      expect_mentions(message, parts);
      EXPECT_NO_THROW(stream.synchronize()) << "a rejected launch left an error in the stream";
      EXPECT_EQ(b.out.download(), test::poisoned(kLen, DType::F32)) << "a rejected launch ran";
      expect_good_launch(ctx, k, stream, 61, 3.0f, "after: " + c.label);
    }
  });
}

TEST(DeviceLaunch, OutOfBoundsAccessIsReportedAtSynchronize) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel k = ctx.prepare(scaler());
    const Stream stream = ctx.create_stream();
    ScalerBuffers b(ctx);
    // The contract checks out's length, not src's: 100 threads read a 40-element src.
    const DeviceBuffer short_src = ctx.upload(test::pack(source(40, 0.0f), DType::F32));
    DeviceBindings bindings = b.bindings(kLen, 2.0f);
    bindings["src"] = short_src;
    EXPECT_NO_THROW(ctx.launch(k, bindings, kGrid, kTpg, stream))
        << "an access error must wait for synchronize";
    const std::string message = error_of([&] { stream.synchronize(); });
    std::cout << "  at synchronize: " << message << std::endl;
    expect_mentions(message, {"kernel 'scaler'", "param 'src'"});
    if (ctx.backend() == Backend::Cpu) {
      // The interpreter's own message: the first failing index, in group order.
      expect_mentions(message, {"load index 40 out of bounds (40 elements)"});
    }
    // The error is reported once; the stream then works as before.
    EXPECT_NO_THROW(stream.synchronize());
    expect_good_launch(ctx, k, stream, 77, 0.25f, "after the access error");
  });
}

TEST(DeviceGraph, CapturedSequenceReplaysOnFreshInputs) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel add = ctx.prepare(elementwise("add", [](Val a, Val c) { return a + c; }));
    const PreparedKernel mul = ctx.prepare(elementwise("mul", [](Val a, Val c) { return a * c; }));
    const PreparedKernel sub = ctx.prepare(elementwise("sub", [](Val a, Val c) { return a - c; }));
    const Stream stream = ctx.create_stream();
    const DeviceBuffer x = ctx.allocate(kLen * 4);
    const DeviceBuffer y = ctx.upload(test::poisoned(kLen, DType::F32));
    const DeviceBuffer z = ctx.upload(test::poisoned(kLen, DType::F32));
    const DeviceBuffer w = ctx.upload(test::poisoned(kLen, DType::F32));
    const std::uint32_t n = kLen;

    // y = x + 1, z = y * 2, w = z - 3: each launch reads what the one before wrote.
    const Graph graph = ctx.capture(stream, [&] {
      ctx.launch(add, {{"src", x}, {"out", y}, {"n", n}, {"c", 1.0f}}, kGrid, kTpg, stream);
      ctx.launch(mul, {{"src", y}, {"out", z}, {"n", n}, {"c", 2.0f}}, kGrid, kTpg, stream);
      ctx.launch(sub, {{"src", z}, {"out", w}, {"n", n}, {"c", 3.0f}}, kGrid, kTpg, stream);
    });
    stream.synchronize();
    EXPECT_EQ(w.download(), test::poisoned(kLen, DType::F32)) << "capturing ran the launches";

    for (int replay = 0; replay < 3; ++replay) {
      SCOPED_TRACE("replay " + std::to_string(replay));
      // New inputs each time: the graph must read x's memory, not values seen at capture.
      const std::vector<float> in = source(kLen, 16.0f * float(replay));
      x.upload(test::pack(in, DType::F32));
      graph.replay(stream);
      stream.synchronize();
      std::vector<float> ey(kLen), ez(kLen), ew(kLen);
      for (std::size_t i = 0; i < kLen; ++i) {
        ey[i] = in[i] + 1.0f;
        ez[i] = ey[i] * 2.0f;
        ew[i] = ez[i] - 3.0f;
      }
      test::expect_close(download_f32(y), ey, 0.0, 0.0, "y = x + 1");
      test::expect_close(download_f32(z), ez, 0.0, 0.0, "z = y * 2");
      test::expect_close(download_f32(w), ew, 0.0, 0.0, "w = z - 3");
    }
  });
}

TEST(DeviceGraph, AnErrorWhileRecordingEndsTheCapture) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel k = ctx.prepare(scaler());
    const Stream stream = ctx.create_stream();
    ScalerBuffers b(ctx);
    const std::string message = error_of([&] {
      (void)ctx.capture(stream, [&] {
        ctx.launch(k, b.bindings(kLen, 2.0f), kGrid, kTpg, stream);
        ctx.launch(k, b.bindings(0, 2.0f), kGrid, kTpg, stream);  // fails its contract
      });
    });
    expect_mentions(message, {"kernel 'scaler'", "param 'n'", "n >= 1"});
    // The stream left capture mode: it synchronises and runs launches again.
    EXPECT_NO_THROW(stream.synchronize());
    expect_good_launch(ctx, k, stream, 50, 4.0f, "after the failed capture");
  });
}

TEST(DeviceStream, TwoThreadsWithTheirOwnStreams) {
  test::for_each_backend([](Context& ctx) {
    const PreparedKernel k = ctx.prepare(scaler());
    constexpr int kThreads = 2, kRounds = 12;
    std::vector<std::string> failures(kThreads);
    const auto work = [&](int t) {
      try {
        const Stream stream = ctx.create_stream();
        ScalerBuffers b(ctx);
        const std::vector<float> src = source(kLen, 0.0f);
        for (int r = 0; r < kRounds; ++r) {
          const float scale = float(t * 100 + r) * 0.5f;
          ctx.launch(k, b.bindings(kLen, scale), kGrid, kTpg, stream);
          stream.synchronize();
          const std::vector<float> got = download_f32(b.out);
          for (std::size_t i = 0; i < kLen; ++i) {
            if (got[i] != src[i] * scale) {
              failures[t] = "thread " + std::to_string(t) + " round " + std::to_string(r) +
                            " index " + std::to_string(i) + ": expected " +
                            std::to_string(src[i] * scale) + ", got " + std::to_string(got[i]);
              return;
            }
          }
        }
      } catch (const std::exception& e) {
        failures[t] = "thread " + std::to_string(t) + " threw: " + e.what();
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(work, t);
    for (std::thread& th : threads) th.join();
    for (const std::string& f : failures) EXPECT_TRUE(f.empty()) << f;
  });
}

}  // namespace
}  // namespace mt
