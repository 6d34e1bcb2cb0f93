// MetalTile CUDA prelude: the device helpers emitted kernels call, where plain C++ on the GPU
// would not give the IR's semantics (core/kernel.hpp). Embedded in the library at build time
// and handed to NVRTC as the header "metaltile_prelude.cuh"; the emitted source defines the
// error record constants (backends/cuda/cuda_abi.hpp) and MT_CHECKED before including it.
#pragma once

#include <cuda_bf16.h>  // defines: __nv_bfloat16, __float2bfloat16_rn, __bfloat162float
#include <cuda_fp16.h>  // defines: __half, __float2half_rn, __half2float

#define MT_DEVICE static __device__ __forceinline__

// ---- fp8 (OCP E4M3FN and E5M2), stored as unsigned char codes ----------------------------
// Narrowing rounds to nearest even and saturates to +-max (inf too); NaN of either sign gives
// 0x7F; the sign of zero and of underflow is kept. Written out rather than taken from
// cuda_fp8.h so the bits match mt::f32_to_e4m3_bits / f32_to_e5m2_bits on every architecture.

// The code of the finite or infinite f32 magnitude `a` (bits, sign clear) in a format with
// `mant` mantissa bits and exponent bias `bias`, unclamped above. `subnormal_scale` is
// 2^(bias + mant - 1): one unit of the smallest subnormal.
MT_DEVICE unsigned int mt_fp8_magnitude(unsigned int a, int mant, int bias, float subnormal_scale) {
  if ((int)(a >> 23) >= 128 - bias) {
    // Normal in the target: a round-half-even add on the dropped bits; a carry out of the
    // mantissa bumps the exponent, as it should.
    const int drop = 23 - mant;
    const unsigned int r = a + ((1u << (drop - 1)) - 1u) + ((a >> drop) & 1u);
    return (r >> drop) - ((unsigned int)(127 - bias) << mant);
  }
  // Subnormal: count units exactly (a power-of-two scale) and round half to even with rintf.
  return (unsigned int)rintf(__uint_as_float(a) * subnormal_scale);
}

MT_DEVICE unsigned char mt_f32_to_e4m3(float x) {
  const unsigned int u = __float_as_uint(x);
  const unsigned int a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (unsigned char)0x7Fu;
  // 0x7E is 448, the largest finite code (0x7F is NaN in E4M3FN).
  return (unsigned char)(((u >> 24) & 0x80u) | min(mt_fp8_magnitude(a, 3, 7, 512.0f), 0x7Eu));
}

MT_DEVICE unsigned char mt_f32_to_e5m2(float x) {
  const unsigned int u = __float_as_uint(x);
  const unsigned int a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (unsigned char)0x7Fu;
  // 0x7B is 57344, the largest finite code.
  return (unsigned char)(((u >> 24) & 0x80u) | min(mt_fp8_magnitude(a, 2, 15, 65536.0f), 0x7Bu));
}

// Widening is exact.
MT_DEVICE float mt_e4m3_to_f32(unsigned char code) {
  const unsigned int m = code & 0x7Fu;
  float v;
  if (m == 0x7Fu) {
    v = __uint_as_float(0x7FC00000u);
  } else if (m < 0x08u) {
    v = (float)m * 0.001953125f;  // subnormal: m * 2^-9
  } else {
    v = __uint_as_float((((m >> 3) + 120u) << 23) | ((m & 7u) << 20));
  }
  return (code & 0x80u) != 0u ? -v : v;
}

MT_DEVICE float mt_e5m2_to_f32(unsigned char code) {
  const unsigned int m = code & 0x7Fu;
  float v;
  if (m >= 0x7Cu) {
    v = __uint_as_float(m == 0x7Cu ? 0x7F800000u : 0x7FC00000u);
  } else if (m < 0x04u) {
    v = (float)m * 0.0000152587890625f;  // subnormal: m * 2^-16
  } else {
    v = __uint_as_float((((m >> 2) + 112u) << 23) | ((m & 3u) << 21));
  }
  return (code & 0x80u) != 0u ? -v : v;
}

// ---- float -> integer casts: truncate toward zero, saturate, NaN -> 0 -----------------------
MT_DEVICE int mt_f32_to_i32(float x) { return isnan(x) ? 0 : __float2int_rz(x); }
MT_DEVICE unsigned int mt_f32_to_u32(float x) { return isnan(x) ? 0u : __float2uint_rz(x); }
MT_DEVICE signed char mt_f32_to_i8(float x) {
  return (signed char)max(-128, min(127, mt_f32_to_i32(x)));
}
MT_DEVICE unsigned char mt_f32_to_u8(float x) { return (unsigned char)min(255u, mt_f32_to_u32(x)); }

// ---- integer arithmetic on int, unsigned int, signed char, unsigned char ------------------
// Results wrap to the type's width: the arithmetic runs in unsigned int, whose overflow is
// defined, and converts back (a modular conversion). Shift amounts are taken modulo the width.
template <class T>
MT_DEVICE T mt_add(T a, T b) {
  return (T)((unsigned int)a + (unsigned int)b);
}
template <class T>
MT_DEVICE T mt_sub(T a, T b) {
  return (T)((unsigned int)a - (unsigned int)b);
}
template <class T>
MT_DEVICE T mt_mul(T a, T b) {
  return (T)((unsigned int)a * (unsigned int)b);
}
template <class T>
MT_DEVICE T mt_neg(T a) {
  return (T)(0u - (unsigned int)a);
}
MT_DEVICE int mt_abs(int a) { return a < 0 ? mt_neg(a) : a; }
MT_DEVICE signed char mt_abs(signed char a) { return a < 0 ? mt_neg(a) : a; }
MT_DEVICE unsigned char mt_abs(unsigned char a) { return a; }
template <class T>
MT_DEVICE T mt_not(T a) {
  return (T)~a;
}
template <class T>
MT_DEVICE T mt_and(T a, T b) {
  return (T)(a & b);
}
template <class T>
MT_DEVICE T mt_or(T a, T b) {
  return (T)(a | b);
}
template <class T>
MT_DEVICE T mt_xor(T a, T b) {
  return (T)(a ^ b);
}
template <class T>
MT_DEVICE T mt_min(T a, T b) {
  return b < a ? b : a;
}
template <class T>
MT_DEVICE T mt_max(T a, T b) {
  return a < b ? b : a;
}
template <class T>
MT_DEVICE T mt_shl(T a, T b) {
  return (T)((unsigned int)a << ((unsigned int)b & (8u * sizeof(T) - 1u)));
}
// Arithmetic on signed types: `a` promotes to int with its sign.
template <class T>
MT_DEVICE T mt_shr(T a, T b) {
  return (T)(a >> ((unsigned int)b & (8u * sizeof(T) - 1u)));
}

// Division truncates toward zero. The interpreter reports division by zero as an error; on the
// GPU x / 0 and x % 0 give 0, and INT_MIN / -1 wraps to INT_MIN (INT_MIN % -1 is 0).
MT_DEVICE int mt_div(int a, int b) { return b == 0 ? 0 : (b == -1 ? mt_neg(a) : a / b); }
MT_DEVICE int mt_rem(int a, int b) { return (b == 0 || b == -1) ? 0 : a % b; }
MT_DEVICE unsigned int mt_div(unsigned int a, unsigned int b) { return b == 0u ? 0u : a / b; }
MT_DEVICE unsigned int mt_rem(unsigned int a, unsigned int b) { return b == 0u ? 0u : a % b; }
// 8-bit operands promote to int, where nothing overflows; the conversion back wraps.
MT_DEVICE signed char mt_div(signed char a, signed char b) {
  return b == 0 ? (signed char)0 : (signed char)((int)a / (int)b);
}
MT_DEVICE signed char mt_rem(signed char a, signed char b) {
  return b == 0 ? (signed char)0 : (signed char)((int)a % (int)b);
}
MT_DEVICE unsigned char mt_div(unsigned char a, unsigned char b) {
  return b == 0 ? (unsigned char)0 : (unsigned char)(a / b);
}
MT_DEVICE unsigned char mt_rem(unsigned char a, unsigned char b) {
  return b == 0 ? (unsigned char)0 : (unsigned char)(a % b);
}

// ---- float math in f32, in the forms mt::scalar_eval uses ----------------------------------
// Two correctly rounded steps, as the interpreter computes it (rsqrtf is not correctly rounded).
MT_DEVICE float mt_rsqrt(float x) { return 1.0f / sqrtf(x); }
MT_DEVICE float mt_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
MT_DEVICE float mt_silu(float x) { return x * mt_sigmoid(x); }
// The exact (erf) form, x/2 * (1 + erf(x * (1/sqrt(2)))), with 1/sqrt(2) rounded to f32.
MT_DEVICE float mt_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }

// ---- loops ----------------------------------------------------------------------------------
// A loop variable's next value: v + step, or hi when that would reach hi or pass the end of
// T's range, so a loop ends where the interpreter's exact 64-bit loop arithmetic ends it
// instead of wrapping and running on. v < hi here, so the unsigned distance hi - v is exact for
// u32 and i32 alike, and v + step stays in range. A step <= 0 ends the loop too (checked mode
// has reported it in mt_loop_start; unchecked code runs the body once rather than hang).
template <class T>
MT_DEVICE T mt_loop_next(T v, T hi, T step) {
  const unsigned int room = (unsigned int)hi - (unsigned int)v;
  return step > (T)0 && (unsigned int)step < room ? (T)(v + step) : hi;
}

// ---- thread identity ----------------------------------------------------------------------
// Threads of a group are linearised x fastest, as CUDA numbers them for warps, so the IR's
// 32-lane warps are the hardware's warps. A partial last warp has fewer threads.
MT_DEVICE unsigned int mt_linear_thread() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
MT_DEVICE unsigned int mt_group_threads() { return blockDim.x * blockDim.y * blockDim.z; }
MT_DEVICE unsigned int mt_lane_id() { return mt_linear_thread() % 32u; }
MT_DEVICE unsigned int mt_warp_id() { return mt_linear_thread() / 32u; }

// The lanes of the caller's warp that exist: all 32, or the first few of a partial last warp.
// Every warp collective passes this mask, so absent lanes are never waited for.
MT_DEVICE unsigned int mt_warp_mask() {
  const unsigned int present = mt_group_threads() - mt_linear_thread() / 32u * 32u;
  return present >= 32u ? 0xFFFFFFFFu : (1u << present) - 1u;
}

// ---- warp shuffles --------------------------------------------------------------------------
// v of lane `src` (0..31, present in `mask`), for a value of any type of up to 8 bytes: its
// bits travel through a 32- or 64-bit shuffle unchanged (bool, 8-bit, half types, pairs).
template <class T>
MT_DEVICE T mt_shfl_sync(unsigned int mask, T v, unsigned int src) {
  static_assert(sizeof(T) <= 8, "a shuffled value has at most 8 bytes");
  if constexpr (sizeof(T) <= 4) {
    unsigned int bits = 0u;
    memcpy(&bits, &v, sizeof(T));
    bits = __shfl_sync(mask, bits, (int)src);
    memcpy(&v, &bits, sizeof(T));
  } else {
    unsigned long long bits = 0ull;
    memcpy(&bits, &v, sizeof(T));
    bits = __shfl_sync(mask, bits, (int)src);
    memcpy(&v, &bits, sizeof(T));
  }
  return v;
}

// v of lane `src` of the caller's warp, or the caller's own v when that lane is outside the
// warp (>= 32) or absent. Every present lane of the warp must call it together.
template <class T>
MT_DEVICE T mt_shuffle_from(T v, unsigned int src) {
  const unsigned int mask = mt_warp_mask();
  const T other = mt_shfl_sync(mask, v, src & 31u);
  return src < 32u && ((mask >> src) & 1u) != 0u ? other : v;
}
template <class T>
MT_DEVICE T mt_shuffle(T v, unsigned int lane) {
  return mt_shuffle_from(v, lane);
}
template <class T>
MT_DEVICE T mt_shuffle_xor(T v, unsigned int bits) {
  return mt_shuffle_from(v, mt_lane_id() ^ bits);
}
// Lanes below `delta` (up) or at 32 - delta and above (down) keep their own value; the
// comparisons avoid forming lane - delta or lane + delta where it would wrap.
template <class T>
MT_DEVICE T mt_shuffle_up(T v, unsigned int delta) {
  const unsigned int lane = mt_lane_id();
  return mt_shuffle_from(v, delta <= lane ? lane - delta : 32u);
}
template <class T>
MT_DEVICE T mt_shuffle_down(T v, unsigned int delta) {
  const unsigned int lane = mt_lane_id();
  return mt_shuffle_from(v, delta < 32u - lane ? lane + delta : 32u);
}

// ---- combines: how reductions and atomics merge two values ---------------------------------
// Reductions run on float (f16 and bf16 are widened by the emitted code and rounded once at
// the end), int and unsigned int, with the IR's semantics: integer arithmetic wraps; float
// Min/Max return the non-NaN operand and order -0 below +0 (fminf/fmaxf). Each combine is
// commutative bit for bit (NaN payloads aside), which the butterfly below relies on.
struct mt_combine_add {
  MT_DEVICE float apply(float a, float b) { return a + b; }
  MT_DEVICE int apply(int a, int b) { return mt_add(a, b); }
  MT_DEVICE unsigned int apply(unsigned int a, unsigned int b) { return a + b; }
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicAdd(p, v);
  }
};
struct mt_combine_mul {
  MT_DEVICE float apply(float a, float b) { return a * b; }
  MT_DEVICE int apply(int a, int b) { return mt_mul(a, b); }
  MT_DEVICE unsigned int apply(unsigned int a, unsigned int b) { return a * b; }
};
struct mt_combine_max {
  MT_DEVICE float apply(float a, float b) { return fmaxf(a, b); }
  MT_DEVICE int apply(int a, int b) { return mt_max(a, b); }
  MT_DEVICE unsigned int apply(unsigned int a, unsigned int b) { return mt_max(a, b); }
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicMax(p, v);
  }
};
struct mt_combine_min {
  MT_DEVICE float apply(float a, float b) { return fminf(a, b); }
  MT_DEVICE int apply(int a, int b) { return mt_min(a, b); }
  MT_DEVICE unsigned int apply(unsigned int a, unsigned int b) { return mt_min(a, b); }
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicMin(p, v);
  }
};
// Bitwise combines exist for atomics only.
struct mt_combine_and {
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicAnd(p, v);
  }
};
struct mt_combine_or {
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicOr(p, v);
  }
};
struct mt_combine_xor {
  template <class T>
  MT_DEVICE T atomic(T* p, T v) {
    return atomicXor(p, v);
  }
};

// Argmax candidates: a value and the index that came with it. The largest value wins, the
// lowest index on ties (-0 equals +0); NaN loses to every number, and among NaNs the lowest
// index wins. Candidates with equal values and equal indices may come out in either order,
// which changes nothing: only the index is returned.
template <class V>
struct mt_arg {
  V value;
  unsigned int index;
};
MT_DEVICE bool mt_arg_wins(mt_arg<float> a, mt_arg<float> b) {
  const bool a_nan = isnan(a.value), b_nan = isnan(b.value);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.value != b.value) return a.value > b.value;
  return a.index < b.index;
}
template <class V>
MT_DEVICE bool mt_arg_wins(mt_arg<V> a, mt_arg<V> b) {
  return a.value != b.value ? a.value > b.value : a.index < b.index;
}
struct mt_combine_argmax {
  template <class V>
  MT_DEVICE mt_arg<V> apply(mt_arg<V> a, mt_arg<V> b) {
    return mt_arg_wins(a, b) ? a : b;
  }
};

// ---- warp collectives -----------------------------------------------------------------------
// Reductions combine as the interpreter does (backends/cpu/collectives.cpp): a pairwise tree
// over lanes, 0 with 1, 2 with 3, then pairs of pairs, skipping partners past the end, so
// float results match it bit for bit.

// Combine C of v over lanes [0, count) of the caller's warp, returned to every present lane
// (count >= 1; those lanes present). At stride s, lane i (a multiple of 2s) takes in lane
// i + s when that lies below `count`; lane 0 ends with the total and broadcasts it.
template <class C, class T>
MT_DEVICE T mt_warp_reduce_first(T v, unsigned int count) {
  const unsigned int mask = mt_warp_mask();
  const unsigned int lane = mt_lane_id();
  for (unsigned int stride = 1u; stride < count; stride *= 2u) {
    const T other = mt_shfl_sync(mask, v, (lane + stride) & 31u);
    if (lane + stride < count) v = C::apply(v, other);
  }
  return mt_shfl_sync(mask, v, 0u);
}

// Combine C of v over the present lanes of the caller's warp, returned to every one of them.
// A full warp uses a butterfly, the same tree with no broadcast: at each stride both partners
// combine the same two partial results, in either order, and the combines are commutative, so
// every lane ends with lane 0's bits.
template <class C, class T>
MT_DEVICE T mt_warp_reduce(T v) {
  const unsigned int mask = mt_warp_mask();
  if (mask != 0xFFFFFFFFu) return mt_warp_reduce_first<C>(v, (unsigned int)__popc(mask));
  const unsigned int lane = mt_lane_id();
  for (unsigned int stride = 1u; stride < 32u; stride *= 2u) {
    v = C::apply(v, mt_shfl_sync(mask, v, lane ^ stride));
  }
  return v;
}

// Inclusive (or exclusive: 0 for lane 0) sum of v over lanes <= (<) the caller's, in a
// Hillis-Steele scan: each step adds the partial sum `offset` lanes down. Reads only lower
// lanes, which are present whenever the caller is. Float sums associate differently from the
// interpreter's lane-order sum; starting from 0 + v gives lane 0 its +0 for a -0 input.
template <class T>
MT_DEVICE T mt_warp_prefix_sum(T v, bool inclusive) {
  const unsigned int mask = mt_warp_mask();
  const unsigned int lane = mt_lane_id();
  v = mt_combine_add::apply(T(0), v);
  for (unsigned int offset = 1u; offset < 32u; offset *= 2u) {
    const T lower = mt_shfl_sync(mask, v, lane >= offset ? lane - offset : lane);
    if (lane >= offset) v = mt_combine_add::apply(lower, v);
  }
  if (inclusive) return v;
  const T previous = mt_shfl_sync(mask, v, lane >= 1u ? lane - 1u : 0u);
  return lane >= 1u ? previous : T(0);
}

// ---- threadgroup collectives ----------------------------------------------------------------
// One __shared__ scratch per kernel (emitted as `mt_scratch` when a kernel has threadgroup
// collectives): 32 per-warp partials of up to 8 bytes, then the result at byte 256, apart
// from every partial, so a thread still reading one collective's result never races the next
// collective's partials.
enum : unsigned int { mt_scratch_bytes = 264u, mt_scratch_result = 256u };

// Combine C of v over the whole threadgroup (up to 1024 threads, any count), returned to
// every thread; every thread must call it. Warps reduce, lane 0 of each stores its partial,
// the first warp reduces the partials and stores the total, and everyone reads it: the
// interpreter's pairwise tree over the group's linear thread index, strides 1..16 within the
// warps and 32..512 across them. The two barriers order each use of the scratch against the
// next collective's.
template <class C, class T>
MT_DEVICE T mt_threadgroup_reduce(T v, unsigned char* scratch) {
  static_assert(sizeof(T) <= 8, "a partial has at most 8 bytes");
  const T warp_total = mt_warp_reduce<C>(v);
  const unsigned int warps = (mt_group_threads() + 31u) / 32u;
  if (warps == 1u) return warp_total;  // the same for the whole group: no scratch needed
  T* partials = reinterpret_cast<T*>(scratch);
  T* total = reinterpret_cast<T*>(scratch + mt_scratch_result);
  const unsigned int lane = mt_lane_id();
  if (lane == 0u) partials[mt_warp_id()] = warp_total;
  __syncthreads();
  if (mt_warp_id() == 0u) {
    // warps <= 32 and, with more than one warp, the first warp is full.
    const T sum = mt_warp_reduce_first<C>(partials[lane < warps ? lane : 0u], warps);
    if (lane == 0u) *total = sum;
  }
  __syncthreads();
  return *total;
}

// The index of the group's largest value (see mt_arg_wins), returned to every thread.
template <class V>
MT_DEVICE unsigned int mt_threadgroup_argmax(V value, unsigned int index, unsigned char* scratch) {
  return mt_threadgroup_reduce<mt_combine_argmax>(mt_arg<V>{value, index}, scratch).index;
}

// ---- vector access --------------------------------------------------------------------------
// N elements src[0..N) -> dst[0..N) in one 4-, 8- or 16-byte access; the tensor side must be
// aligned to the access size (the index is a multiple of N and allocations are aligned). The
// per-thread side is copied with memcpy, which keeps a per-thread array in registers.
template <unsigned int N, class T>
MT_DEVICE void mt_vector_copy_in(T* dst, const T* src) {
  static_assert(N * sizeof(T) == 4 || N * sizeof(T) == 8 || N * sizeof(T) == 16,
                "vector access of 4, 8 or 16 bytes");
  if constexpr (N * sizeof(T) == 16) {
    const uint4 bits = *reinterpret_cast<const uint4*>(src);
    memcpy(dst, &bits, 16);
  } else if constexpr (N * sizeof(T) == 8) {
    const uint2 bits = *reinterpret_cast<const uint2*>(src);
    memcpy(dst, &bits, 8);
  } else {
    const unsigned int bits = *reinterpret_cast<const unsigned int*>(src);
    memcpy(dst, &bits, 4);
  }
}
template <unsigned int N, class T>
MT_DEVICE void mt_vector_copy_out(T* dst, const T* src) {
  static_assert(N * sizeof(T) == 4 || N * sizeof(T) == 8 || N * sizeof(T) == 16,
                "vector access of 4, 8 or 16 bytes");
  if constexpr (N * sizeof(T) == 16) {
    uint4 bits;
    memcpy(&bits, src, 16);
    *reinterpret_cast<uint4*>(dst) = bits;
  } else if constexpr (N * sizeof(T) == 8) {
    uint2 bits;
    memcpy(&bits, src, 8);
    *reinterpret_cast<uint2*>(dst) = bits;
  } else {
    unsigned int bits;
    memcpy(&bits, src, 4);
    *reinterpret_cast<unsigned int*>(dst) = bits;
  }
}

// ---- memory access: checked or plain -------------------------------------------------------
// Emitted code makes every tensor and array access, atomic and loop start through the helpers
// below, with the same calls in checked and unchecked builds; the emitted source defines
// MT_CHECKED (1 or 0) above its include of this prelude, which picks their definitions. The
// unchecked ones are the plain operation in one __forceinline__ line (p[i], atomicAdd(p + i, v),
// the loop's lo) and compile to the code plain indexing gives; their count, fault and site
// arguments are unused, mt_fault is empty and mt_report does nothing.
#if MT_CHECKED

// Checked: each thread keeps its first failure in registers (an mt_fault local the emitted
// kernel declares as `mt_first_fault`) and reports it when the body ends (mt_report). A failed
// check thus writes only registers, and the compiler may still issue later loads early: on an
// H100 a checked scalar copy runs at 90% of the unchecked one's speed, against 60% when each
// failure went to memory at once. Reporting late is safe: a failed access is skipped, never
// performed.
struct mt_fault {
  unsigned int kind;  // 0: none yet
  unsigned int site;
  long long value;
};

MT_DEVICE void mt_note(mt_fault& fault, unsigned int kind, unsigned int site, long long value) {
  if (fault.kind != 0u) return;  // keep the thread's first failure
  fault.kind = kind;
  fault.site = site;
  fault.value = value;
}

// Records a failure in the error record unless another thread's came first.
MT_DEVICE void mt_fail(unsigned int* error, unsigned int kind, unsigned int site, long long value) {
  if (atomicCAS(&error[mt_error_word_kind], 0u, kind) != 0u) return;
  error[mt_error_word_site] = site;
  error[mt_error_word_value_lo] = (unsigned int)((unsigned long long)value & 0xFFFFFFFFull);
  error[mt_error_word_value_hi] = (unsigned int)((unsigned long long)value >> 32);
  error[mt_error_word_group + 0u] = blockIdx.x;
  error[mt_error_word_group + 1u] = blockIdx.y;
  error[mt_error_word_group + 2u] = blockIdx.z;
  error[mt_error_word_thread + 0u] = threadIdx.x;
  error[mt_error_word_thread + 1u] = threadIdx.y;
  error[mt_error_word_thread + 2u] = threadIdx.z;
}

// The end of the body: the thread's first failure, if any, goes to the error record.
MT_DEVICE void mt_report(const mt_fault& fault, unsigned int* error) {
  if (fault.kind != 0u) mt_fail(error, fault.kind, fault.site, fault.value);
}

// An index (int or unsigned int) lies in [0, count).
template <class I>
MT_DEVICE bool mt_in_bounds(I index, unsigned long long count) {
  const long long i = (long long)index;
  return i >= 0 && (unsigned long long)i < count;
}

// A failed load reads nothing and yields zero; a failed store writes nothing.
template <class T, class I>
MT_DEVICE T mt_load(const T* p, I index, unsigned long long count, mt_fault& fault,
                    unsigned int site) {
  if (mt_in_bounds(index, count)) return p[index];
  mt_note(fault, mt_error_load, site, (long long)index);
  return T();
}

template <class T, class I>
MT_DEVICE void mt_store(T* p, I index, T value, unsigned long long count, mt_fault& fault,
                        unsigned int site) {
  if (mt_in_bounds(index, count)) {
    p[index] = value;
  } else {
    mt_note(fault, mt_error_store, site, (long long)index);
  }
}

// A loop's first value; a loop that would run with a step <= 0 never ends, so it fails and
// starts at `hi` (no iterations) instead.
template <class T>
MT_DEVICE T mt_loop_start(T lo, T hi, T step, mt_fault& fault, unsigned int site) {
  if (lo < hi && (long long)step <= 0) {
    mt_note(fault, mt_error_loop_step, site, (long long)step);
    return hi;
  }
  return lo;
}

// Arrays: a failed array load yields zero, a failed store or atomic does nothing; the
// failure names the array (mt_error_array).
template <class T, class I>
MT_DEVICE T mt_array_load(const T* a, I index, unsigned long long size, mt_fault& fault,
                          unsigned int site) {
  if (mt_in_bounds(index, size)) return a[index];
  mt_note(fault, mt_error_array, site, (long long)index);
  return T();
}

template <class T, class I>
MT_DEVICE void mt_array_store(T* a, I index, T value, unsigned long long size, mt_fault& fault,
                              unsigned int site) {
  if (mt_in_bounds(index, size)) {
    a[index] = value;
  } else {
    mt_note(fault, mt_error_array, site, (long long)index);
  }
}

template <class C, class T, class I>
MT_DEVICE T mt_array_atomic(T* a, I index, T value, unsigned long long size, mt_fault& fault,
                            unsigned int site) {
  if (mt_in_bounds(index, size)) return C::atomic(a + index, value);
  mt_note(fault, mt_error_array, site, (long long)index);
  return T();
}

// An atomic on a tensor: the old value, or zero (touching nothing) when out of bounds.
template <class C, class T, class I>
MT_DEVICE T mt_atomic(T* p, I index, T value, unsigned long long count, mt_fault& fault,
                      unsigned int site) {
  if (mt_in_bounds(index, count)) return C::atomic(p + index, value);
  mt_note(fault, mt_error_store, site, (long long)index);
  return T();
}

// A vector access needs an index that is a multiple of N (so the access is aligned) and N
// elements in bounds; otherwise it fails and is skipped (the per-thread array keeps its values).
template <unsigned int N, class I>
MT_DEVICE bool mt_vector_ok(I index, unsigned long long count, unsigned int kind, mt_fault& fault,
                            unsigned int site) {
  const long long i = (long long)index;
  if (i % (long long)N != 0) {
    mt_note(fault, mt_error_vector_align, site, i);
    return false;
  }
  if (i < 0 || (unsigned long long)i + N > count) {
    mt_note(fault, kind, site, i);
    return false;
  }
  return true;
}

template <unsigned int N, class T, class I>
MT_DEVICE void mt_load_vector(T* dst, const T* p, I index, unsigned long long count,
                              mt_fault& fault, unsigned int site) {
  if (mt_vector_ok<N>(index, count, mt_error_load, fault, site)) {
    mt_vector_copy_in<N>(dst, p + index);
  }
}

template <unsigned int N, class T, class I>
MT_DEVICE void mt_store_vector(T* p, I index, const T* src, unsigned long long count,
                               mt_fault& fault, unsigned int site) {
  if (mt_vector_ok<N>(index, count, mt_error_store, fault, site)) {
    mt_vector_copy_out<N>(p + index, src);
  }
}

#else  // unchecked: the plain operations

struct mt_fault {};
MT_DEVICE void mt_report(const mt_fault&, unsigned int*) {}

template <class T, class I>
MT_DEVICE T mt_load(const T* p, I index, unsigned long long, mt_fault&, unsigned int) {
  return p[index];
}
template <class T, class I>
MT_DEVICE void mt_store(T* p, I index, T value, unsigned long long, mt_fault&, unsigned int) {
  p[index] = value;
}
template <class T>
MT_DEVICE T mt_loop_start(T lo, T, T, mt_fault&, unsigned int) {
  return lo;
}
template <class T, class I>
MT_DEVICE T mt_array_load(const T* a, I index, unsigned long long, mt_fault&, unsigned int) {
  return a[index];
}
template <class T, class I>
MT_DEVICE void mt_array_store(T* a, I index, T value, unsigned long long, mt_fault&, unsigned int) {
  a[index] = value;
}
template <class C, class T, class I>
MT_DEVICE T mt_array_atomic(T* a, I index, T value, unsigned long long, mt_fault&, unsigned int) {
  return C::atomic(a + index, value);
}
template <class C, class T, class I>
MT_DEVICE T mt_atomic(T* p, I index, T value, unsigned long long, mt_fault&, unsigned int) {
  return C::atomic(p + index, value);
}
template <unsigned int N, class T, class I>
MT_DEVICE void mt_load_vector(T* dst, const T* p, I index, unsigned long long, mt_fault&,
                              unsigned int) {
  mt_vector_copy_in<N>(dst, p + index);
}
template <unsigned int N, class T, class I>
MT_DEVICE void mt_store_vector(T* p, I index, const T* src, unsigned long long, mt_fault&,
                               unsigned int) {
  mt_vector_copy_out<N>(p + index, src);
}

#endif  // MT_CHECKED

// Programmatic dependent launch (sm_90 and later): a kernel launched to overlap the one before
// it in the stream waits here for that kernel's end and writes; the release lets the next
// kernel start early. Before sm_90 launches never overlap and both are no-ops.
MT_DEVICE void mt_wait_prior_kernel() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
MT_DEVICE void mt_release_next_kernel() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// A hint: elements [first, first + n) of p (count in all) into L2, clipped to the tensor and
// to whole 16-byte granules (the bulk prefetch's alignment), so it never touches other memory.
template <class T>
MT_DEVICE void mt_prefetch_l2(const T* p, unsigned int first, unsigned int n,
                              unsigned long long count) {
#if __CUDA_ARCH__ >= 900
  if ((unsigned long long)first >= count) return;
  unsigned long long end = (unsigned long long)first + n;
  if (end > count) end = count;
  const unsigned long long lo = ((unsigned long long)(p + first) + 15ull) & ~15ull;
  const unsigned long long hi = ((unsigned long long)(p + end)) & ~15ull;
  if (hi <= lo) return;
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(lo), "r"((unsigned int)(hi - lo))
               : "memory");
#endif
}

// Emitted code is mechanical: a value the IR leaves unused (177, 550) or a comparison of an
// unsigned value with the constant 0 (186) is what the IR says, not a mistake to report.
#pragma nv_diag_suppress 177
#pragma nv_diag_suppress 550
#pragma nv_diag_suppress 186
