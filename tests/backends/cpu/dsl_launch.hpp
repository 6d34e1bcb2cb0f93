// Helpers for interpreter tests on DSL-traced kernels: launch shapes, the thread index a test
// kernel computes, element bytes of any arithmetic dtype as doubles, and an error catcher.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/interpreter.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::test {

inline LaunchDims launch(std::array<std::uint32_t, 3> grid, std::array<std::uint32_t, 3> tpg) {
  LaunchDims d;
  d.grid = grid;
  d.tpg = tpg;
  return d;
}

inline std::uint32_t group_size(const LaunchDims& d) { return d.tpg[0] * d.tpg[1] * d.tpg[2]; }
inline std::uint32_t total_threads(const LaunchDims& d) {
  return group_size(d) * d.grid[0] * d.grid[1] * d.grid[2];
}

// In a kernel: the thread's linear index in its group (x fastest), and its index over the
// launch (groups linearised x fastest too): the element a test gives each thread.
inline Val linear_thread() {
  return thread_id(0) +
         threads_per_threadgroup(0) * (thread_id(1) + threads_per_threadgroup(1) * thread_id(2));
}
inline Val linear_group() {
  return threadgroup_id(0) + threadgroups_per_grid(0) *
                                 (threadgroup_id(1) + threadgroups_per_grid(1) * threadgroup_id(2));
}
inline Val global_thread() {
  const Val size =
      threads_per_threadgroup(0) * threads_per_threadgroup(1) * threads_per_threadgroup(2);
  return linear_group() * size + linear_thread();
}

// Values of an arithmetic dtype (f32 f16 bf16 i32 u32 i8 u8 bool) as element bytes, and back.
// Float values are rounded to the dtype; integers wrap.
inline Bytes to_bytes(const std::vector<double>& values, DType t) {
  Bytes out(values.size() * size_of(t));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Scalar s = is_float(t) ? Scalar::of_float(values[i])
                                 : Scalar::of_int(static_cast<std::int64_t>(values[i]));
    write_element(out.data() + i * size_of(t), t, normalise(s, t));
  }
  return out;
}
inline std::vector<double> from_bytes(const Bytes& bytes, DType t) {
  std::vector<double> out(bytes.size() / size_of(t));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Scalar s = read_element(bytes.data() + i * size_of(t), t);
    out[i] = is_float(t) ? s.f : static_cast<double>(s.i);
  }
  return out;
}
// The value a dtype holds for x: floats rounded, integers wrapped.
inline double in_type(double x, DType t) {
  const Scalar s = normalise(
      is_float(t) ? Scalar::of_float(x) : Scalar::of_int(static_cast<std::int64_t>(x)), t);
  return is_float(t) ? s.f : static_cast<double>(s.i);
}

// Exact comparison (NaN fails), reporting the first mismatches with index, expected and actual.
inline void expect_exact(const std::vector<double>& actual, const std::vector<double>& expected,
                         const std::string& label) {
  ASSERT_EQ(actual.size(), expected.size()) << label << ": length";
  int reported = 0, mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == expected[i]) continue;  // false for NaN
    ++mismatches;
    if (reported++ < 10) {
      ADD_FAILURE() << label << "[" << i << "]: expected " << expected[i] << ", got " << actual[i];
    }
  }
  EXPECT_EQ(mismatches, 0) << label << ": mismatches";
}

// Binds tensors by name to test-owned bytes and runs a kernel on the interpreter.
class Launcher {
 public:
  explicit Launcher(const Kernel& k) : k_(k), buffers_(k.params.size()), args_(k.params.size()) {}
  void bind(const std::string& name, Bytes bytes) {
    const ParamId p = id(name);
    buffers_[p.index] = std::move(bytes);
    args_[p.index].bytes = std::span<std::uint8_t>(buffers_[p.index]);
  }
  void set(const std::string& name, Scalar v) { args_[id(name).index].scalar = v; }
  const Bytes& buffer(const std::string& name) const { return buffers_[id(name).index]; }
  void run(const LaunchDims& dims, unsigned workers = 1) {
    cpu::interpret(k_, args_, dims, DeviceLimits{}, workers);
  }

 private:
  ParamId id(const std::string& name) const {
    const ParamId p = k_.find_param(name);
    if (!p.valid()) throw std::invalid_argument("no param " + name);
    return p;
  }
  const Kernel& k_;
  std::vector<Bytes> buffers_;
  std::vector<Argument> args_;
};

}  // namespace mt::test
