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


def variance_matched_eraser(
    acts: torch.Tensor, rank: int, variance: float, generator: torch.Generator
):
    """A random rank-``rank`` erasure that removes about ``variance`` (mean squared norm) of the
    activations: random directions inside the top-``m`` principal components, with ``m`` chosen
    so that the expected removed variance, ``rank / m`` of those components' variance, is closest
    to ``variance``. The fair null for an erasure that targets high-variance directions."""
    centred = acts.double() - acts.double().mean(dim=0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    eig = s**2 / len(acts)
    cumulative = torch.cumsum(eig, dim=0)
    dims = torch.arange(1, len(eig) + 1, dtype=torch.float64)
    candidates = [m for m in range(rank, len(eig) + 1)]
    expected = torch.stack([rank / dims[m - 1] * cumulative[m - 1] for m in candidates])
    m = candidates[int((expected - variance).abs().argmin())]
    mix, _ = torch.linalg.qr(torch.randn(m, rank, generator=generator, dtype=torch.float64))
    basis = v[:m].T @ mix  # (d, rank), orthonormal
    mean = acts.double().mean(dim=0)

    def erase(x: torch.Tensor) -> torch.Tensor:
        centred_x = x.double() - mean
        return (x.double() - centred_x @ basis @ basis.T).to(x.dtype)

    return erase
