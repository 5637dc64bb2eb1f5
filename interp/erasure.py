"""Causal check for probes: erase a concept's linear subspace from a level through a hook and
measure the model's loss, against erasing random subspaces of the same rank.

LEACE (Belrose et al., 2023; the ``concept-erasure`` package) removes, with the smallest change,
every linear direction from which the concept can be predicted. A random erasure of the same rank
(project out random orthonormal directions around the mean) is the null: decodable is not the
same as used.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from concept_erasure import LeaceEraser

from interp.hooks import HookedModel


def one_hot(labels: np.ndarray, classes: int) -> torch.Tensor:
    return F.one_hot(torch.as_tensor(labels), classes).float()


def fit_leace(acts: torch.Tensor, labels: np.ndarray) -> tuple[LeaceEraser, int]:
    """Fit on (examples, d) activations; returns the eraser and the rank it removes."""
    classes = int(labels.max()) + 1
    eraser = LeaceEraser.fit(acts.double(), one_hot(labels, classes).double())
    rank = min(len(np.unique(labels)) - 1, acts.shape[1])
    return eraser, rank


def random_eraser(acts: torch.Tensor, rank: int, generator: torch.Generator):
    """Project out ``rank`` random orthonormal directions around the activations' mean."""
    basis, _ = torch.linalg.qr(
        torch.randn(acts.shape[1], rank, generator=generator, dtype=torch.float64)
    )
    mean = acts.double().mean(dim=0)

    def erase(x: torch.Tensor) -> torch.Tensor:
        centred = x.double() - mean
        return (x.double() - centred @ basis @ basis.T).to(x.dtype)

    return erase


@torch.no_grad()
def loss_with_group_erased(
    model: HookedModel, x: torch.Tensor, y: torch.Tensor, name: str, group: int, erase
) -> float:
    """Validation loss with ``erase`` applied to one group of hook point ``name``."""

    def hook(act: torch.Tensor, hook) -> torch.Tensor:
        act = act.clone()
        act[:, group] = erase(act[:, group]).to(act.dtype)
        return act

    return F.cross_entropy(model.run_with_hooks(x, [(name, hook)]), y).item()
