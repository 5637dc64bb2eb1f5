"""Losses over whole splits, and sampling names from a model."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from interp.data import Dataset, Vocab


@torch.no_grad()
def mean_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 8192) -> float:
    """Mean cross-entropy (nats) of ``model`` in eval mode over contexts ``x`` (n, block_size)
    and targets ``y`` (n,), on the model's device. The model's train/eval mode is restored
    afterwards."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        total = 0.0
        for start in range(0, len(y), batch_size):
            logits = model(x[start : start + batch_size].to(device))
            targets = y[start : start + batch_size].to(device)
            total += F.cross_entropy(logits, targets, reduction="sum").item()
    finally:
        model.train(was_training)
    return total / max(len(y), 1)


def split_losses(
    model: nn.Module, data: Dataset, splits: Iterable[str] = ("train", "val", "test")
) -> dict[str, float]:
    """Mean loss on each split, e.g. ``{"train": 1.94, "val": 2.00}``."""
    return {s: mean_loss(model, data.x[s], data.y[s]) for s in splits}


@torch.no_grad()
def sample(
    model: nn.Module, vocab: Vocab, block_size: int, n: int = 20, seed: int = 0, max_len: int = 50
) -> list[str]:
    """Draw ``n`` words, one character at a time, until the boundary token (as in makemore)."""
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        words = []
        for _ in range(n):
            context, out = [0] * block_size, []
            for _ in range(max_len):
                logits = model(torch.tensor([context]))
                ix = int(torch.multinomial(F.softmax(logits, dim=1), 1, generator=generator))
                if ix == 0:
                    break
                out.append(ix)
                context = [*context[1:], ix]
            words.append(vocab.decode(out))
    finally:
        model.train(was_training)
    return words
