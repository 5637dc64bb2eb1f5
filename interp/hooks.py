"""Named hook points around a model, in the style of TransformerLens.

:class:`HookedModel` wraps a :class:`~models.levelled.LevelledModel` and exposes one
:class:`HookPoint` per activation:

==========================  ==============================  ===================================
name                        shape                           what
==========================  ==============================  ===================================
``hook_embed``              (batch, positions, d_embd)      character embeddings
``levels.{i}.hook_in``      (batch, groups, fan_in)         fused input of level i
``levels.{i}.hook_pre``     (batch, groups, d_hidden)       Linear output (pre-activation)
``levels.{i}.hook_norm``    (batch, groups, d_hidden)       after BatchNorm
``levels.{i}.hook_post``    (batch, groups, d_hidden)       after tanh
``hook_logits``             (batch, vocab)                  output logits
==========================  ==============================  ===================================

The group axis is kept even when it has size 1 (the MLP, the WaveNet's last level).

A hook is ``fn(activation, hook) -> activation | None``; returning a tensor replaces the
activation (ablation, patching). With no hook attached, ``forward`` calls the plain model
directly, so the wrapper costs nothing during training.

>>> model = HookedModel(build_preset("wavenet-76k"))
>>> logits, cache = model.run_with_cache(idx, names_filter="levels.*.hook_post")
>>> cache["levels.0.hook_post"].shape  # (batch, 4, 128)
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Union

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from interp.errors import HookNameError
from models.levelled import HOOK_SUFFIXES, LevelledModel

if TYPE_CHECKING:
    from interp.recording import ActivationCache

HookFn = Callable[..., torch.Tensor | None]
#: A name, a glob (``levels.*.hook_post``), a compiled regex, a list of these, or a predicate.
NamesFilter = Union[str, "re.Pattern[str]", Iterable[str], Callable[[str], bool], None]


class HookPoint(nn.Module):
    """An identity module marking a named activation that hooks can read or replace."""

    def __init__(self) -> None:
        super().__init__()
        self.name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def add_hook(self, fn: HookFn, prepend: bool = False) -> RemovableHandle:
        """Call ``fn(activation, hook=self)`` on every forward; a returned tensor replaces it.

        Hooks run in the order they were added; ``prepend=True`` runs this one before the others
        (a reader that must see the activation before a training-time intervention)."""

        def forward_hook(module: nn.Module, inputs: tuple, output: torch.Tensor):
            return fn(output, hook=self)

        return self.register_forward_hook(forward_hook, prepend=prepend)

    def extra_repr(self) -> str:
        return self.name


class LevelHooks(nn.Module):
    """The four hook points of one level (names ``levels.{i}.hook_*``)."""

    def __init__(self) -> None:
        super().__init__()
        for suffix in HOOK_SUFFIXES:
            self.add_module(suffix, HookPoint())


def _is_pattern(s: str) -> bool:
    return any(c in s for c in "*?[")


def resolve_names(names_filter: NamesFilter, valid: Sequence[str]) -> list[str]:
    """The hook names (in model order) selected by ``names_filter``; None selects all.

    A plain name or a pattern that selects nothing raises :class:`HookNameError` listing the
    valid names.
    """
    if names_filter is None:
        return list(valid)
    if callable(names_filter) and not isinstance(names_filter, (str, re.Pattern)):
        return [n for n in valid if names_filter(n)]
    items = [names_filter] if isinstance(names_filter, (str, re.Pattern)) else list(names_filter)
    chosen: set[str] = set()
    for item in items:
        if isinstance(item, re.Pattern):
            hits = {n for n in valid if item.fullmatch(n)}
        elif isinstance(item, str) and _is_pattern(item):
            hits = set(fnmatch.filter(valid, item))
        elif isinstance(item, str):
            hits = {item} & set(valid)
        else:
            raise TypeError(f"a hook filter item must be a str or re.Pattern, got {item!r}")
        if not hits:
            what = "pattern" if not isinstance(item, str) or _is_pattern(item) else "hook point"
            shown = item.pattern if isinstance(item, re.Pattern) else item
            raise HookNameError(f"no {what} named {shown!r}; valid hook points: {', '.join(valid)}")
        chosen |= hits
    return [n for n in valid if n in chosen]


class HookedModel(nn.Module):
    """A model wrapped with named :class:`HookPoint` s (see the module docstring for names).

    ``forward(idx)`` takes (batch, block_size) int64 and returns logits (batch, vocab).
    """

    def __init__(self, model: LevelledModel):
        super().__init__()
        self.model = model
        self.hook_embed = HookPoint()
        self.levels = nn.ModuleList(LevelHooks() for _ in model.levels)
        self.hook_logits = HookPoint()
        self.hook_dict: dict[str, HookPoint] = {}
        names = ["hook_embed"]
        names += [f"levels.{i}.{s}" for i in range(len(model.levels)) for s in HOOK_SUFFIXES]
        names.append("hook_logits")
        modules = dict(self.named_modules())
        for name in names:
            hp = modules[name]
            assert isinstance(hp, HookPoint)
            hp.name = name
            self.hook_dict[name] = hp
        self._points = list(self.hook_dict.values())

    # ---- structure -----------------------------------------------------------------------
    @property
    def hook_names(self) -> list[str]:
        """All hook point names, in the order the forward pass reaches them."""
        return list(self.hook_dict)

    @property
    def structure(self):
        return self.model.structure()

    def hook_shapes(self) -> dict[str, tuple[str | int, ...]]:
        """Each hook point's shape, with ``'batch'`` for the batch axis."""
        idx = torch.zeros(2, self.model.block_size, dtype=torch.long)
        was_training = self.training
        try:
            self.eval()
            with torch.no_grad():
                _, cache = self.run_with_cache(idx)
        finally:
            self.train(was_training)
        return {n: ("batch", *cache[n].shape[1:]) for n in self.hook_names}

    # ---- forward -------------------------------------------------------------------------
    def _tap(self, name: str, x: torch.Tensor) -> torch.Tensor:
        point = self.hook_dict[name]
        # Only points with hooks pay for a module call (a few microseconds each).
        return point(x) if point._forward_hooks else x

    def has_hooks(self) -> bool:
        return any(hp._forward_hooks for hp in self._points)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if self.has_hooks():
            return self.model(idx, tap=self._tap)
        return self.model(idx)

    # ---- hooks ---------------------------------------------------------------------------
    def resolve_names(self, names_filter: NamesFilter) -> list[str]:
        return resolve_names(names_filter, self.hook_names)

    def add_hook(
        self, names_filter: NamesFilter, fn: HookFn, prepend: bool = False
    ) -> list[RemovableHandle]:
        """Attach ``fn`` to every selected hook point; returns the handles to remove it."""
        return [
            self.hook_dict[n].add_hook(fn, prepend=prepend)
            for n in self.resolve_names(names_filter)
        ]

    def reset_hooks(self) -> None:
        """Remove every hook from every hook point."""
        for hp in self._points:
            hp._forward_hooks.clear()

    @contextlib.contextmanager
    def hooks(
        self, fwd_hooks: Iterable[tuple[NamesFilter, HookFn]], prepend: bool = False
    ) -> Iterator[HookedModel]:
        """Attach ``[(filter, fn), ...]`` for the ``with`` block; removed even on an exception.

        ``prepend=True`` runs them before hooks already attached."""
        handles: list[RemovableHandle] = []
        try:
            for names_filter, fn in fwd_hooks:
                handles += self.add_hook(names_filter, fn, prepend=prepend)
            yield self
        finally:
            for h in handles:
                h.remove()

    def run_with_hooks(
        self, idx: torch.Tensor, fwd_hooks: Iterable[tuple[NamesFilter, HookFn]]
    ) -> torch.Tensor:
        """One forward pass with temporary hooks; returns logits (batch, vocab)."""
        with self.hooks(fwd_hooks):
            return self(idx)

    def run_with_cache(
        self,
        idx: torch.Tensor,
        names_filter: NamesFilter = None,
        detach: bool = True,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, ActivationCache]:
        """One forward pass that stores the selected activations.

        Returns logits (batch, vocab) and an :class:`~interp.recording.ActivationCache` mapping
        hook name -> tensor (shapes as in the module docstring).
        """
        from interp.recording import CacheSink, record

        sink = CacheSink(detach=detach, device=device)
        with record(self, sink, names_filter):
            logits = self(idx)
        return logits, sink.cache
