"""Small helpers shared by tests (a tiny training run)."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY

from interp.data import read_corpus
from interp.recipes import KARPATHY
from interp.training import TrainResult, train


def tiny_run(out: Path, corpus_path: Path, steps: int = 60, **kwargs) -> TrainResult:
    kwargs.setdefault("checkpoint_every", 20)
    kwargs.setdefault("stats_every", 20)
    for key, value in TINY.items():
        kwargs.setdefault(key, value)
    return train(
        out,
        read_corpus(corpus_path),
        recipe=KARPATHY.with_overrides(steps=steps),
        progress=False,
        **kwargs,
    )
