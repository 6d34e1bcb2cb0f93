// The checks of the dispatch contract (launch dims, consts, buffers) and the binding of named
// byte buffers to the backend's Argument vector. Every check throws mt::Error naming the kernel
// and the parameter, before anything is compiled or launched.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt {

// Each axis of grid and tpg is >= 1 and fits in u32; tpg is within the per-axis limits and its
// product within max_threads_per_threadgroup; grid is within max_grid; grid * tpg fits in u32 on
// each axis (program_id is a u32 global thread index).
LaunchDims check_launch_dims(const Kernel& k, const std::array<std::size_t, 3>& grid,
                             const std::array<std::size_t, 3>& tpg, const DeviceLimits& limits);

// Each const names a scalar parameter of k, has that parameter's dtype and is not also given in
// `buffers`. Returns the values as Scalars, ready for passes::specialise_scalars.
std::map<std::string, Scalar> check_consts(const Kernel& k, const ConstMap& consts,
                                           const BufferMap& buffers);

// Every buffer name is a parameter; every tensor parameter has a buffer whose length is a
// multiple of its element size; every scalar parameter not in `consts` has exactly one
// element's bytes (4: scalars are 32-bit).
void check_buffers(const Kernel& k, const BufferMap& buffers, const ConstMap& consts);

// Arguments for evaluating k's contract before anything is compiled: one per parameter of k,
// scalars from `buffers` or, when specialised, from `consts`; tensors are left empty (a
// contract reads only scalars). Running the contract on the kernel as given means a failed
// precondition names its parameters even when they are specialised, and costs no compile.
std::vector<Argument> contract_arguments(const Kernel& k, const BufferMap& buffers,
                                         const std::map<std::string, Scalar>& consts);

struct BoundArguments {
  std::vector<Argument> args;  // one per parameter of the compiled kernel, in its order
  BufferMap outputs;           // copies of the caller's output buffers; args point into them
};

// Binds `buffers` (already checked against `original`) to the parameters of `compiled` (the
// same kernel after specialisation and passes). Outputs of `original` are copied, since the
// caller's map is const and the kernel writes them. Inputs are bound in place without a copy:
// backends only read an input's bytes (see mt::Argument), and inputs can be large weights.
// The returned args point into `buffers` and into `outputs`: keep both alive while they are used.
BoundArguments bind_arguments(const Kernel& original, const Kernel& compiled,
                              const BufferMap& buffers);

}  // namespace mt
