// A kernel's contract evaluated on the host: the one statement of what Require, RequireLen and
// RequireLenMultiple mean. The runtime runs it before every launch, on every backend.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/core/launch_dims.hpp"
#include "metaltile/core/scalar.hpp"
#include "metaltile/core/tensor_map.hpp"

namespace mt {

// Evaluates k's contract block once, with `uniforms`, by ParamId of k: a scalar's value (bound
// or specialised), a tensor's element count; and the launch shape `dims` (what
// threads_per_threadgroup and threadgroups_per_grid read there). `k` must be verified: the
// contract is straight-line code of launch-uniform leaves, pure ops and requirements. Arithmetic
// is scalar_eval's. Each failure is an mt::Error:
//  - a failed Require: "kernel 'K': param 'P': precondition failed: TEXT (P=VALUE, len(T)=N,
//    tpg=(x,y,z))", naming the scalars, then the tensor lengths, then the launch shape its
//    condition depends on (P is the first of them); a condition on constants or the launch
//    shape alone reads "kernel 'K': precondition failed: TEXT";
//  - a failed RequireLen or RequireLenMultiple names its tensor with the expected and actual
//    lengths: "kernel 'K': param 'out_w': expected 1024 elements (4096 bytes) = FORMULA with
//    head_dim=64, len(src)=128, got 512 elements (2048 bytes)";
//  - integer arithmetic that wraps or divides by zero names its operands, the requirement it
//    was computing and the parameters behind it: "kernel 'K': param 'max_seq': contract
//    arithmetic: mul 4294967296, 64: the result does not fit u32, in the check of the length
//    of 'out' (FORMULA) (max_seq=..., len(src)=...)";
//  - a tensor length past u32 (check_tensor_len).
void evaluate_contract(const Kernel& k, std::span<const Scalar> uniforms, const LaunchDims& dims);

// The extent of each of k's tensor maps (by TensorMapId) at a launch with these uniforms and
// dims: the contract evaluated as evaluate_contract does (its failures too), then each
// TensorMapShape's values, checked against the map's tensor: "kernel 'K': param 'a': tensor map
// 'a_map' of 3 rows x 5 columns, row stride 5: the row stride is 10 bytes; ...".
std::vector<TensorMapExtent> evaluate_tensor_maps(const Kernel& k, std::span<const Scalar> uniforms,
                                                  const LaunchDims& dims);

// A TensorLen result is u32: the tensor's element count must fit. `in` is the TensorLen.
//  "kernel 'K': param 'src': 4294967296 elements are more than a u32 length counts: <op>"
void check_tensor_len(const Kernel& k, const Instr& in, std::int64_t elements);

}  // namespace mt
