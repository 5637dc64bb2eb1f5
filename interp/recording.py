"""One mechanism for recording activations: which hook points fire, and where their output goes.

:func:`record` attaches a *sink* to the hook points selected by a names filter for the duration of
a ``with`` block. A sink is any callable ``sink(name, activation)``. Sinks provided here:

- :class:`CacheSink` keeps activations in memory (``run_with_cache``);
- :class:`StatsSink` keeps summary statistics (the training-time recorder).

A disk sink for whole splits builds on the same call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import torch
from einops import rearrange

from interp.errors import HookNameError

if TYPE_CHECKING:
    from interp.hooks import HookedModel, NamesFilter

#: |tanh| above this counts as saturated (the flat tails where gradients vanish).
SATURATION = 0.97


class Sink(Protocol):
    def __call__(self, name: str, activation: torch.Tensor) -> None: ...


class ActivationCache(dict):
    """hook name -> activation tensor. A missing name is an error listing the cached names."""

    def __missing__(self, name: str) -> torch.Tensor:
        raise HookNameError(
            f"{name!r} is not in this cache; cached hook points: {', '.join(self) or '(none)'}"
        )


@contextlib.contextmanager
def record(
    model: HookedModel, sink: Sink, names_filter: NamesFilter = None, prepend: bool = False
) -> Iterator[Sink]:
    """Send every selected activation to ``sink(name, tensor)`` during the ``with`` block.

    The hooks only read: activations pass through unchanged. They are removed on exit, also when
    the block raises. ``prepend=True`` reads each activation before the hooks already attached
    change it (training records its statistics before the dropout hook).
    """

    def hook(x: torch.Tensor, hook) -> None:
        sink(hook.name, x)

    with model.hooks([(names_filter, hook)], prepend=prepend):
        yield sink


class CacheSink:
    """Keep each activation in :attr:`cache` (detached by default, optionally moved to a device)."""

    def __init__(self, detach: bool = True, device: torch.device | str | None = None):
        self.detach, self.device = detach, device
        self.cache = ActivationCache()

    def __call__(self, name: str, activation: torch.Tensor) -> None:
        if self.detach:
            activation = activation.detach()
        if self.device is not None:
            activation = activation.to(self.device)
        self.cache[name] = activation


def activation_stats(name: str, x: torch.Tensor) -> dict[str, float]:
    """Summary statistics of one activation.

    ``mean`` and ``std`` over all entries. For tanh outputs (``*.hook_post``) also
    ``frac_saturated`` (entries with |h| > 0.97) and ``frac_dead`` (units saturated for every
    example and group in the batch: they pass no gradient at all).
    """
    x = x.detach().float()
    stats = {"mean": x.mean().item(), "std": x.std().item()}
    if name.endswith("hook_post"):
        saturated = x.abs() > SATURATION
        per_unit = rearrange(saturated, "... h -> (...) h")
        stats["frac_saturated"] = saturated.float().mean().item()
        stats["frac_dead"] = per_unit.all(dim=0).float().mean().item()
    return stats


class StatsSink:
    """Keep :func:`activation_stats` of the latest activation at each hook point."""

    def __init__(self) -> None:
        self.stats: dict[str, dict[str, float]] = {}

    def __call__(self, name: str, activation: torch.Tensor) -> None:
        self.stats[name] = activation_stats(name, activation)

    def pop(self) -> dict[str, dict[str, float]]:
        stats, self.stats = self.stats, {}
        return stats
