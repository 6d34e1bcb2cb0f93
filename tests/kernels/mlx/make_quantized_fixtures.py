#!/usr/bin/env python3
"""Writes tests/kernels/mlx/fixtures/affine_quantized.bin: MLX's own affine quantisation
(mx.quantize, mx.dequantize, mx.quantized_matmul with transpose=True) of small weights, for
every bits value (2, 3, 4, 5, 6, 8), group size (32, 64, 128) and dtype (f32, f16, bf16), on
MLX's CPU backend. The C++ tests (quantized_mlx_test.cpp) compare the quantisation kernels with
these bit for bit, so CI needs no Python. Rerun after an MLX upgrade: pip install "mlx[cpu]".

Layout, all little-endian: b"MTAQ", u32 version (1), u32 record count, the MLX version as a
u32 length and UTF-8 bytes, then per record:
  u8 dtype (0 f32, 1 f16, 2 bf16), u8 bits, u16 group_size, u32 n, u32 k, u32 m,
  w [n*k] T, wq [n*k*bits/32] u32, scales [n*k/group_size] T, biases [n*k/group_size] T,
  dequantized [n*k] T, x [m*k] T, y [m*n] T          (T elements as their raw 4 or 2 bytes)
"""
import pathlib
import struct

import mlx.core as mx
import numpy as np

DTYPES = [(0, mx.float32), (1, mx.float16), (2, mx.bfloat16)]
BITS = [2, 3, 4, 5, 6, 8]
GROUP_SIZES = [32, 64, 128]
ROWS = 3  # n: odd
X_ROWS = 3  # m


def row_length(group_size):
    # Three groups of 32 (K not a multiple of 64 or 128), else two groups.
    return 96 if group_size == 32 else 2 * group_size


def weights(rng, n, k, group_size, bits):
    w = rng.standard_normal((n, k)).astype(np.float32) * 2.0
    w[0, :group_size] = 0.5  # a constant group
    w[1, :group_size] = 0.0  # a zero group
    w[1, group_size:2 * group_size] = -np.abs(w[1, group_size:2 * group_size])  # min dominates
    # Multiples of 1/2 spanning [0, 2^bits - 1]: scale 1 exactly, so (w - bias) / scale lands
    # on .5 ties that round half to even.
    levels = 2 * ((1 << bits) - 1) + 1
    w[2, :group_size] = (np.arange(group_size) % levels) * 0.5
    w[2, :group_size][0] = 0.0
    w[2, :group_size][1] = float((1 << bits) - 1)
    return w


def raw(a):
    """The element bytes of an MLX array (bf16 through its u16 view)."""
    if a.dtype == mx.bfloat16:
        return np.array(a.view(mx.uint16)).tobytes()
    return np.array(a).tobytes()


def main():
    mx.set_default_device(mx.cpu)
    rng = np.random.default_rng(20240611)
    records = []
    for code, dtype in DTYPES:
        for bits in BITS:
            for group_size in GROUP_SIZES:
                n, k, m = ROWS, row_length(group_size), X_ROWS
                w = mx.array(weights(rng, n, k, group_size, bits)).astype(dtype)
                x = mx.array(rng.standard_normal((m, k)).astype(np.float32)).astype(dtype)
                wq, scales, biases = mx.quantize(w, group_size=group_size, bits=bits)
                deq = mx.dequantize(wq, scales, biases, group_size=group_size, bits=bits)
                y = mx.quantized_matmul(x, wq, scales, biases, transpose=True,
                                        group_size=group_size, bits=bits)
                mx.eval(wq, scales, biases, deq, y)
                assert wq.dtype == mx.uint32 and wq.shape == (n, k * bits // 32)
                assert scales.dtype == dtype and deq.dtype == dtype and y.dtype == dtype
                header = struct.pack("<BBHIII", code, bits, group_size, n, k, m)
                records.append(header + b"".join(raw(a) for a in (w, wq, scales, biases, deq, x, y)))
    version = mx.__version__.encode()
    out = pathlib.Path(__file__).resolve().parent / "fixtures" / "affine_quantized.bin"
    out.write_bytes(b"MTAQ" + struct.pack("<III", 1, len(records), len(version)) + version +
                    b"".join(records))
    print(f"{out}: {len(records)} records, {out.stat().st_size} bytes, mlx {mx.__version__}")


if __name__ == "__main__":
    main()
