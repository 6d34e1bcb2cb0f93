"""PyTorch versions of decode and prefill attention (layouts: docs/kernels/attention.md): torch
SDPA with grouped-query heads on each sequence's attended positions (prefill: causal over the
chunk's positions 0 .. T - 1), and for the quantised caches the dequantisation a PyTorch user
would write followed by the same SDPA."""
import torch
import torch.nn.functional as F

FP8 = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}


def _dims(case):
    b = case.elements("lengths")
    return (b, case.scalar("n_q_heads"), case.scalar("n_kv_heads"), case.scalar("max_seq"),
            case.scalar("head_dim"))


def _length(case):
    """The attended length: the benchmark fills every sequence's length with one value."""
    fill = case.fills.get("lengths", {})
    if fill.get("kind") != "value":
        raise ValueError("the reference needs lengths filled with one value")
    return fill["n"]


def _sdpa(case, q, k, v):
    """softmax(scale q k^T) v with GQA, on positions [0, len) of [B, Hkv, S, D] caches."""
    n = _length(case)
    return F.scaled_dot_product_attention(q, k[:, :, :n], v[:, :, :n], scale=case.scalar("scale"),
                                          enable_gqa=True)


def attention_decode(case):
    b, hq, hkv, s, d = _dims(case)
    q = case.tensor("q", (b, hq, 1, d))
    k, v = case.tensor("k", (b, hkv, s, d)), case.tensor("v", (b, hkv, s, d))
    return {"torch SDPA": lambda: _sdpa(case, q, k, v)}


def _affine(bits):
    vpp, maxq = 32 // bits, (1 << bits) - 1

    def make(case):
        b, hq, hkv, s, d = _dims(case)
        g, n = case.scalar("group_size"), _length(case)
        q = case.tensor("q", (b, hq, 1, d))
        caches = {x: (case.tensor(x + "_w", (b, hkv, s, d // vpp)),
                      case.tensor(x + "_s", (b, hkv, s, d // g)),
                      case.tensor(x + "_b", (b, hkv, s, d // g))) for x in ("k", "v")}
        shifts = torch.arange(vpp, device=q.device, dtype=torch.int32) * bits

        def dequant(w, sc, bias):
            codes = ((w[:, :, :n, :, None] >> shifts) & maxq).view(b, hkv, n, d // g, g)
            x = codes.to(q.dtype) * sc[:, :, :n, :, None] + bias[:, :, :n, :, None]
            return x.view(b, hkv, n, d)

        def attend():
            k, v = (dequant(*caches[x]) for x in ("k", "v"))
            return F.scaled_dot_product_attention(q, k, v, scale=case.scalar("scale"),
                                                  enable_gqa=True)

        return {"dequantise + torch SDPA": attend}

    return make


def _fp8(fmt):
    def make(case):
        b, hq, hkv, s, d = _dims(case)
        g, n = case.scalar("group_size"), _length(case)
        q = case.tensor("q", (b, hq, 1, d))
        caches = {x: (case.tensor(x + "_w", (b, hkv, s, d // 4)),
                      case.tensor(x + "_s", (b, hkv, s, d // g))) for x in ("k", "v")}

        def dequant(w, sc):
            codes = w[:, :, :n].contiguous().view(torch.uint8).view(FP8[fmt])
            x = codes.view(b, hkv, n, d // g, g).to(q.dtype) * sc[:, :, :n, :, None]
            return x.view(b, hkv, n, d)

        def attend():
            k, v = (dequant(*caches[x]) for x in ("k", "v"))
            return F.scaled_dot_product_attention(q, k, v, scale=case.scalar("scale"),
                                                  enable_gqa=True)

        return {"dequantise + torch SDPA": attend}

    return make


def _prefill_dims(case):
    """T, Hq, Hkv, S, D of a prefill case, whose positions are 0 .. T - 1 (iota)."""
    if case.fills.get("positions", {}).get("kind") != "iota":
        raise ValueError("the reference needs positions 0 .. T - 1")
    return (case.elements("positions"), case.scalar("n_q_heads"), case.scalar("n_kv_heads"),
            case.scalar("max_seq"), case.scalar("head_dim"))


def _causal(case, q, k, v):
    return F.scaled_dot_product_attention(q, k, v, scale=case.scalar("scale"), is_causal=True,
                                          enable_gqa=True)


def attention_prefill(case):
    t, hq, hkv, s, d = _prefill_dims(case)
    q = case.tensor("q", (1, t, hq, d)).transpose(1, 2)
    k, v = case.tensor("k", (1, hkv, s, d)), case.tensor("v", (1, hkv, s, d))
    return {"torch SDPA (causal)": lambda: _causal(case, q, k[:, :, :t], v[:, :, :t])}


def _prefill_affine(bits):
    vpp, maxq = 32 // bits, (1 << bits) - 1

    def make(case):
        t, hq, hkv, s, d = _prefill_dims(case)
        g = case.scalar("group_size")
        q = case.tensor("q", (1, t, hq, d)).transpose(1, 2)
        caches = {x: (case.tensor(x + "_w", (1, hkv, s, d // vpp)),
                      case.tensor(x + "_s", (1, hkv, s, d // g)),
                      case.tensor(x + "_b", (1, hkv, s, d // g))) for x in ("k", "v")}
        shifts = torch.arange(vpp, device=q.device, dtype=torch.int32) * bits

        def dequant(w, sc, bias):
            codes = ((w[:, :, :t, :, None] >> shifts) & maxq).view(1, hkv, t, d // g, g)
            x = codes.to(q.dtype) * sc[:, :, :t, :, None] + bias[:, :, :t, :, None]
            return x.view(1, hkv, t, d)

        def attend():
            k, v = (dequant(*caches[x]) for x in ("k", "v"))
            return _causal(case, q, k, v)

        return {"dequantise + torch SDPA (causal)": attend}

    return make


def _prefill_fp8(fmt):
    def make(case):
        t, hq, hkv, s, d = _prefill_dims(case)
        g = case.scalar("group_size")
        q = case.tensor("q", (1, t, hq, d)).transpose(1, 2)
        caches = {x: (case.tensor(x + "_w", (1, hkv, s, d // 4)),
                      case.tensor(x + "_s", (1, hkv, s, d // g))) for x in ("k", "v")}

        def dequant(w, sc):
            codes = w[:, :, :t].contiguous().view(torch.uint8).view(FP8[fmt])
            x = codes.view(1, hkv, t, d // g, g).to(q.dtype) * sc[:, :, :t, :, None]
            return x.view(1, hkv, t, d)

        def attend():
            k, v = (dequant(*caches[x]) for x in ("k", "v"))
            return _causal(case, q, k, v)

        return {"dequantise + torch SDPA (causal)": attend}

    return make


REFERENCES = {
    "attention_decode": attention_decode,
    "attention_decode_int4": _affine(4),
    "attention_decode_int8": _affine(8),
    "attention_decode_fp8_e4m3": _fp8("e4m3"),
    "attention_decode_fp8_e5m2": _fp8("e5m2"),
    "attention_prefill": attention_prefill,
    "attention_prefill_int4": _prefill_affine(4),
    "attention_prefill_int8": _prefill_affine(8),
    "attention_prefill_fp8_e4m3": _prefill_fp8("e4m3"),
    "attention_prefill_fp8_e5m2": _prefill_fp8("e5m2"),
    "attention_prefill_mma_d64": attention_prefill,
    "attention_prefill_mma_d128": attention_prefill,
}
# The tensor-core forms of the quantised prefill kernels share their references.
for _fmt in ("int4", "int8", "fp8_e4m3", "fp8_e5m2"):
    for _d in (64, 128):
        REFERENCES[f"attention_prefill_{_fmt}_mma_d{_d}"] = REFERENCES[f"attention_prefill_{_fmt}"]
