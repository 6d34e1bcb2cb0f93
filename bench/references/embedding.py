"""PyTorch version of the token embedding lookup."""
import torch.nn.functional as F

from references._common import eager_and_compiled


def embedding(case):
    d = case.scalar("dim")
    table = case.tensor("table", (case.elements("table") // d, d))
    ids = case.tensor("ids").long()  # torch indexes with int64
    return eager_and_compiled(lambda: F.embedding(ids, table))


REFERENCES = {"embedding": embedding}
