// MetalTile CUDA prelude: the device helpers emitted kernels call, where plain C++ on the GPU
// would not give the IR's semantics (core/kernel.hpp). Embedded in the library at build time
// and handed to NVRTC as the header "metaltile_prelude.cuh"; the emitted source defines the
// error record constants (backends/cuda/cuda_abi.hpp) before including it.
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
MT_DEVICE unsigned int mt_fp8_magnitude(unsigned int a, int mant, int bias,
                                        float subnormal_scale) {
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
MT_DEVICE T mt_add(T a, T b) { return (T)((unsigned int)a + (unsigned int)b); }
template <class T>
MT_DEVICE T mt_sub(T a, T b) { return (T)((unsigned int)a - (unsigned int)b); }
template <class T>
MT_DEVICE T mt_mul(T a, T b) { return (T)((unsigned int)a * (unsigned int)b); }
template <class T>
MT_DEVICE T mt_neg(T a) { return (T)(0u - (unsigned int)a); }
MT_DEVICE int mt_abs(int a) { return a < 0 ? mt_neg(a) : a; }
MT_DEVICE signed char mt_abs(signed char a) { return a < 0 ? mt_neg(a) : a; }
MT_DEVICE unsigned char mt_abs(unsigned char a) { return a; }
template <class T>
MT_DEVICE T mt_not(T a) { return (T)~a; }
template <class T>
MT_DEVICE T mt_and(T a, T b) { return (T)(a & b); }
template <class T>
MT_DEVICE T mt_or(T a, T b) { return (T)(a | b); }
template <class T>
MT_DEVICE T mt_xor(T a, T b) { return (T)(a ^ b); }
template <class T>
MT_DEVICE T mt_min(T a, T b) { return b < a ? b : a; }
template <class T>
MT_DEVICE T mt_max(T a, T b) { return a < b ? b : a; }
template <class T>
MT_DEVICE T mt_shl(T a, T b) {
  return (T)((unsigned int)a << ((unsigned int)b & (8u * sizeof(T) - 1u)));
}
// Arithmetic on signed types: `a` promotes to int with its sign.
template <class T>
MT_DEVICE T mt_shr(T a, T b) { return (T)(a >> ((unsigned int)b & (8u * sizeof(T) - 1u))); }

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
// The exact (erf) form, x/2 * (1 + erf(x / sqrt(2))), with sqrt(2) rounded to f32.
MT_DEVICE float mt_gelu(float x) { return 0.5f * x * (1.0f + erff(x / 1.41421356f)); }

// ---- checked mode -------------------------------------------------------------------------
// Records the first failure of the launch in the error record; later failures keep the first.
MT_DEVICE void mt_fail(unsigned int* error, unsigned int kind, unsigned int site,
                       long long value) {
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

// An index (int or unsigned int) lies in [0, count).
template <class I>
MT_DEVICE bool mt_in_bounds(I index, unsigned long long count) {
  const long long i = (long long)index;
  return i >= 0 && (unsigned long long)i < count;
}

// A failed load reads nothing and yields zero; a failed store writes nothing.
template <class T, class I>
MT_DEVICE T mt_load(const T* p, I index, unsigned long long count, unsigned int* error,
                    unsigned int site) {
  if (mt_in_bounds(index, count)) return p[index];
  mt_fail(error, mt_error_load, site, (long long)index);
  return T();
}

template <class T, class I>
MT_DEVICE void mt_store(T* p, I index, T value, unsigned long long count, unsigned int* error,
                        unsigned int site) {
  if (mt_in_bounds(index, count)) {
    p[index] = value;
  } else {
    mt_fail(error, mt_error_store, site, (long long)index);
  }
}

// A loop's first value; a loop that would run with a step <= 0 never ends, so it fails and
// starts at `hi` (no iterations) instead.
template <class T>
MT_DEVICE T mt_loop_start(T lo, T hi, T step, unsigned int* error, unsigned int site) {
  if (lo < hi && (long long)step <= 0) {
    mt_fail(error, mt_error_loop_step, site, (long long)step);
    return hi;
  }
  return lo;
}

// Emitted code is mechanical: a value the IR leaves unused (177, 550) or a comparison of an
// unsigned value with the constant 0 (186) is what the IR says, not a mistake to report.
#pragma nv_diag_suppress 177
#pragma nv_diag_suppress 550
#pragma nv_diag_suppress 186
