"""Split a level's pre-activation into the contributions of its children, and measure how much
they cancel.

A level fuses ``fuse`` children (input positions for level 0, lower-level groups above) and
applies one Linear layer, so each hidden unit's pre-activation is a sum over children::

    pre[b, g, h] = sum_k  c[b, g, k, h],     c[b, g, k, h] = x[b, g, k, :] @ W_k[:, h]

where ``W_k`` is the block of the weight matrix that reads child ``k``. The flat MLP has one
group and 8 children (the positions); each WaveNet level has 2.

BatchNorm follows the Linear layer and removes each unit's mean, so cancellation is measured on
**centred** contributions ``c - mean_data(c)``, multiplied by BatchNorm's eval-time scale
``gamma / sqrt(running_var + eps)`` so that units are compared in the units the tanh sees.

The cancellation index of one (example, group, unit) is
``kappa = 1 - |sum_k c_k| / sum_k |c_k|``: 0 when every child pushes the same way, 1 when they
cancel exactly ("tight balance" of excitation and inhibition).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import einsum, rearrange

from interp.hooks import HookedModel
from models.levelled import Level


def child_contributions(level_input: torch.Tensor, weight: torch.Tensor, fuse: int) -> torch.Tensor:
    """Per-child contributions to every unit's pre-activation.

    ``level_input`` (batch, groups, fan_in) is ``levels.{i}.hook_in``; ``weight`` (d_hidden,
    fan_in) the level's Linear weight; ``fuse`` the number of children per group. Returns
    (batch, groups, fuse, d_hidden); summing over the ``fuse`` axis gives ``levels.{i}.hook_pre``.
    """
    x = rearrange(level_input, "b g (k d) -> b g k d", k=fuse)
    w = rearrange(weight, "h (k d) -> k d h", k=fuse)
    return einsum(x, w, "b g k d, k d h -> b g k h")


def batchnorm_scale(level: Level) -> torch.Tensor:
    """Eval-time BatchNorm multiplier per unit, gamma / sqrt(running_var + eps): (d_hidden,)."""
    norm = level.norm
    return (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()


@dataclass
class LevelContributions:
    """Contributions of one level over a set of examples.

    ``raw`` (batch, groups, fuse, d_hidden): ``x_k @ W_k``, summing to ``pre``.
    ``centred`` (batch, groups, fuse, d_hidden): ``(raw - mean over examples and groups) *
    batchnorm scale``; summed over children it is BatchNorm's output minus its bias.
    ``pre`` (batch, groups, d_hidden): the level's ``hook_pre``, as cached.
    """

    level: int
    fuse: int
    raw: torch.Tensor
    centred: torch.Tensor
    pre: torch.Tensor

    def max_reconstruction_error(self) -> float:
        """Largest |sum_k raw_k - pre|, relative to the largest |pre| (float rounding only)."""
        error = (self.raw.sum(dim=2) - self.pre).abs().max()
        return (error / self.pre.abs().max().clamp_min(1e-12)).item()


@torch.no_grad()
def level_contributions(
    model: HookedModel, idx: torch.Tensor, level: int, mean: torch.Tensor | None = None
) -> LevelContributions:
    """Decompose level ``level`` of ``model`` on contexts ``idx`` (batch, block_size).

    The model runs in its current mode (use eval mode for trained models). ``mean``
    (fuse, d_hidden) centres the contributions; by default their mean over ``idx`` and over the
    groups, which is what BatchNorm removes (its statistics pool the batch and group axes).
    """
    names = [f"levels.{level}.hook_in", f"levels.{level}.hook_pre"]
    _, cache = model.run_with_cache(idx, names_filter=names)
    module = model.model.levels[level]
    raw = child_contributions(cache[names[0]], module.linear.weight, module.fuse)
    centre = raw.mean(dim=(0, 1)) if mean is None else mean
    centred = (raw - centre) * batchnorm_scale(module)
    return LevelContributions(level, module.fuse, raw, centred, cache[names[1]])


def cancellation_index(contributions: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """``1 - |sum c| / sum |c|`` over ``dim`` (the children axis of (..., fuse, d_hidden)).

    Returns the input's shape without ``dim``; NaN where every contribution is exactly zero.
    """
    total = contributions.sum(dim=dim).abs()
    magnitude = contributions.abs().sum(dim=dim)
    return 1 - total / magnitude


def shuffle_signs(contributions: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same magnitudes with independent random signs: the null of no sign structure."""
    signs = torch.randint(0, 2, contributions.shape, generator=generator) * 2 - 1
    return contributions.abs() * signs.to(contributions.dtype)
