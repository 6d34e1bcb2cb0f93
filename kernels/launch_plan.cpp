// LaunchShape lookups and the common geometry rules.
#include "metaltile/kernels/launch_plan.hpp"

#include <algorithm>
#include <utility>

#include "metaltile/core/error.hpp"

namespace mt {

LaunchShape::LaunchShape(std::string kernel, DType dtype, DeviceLimits limits,
                         std::map<std::string, std::size_t> elements,
                         std::map<std::string, Scalar> scalars)
    : kernel_(std::move(kernel)), dtype_(dtype), limits_(limits) {
  for (auto& [name, n] : elements) elements_.emplace(name, n);
  for (auto& [name, v] : scalars) scalars_.emplace(name, v);
}

bool LaunchShape::has(std::string_view name) const {
  return elements_.find(name) != elements_.end() || scalars_.find(name) != scalars_.end();
}

std::size_t LaunchShape::elements(std::string_view tensor) const {
  auto it = elements_.find(tensor);
  if (it == elements_.end()) {
    throw param_error(kernel_, tensor, "the geometry rule needs this tensor, but none is bound");
  }
  return it->second;
}

const Scalar& LaunchShape::scalar(std::string_view name) const {
  auto it = scalars_.find(name);
  if (it == scalars_.end()) {
    throw param_error(kernel_, name, "the geometry rule needs this scalar, but none is bound");
  }
  return it->second;
}

std::uint32_t LaunchShape::u32(std::string_view name) const {
  return static_cast<std::uint32_t>(scalar(name).i);
}
std::int32_t LaunchShape::i32(std::string_view name) const {
  return static_cast<std::int32_t>(scalar(name).i);
}
float LaunchShape::f32(std::string_view name) const { return static_cast<float>(scalar(name).f); }

namespace geometry {

LaunchPlan threads_1d(std::size_t threads, std::size_t tpg) {
  LaunchStep step;
  step.grid = {std::max<std::size_t>(1, ceil_div(threads, tpg)), 1, 1};
  step.tpg = {tpg, 1, 1};
  return LaunchPlan{{}, {step}};
}

LaunchPlan rows(std::size_t rows, std::size_t tpg) {
  LaunchStep step;
  step.grid = {std::max<std::size_t>(1, rows), 1, 1};
  step.tpg = {tpg, 1, 1};
  return LaunchPlan{{}, {step}};
}

}  // namespace geometry
}  // namespace mt
