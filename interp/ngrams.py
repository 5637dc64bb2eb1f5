"""Probe targets built from the contexts themselves: characters and n-grams at aligned offsets,
and Hewitt & Liang control tasks for them.

``contexts`` are (examples, block_size) int64. An n-gram target at offset ``o`` is the identity
of ``contexts[:, o:o + n]``, restricted to the ``k`` most frequent n-grams (in the data it is
fitted on) plus one ``other`` class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Target:
    """A labelling of examples: ``labels`` (examples,) int64, plus what it is."""

    name: str
    n: int  # n-gram length (1 for a single character)
    offset: int  # first position
    labels: np.ndarray
    types: np.ndarray  # (examples,) int64: the full n-gram type id, before top-k truncation

    @property
    def positions(self) -> range:
        return range(self.offset, self.offset + self.n)


def ngram_types(contexts: np.ndarray, offset: int, n: int, vocab_size: int) -> np.ndarray:
    """Each example's n-gram at ``offset`` as one integer (base ``vocab_size``)."""
    window = contexts[:, offset : offset + n].astype(np.int64)
    powers = vocab_size ** np.arange(n - 1, -1, -1, dtype=np.int64)
    return window @ powers


def ngram_target(
    contexts: np.ndarray, offset: int, n: int, vocab_size: int, top_k: int = 50
) -> Target:
    """Top-``top_k`` n-grams at ``offset`` as classes 0..k-1 (most frequent first), the rest as
    class k (``other``)."""
    types = ngram_types(contexts, offset, n, vocab_size)
    values, counts = np.unique(types, return_counts=True)
    top = values[np.argsort(-counts, kind="stable")[:top_k]]
    lookup = {int(t): i for i, t in enumerate(top)}
    labels = np.array([lookup.get(int(t), len(top)) for t in types], dtype=np.int64)
    return Target(f"{n}-gram@{offset}", n, offset, labels, types)


def aligned_targets(
    contexts: np.ndarray, vocab_size: int, ns: tuple[int, ...] = (1, 2, 4, 8), top_k: int = 50
) -> list[Target]:
    """n-gram targets at every offset aligned to n (0, n, 2n, ...), for each n."""
    block = contexts.shape[1]
    return [
        ngram_target(contexts, o, n, vocab_size, top_k)
        for n in ns
        if n <= block
        for o in range(0, block - n + 1, n)
    ]


def control_labels(target: Target, seed: int) -> np.ndarray:
    """Hewitt & Liang control task: every n-gram *type* gets one random label, drawn from the
    real labels' distribution over examples, so the control is a fixed random function of
    exactly the characters the real target depends on, with the same label distribution in
    expectation."""
    rng = np.random.default_rng(seed)
    types, inverse = np.unique(target.types, return_inverse=True)
    labels, counts = np.unique(target.labels, return_counts=True)
    per_type = rng.choice(labels, size=len(types), p=counts / counts.sum())
    return per_type[inverse]
