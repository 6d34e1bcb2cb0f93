"""Helpers the reference modules share."""
import torch


def eager_and_compiled(fn):
    """The two variants a PyTorch user would pick: the function as written, and compiled."""
    return {"torch eager": fn, "torch.compile": torch.compile(fn)}
