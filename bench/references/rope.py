"""References for rope: transformers' own rotary functions (the cos/sin of
LlamaRotaryEmbedding.forward and apply_rotary_pos_emb; GPT-J's interleaved form), eager and
compiled. Each call computes cos/sin from the positions and rotates one [T, H, D] tensor, as
the kernel does."""
import torch

from references._common import eager_and_compiled

try:
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
except ImportError:  # transformers absent: the same formula, written out
    def _rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
        cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
        return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def rope(case):
    t, h, d = case.elements("positions"), case.scalar("n_heads"), case.scalar("head_dim")
    r, scale = case.scalar("rotary_dim"), case.scalar("attn_factor")
    x = case.tensor("x", (t, h, d))
    positions = case.tensor("positions").long()
    inv_freq = case.tensor("inv_freq")
    interleaved = case.scalar("interleaved") == 1

    def cos_sin():
        # LlamaRotaryEmbedding.forward: f32 angles, cos/sin times the attention scaling, in x's type.
        freqs = positions[:, None].float() * inv_freq[None, :].float()
        if interleaved:
            emb = torch.repeat_interleave(freqs, 2, dim=-1)
        else:
            emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * scale).to(x.dtype), (emb.sin() * scale).to(x.dtype)

    def rotate():
        cos, sin = cos_sin()
        xr, xp = x[..., :r], x[..., r:]
        if interleaved:  # GPT-J: rotate_every_two
            pairs = xr.unflatten(-1, (r // 2, 2))
            turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
            out = xr * cos[:, None, :] + turned * sin[:, None, :]
        else:
            out, _ = apply_rotary_pos_emb(xr, xr, cos, sin, unsqueeze_dim=1)
        return torch.cat((out, xp), dim=-1) if r < d else out

    return eager_and_compiled(rotate)


REFERENCES = {"rope": rope}
