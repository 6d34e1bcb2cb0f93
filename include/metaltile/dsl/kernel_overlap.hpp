// Overlap of a kernel with its neighbours in a stream (programmatic dependent launch on the
// CUDA backend, sm_90 and later). A kernel that calls wait_for_prior_kernel() at the top of
// its body, before it touches any tensor, may be launched while the kernel before it is still
// running: its threads can start, prefetch what the prior kernel does not write (weights), and
// then wait. release_next_kernel() lets the following kernel start before this one ends. Both
// are no-ops where launches do not overlap (the interpreter, older GPUs).
#pragma once

#include "metaltile/dsl/tensor.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

// Waits until the prior kernel of the stream has finished and its writes are visible. Must be
// called by every thread, at the top level of the body, before any tensor access but
// prefetch_l2 (the verifier enforces it).
void wait_for_prior_kernel();

// Lets the next kernel of the stream be launched now; it still waits for this whole kernel
// in its own wait_for_prior_kernel().
void release_next_kernel();

// A hint that elements [first, first + count) of t (u32) will be read soon: the CUDA backend
// fetches them into L2 in one asynchronous bulk request (the part outside t and partial
// 16-byte granules are skipped). It changes no value and is never an error.
void prefetch_l2(const Tensor& t, const Val& first, const Val& count);

}  // namespace mt
