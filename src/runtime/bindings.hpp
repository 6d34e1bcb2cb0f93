// The checks of the dispatch contract (launch dims, consts, bindings, the kernel's contract) and
// the one bind step that resolves named arguments, shared by the byte-map dispatch and the
// device-resident launch. Every check throws mt::Error naming the kernel and
// the parameter, before anything is compiled or launched.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"

namespace mt {

// Each axis of grid and tpg is >= 1 and fits in u32; tpg is within the per-axis limits and its
// product within max_threads_per_threadgroup; grid is within max_grid; grid * tpg fits in u32 on
// each axis (program_id is a u32 global thread index).
LaunchDims check_launch_dims(const Kernel& k, const std::array<std::size_t, 3>& grid,
                             const std::array<std::size_t, 3>& tpg, const DeviceLimits& limits);

// Each const names a scalar parameter of k and has that parameter's dtype, and every scalar an
// array takes its size from is among them, with a value of at least 1. Returns the values as
// Scalars, ready for passes::specialise_scalars (dispatch_with_grid and prepare).
std::map<std::string, Scalar> check_consts(const Kernel& k, const ConstMap& consts);

// k's arrays, sized by their fixed sizes or the specialised scalars, fit the device's
// threadgroup memory and the per-thread array limit (check_array_limits); run after
// check_consts, before a compile.
void check_arrays_fit(const Kernel& k, const std::map<std::string, Scalar>& specialised,
                      const DeviceLimits& limits);

// Runs k's contract once on the host with `uniforms`, by ParamId of k: a scalar's value (bound
// or specialised), a tensor's element count; and the launch shape `dims`. Run on the kernel as
// given, for every backend and before a compile or launch, so a failed precondition costs
// nothing and names its parameters even when they are specialised. The one contract check of
// dispatch_with_grid and launch.
void check_contract(const Kernel& k, std::span<const Scalar> uniforms, const LaunchDims& dims);

// check_contract before the launch shape is known (Context::check): the requirements that read
// threads_per_threadgroup or threadgroups_per_grid are left for the launch to check.
void check_contract_without_launch_shape(const Kernel& k, std::span<const Scalar> uniforms);

// The uniforms of check_contract by parameter name (Context::check returns them).
std::map<std::string, Scalar> uniforms_by_name(const Kernel& k, std::span<const Scalar> uniforms);

// --- binding by name: one step for the byte-map dispatch and the device-resident launch -------

// A launch's parameters resolved by name, checked and read in one walk over the kernel's
// parameters (bind_buffers, bind_device); the arguments for the compiled kernel are then made
// from it without looking a name up again.
template <class Value>
struct Binding {
  std::vector<const Value*> values;  // by ParamId of the kernel as traced; nullptr: specialised
  std::vector<Scalar> uniforms;      // check_contract's: a scalar's value, a tensor's length
};
using BufferBinding = Binding<std::vector<std::uint8_t>>;
using DeviceBinding = Binding<DeviceArg>;

// The byte-map dispatch's bind step. Every buffer name is a parameter; no specialised scalar is
// also a buffer; every tensor parameter has a buffer whose length is a multiple of its element
// size and whose element count fits u32 (a kernel's len() is u32); every scalar parameter not
// specialised has exactly one element's bytes (4: scalars are 32-bit). An unknown name is
// reported before any parameter's mistake; the parameters' in their order. The binding points
// into `buffers`.
BufferBinding bind_buffers(const Kernel& k, const BufferMap& buffers,
                           const std::map<std::string, Scalar>& specialised);

// The device-resident launch's bind step, in the same order: every binding name is a
// parameter; no specialised scalar is bound again; every tensor parameter is bound to a valid
// DeviceBuffer whose size is a multiple of its element size and whose element count fits u32;
// every other scalar parameter is bound to a value of its dtype (u32, i32 or f32). The binding
// points into `bindings`.
DeviceBinding bind_device(const Kernel& k, const DeviceBindings& bindings,
                          const std::map<std::string, Scalar>& specialised);

struct BoundArguments {
  std::vector<Argument> args;  // one per parameter of the compiled kernel, in its order
  BufferMap outputs;           // copies of the caller's output buffers; args point into them
};

// The arguments of `compiled` (`traced` after specialisation and passes, which keep the
// unspecialised parameters in order) from `traced`'s binding. Outputs of `traced` are copied,
// since the caller's map is const and the kernel writes them. Inputs are bound in place without
// a copy: backends only read an input's bytes (see mt::Argument), and inputs can be large
// weights. The returned args point into the caller's buffers and into `outputs`: keep both alive
// while they are used.
BoundArguments buffer_arguments(const Kernel& traced, const Kernel& compiled,
                                const BufferBinding& b);

// One DeviceArgument per parameter of `compiled`, pointing at the bound buffers' memory: keep
// the bindings alive while they are used.
std::vector<DeviceArgument> device_arguments(const Kernel& traced, const Kernel& compiled,
                                             const DeviceBinding& b);

}  // namespace mt
