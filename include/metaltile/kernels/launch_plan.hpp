// How a library kernel is launched for given buffers: mt::LaunchShape is what a geometry rule
// sees (tensor element counts, scalar values, device limits), mt::LaunchPlan what it returns
// (one launch, or several with scratch buffers between them, as split-K attention needs).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/scalar.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt {

// The sizes and scalar values of one launch request, already checked against the kernel's
// parameters and contract. Asking for a name the request does not hold is an mt::Error naming
// the kernel (a geometry rule asks only for what its kernel declares).
class LaunchShape {
 public:
  LaunchShape(std::string kernel, DType dtype, DeviceLimits limits,
              std::map<std::string, std::size_t> elements, std::map<std::string, Scalar> scalars);

  const std::string& kernel() const { return kernel_; }
  DType dtype() const { return dtype_; }
  const DeviceLimits& limits() const { return limits_; }

  bool has(std::string_view name) const;                // a tensor or scalar of this name is bound
  std::size_t elements(std::string_view tensor) const;  // element count of a bound tensor
  std::uint32_t u32(std::string_view scalar) const;
  std::int32_t i32(std::string_view scalar) const;
  float f32(std::string_view scalar) const;

 private:
  const Scalar& scalar(std::string_view name) const;

  std::string kernel_;
  DType dtype_;
  DeviceLimits limits_;
  std::map<std::string, std::size_t, std::less<>> elements_;
  std::map<std::string, Scalar, std::less<>> scalars_;
};

// A buffer that exists only between the launches of one plan (partial results).
struct ScratchBuffer {
  std::string name;
  DType dtype = DType::F32;
  std::size_t elements = 0;
  // Zero before the plan's first launch, and the plan's kernels leave it zero when they end
  // (counters that the last group to arrive resets), so a runner zeroes it once when it
  // allocates it, and again only when a launch fails part-way.
  bool zeroed = false;
};

// One launch of a registered kernel.
struct LaunchStep {
  std::string kernel;  // a registered kernel's name; empty: the entry's own kernel
  std::array<std::size_t, 3> grid{1, 1, 1};  // threadgroups per axis
  std::array<std::size_t, 3> tpg{1, 1, 1};   // threads per threadgroup
  // The step kernel's tensor parameter -> the plan's buffer (a user buffer or a scratch
  // buffer). A parameter not listed binds the buffer of its own name.
  std::map<std::string, std::string> buffers;
  // Scalar values the plan sets for this step (a split count, a pass index); other scalars
  // come from the request under their own names.
  std::map<std::string, ConstValue> scalars;
};

struct LaunchPlan {
  std::vector<ScratchBuffer> scratch;
  std::vector<LaunchStep> steps;
};

using GeometryRule = std::function<LaunchPlan(const LaunchShape&)>;

namespace geometry {

// ceil(a / b) for b > 0.
constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// One launch of the entry's own kernel: `threads` threads on axis 0 in groups of `tpg` (at
// least one group, so an empty request is still a valid launch that writes nothing).
LaunchPlan threads_1d(std::size_t threads, std::size_t tpg = 256);
// One launch of the entry's own kernel: one threadgroup of `tpg` threads per row.
LaunchPlan rows(std::size_t rows, std::size_t tpg);

}  // namespace geometry
}  // namespace mt
