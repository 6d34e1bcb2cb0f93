// Distinct id types for the things an IR names: values, locals and parameters.
// Fresh ids come from the kernel's own tables; an id never encodes a kind in its bits.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace mt {

template <class Tag>
struct Id {
  static constexpr std::uint32_t kInvalid = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t index = kInvalid;

  constexpr bool valid() const { return index != kInvalid; }
  friend constexpr auto operator<=>(Id, Id) = default;
};

using ValueId = Id<struct ValueTag>;  // an SSA value: the result of one instruction
using LocalId = Id<struct LocalTag>;  // a named mutable local (a DSL Var)
using ParamId = Id<struct ParamTag>;  // a kernel parameter (tensor or scalar)
using ArrayId = Id<struct ArrayTag>;  // a threadgroup-memory or per-thread array
// A set of asynchronous barriers in threadgroup memory (core/async_barrier.hpp).
using AsyncBarrierId = Id<struct AsyncBarrierTag>;
// A 2-D description of a tensor for bulk tile copies (core/tensor_map.hpp).
using TensorMapId = Id<struct TensorMapTag>;

}  // namespace mt

template <class Tag>
struct std::hash<mt::Id<Tag>> {
  std::size_t operator()(mt::Id<Tag> id) const noexcept {
    return std::hash<std::uint32_t>{}(id.index);
  }
};
