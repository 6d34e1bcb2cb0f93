// The umbrella header: everything a MetalTile user needs, from the IR and the DSL to the
// runtime Context and the kernel library.
#pragma once

// core: the IR, its types, arithmetic, verifier, printer and errors
#include "metaltile/core/contract.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/ids.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/core/launch_dims.hpp"
#include "metaltile/core/mutator.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/scalar.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/core/visitor.hpp"

// dsl: the tracing front end
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

// passes: the optimiser (one header a pass) and its order
#include "metaltile/passes/eliminate_common_subexpressions.hpp"
#include "metaltile/passes/eliminate_dead_code.hpp"
#include "metaltile/passes/fold_constants.hpp"
#include "metaltile/passes/hoist_invariants.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "metaltile/passes/unroll_loops.hpp"

// backends and runtime: compiling and dispatching kernels
#include "metaltile/backends/backend.hpp"
#include "metaltile/backends/cuda.hpp"
#include "metaltile/runtime/bytes.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"

// kernels: the registry and the library families
#include "metaltile/kernels/ffai/attention.hpp"
#include "metaltile/kernels/ffai/embedding.hpp"
#include "metaltile/kernels/ffai/kv_cache.hpp"
#include "metaltile/kernels/ffai/norms.hpp"
#include "metaltile/kernels/ffai/rope.hpp"
#include "metaltile/kernels/ffai/rope_scaling.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"
