// The contracts of every registered kernel, from a valid request (its smoke benchmark case):
// - each buffer's length (require_len): any buffer one element short or long is an mt::Error
//   naming the kernel and a buffer with its expected and actual element counts. The buffer
//   named is the spoiled one, or one whose length the spoiled buffer sets (len(ids) sets
//   len(out)), which then reports its own, unchanged count;
// - the launch shape: every kernel but rope reads axis 0 of its threadgroup only, so a 2-D
//   group is an mt::Error naming the kernel (rope honours all three axes: rope_test.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::test::le_bytes;

// The buffers of bench case c for kernel k: zeros, or the fill the case asks for (ids,
// positions and lengths must be valid for the request to be).
mt::BufferMap case_buffers(const mt::Kernel& k, const mt::BenchCase& c) {
  mt::BufferMap b;
  for (const mt::Param& p : k.params) {
    if (p.is_tensor()) {
      b[p.name].assign(c.elements.at(p.name) * mt::size_of(p.dtype), 0);
    } else {
      std::visit([&](auto v) { b[p.name] = le_bytes(v); }, c.scalars.at(p.name));
    }
  }
  for (const auto& [name, fill] : c.fills) {
    const std::size_t n = c.elements.at(name);
    if (fill.kind == mt::BenchFill::Kind::Iota) {
      std::vector<std::uint32_t> v(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint32_t>(i % fill.n);
      b[name] = mt::test::pack_u32(v);
    } else if (fill.kind == mt::BenchFill::Kind::Value) {
      b[name] = mt::test::pack_u32(std::vector<std::uint32_t>(n, fill.n));
    }
  }
  return b;
}

// "param 'P': expected ... got N elements" in message: P and N, or ("", 0) when absent.
struct LengthError {
  std::string param;
  std::size_t got = 0;
};
LengthError parse_length_error(const std::string& message) {
  const std::string param = "param '", expected = "': expected ", got = ", got ";
  const std::size_t at = message.find(param);
  if (at == std::string::npos) return {};
  const std::size_t name_end = message.find(expected, at);
  const std::size_t got_at = message.rfind(got);
  if (name_end == std::string::npos || got_at == std::string::npos || got_at < name_end) return {};
  const std::string count = message.substr(got_at + got.size());
  if (count.find(" element") == std::string::npos) return {};  // "1 element", "2 elements"
  return {message.substr(at + param.size(), name_end - at - param.size()), std::stoul(count)};
}

TEST(LibraryLengthContract, EveryBufferOneElementShortOrLongIsALengthError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t spoiled = 0;
    for (const mt::KernelInfo& info : mt::registered_kernels()) {
      for (const mt::BenchCase& c : info.bench(mt::BenchScale::Smoke)) {
        const mt::Kernel& k = mt::traced_kernel(info.name, c.dtype);
        const mt::BufferMap good = case_buffers(k, c);
        ASSERT_NO_THROW(ctx.check(k, good)) << info.name << " " << c.label;
        for (const mt::Param& p : k.params) {
          if (!p.is_tensor()) continue;
          const std::size_t count = c.elements.at(p.name);
          for (int delta : {-1, +1}) {
            if (count == 0 && delta < 0) continue;
            SCOPED_TRACE(info.name + " " + c.label + ": " + p.name +
                         (delta < 0 ? " one short" : " one long"));
            mt::BufferMap b = good;
            const std::size_t spoilt = count + delta;
            b[p.name].assign(spoilt * mt::size_of(p.dtype), 0);
            const std::string what = mt::test::error_of([&] { ctx.check(k, b); });
            mt::test::expect_mentions(what, {"kernel '" + info.name + "'", "expected ", ", got "});
            const LengthError e = parse_length_error(what);
            EXPECT_FALSE(e.param.empty()) << "not a length error: " << what;
            if (e.param.empty()) continue;
            EXPECT_EQ(e.got, e.param == p.name ? spoilt : c.elements.at(e.param)) << what;
            ++spoiled;
          }
        }
      }
    }
    EXPECT_GT(spoiled, 100u);
  });
}

TEST(LibraryLaunchContract, TwoDimensionalThreadgroupIsAnErrorNamingTheKernel) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t rejected = 0;
    for (const mt::KernelInfo& info : mt::registered_kernels()) {
      if (info.name == "rope") continue;
      const mt::BenchCase c = info.bench(mt::BenchScale::Smoke).front();
      const mt::Kernel& k = mt::traced_kernel(info.name, c.dtype);
      SCOPED_TRACE(info.name);
      // 128 threads on axis 0 suit every kernel's own rule for it (gemv's 4 warps, decode
      // attention's 128, whole warps); the second axis is the mistake.
      const std::string what = mt::test::error_of([&] {
        ctx.dispatch_with_grid(k, case_buffers(k, c), {}, {1, 1, 1}, {128, 2, 1});
      });
      mt::test::expect_mentions(what, {"kernel '" + info.name + "'", "precondition failed", "tpg"});
      ++rejected;
    }
    EXPECT_GT(rejected, 30u);
  });
}

}  // namespace
