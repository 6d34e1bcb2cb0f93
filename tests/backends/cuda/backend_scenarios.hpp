// Scenarios for the CUDA backend, run on a real GPU (cuda_backend_test.cpp) and on the
// host-memory fake driver (fake_driver_test.cpp): results equal to the interpreter's, a checked
// access error followed by a good launch, unchecked mode, compile-cache hits, specialisation
// equal to runtime scalars, the device-resident API naming the failing launch, graph capture and
// replay, copies and events, and concurrent launches.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "metaltile/backends/cuda.hpp"
#include "metaltile/metaltile.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::cuda_scenarios {

using test::Bytes;
using test::error_of;
using Dims = std::array<std::size_t, 3>;

struct Made {
  std::shared_ptr<KernelBackend> backend;
  Context ctx;
};
// Makes a Context on the backend under test, checked or not.
using Factory = std::function<Made(bool checked)>;

// Points MT_CACHE_DIR at a fresh directory for the life of the object (the whole test
// process), so compile-cache counts do not depend on earlier runs; removes it afterwards.
class ScratchCacheDir {
 public:
  ScratchCacheDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "mt_cuda_cache_XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
      setenv("MT_CACHE_DIR", path_.c_str(), 1);
    }
  }
  ~ScratchCacheDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }

 private:
  std::string path_;
};

constexpr std::size_t kLen = 100;
constexpr Dims kGrid{4, 1, 1}, kTpg{32, 1, 1};  // 128 threads >= kLen

// out[i] = src[i] * scale for i < n; requires 1 <= n <= len(out) (not len(src): a short src is
// caught only by the run-time guards).
inline Kernel scaler() {
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

// out[i] = op(src[i], c) for i < n.
inline Kernel elementwise(const std::string& name, const std::function<Val(Val, Val)>& op) {
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val c = b.scalar_f32("c");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = op(src[i], c); });
  });
}
inline Kernel add_kernel() {
  return elementwise("add", [](Val a, Val c) { return a + c; });
}
inline Kernel mul_kernel() {
  return elementwise("mul", [](Val a, Val c) { return a * c; });
}
inline Kernel sub_kernel() {
  return elementwise("sub", [](Val a, Val c) { return a - c; });
}

// Exactly representable inputs, so every expected value below is exact in f32.
inline std::vector<float> source(std::size_t n, float offset = 0.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.25f * float(i) - 7.5f + offset;
  return v;
}
inline Bytes f32_bytes(const std::vector<float>& v) { return test::pack(v, DType::F32); }
inline std::vector<float> f32_of(const Bytes& b) { return test::unpack(b, DType::F32); }

inline bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Byte-exact comparison; a failure shows the first mismatching 32-bit words.
inline void expect_same_bytes(const Bytes& actual, const Bytes& expected,
                              const std::string& label) {
  ASSERT_EQ(actual.size(), expected.size()) << label;
  int shown = 0;
  for (std::size_t i = 0; i < actual.size() && shown < 10; i += 4) {
    const std::size_t n = std::min<std::size_t>(4, actual.size() - i);
    if (std::equal(actual.begin() + std::ptrdiff_t(i), actual.begin() + std::ptrdiff_t(i + n),
                   expected.begin() + std::ptrdiff_t(i))) {
      continue;
    }
    std::uint32_t a = 0, e = 0;
    for (std::size_t j = 0; j < n; ++j) {
      a |= std::uint32_t{actual[i + j]} << (8 * j);
      e |= std::uint32_t{expected[i + j]} << (8 * j);
    }
    ADD_FAILURE() << label << ": bytes " << i << ".." << i + n - 1 << ": expected 0x" << std::hex
                  << e << ", got 0x" << a << std::dec;
    ++shown;
  }
}

// --- KV-cache cases ----------------------------------------------------------------------------

struct Case {
  Kernel kernel;
  BufferMap buffers;
  Dims grid{1, 1, 1}, tpg{64, 1, 1};
};

// A small cache (2 heads, max_seq 8, head_dim 64, groups of 32) with random contents.
inline Case kv_case(const std::string& name, DType t, std::mt19937& rng) {
  constexpr std::uint32_t heads = 2, max_seq = 8, head_dim = 64, group = 32, position = 3,
                          n_positions = 5;
  std::uniform_real_distribution<float> value(-4.0f, 4.0f), scale(0.01f, 0.1f);
  const auto values = [&](std::size_t n, std::uniform_real_distribution<float>& d) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return test::pack(v, t);
  };
  // Random code words; with `fp8`, every byte a finite code of both formats (magnitude below
  // 0x7C: E5M2 uses 0x7C..0x7F for inf and NaN, E4M3 0x7F for NaN), since NaN payloads may
  // differ between the GPU and the interpreter.
  const auto words = [&](std::size_t n, bool fp8) {
    std::vector<std::uint32_t> w(n);
    for (std::uint32_t& x : w) {
      x = static_cast<std::uint32_t>(rng());
      if (!fp8) continue;
      std::uint32_t finite = 0;
      for (int b = 0; b < 4; ++b) {
        const std::uint32_t byte = (x >> (8 * b)) & 0xFF;
        finite |= ((byte & 0x80) | ((byte & 0x7F) % 0x7C)) << (8 * b);
      }
      x = finite;
    }
    return test::pack_u32(w);
  };
  const std::size_t token = std::size_t{heads} * head_dim, cache = token * max_seq;
  const std::size_t groups = cache / group;
  Case c{build_kernel(name, t), {}, {1, 1, 1}, {64, 1, 1}};
  BufferMap& b = c.buffers;
  b["head_dim"] = test::le_bytes(head_dim);
  b["max_seq"] = test::le_bytes(max_seq);
  std::size_t threads = 0;
  if (name == "kv_cache_update") {
    b["src"] = values(token, value);
    b["out"] = test::poisoned(cache, t);
    b["position"] = test::le_bytes(position);
    threads = token;
  } else if (name.starts_with("quantize_kv_")) {
    const bool fp8 = name.find("fp8") != std::string::npos;
    const std::size_t vpp = fp8 ? 4 : (name.ends_with("int4") ? 8 : 4);
    b["src"] = values(token, value);
    b["out_w"] = test::poisoned(cache / vpp, DType::U32);
    b["out_s"] = test::poisoned(groups, t);
    if (!fp8) b["out_b"] = test::poisoned(groups, t);
    b["group_size"] = test::le_bytes(group);
    b["position"] = test::le_bytes(position);
    threads = token / group;
  } else {  // bulk_dequant_kv_*
    const bool fp8 = name.find("fp8") != std::string::npos;
    const std::size_t vpp = fp8 ? 4 : (name.ends_with("int4") ? 8 : 4);
    b["in_w"] = words(cache / vpp, fp8);
    b["in_s"] = values(groups, scale);
    if (!fp8) b["in_b"] = values(groups, value);
    b["out"] = test::poisoned(cache, t);
    b["group_size"] = test::le_bytes(group);
    b["n_positions"] = test::le_bytes(n_positions);
    threads = cache;
  }
  c.grid = {(threads + 63) / 64, 1, 1};
  return c;
}

inline const std::vector<std::string>& kv_kernels() {
  static const std::vector<std::string> names = {
      "kv_cache_update",          "quantize_kv_int4",        "quantize_kv_int8",
      "quantize_kv_fp8_e4m3",     "bulk_dequant_kv_int4",    "bulk_dequant_kv_int8",
      "bulk_dequant_kv_fp8_e4m3", "bulk_dequant_kv_fp8_e5m2"};
  return names;
}

// --- scenarios ---------------------------------------------------------------------------------

// Every output byte equals the interpreter's, for KV-cache kernels on every dtype and for a
// kernel with a float scalar.
inline void results_match_interpreter(const Factory& make) {
  Made cuda = make(true);
  const Context cpu = Context::create(Backend::Cpu);
  std::mt19937 rng(20240611);
  for (const std::string& name : kv_kernels()) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::string label = name + " " + std::string(name_of(t));
      SCOPED_TRACE(label);
      const Case c = kv_case(name, t, rng);
      const DispatchResult want = cpu.dispatch_with_grid(c.kernel, c.buffers, {}, c.grid, c.tpg);
      const DispatchResult got =
          cuda.ctx.dispatch_with_grid(c.kernel, c.buffers, {}, c.grid, c.tpg);
      ASSERT_EQ(got.outputs.size(), want.outputs.size());
      for (const auto& [out, bytes] : want.outputs) {
        expect_same_bytes(got.outputs.at(out), bytes, label + " " + out);
      }
    }
  }
  BufferMap b{{"src", f32_bytes(source(kLen))},
              {"out", test::poisoned(kLen, DType::F32)},
              {"n", test::le_bytes(std::uint32_t{kLen - 3})},
              {"scale", test::le_bytes(-1.5f)}};
  const DispatchResult want = cpu.dispatch_with_grid(scaler(), b, {}, kGrid, kTpg);
  const DispatchResult got = cuda.ctx.dispatch_with_grid(scaler(), b, {}, kGrid, kTpg);
  expect_same_bytes(got.outputs.at("out"), want.outputs.at("out"), "scaler");
}

// A specialised scalar gives the same bytes as the same value passed at run time.
inline void specialisation_equals_runtime_scalars(const Factory& make) {
  Made cuda = make(true);
  std::mt19937 rng(7);
  const Case c = kv_case("bulk_dequant_kv_int4", DType::F16, rng);
  BufferMap specialised = c.buffers;
  specialised.erase("head_dim");
  specialised.erase("group_size");
  const ConstMap consts{{"head_dim", std::uint32_t{64}}, {"group_size", std::uint32_t{32}}};
  const CudaCompileStats before = cuda_compile_stats();
  const DispatchResult runtime =
      cuda.ctx.dispatch_with_grid(c.kernel, c.buffers, {}, c.grid, c.tpg);
  const DispatchResult baked =
      cuda.ctx.dispatch_with_grid(c.kernel, specialised, consts, c.grid, c.tpg);
  expect_same_bytes(baked.outputs.at("out"), runtime.outputs.at("out"), "specialised vs runtime");
  const CudaCompileStats after = cuda_compile_stats();
  EXPECT_GE(after.compiles + after.disk_hits + after.memory_hits,
            before.compiles + before.disk_hits + before.memory_hits + 2)
      << "two kernels (runtime and specialised) should have gone through the cubin cache";
}

// A checked out-of-bounds load is an mt::Error naming kernel, param and index; no output comes
// back, and the next launch works. Returns the message.
inline std::string access_error_then_good_launch(const Factory& make) {
  Made cuda = make(true);
  BufferMap b{{"src", f32_bytes(source(40))},
              {"out", test::poisoned(kLen, DType::F32)},
              {"n", test::le_bytes(std::uint32_t{kLen})},
              {"scale", test::le_bytes(2.0f)}};
  const std::string message =
      error_of([&] { cuda.ctx.dispatch_with_grid(scaler(), b, {}, kGrid, kTpg); });
  for (const char* part : {"kernel 'scaler'", "param 'src'", "load index ",
                           "out of bounds (40 elements)", "at thread ("}) {
    EXPECT_TRUE(mentions(message, part)) << "missing '" << part << "' in: " << message;
  }
  b["src"] = f32_bytes(source(kLen));
  const DispatchResult r = cuda.ctx.dispatch_with_grid(scaler(), b, {}, kGrid, kTpg);
  std::vector<float> expected = source(kLen);
  for (float& x : expected) x *= 2.0f;
  test::expect_close(f32_of(r.outputs.at("out")), expected, 0.0, 0.0, "after the error");
  return message;
}

// Unchecked mode compiles other code (no guards) and gives the same results, on the byte map,
// a stream and a replayed graph (whose launches claim no error records: synchronize must still
// wait for them).
inline void unchecked_mode(const Factory& make) {
  Made unchecked = make(false);
  EXPECT_TRUE(mentions(unchecked.ctx.description(), "unchecked")) << unchecked.ctx.description();
  Made checked = make(true);
  EXPECT_FALSE(mentions(checked.ctx.description(), "unchecked")) << checked.ctx.description();
  std::mt19937 rng(99);
  for (const std::string& name :
       {std::string("quantize_kv_int4"), std::string("bulk_dequant_kv_int8")}) {
    const Case c = kv_case(name, DType::BF16, rng);
    const DispatchResult a = checked.ctx.dispatch_with_grid(c.kernel, c.buffers, {}, c.grid, c.tpg);
    const DispatchResult b =
        unchecked.ctx.dispatch_with_grid(c.kernel, c.buffers, {}, c.grid, c.tpg);
    for (const auto& [out, bytes] : a.outputs) {
      expect_same_bytes(b.outputs.at(out), bytes, name + " unchecked " + out);
    }
  }
  const Context& ctx = unchecked.ctx;
  const PreparedKernel add = ctx.prepare(add_kernel()), mul = ctx.prepare(mul_kernel());
  const Stream stream = ctx.create_stream();
  const DeviceBuffer x = ctx.upload(f32_bytes(source(kLen)));
  const DeviceBuffer y = ctx.upload(test::poisoned(kLen, DType::F32));
  const DeviceBuffer z = ctx.upload(test::poisoned(kLen, DType::F32));
  const std::uint32_t n = kLen;
  ctx.launch(add, {{"src", x}, {"out", y}, {"n", n}, {"c", 1.0f}}, kGrid, kTpg, stream);
  stream.synchronize();
  std::vector<float> expected = source(kLen);
  for (float& v : expected) v += 1.0f;
  test::expect_close(f32_of(y.download()), expected, 0.0, 0.0, "unchecked launch");
  const Graph graph = ctx.capture(stream, [&] {
    ctx.launch(mul, {{"src", y}, {"out", z}, {"n", n}, {"c", 4.0f}}, kGrid, kTpg, stream);
  });
  graph.replay(stream);
  stream.synchronize();
  for (float& v : expected) v *= 4.0f;
  test::expect_close(f32_of(z.download()), expected, 0.0, 0.0, "unchecked graph replay");
}

// prepare() compiles once per process, hits memory in another Context, and after the memory
// cache is cleared reads the cubin from disk (MT_CACHE_DIR points at a fresh directory).
inline void compile_cache_hits(const Factory& make) {
  static std::atomic<int> counter{0};
  const Kernel k =
      elementwise("cache_probe_" + std::to_string(getpid()) + "_" + std::to_string(counter++),
                  [](Val a, Val c) { return a * c + c; });
  const CudaCompileStats s0 = cuda_compile_stats();
  Made a = make(true);
  a.ctx.prepare(k);
  const CudaCompileStats s1 = cuda_compile_stats();
  EXPECT_EQ(s1.compiles, s0.compiles + 1);
  EXPECT_EQ(s1.disk_writes, s0.disk_writes + 1) << "cache dir " << s1.cache_dir;
  Made b = make(true);
  b.ctx.prepare(k);
  const CudaCompileStats s2 = cuda_compile_stats();
  EXPECT_EQ(s2.compiles, s1.compiles) << "a second Context recompiled";
  EXPECT_EQ(s2.memory_hits, s1.memory_hits + 1);
  clear_cuda_memory_cache();
  Made c = make(true);
  const PreparedKernel prepared = c.ctx.prepare(k);
  const CudaCompileStats s3 = cuda_compile_stats();
  EXPECT_EQ(s3.compiles, s2.compiles) << "the disk cache was not used";
  EXPECT_EQ(s3.disk_hits, s2.disk_hits + 1);
  // The cubin read from disk runs.
  const Stream stream = c.ctx.create_stream();
  const DeviceBuffer src = c.ctx.upload(f32_bytes(source(kLen)));
  const DeviceBuffer out = c.ctx.upload(test::poisoned(kLen, DType::F32));
  c.ctx.launch(prepared, {{"src", src}, {"out", out}, {"n", std::uint32_t{kLen}}, {"c", 2.0f}},
               kGrid, kTpg, stream);
  stream.synchronize();
  std::vector<float> expected = source(kLen);
  for (float& x : expected) x = x * 2.0f + 2.0f;
  test::expect_close(f32_of(out.download()), expected, 0.0, 0.0, "cubin from disk");
}

// prepare + launch + synchronize; an access error waits for synchronize, is reported once, and
// the stream then works.
inline void device_resident_errors_at_synchronize(const Factory& make) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel k = ctx.prepare(scaler());
  const Stream stream = ctx.create_stream();
  const DeviceBuffer src = ctx.upload(f32_bytes(source(kLen)));
  const DeviceBuffer out = ctx.upload(test::poisoned(kLen, DType::F32));
  ctx.launch(k, {{"src", src}, {"out", out}, {"n", std::uint32_t{kLen}}, {"scale", 0.5f}}, kGrid,
             kTpg, stream);
  stream.synchronize();
  std::vector<float> expected = source(kLen);
  for (float& x : expected) x *= 0.5f;
  test::expect_close(f32_of(out.download()), expected, 0.0, 0.0, "resident launch");

  const DeviceBuffer short_src = ctx.upload(f32_bytes(source(40)));
  EXPECT_NO_THROW(
      ctx.launch(k, {{"src", short_src}, {"out", out}, {"n", std::uint32_t{kLen}}, {"scale", 1.0f}},
                 kGrid, kTpg, stream))
      << "an access error must wait for synchronize";
  const std::string message = error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(mentions(message, "kernel 'scaler': param 'src': load index")) << message;
  EXPECT_TRUE(mentions(message, "out of bounds (40 elements)")) << message;
  EXPECT_NO_THROW(stream.synchronize()) << "an error must be reported once";
  const DeviceBuffer out2 = ctx.upload(test::poisoned(kLen, DType::F32));
  ctx.launch(k, {{"src", src}, {"out", out2}, {"n", std::uint32_t{kLen}}, {"scale", 0.5f}}, kGrid,
             kTpg, stream);
  stream.synchronize();
  test::expect_close(f32_of(out2.download()), expected, 0.0, 0.0, "after the error");
}

// Among several launches on a stream, synchronize names the first that failed.
inline void failing_launch_is_named(const Factory& make) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel add = ctx.prepare(add_kernel()), mul = ctx.prepare(mul_kernel()),
                       sub = ctx.prepare(sub_kernel());
  const Stream stream = ctx.create_stream();
  const DeviceBuffer x = ctx.upload(f32_bytes(source(kLen)));
  const DeviceBuffer short_x = ctx.upload(f32_bytes(source(40)));
  const DeviceBuffer y = ctx.allocate(kLen * 4), z = ctx.allocate(kLen * 4),
                     w = ctx.allocate(kLen * 4);
  const std::uint32_t n = kLen;
  const auto run = [&](const PreparedKernel& k, const DeviceBuffer& in, const DeviceBuffer& out) {
    ctx.launch(k, {{"src", in}, {"out", out}, {"n", n}, {"c", 1.0f}}, kGrid, kTpg, stream);
  };
  run(add, x, y);
  run(mul, short_x, z);
  run(sub, y, w);
  std::string message = error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(mentions(message, "kernel 'mul'")) << message;
  run(add, short_x, y);
  run(mul, short_x, z);
  message = error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(mentions(message, "kernel 'add'")) << "the first failure must win: " << message;
  EXPECT_NO_THROW(stream.synchronize());
}

// More checked launches than a stream has error records: the early collection keeps the first
// failure for synchronize.
inline void failure_survives_many_launches(const Factory& make, int launches) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel add = ctx.prepare(add_kernel()), mul = ctx.prepare(mul_kernel()),
                       sub = ctx.prepare(sub_kernel());
  const Stream stream = ctx.create_stream();
  const DeviceBuffer x = ctx.upload(f32_bytes(source(kLen)));
  const DeviceBuffer short_x = ctx.upload(f32_bytes(source(40)));
  const DeviceBuffer y = ctx.allocate(kLen * 4);
  const std::uint32_t n = kLen;
  for (int i = 0; i < launches; ++i) {
    const bool fail_first = i == 5, fail_last = i == launches - 2;
    const PreparedKernel& k = fail_first ? mul : (fail_last ? sub : add);
    ctx.launch(k,
               {{"src", fail_first || fail_last ? short_x : x}, {"out", y}, {"n", n}, {"c", 1.0f}},
               kGrid, kTpg, stream);
  }
  const std::string message = error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(mentions(message, "kernel 'mul'")) << message;
  EXPECT_NO_THROW(stream.synchronize());
}

// Capture three dependent launches, replay on fresh inputs; a failing node is named; a replay
// inside a capture joins it; an empty capture replays as nothing.
// One kernel of a chain that overlaps the kernel before it (dsl/kernel_overlap.hpp): thread 0
// of each group asks for the group's part of src in L2, every thread waits for the prior
// kernel, then out[i] = src[i] + 1.
inline Kernel overlap_step() {
  return trace("overlap_step", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    if_(thread_id(0) == 0u, [&] { prefetch_l2(src, i, threads_per_threadgroup(0)); });
    wait_for_prior_kernel();
    release_next_kernel();
    if_(i < n, [&] { out[i] = src[i] + 1.0f; });
  });
}

// 64 launches of overlap_step over two buffers in turn, each reading what the launch before
// wrote and overwriting what it read, run directly and as a replayed graph. A kernel that ran
// past its wait before the prior one ended would read a stale value; every element must end
// exactly 64 above where it started (n elements, exact in f32 below 2^21).
inline void overlapping_chain(const Factory& make, std::uint32_t n) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel step = ctx.prepare(overlap_step());
  const Stream stream = ctx.create_stream();
  const std::vector<float> start = source(n);
  const DeviceBuffer a = ctx.upload(f32_bytes(start));
  const DeviceBuffer b = ctx.upload(test::poisoned(n, DType::F32));
  const Dims tpg{256, 1, 1}, grid{(n + 255) / 256, 1, 1};
  const auto chain = [&] {
    for (int s = 0; s < 64; ++s) {
      const bool even = s % 2 == 0;
      ctx.launch(step, {{"src", even ? a : b}, {"out", even ? b : a}, {"n", n}}, grid, tpg, stream);
    }
  };
  const auto expect_added = [&](float added, const std::string& label) {
    std::vector<float> expected(start);
    for (float& v : expected) v += added;
    test::expect_close(f32_of(a.download()), expected, 0.0, 0.0, label);
  };
  chain();
  stream.synchronize();
  expect_added(64.0f, "direct launches");
  const Graph graph = ctx.capture(stream, chain);
  for (int replay = 1; replay <= 2; ++replay) {
    graph.replay(stream);
    stream.synchronize();
    expect_added(64.0f * float(replay + 1), "graph replay " + std::to_string(replay));
  }
}

inline void graph_capture_and_replay(const Factory& make) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel add = ctx.prepare(add_kernel()), mul = ctx.prepare(mul_kernel()),
                       sub = ctx.prepare(sub_kernel());
  const Stream stream = ctx.create_stream();
  const DeviceBuffer x = ctx.allocate(kLen * 4);
  const DeviceBuffer y = ctx.upload(test::poisoned(kLen, DType::F32));
  const DeviceBuffer z = ctx.upload(test::poisoned(kLen, DType::F32));
  const DeviceBuffer w = ctx.upload(test::poisoned(kLen, DType::F32));
  const DeviceBuffer v = ctx.upload(test::poisoned(kLen, DType::F32));
  const std::uint32_t n = kLen;
  const auto launch = [&](const PreparedKernel& k, const DeviceBuffer& in, const DeviceBuffer& out,
                          float c) {
    ctx.launch(k, {{"src", in}, {"out", out}, {"n", n}, {"c", c}}, kGrid, kTpg, stream);
  };
  const Graph graph = ctx.capture(stream, [&] {
    launch(add, x, y, 1.0f);
    launch(mul, y, z, 2.0f);
    launch(sub, z, w, 3.0f);
  });
  stream.synchronize();
  EXPECT_EQ(w.download(), test::poisoned(kLen, DType::F32)) << "capturing ran the launches";
  for (int replay = 0; replay < 3; ++replay) {
    const std::vector<float> in = source(kLen, 16.0f * float(replay));
    x.upload(f32_bytes(in));
    graph.replay(stream);
    stream.synchronize();
    std::vector<float> expected(kLen);
    for (std::size_t i = 0; i < kLen; ++i) expected[i] = (in[i] + 1.0f) * 2.0f - 3.0f;
    test::expect_close(f32_of(w.download()), expected, 0.0, 0.0,
                       "replay " + std::to_string(replay));
  }

  // A replay inside a capture: v = w + 1 after the three steps.
  const Graph outer = ctx.capture(stream, [&] {
    graph.replay(stream);
    launch(add, w, v, 1.0f);
  });
  const std::vector<float> in = source(kLen, -3.0f);
  x.upload(f32_bytes(in));
  outer.replay(stream);
  stream.synchronize();
  std::vector<float> expected(kLen);
  for (std::size_t i = 0; i < kLen; ++i) expected[i] = (in[i] + 1.0f) * 2.0f - 3.0f + 1.0f;
  test::expect_close(f32_of(v.download()), expected, 0.0, 0.0, "nested replay");

  // A node that fails is named at synchronize, once; the good graph still replays.
  const DeviceBuffer short_x = ctx.upload(f32_bytes(source(40)));
  const Graph failing = ctx.capture(stream, [&] {
    launch(add, x, y, 1.0f);
    launch(mul, short_x, z, 2.0f);
    launch(sub, z, w, 3.0f);
  });
  failing.replay(stream);
  failing.replay(stream);
  const std::string message = error_of([&] { stream.synchronize(); });
  EXPECT_TRUE(mentions(message, "kernel 'mul': param 'src'")) << message;
  EXPECT_NO_THROW(stream.synchronize());
  graph.replay(stream);
  EXPECT_NO_THROW(stream.synchronize());

  const Graph empty = ctx.capture(stream, [] {});
  empty.replay(stream);
  EXPECT_NO_THROW(stream.synchronize());
}

// Device-to-device copies (also inside a graph), range errors, and timing events.
inline void copies_and_events(const Factory& make) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  DeviceApi& backend = m.backend->device();
  const Stream stream = ctx.create_stream();
  Bytes pattern(1 << 20);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<std::uint8_t>(i * 13 + 1);
  const DeviceBuffer a = ctx.upload(pattern);
  const DeviceBuffer b = ctx.allocate(pattern.size());
  const DeviceBuffer c = ctx.allocate(pattern.size());
  auto& b_memory = const_cast<DeviceMemory&>(b.memory());
  auto& c_memory = const_cast<DeviceMemory&>(c.memory());
  const std::shared_ptr<EventHandle> start = backend.record_event(stream.handle());
  backend.copy(b_memory, a.memory(), pattern.size(), stream.handle());
  const std::shared_ptr<EventHandle> end = backend.record_event(stream.handle());
  stream.synchronize();
  EXPECT_GE(backend.elapsed_ms(*start, *end), 0.0);
  EXPECT_EQ(b.download(), pattern);
  EXPECT_TRUE(mentions(
      error_of([&] { backend.copy(b_memory, a.memory(), pattern.size() + 1, stream.handle()); }),
      "out of range"));
  const Graph graph = ctx.capture(stream, [&] {
    backend.copy(c_memory, b.memory(), pattern.size(), stream.handle());
    EXPECT_TRUE(
        mentions(error_of([&] { backend.record_event(stream.handle()); }), "captures a graph"));
  });
  EXPECT_NE(c.download(), pattern) << "capturing ran the copy";
  graph.replay(stream);
  stream.synchronize();
  EXPECT_EQ(c.download(), pattern);
}

// Several threads dispatch (byte map) and launch on their own streams at once.
inline void concurrent_launches(const Factory& make) {
  Made m = make(true);
  const Context& ctx = m.ctx;
  const PreparedKernel k = ctx.prepare(scaler());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Stream stream = ctx.create_stream();
      for (int round = 0; round < 10; ++round) {
        const float scale = float(t * 10 + round) * 0.5f;
        std::vector<float> expected = source(kLen);
        for (float& x : expected) x *= scale;
        BufferMap b{{"src", f32_bytes(source(kLen))},
                    {"out", test::poisoned(kLen, DType::F32)},
                    {"n", test::le_bytes(std::uint32_t{kLen})},
                    {"scale", test::le_bytes(scale)}};
        if (f32_of(ctx.dispatch_with_grid(scaler(), b, {}, kGrid, kTpg).outputs.at("out")) !=
            expected) {
          ++failures;
        }
        const DeviceBuffer src = ctx.upload(f32_bytes(source(kLen)));
        const DeviceBuffer out = ctx.allocate(kLen * 4);
        ctx.launch(k, {{"src", src}, {"out", out}, {"n", std::uint32_t{kLen}}, {"scale", scale}},
                   kGrid, kTpg, stream);
        stream.synchronize();
        if (f32_of(out.download()) != expected) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace mt::cuda_scenarios
