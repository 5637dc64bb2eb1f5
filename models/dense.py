"""Architecture as preset weights: a WaveNet level written out as one dense matrix.

A level that fuses ``fuse`` consecutive items and applies the same Linear layer to every group
is a dense layer over *all* its input items whose weight matrix is

- **masked**: output group ``g`` reads only items ``g*fuse .. (g+1)*fuse - 1`` (zeros elsewhere);
- **tied**: every group uses the same block of weights.

Here that matrix is built (:func:`conv_to_dense`), taken apart again (:func:`dense_to_conv`,
the closed-form projection onto the masked-and-tied structure: zeros off the diagonal blocks,
the mean of the diagonal blocks on it), and measured (:func:`conv_distance`).

Shapes: a conv weight is (d_hidden, fuse * d_in), as stored by ``nn.Linear``; its dense
equivalent is (groups * d_hidden, n_items * d_in), acting on the flattened level input
``rearrange(x, "b n d -> b (n d)")`` and producing ``rearrange(pre, "b g h -> b (g h)")``.
"""

from __future__ import annotations

import torch
from einops import rearrange

from interp.errors import ConfigError
from models.levelled import Level


def _groups(n_items: int, fuse: int) -> int:
    if fuse < 1 or n_items % fuse:
        raise ConfigError(f"{n_items} items cannot be cut into groups of {fuse}")
    return n_items // fuse


def block_mask(n_items: int, fuse: int) -> torch.Tensor:
    """(groups, n_items) bool: which input items each output group reads."""
    groups = _groups(n_items, fuse)
    return torch.arange(n_items)[None, :] // fuse == torch.arange(groups)[:, None]


def masked_tied_dense(
    blocks: torch.Tensor, mask: torch.Tensor, tying: torch.Tensor
) -> torch.Tensor:
    """Build a dense matrix from shared weight blocks, a mask and a tying pattern.

    ``blocks`` (n_blocks, d_hidden, fuse, d_in): the distinct filters; ``mask`` (groups,
    n_items) bool with ``fuse`` items per row; ``tying`` (groups,) long: which block each output
    group uses. Returns (groups * d_hidden, n_items * d_in).
    """
    n_blocks, d_hidden, fuse, d_in = blocks.shape
    groups, n_items = mask.shape
    dense = blocks.new_zeros(groups, d_hidden, n_items, d_in)
    for g in range(groups):
        items = mask[g].nonzero().flatten()
        if len(items) != fuse:
            raise ConfigError(f"mask row {g} selects {len(items)} items, blocks read {fuse}")
        dense[g][:, items] = blocks[tying[g]]
    return rearrange(dense, "g h n d -> (g h) (n d)")


def conv_to_dense(weight: torch.Tensor, n_items: int, fuse: int) -> torch.Tensor:
    """The dense equivalent of one Linear applied to consecutive groups of ``fuse`` items.

    ``weight`` (d_hidden, fuse * d_in) -> (groups * d_hidden, n_items * d_in)."""
    groups = _groups(n_items, fuse)
    blocks = rearrange(weight, "h (k d) -> 1 h k d", k=fuse)
    return masked_tied_dense(
        blocks, block_mask(n_items, fuse), torch.zeros(groups, dtype=torch.long)
    )


def level_to_dense(level: Level, n_items: int) -> torch.Tensor:
    """A model level's dense equivalent over its ``n_items`` input items (detached)."""
    return conv_to_dense(level.linear.weight.detach(), n_items, level.fuse)


def _diagonal_blocks(dense: torch.Tensor, n_items: int, fuse: int) -> torch.Tensor:
    """(groups, d_hidden, fuse, d_in): the blocks a masked-and-tied matrix may use."""
    groups = _groups(n_items, fuse)
    d4 = rearrange(dense, "(g h) (n d) -> g h n d", g=groups, n=n_items)
    return torch.stack([d4[g, :, g * fuse : (g + 1) * fuse] for g in range(groups)])


def dense_to_conv(dense: torch.Tensor, n_items: int, fuse: int) -> torch.Tensor:
    """The conv weight (d_hidden, fuse * d_in) of the nearest masked-and-tied matrix (Frobenius):
    the mean of the diagonal blocks. Exact inverse of :func:`conv_to_dense`."""
    mean = _diagonal_blocks(dense, n_items, fuse).mean(dim=0)
    return rearrange(mean, "h k d -> h (k d)")


def conv_distance(dense: torch.Tensor, n_items: int, fuse: int) -> float:
    """Relative Frobenius distance ``||D - P(D)|| / ||D||`` to the nearest masked-and-tied
    matrix P(D). 0 for a conv written out densely; for an i.i.d. Gaussian matrix with G groups
    its expectation is about ``sqrt(1 - 1/G**2)``."""
    nearest = conv_to_dense(dense_to_conv(dense, n_items, fuse), n_items, fuse)
    return ((dense - nearest).norm() / dense.norm()).item()


def nearest_conv_distance(
    dense: torch.Tensor, n_items: int, fuse: int, iters: int = 50, restarts: int = 4
) -> float:
    """The best of ``restarts`` runs of :func:`_nearest_conv_distance_once` (see there)."""
    return min(
        _nearest_conv_distance_once(dense, n_items, fuse, iters, seed) for seed in range(restarts)
    )


def _nearest_conv_distance_once(
    dense: torch.Tensor, n_items: int, fuse: int, iters: int, seed: int
) -> float:
    """Relative Frobenius distance from a dense layer (units, n_items * d_in) whose rows are in
    no particular order (a flat MLP's first matrix) to the nearest conv with as many units.

    A conv over ``groups = n_items / fuse`` windows with ``F`` filters has ``groups * F`` units,
    one per (window, filter) slot, each reading only its window with its filter. Units are
    assigned to slots and filters fitted by alternating minimisation: an exact linear assignment
    (Hungarian) of units to slots given the filters, then each filter set to the mean of the
    window blocks assigned to it. ``F = ceil(units / groups)``; spare slots stay empty. This finds
    a local optimum, so the value is an upper bound on the true distance (0 for a conv whose units
    were shuffled, in practice).
    """
    from scipy.optimize import linear_sum_assignment

    groups = _groups(n_items, fuse)
    units = dense.shape[0]
    d_in = dense.shape[1] // n_items
    filters_n = -(-units // groups)
    w = rearrange(dense.double(), "u (g k d) -> u g (k d)", g=groups, k=fuse, d=d_in)
    total = w.pow(2).sum()
    if total == 0:
        return 0.0
    # Start from the highest-energy window blocks as filters.
    g = torch.Generator().manual_seed(seed)
    energy = w.pow(2).sum(dim=2)  # (units, groups)
    flat = energy.flatten().argsort(descending=True)[: filters_n * 4]
    pick = flat[torch.randperm(len(flat), generator=g)[:filters_n]]
    filters = w[pick // groups, pick % groups].clone()  # (F, k d)
    norms = w.pow(2).sum(dim=(1, 2))  # (units,)
    cost_value = float("inf")
    for _ in range(iters):
        # cost[u, (g, f)] = ||w_u||^2 - 2 <w_u[g], filter_f> + ||filter_f||^2
        dots = torch.einsum("ugx,fx->ugf", w, filters)
        cost = norms[:, None, None] - 2 * dots + filters.pow(2).sum(1)[None, None, :]
        cost = rearrange(cost, "u g f -> u (g f)")
        rows, cols = linear_sum_assignment(cost.numpy())
        new_value = float(cost[rows, cols].sum())
        window, slot = cols // filters_n, cols % filters_n
        for f in range(filters_n):
            members = rows[slot == f]
            if len(members):
                filters[f] = w[members, window[slot == f]].mean(dim=0)
        if new_value >= cost_value - 1e-12 * float(total):
            cost_value = min(cost_value, new_value)
            break
        cost_value = new_value
    return float(max(cost_value, 0.0) / total) ** 0.5
