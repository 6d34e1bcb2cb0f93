"""PyTorch versions of the fused norms (ffai::norms): the residual add and RMS norm with both
results, as a decoder layer writes it, and the RMS norm of many short rows (per-head q/k norm)."""
import torch.nn.functional as F

from references._common import eager_and_compiled


def _rows(case):
    n = case.scalar("n")
    return case.elements("x") // n, n


def add_rms_norm(case):
    r, n = _rows(case)
    x, residual = case.tensor("x", (r, n)), case.tensor("residual", (r, n))
    w, eps = case.tensor("w") + case.scalar("weight_offset"), case.scalar("eps")

    def add_norm():
        h = x + residual
        return h, F.rms_norm(h, (n,), w, eps)

    return eager_and_compiled(add_norm)


def rms_norm_short_rows(case):
    r, n = _rows(case)
    x, w, eps = case.tensor("x", (r, n)), case.tensor("w"), case.scalar("eps")
    w = w + case.scalar("weight_offset")
    return eager_and_compiled(lambda: F.rms_norm(x, (n,), w, eps))


REFERENCES = {
    "add_rms_norm": add_rms_norm,
    "rms_norm_short_rows": rms_norm_short_rows,
}
