"""An exponential moving average of a model's weights: the model a recipe with ``ema`` hands back.

Averaging the last few hundred steps' weights cancels most of the noise that a large learning
rate puts into them, so the average scores as if the learning rate had already been lowered,
thousands of steps before the schedule gets there (Polyak averaging; see the README's Training
section for what it changes here).

>>> average = WeightAverage(model, decay=0.995)
>>> for step in ...:
...     optimizer.step()
...     average.update(model)
>>> average.module  # same class and shapes as ``model``, holding the averaged weights
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """Exponential moving average of ``model``'s parameters and floating-point buffers.

    After update ``n`` (1, 2, ...) every averaged tensor moves towards the model's by
    ``1 - d_n``, with ``d_n = min(decay, (1 + n) / (10 + n))``: the short memory early on keeps
    the average close to a model that is still changing fast (TensorFlow's ``num_updates``
    rule). BatchNorm's running mean and variance are averaged like the weights, so the
    average's statistics match its weights; integer buffers (``num_batches_tracked``) are copied.

    ``module`` is a deep copy of ``model`` (same class, no gradients): evaluate it, save it,
    analyse it.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).requires_grad_(False)
        for p in self.module.parameters():
            p.grad = None
        self._tensors = [*self.module.parameters(), *self.module.buffers()]
        self._floating = [t.is_floating_point() for t in self._tensors]

    def decay_at(self, updates: int) -> float:
        """The decay used by update number ``updates`` (1-based)."""
        return min(self.decay, (1 + updates) / (10 + updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each step)."""
        theirs = [*model.parameters(), *model.buffers()]
        if len(theirs) != len(self._tensors):
            raise ValueError("the model does not have the averaged module's tensors")
        self.updates += 1
        weight = 1 - self.decay_at(self.updates)
        pairs = list(zip(self._tensors, theirs, self._floating, strict=True))
        # One fused pass over every tensor (what torch.optim.swa_utils' EMA uses too).
        torch._foreach_lerp_([a for a, _, f in pairs if f], [b for _, b, f in pairs if f], weight)
        for a, b, f in pairs:
            if not f:
                a.copy_(b)
