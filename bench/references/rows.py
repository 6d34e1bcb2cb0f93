"""PyTorch versions of the MLX row kernels."""
import torch
import torch.nn.functional as F

from references._common import eager_and_compiled


def _rows(case):
    n = case.scalar("n")
    return case.elements("x") // n, n


def softmax(case):
    r, n = _rows(case)
    x = case.tensor("x", (r, n))
    return eager_and_compiled(lambda: torch.softmax(x, dim=-1))


def rms_norm(case):
    r, n = _rows(case)
    x, w, eps = case.tensor("x", (r, n)), case.tensor("w"), case.scalar("eps")
    w = w + case.scalar("weight_offset")  # Gemma's offset, folded into the weight beforehand
    return eager_and_compiled(lambda: F.rms_norm(x, (n,), w, eps))


def layer_norm(case):
    r, n = _rows(case)
    x, w, b, eps = case.tensor("x", (r, n)), case.tensor("w"), case.tensor("b"), case.scalar("eps")
    return eager_and_compiled(lambda: F.layer_norm(x, (n,), w, b, eps))


def argmax(case):
    r, n = _rows(case)
    x = case.tensor("x", (r, n))
    return eager_and_compiled(lambda: torch.argmax(x, dim=-1))


def row_sum(case):
    r, n = _rows(case)
    x = case.tensor("x", (r, n))
    return eager_and_compiled(lambda: x.sum(dim=-1))


def row_max(case):
    r, n = _rows(case)
    x = case.tensor("x", (r, n))
    return eager_and_compiled(lambda: x.amax(dim=-1))


REFERENCES = {
    "softmax": softmax,
    "rms_norm": rms_norm,
    "layer_norm": layer_norm,
    "argmax": argmax,
    "row_sum": row_sum,
    "row_max": row_max,
}
