"""Shared fixtures. Tests that need makemore's names.txt read it from ../shared/data/ and skip
with a reason where it is absent (CI always has it)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMES = REPO.parent / "shared" / "data" / "names.txt"


@pytest.fixture(scope="session")
def names_path() -> Path:
    if not NAMES.is_file():
        pytest.skip(f"makemore's names.txt is not at {NAMES} (it is in CI)")
    return NAMES


def make_words(n: int = 400, seed: int = 0) -> list[str]:
    """Name-like words from a fixed seed: consonant-vowel syllables."""
    rng = random.Random(seed)
    cons, vows = "bdklmnrst", "aeiou"
    return [
        "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(1, 4)))
        + rng.choice(["", "n", "a"])
        for _ in range(n)
    ]


@pytest.fixture(scope="session")
def tiny_corpus_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("\n".join(make_words()) + "\n", encoding="utf-8")
    return path


#: Small model and short run for tests: (kind, n_embd, n_hidden).
TINY = {"kind": "wavenet", "n_embd": 4, "n_hidden": 16}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # The built-in corpus cache goes to one temporary folder shared by the session.
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path_factory.getbasetemp() / "interp-cache"))


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, tiny_corpus_path) -> tuple[Path, Path]:
    """A tiny flat MLP and a tiny WaveNet, trained 80 steps with snapshots at 0, 40 and 80."""
    from helpers import tiny_run

    root = tmp_path_factory.mktemp("tiny_runs")
    mlp = tiny_run(
        root / "mlp",
        tiny_corpus_path,
        steps=80,
        snapshots="0,40,80",
        kind="mlp",
        n_embd=4,
        n_hidden=16,
    )
    wn = tiny_run(root / "wn", tiny_corpus_path, steps=80, snapshots="0,40,80")
    return mlp.run_dir, wn.run_dir
