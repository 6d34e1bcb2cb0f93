// Helpers for the threadgroup-construct tests that run DSL kernels through mt::Context on every
// backend: launch shapes and their host-side thread numbering, element values of the 32- and
// 16-bit dtypes as doubles, exact output checks, and error-message checks.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::test::tg {

// A launch: `grid` threadgroups of `tpg` threads.
struct Shape {
  std::array<std::size_t, 3> grid;
  std::array<std::size_t, 3> tpg;
  std::size_t group() const { return tpg[0] * tpg[1] * tpg[2]; }
  std::size_t groups() const { return grid[0] * grid[1] * grid[2]; }
  std::size_t threads() const { return group() * groups(); }
  std::string text() const {
    const auto axes = [](const std::array<std::size_t, 3>& a) {
      return std::to_string(a[0]) + "x" + std::to_string(a[1]) + "x" + std::to_string(a[2]);
    };
    return "grid " + axes(grid) + " tpg " + axes(tpg);
  }
};

// Group sizes 1, 17, 32, 33, 100, 1000, 1024 and 3-D groups (105 = 3 warps + 9, 1024 and 35
// threads): partial warps and sizes that are not multiples of 32, over several groups.
inline const std::vector<Shape>& group_shapes() {
  static const std::vector<Shape> all{{{3, 1, 1}, {1, 1, 1}},    {{2, 1, 1}, {17, 1, 1}},
                                      {{2, 1, 1}, {32, 1, 1}},   {{2, 1, 1}, {33, 1, 1}},
                                      {{3, 1, 1}, {100, 1, 1}},  {{1, 2, 1}, {1000, 1, 1}},
                                      {{2, 1, 1}, {1024, 1, 1}}, {{1, 2, 2}, {7, 5, 3}},
                                      {{2, 1, 1}, {32, 32, 1}},  {{1, 1, 2}, {5, 1, 7}}};
  return all;
}

// Each thread works on element `global_thread()`: its group's linear index times the group
// size plus its linear index in the group, both x fastest (host side: thread i of the launch
// is thread i % group() of group i / group()).
inline Val linear_thread() {
  return thread_id(0) +
         threads_per_threadgroup(0) * (thread_id(1) + threads_per_threadgroup(1) * thread_id(2));
}
inline Val group_size() {
  return threads_per_threadgroup(0) * threads_per_threadgroup(1) * threads_per_threadgroup(2);
}
inline Val linear_group() {
  return threadgroup_id(0) + threadgroups_per_grid(0) *
                                 (threadgroup_id(1) + threadgroups_per_grid(1) * threadgroup_id(2));
}
inline Val global_thread() { return linear_group() * group_size() + linear_thread(); }

inline DispatchResult run(const Context& ctx, const Kernel& k, const BufferMap& buffers,
                          const Shape& s, const ConstMap& consts = {}) {
  return ctx.dispatch_with_grid(k, buffers, consts, s.grid, s.tpg);
}

// Values of f32, f16, bf16, i32 or u32 as element bytes and back (doubles hold all exactly).
inline Bytes encode(const std::vector<double>& values, DType t) {
  if (t == DType::I32 || t == DType::U32) {
    std::vector<std::uint32_t> words(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      words[i] = static_cast<std::uint32_t>(static_cast<std::int64_t>(values[i]));
    }
    return pack_u32(words);
  }
  const std::vector<float> floats(values.begin(), values.end());
  return pack(floats, t);
}
inline std::vector<double> decode(const Bytes& bytes, DType t) {
  if (t == DType::I32) {
    const std::vector<std::int32_t> v = unpack_i32(bytes);
    return {v.begin(), v.end()};
  }
  if (t == DType::U32) {
    const std::vector<std::uint32_t> v = unpack_u32(bytes);
    return {v.begin(), v.end()};
  }
  const std::vector<float> v = unpack(bytes, t);
  return {v.begin(), v.end()};
}
// x held in dtype t: floats rounded to nearest even, integers wrapped to 32 bits.
inline double in_type(double x, DType t) {
  if (t == DType::I32) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::int64_t>(x)));
  }
  if (t == DType::U32) return static_cast<std::uint32_t>(static_cast<std::int64_t>(x));
  const float f = static_cast<float>(x);
  return round_all(std::span<const float>(&f, 1), t)[0];
}
inline std::string type_text(DType t) { return std::string(name_of(t)); }
inline bool is_int(DType t) { return t == DType::I32 || t == DType::U32; }

// The output `name` (or bytes) must hold exactly expected.size() elements of t, each equal to the
// expected value (NaN never equals). Reports the first 10 mismatches.
inline void expect_exact(const Bytes& bytes, const std::string& name,
                         const std::vector<double>& expected, DType t) {
  ASSERT_EQ(bytes.size(), expected.size() * size_of(t)) << name << ": byte length";
  const std::vector<double> actual = decode(bytes, t);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (actual[i] == expected[i]) continue;
    if (mismatches++ < 10) {
      ADD_FAILURE() << name << "[" << i << "]: expected " << expected[i] << ", got " << actual[i];
    }
  }
  EXPECT_EQ(mismatches, 0u) << name << ": mismatches of " << expected.size();
}
inline void expect_exact(const DispatchResult& r, const std::string& name,
                         const std::vector<double>& expected, DType t) {
  expect_exact(r.outputs.at(name), name, expected, t);
}

inline void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
}

}  // namespace mt::test::tg
