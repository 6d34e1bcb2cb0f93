"""PyTorch versions of the KV-cache kernels (layouts: docs/kernels/kv_cache.md)."""
import torch

from references._common import eager_and_compiled

FP8 = {"e4m3": (torch.float8_e4m3fn, 448.0), "e5m2": (torch.float8_e5m2, 57344.0)}


def _cache_dims(case, tensor, per_position):
    d, s = case.scalar("head_dim"), case.scalar("max_seq")
    return case.elements(tensor) // (s * per_position), s, d


def kv_cache_update(case):
    h, s, d = _cache_dims(case, "out", case.scalar("head_dim"))
    src, out, pos = case.tensor("src", (h, d)), case.tensor("out", (h, s, d)), case.scalar("position")

    def update():
        out[:, pos, :] = src

    return eager_and_compiled(update)


def kv_cache_update_many(case):
    h, s, d = _cache_dims(case, "out", case.scalar("head_dim"))
    t = case.elements("positions")
    src = case.tensor("src", (t, h, d)).transpose(0, 1)
    positions = case.tensor("positions").long()
    out = case.tensor("out", (h, s, d))

    def update():
        out.index_copy_(1, positions, src)

    return eager_and_compiled(update)


def _quantize_affine(bits):
    vpp, maxq = 32 // bits, (1 << bits) - 1

    def make(case):
        g, pos = case.scalar("group_size"), case.scalar("position")
        h, s, d = _cache_dims(case, "out_w", case.scalar("head_dim") // vpp)
        d = case.scalar("head_dim")
        src = case.tensor("src", (h, d // g, g))
        out_w = case.tensor("out_w", (h, s, d // vpp))
        out_s, out_b = case.tensor("out_s", (h, s, d // g)), case.tensor("out_b", (h, s, d // g))
        shifts = torch.arange(vpp, device=src.device, dtype=torch.int32) * bits

        def quantize():
            x = src.float()
            mn, mx = x.amin(-1), x.amax(-1)
            spread = mx - mn
            scale = torch.where(spread == 0, torch.ones_like(spread), spread / maxq)
            q = ((x - mn[..., None]) * (1.0 / scale)[..., None] + 0.5).clamp(0, maxq)
            q = q.to(torch.int32).view(h, d // vpp, vpp)
            out_w[:, pos] = (q << shifts).sum(-1, dtype=torch.int32)
            out_s[:, pos] = scale.to(out_s.dtype)
            out_b[:, pos] = mn.to(out_b.dtype)

        return eager_and_compiled(quantize)

    return make


def _dequant_affine(bits):
    vpp, maxq = 32 // bits, (1 << bits) - 1

    def make(case):
        g, n = case.scalar("group_size"), case.scalar("n_positions")
        d = case.scalar("head_dim")
        h, s, _ = _cache_dims(case, "out", d)
        in_w = case.tensor("in_w", (h, s, d // vpp))
        in_s, in_b = case.tensor("in_s", (h, s, d // g)), case.tensor("in_b", (h, s, d // g))
        out = case.tensor("out", (h, s, d))
        shifts = torch.arange(vpp, device=out.device, dtype=torch.int32) * bits

        def dequant():
            q = ((in_w[:, :n, :, None] >> shifts) & maxq).view(h, n, d // g, g).float()
            v = q * in_s[:, :n, :, None].float() + in_b[:, :n, :, None].float()
            out[:, :n] = v.view(h, n, d).to(out.dtype)

        return eager_and_compiled(dequant)

    return make


def _quantize_fp8(fmt):
    fp8, fp8_max = FP8[fmt]

    def make(case):
        g, pos, d = case.scalar("group_size"), case.scalar("position"), case.scalar("head_dim")
        h, s, _ = _cache_dims(case, "out_w", d // 4)
        src = case.tensor("src", (h, d // g, g))
        out_w, out_s = case.tensor("out_w", (h, s, d // 4)), case.tensor("out_s", (h, s, d // g))

        def quantize():
            x = src.float()
            amax = x.abs().amax(-1)
            scale = torch.where(amax > 0, amax / fp8_max, torch.zeros_like(amax)).to(out_s.dtype)
            sf = scale.float()[..., None]
            y = torch.where(sf > 0, x / sf, torch.zeros_like(x)).clamp(-fp8_max, fp8_max)
            codes = y.to(fp8).view(torch.uint8).view(h, d)
            out_w[:, pos] = codes.view(torch.int32)
            out_s[:, pos] = scale

        return eager_and_compiled(quantize)

    return make


def _dequant_fp8(fmt):
    fp8, _ = FP8[fmt]

    def make(case):
        g, n, d = case.scalar("group_size"), case.scalar("n_positions"), case.scalar("head_dim")
        h, s, _ = _cache_dims(case, "out", d)
        in_w, in_s = case.tensor("in_w", (h, s, d // 4)), case.tensor("in_s", (h, s, d // g))
        out = case.tensor("out", (h, s, d))

        def dequant():
            codes = in_w[:, :n].contiguous().view(torch.uint8).view(fp8).view(h, n, d // g, g)
            v = codes.float() * in_s[:, :n, :, None].float()
            out[:, :n] = v.view(h, n, d).to(out.dtype)

        return eager_and_compiled(dequant)

    return make


REFERENCES = {
    "kv_cache_update": kv_cache_update,
    "kv_cache_update_many": kv_cache_update_many,
    "quantize_kv_int4": _quantize_affine(4),
    "quantize_kv_int8": _quantize_affine(8),
    "bulk_dequant_kv_int4": _dequant_affine(4),
    "bulk_dequant_kv_int8": _dequant_affine(8),
    "bulk_dequant_kv_int4_x8": _dequant_affine(4),
    "bulk_dequant_kv_int8_x8": _dequant_affine(8),
    "quantize_kv_fp8_e4m3": _quantize_fp8("e4m3"),
    "quantize_kv_fp8_e5m2": _quantize_fp8("e5m2"),
    "bulk_dequant_kv_fp8_e4m3": _dequant_fp8("e4m3"),
    "bulk_dequant_kv_fp8_e5m2": _dequant_fp8("e5m2"),
}
