"""Training recipes: optimiser, batch size, learning-rate schedule, number of steps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from interp.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    """How to train. ``lr`` holds until ``decay_at`` of the steps, then ``lr_final`` (a step
    schedule, as in the lecture)."""

    name: str
    optimizer: str = "sgd"
    lr: float = 0.1
    lr_final: float = 0.01
    decay_at: float = 0.75
    batch_size: int = 32
    steps: int = 200_000
    weight_decay: float = 0.0

    def lr_at(self, step: int) -> float:
        return self.lr if step < self.decay_at * self.steps else self.lr_final

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose 'sgd' or 'adamw'")

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if "lr" in overrides and "lr_final" not in overrides:
            # keep the schedule's shape: the final rate stays the same fraction of the first
            overrides["lr_final"] = self.lr_final * overrides["lr"] / self.lr
        recipe = replace(self, **overrides)
        if recipe.steps < 1 or recipe.batch_size < 1:
            raise ConfigError("steps and batch size must be >= 1")
        if not recipe.lr > 0 or not recipe.lr_final > 0:
            raise ConfigError(f"the learning rate must be > 0, got {recipe.lr}")
        return recipe

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        return cls(**d)  # TypeError on unknown or missing fields


#: The lecture's loop: batch 32, SGD lr 0.1, dropped to 0.01 for the last quarter, 200k steps.
KARPATHY = Recipe("karpathy")

RECIPES: dict[str, Recipe] = {"karpathy": KARPATHY}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]
