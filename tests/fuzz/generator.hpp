// The program generator: random, well-typed kernels that are free of undefined behaviour by
// construction, each regenerated exactly from its seed.
//
// What a program holds: arithmetic, comparisons, selects, casts and bitcasts on every dtype
// (fp8 only where ops accept it: cast, bitcast, select, memory); math functions; locals; loops
// with constant and runtime trip counts, nested; if/else; threadgroup arrays written and read
// between barriers, warp-local array phases between warp barriers, array atomics; per-thread
// arrays; vector loads and stores; global atomics; warp and threadgroup collectives; thread
// identity leaves; scalar parameters (some specialised) and tensor lengths. Grid3D, Reduction
// and Elementwise launches of a few threadgroups.
//
// Every value that is computed reaches an output: a value nothing used by the end of its block
// is stored to its own output slot, or folded into a local that is stored at the end.
//
// How undefined or unspecified behaviour is avoided:
//  - integer division and remainder divide by `b | 1` or a nonzero constant (never zero);
//  - every tensor or array index is taken modulo the length (u32), so it is in bounds; vector
//    indices are multiples of their lane count;
//  - each thread stores only to its own output elements (slot-major: slot * threads + gid);
//  - threadgroup arrays: every thread writes its own elements, a barrier, then reads (and
//    atomics, between barriers), then a barrier before the next writes; warp phases write,
//    warp barrier, read only within the warp (clamped to the group's last thread), warp barrier;
//  - barriers and threadgroup collectives only under control flow uniform over the group,
//    warp collectives only under control flow uniform over the warp (values are tracked as
//    launch-, group-, warp- or thread-uniform);
//  - locals and per-thread arrays are written in full before the first statement;
//  - loop bounds stay small (|bound| < 64, a few trips), far from the u32/i32 wrap;
//  - shift amounts are any value: the IR takes them modulo the bit width;
//  - a NaN's sign and payload are unspecified (the host and a GPU propagate different NaNs,
//    and which operand's NaN a commutative op returns depends on their order, which CSE may
//    swap), so a float is made the canonical NaN before a bitcast reads its bits, and runs
//    compare NaNs alike.
// The Gpu profile also avoids what the interpreter and a GPU may legitimately compute
// differently: a math function's result (within ulps) is stored straight to an `approx_*`
// output and used by nothing else; float prefix sums (rounding order) are not generated;
// atomics combine in any order, so their old values are unused and f32 atomics add small
// integers (exact sums).
#pragma once

#include <cstdint>

#include "fuzz/program.hpp"
#include "metaltile/core/ops.hpp"

namespace mt::fuzz {

enum class Profile : std::uint8_t {
  Exact,  // interpreter against interpreter: every value may flow anywhere
  Gpu,    // interpreter against a GPU: see the notes above
};

struct GenOptions {
  Profile profile = Profile::Exact;
  // The body's size is drawn from [min_instructions, max_instructions].
  int min_instructions = 20;
  int max_instructions = 150;
  // Threads per threadgroup and threadgroups are drawn up to these.
  std::uint32_t max_threads_per_group = 1024;
  std::uint32_t max_groups = 6;
};

FuzzProgram generate(std::uint64_t seed, const GenOptions& options = {});

// Math functions whose GPU versions are not correctly rounded: exp, exp2, log, log2, sin, cos,
// tanh, erf, sigmoid, silu, gelu. (sqrt, rsqrt as 1/sqrt and division are IEEE-exact there.)
bool is_approximate(OpKind op);
// How far the GPU's result of an approximate op may be from the interpreter's in dtype t:
// CUDA's expf, exp2f, sinf, cosf, tanhf and erff are within 2 ulp, logf and log2f within 1,
// and the host's libm within 1, so single functions get 4 ulps of f32; sigmoid, silu and gelu
// compose two or three rounded steps and get 8; gelu also cancels in 1 + erf(x / sqrt 2) for
// x < 0, so it may differ by 2e-6 absolute, and sigmoid and silu by 1e-30 (0 against a
// subnormal where exp(-x) overflows on one side only). f16 and bf16 results are rounded from f32,
// so they differ by at most 1 ulp (plus gelu's absolute bound).
Tolerance gpu_tolerance(OpKind op, DType t);

}  // namespace mt::fuzz
