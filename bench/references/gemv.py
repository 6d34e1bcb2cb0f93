"""PyTorch versions of the GEMV and MLX affine kernels (docs/kernels/gemv.md, quantized.md).

Dense GEMV: torch.nn.functional.linear, which calls cuBLAS. Quantised GEMV and GEMM: what a
PyTorch user without a fused kernel does (dequantise the weight, then linear: cuBLAS), and
linear on a dense weight of the same shape in the same dtype, so the quantised kernel's time
reads against both.
"""
import torch
import torch.nn.functional as F

from references._common import eager_and_compiled


def _gemv_dims(case):
    k, n = case.scalar("k"), case.scalar("n")
    return case.elements("x") // k, n, k


def gemv(case):
    m, n, k = _gemv_dims(case)
    w, x = case.tensor("w", (n, k)), case.tensor("x", (m, k))
    return {"cuBLAS (torch linear)": lambda: F.linear(x, w)}


def _format(case):
    bits, g = case.scalar("bits"), case.scalar("group_size")
    if 32 % bits != 0:
        raise ValueError(f"the torch dequantiser unpacks 2, 4 and 8 bits, not {bits}")
    return bits, g


def _affine_tensors(case, rows, k):
    """wq [rows, k * bits / 32], scales and biases [rows, k / g, 1] of the case."""
    bits, g = _format(case)
    return (case.tensor("wq", (rows, k * bits // 32)), case.tensor("scales", (rows, k // g, 1)),
            case.tensor("biases", (rows, k // g, 1)))


def _dequantize(wq, scales, biases, bits, g, k):
    """[rows, k] weights from codes stored LSB-first in u32 words (as dequantize_affine)."""
    rows = wq.shape[0]
    shifts = torch.arange(0, 32, bits, device=wq.device, dtype=torch.int32)
    q = (wq.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)  # [rows, words, codes per word]
    q = q.reshape(rows, k // g, g).to(scales.dtype)
    return (q * scales + biases).reshape(rows, k)


def qgemv_affine(case):
    m, n, k = _gemv_dims(case)
    bits, g = _format(case)
    x = case.tensor("x", (m, k))
    wq, scales, biases = _affine_tensors(case, n, k)
    dense = torch.rand(n, k, device=x.device, dtype=torch.float32).to(x.dtype)
    return {
        "dequantize + cuBLAS (torch)":
            lambda: F.linear(x, _dequantize(wq, scales, biases, bits, g, k)),
        "cuBLAS on a dense weight (torch linear)": lambda: F.linear(x, dense),
    }


def qgemm_affine(case):
    m, n, k = case.scalar("m"), case.scalar("n"), case.scalar("k")
    bits, g = _format(case)
    a = case.tensor("a", (m, k))
    wq, scales, biases = _affine_tensors(case, n, k)
    dense = torch.rand(n, k, device=a.device, dtype=torch.float32).to(a.dtype)
    return {
        "dequantize + cuBLAS (torch)":
            lambda: F.linear(a, _dequantize(wq, scales, biases, bits, g, k)),
        "cuBLAS on a dense weight (torch linear)": lambda: F.linear(a, dense),
    }


def dequantize_affine(case):
    k = case.scalar("k")
    bits, g = _format(case)
    wq, scales, biases = _affine_tensors(case, case.elements("out") // k, k)
    return eager_and_compiled(lambda: _dequantize(wq, scales, biases, bits, g, k))


def embedding_affine(case):
    dim = case.scalar("dim")
    bits, g = _format(case)
    vocab = case.elements("wq") // (dim * bits // 32)
    ids = case.tensor("ids").long()
    wq, scales, biases = _affine_tensors(case, vocab, dim)
    return eager_and_compiled(
        lambda: _dequantize(wq[ids], scales[ids], biases[ids], bits, g, dim))


def _norm_inputs(case, rows):
    k = case.scalar("k")
    h, g = case.tensor("h", (1, k)), case.tensor("norm", (k,))
    return h, g, case.tensor("w", (rows, k)), case.scalar("eps")


def rms_norm_gemv(case):
    """What the decode step did before the fusion: RMS norm, then cuBLAS."""
    h, g, w, eps = _norm_inputs(case, case.scalar("n"))
    return eager_and_compiled(lambda: F.linear(F.rms_norm(h, (h.shape[-1],), g, eps), w))


def rms_norm_gemv_swiglu(case):
    h, g, w, eps = _norm_inputs(case, 2 * case.scalar("n"))

    def fn():
        gate, up = F.linear(F.rms_norm(h, (h.shape[-1],), g, eps), w).chunk(2, dim=-1)
        return F.silu(gate) * up
    return eager_and_compiled(fn)


def residual_gemv(case):
    k, n = case.scalar("k"), case.scalar("n")
    x, w, residual = case.tensor("x", (1, k)), case.tensor("w", (n, k)), case.tensor("residual", (1, n))
    return eager_and_compiled(lambda: residual + F.linear(x, w))


REFERENCES = {
    "rms_norm_gemv": rms_norm_gemv,
    "rms_norm_gemv_swiglu": rms_norm_gemv_swiglu,
    "residual_gemv": residual_gemv,
    "gemv": gemv,
    "gemv_m1": gemv,
    "gemv_m4": gemv,
    "gemv_m8": gemv,
    "qgemv_affine": qgemv_affine,
    "qgemv_affine_m1": qgemv_affine,
    "qgemv_affine_m1_r2": qgemv_affine,
    "qgemv_affine_m4": qgemv_affine,
    "qgemv_affine_m8": qgemv_affine,
    "qgemm_affine": qgemm_affine,
    "qgemm_affine_128x128": qgemm_affine,
    "qgemm_affine_128x128_w8": qgemm_affine,
    "dequantize_affine": dequantize_affine,
    "embedding_affine": embedding_affine,
}
