"""Measures of how "convolution-like" a dense weight matrix over a context is.

The first Linear layer of a level, viewed per input position: ``blocks[p]`` (d_hidden, d_in)
is the part of the weight that reads position ``p``. From it:

- **locality**: ``a[p, j] = ||blocks[p][j]||^2 / sum_q ||blocks[q][j]||^2`` is unit j's share of
  weight energy on position p; the effective number of positions ``1 / sum_p a[p, j]^2``, the
  largest adjacent-pair share ``max_p a[p, j] + a[p + 1, j]`` (uniform: 2 / positions), and the
  share on the most recent positions;
- **sharing**: cosine similarity between whole position blocks, and a shift-sharing score: for
  each unit's filter at position p, the best cosine with any unit's filter at position p + s;
- **masked distance**: the relative Frobenius error of keeping, for every unit, only its best
  aligned window of ``k`` positions (the sparsity half of a convolution).

Shapes follow the module's docstrings: ``blocks`` is (positions, d_hidden, d_in).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange


def position_blocks(weight: torch.Tensor, positions: int) -> torch.Tensor:
    """Linear weight (d_hidden, positions * d_in) -> (positions, d_hidden, d_in)."""
    return rearrange(weight.detach(), "h (p d) -> p h d", p=positions)


def position_shares(blocks: torch.Tensor) -> torch.Tensor:
    """a[p, j]: unit j's share of squared weight on position p; (positions, d_hidden)."""
    energy = blocks.pow(2).sum(dim=2)
    return energy / energy.sum(dim=0, keepdim=True).clamp_min(1e-30)


def locality(blocks: torch.Tensor, recent: int = 2) -> dict[str, float]:
    """Mean over units of: effective positions, largest adjacent-pair share, share on the last
    ``recent`` positions; with the uniform baselines beside them."""
    a = position_shares(blocks)
    positions = a.shape[0]
    pairs = a[:-1] + a[1:] if positions > 1 else a
    return {
        "effective_positions": (1 / a.pow(2).sum(dim=0)).mean().item(),
        "adjacent_pair_share": pairs.max(dim=0).values.mean().item(),
        "recent_share": a[-recent:].sum(dim=0).mean().item(),
        "uniform_effective_positions": float(positions),
        "uniform_adjacent_pair_share": min(2 / positions, 1.0),
        "uniform_recent_share": min(recent / positions, 1.0),
    }


def block_cosines(blocks: torch.Tensor) -> torch.Tensor:
    """(positions, positions) cosine similarity between flattened position blocks."""
    flat = F.normalize(rearrange(blocks, "p h d -> p (h d)"), dim=1)
    return flat @ flat.T


def shift_sharing(blocks: torch.Tensor, shift: int) -> float:
    """Energy-weighted mean over (unit j, position p) of the best cosine between unit j's filter
    at p and any unit's filter at p + shift. 1 when every filter reappears shifted."""
    positions = blocks.shape[0]
    if shift >= positions:
        raise ValueError(f"shift {shift} leaves no position pairs among {positions}")
    unit = F.normalize(blocks, dim=2)  # (p, h, d)
    weight = blocks.pow(2).sum(dim=2)  # (p, h)
    total, norm = 0.0, 0.0
    for p in range(positions - shift):
        best = (unit[p] @ unit[p + shift].T).max(dim=1).values  # (h,)
        total += (best * weight[p]).sum().item()
        norm += weight[p].sum().item()
    return total / norm


def masked_distance(blocks: torch.Tensor, window: int) -> float:
    """Relative Frobenius error of keeping only each unit's best aligned window of ``window``
    positions (windows start at multiples of ``window``)."""
    energy = blocks.pow(2).sum(dim=2)  # (p, h)
    windows = rearrange(energy, "(w k) h -> w k h", k=window).sum(dim=1)  # (windows, h)
    kept = windows.max(dim=0).values.sum()
    return (1 - kept / energy.sum()).clamp_min(0).sqrt().item()
