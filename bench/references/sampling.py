"""The PyTorch sampler a user would write instead of `sample`: transformers' logits processors
(repetition penalty, temperature, top-k, top-p by a full sort, min-p) followed by
torch.multinomial; greedy decoding is argmax. Eager and compiled."""
import torch

from references._common import eager_and_compiled


def _sampler(logits, penalty_ids, temperature, top_k, top_p, min_p, penalty):
    def run():
        x = logits.float()
        if penalty_ids is not None:
            score = torch.gather(x, 1, penalty_ids)
            score = torch.where(score < 0, score * penalty, score / penalty)
            x = x.scatter(1, penalty_ids, score)
        if temperature == 0:
            return x.argmax(dim=-1)
        x = x / temperature
        if top_k > 0:
            kth = torch.topk(x, min(top_k, x.shape[-1]))[0][..., -1, None]
            x = x.masked_fill(x < kth, float("-inf"))
        if top_p < 1.0:
            sorted_x, order = torch.sort(x, descending=False)
            cum = sorted_x.softmax(dim=-1).cumsum(dim=-1)
            remove = cum <= 1 - top_p
            remove[..., -1:] = False
            x = x.masked_fill(remove.scatter(1, order, remove), float("-inf"))
        if min_p > 0.0:
            probs = x.softmax(dim=-1)
            floor = min_p * probs.amax(dim=-1, keepdim=True)
            x = x.masked_fill(probs < floor, float("-inf"))
        return torch.multinomial(x.softmax(dim=-1), 1).squeeze(-1)

    return run


def sample(case):
    v = case.scalar("vocab")
    b = case.elements("logits") // v
    logits = case.tensor("logits", (b, v))
    p, penalty = case.scalar("n_penalty"), case.scalar("repetition_penalty")
    # A penalty of 1 changes nothing: a user would not run the processor.
    penalty_ids = case.tensor("penalty_ids", (b, p)).long() if p > 0 and penalty != 1.0 else None
    run = _sampler(logits, penalty_ids, case.scalar("temperature"), case.scalar("top_k"),
                   case.scalar("top_p"), case.scalar("min_p"), penalty)
    return eager_and_compiled(run)


REFERENCES = {"sample": sample}
