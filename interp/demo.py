"""A parameter-matched flat MLP and WaveNet, trained quickly: the runs behind ``interp demo``
and the notebooks.

>>> mlp_dir, wavenet_dir = train_pair("runs/demo")   # built-in corpus; reused if trained
"""

from __future__ import annotations

import shutil
from pathlib import Path

from interp import checkpoint as ckpt
from interp.data import load_corpus
from interp.recipes import DEFAULT
from interp.training import default_snapshots, train

#: A flat MLP and a WaveNet with nearly the same number of parameters (22,097 and 22,397).
PAIR = ("mlp-22k", "wavenet-22k")


def train_pair(
    out: str | Path,
    data: str | Path | None = None,
    steps: int = 2000,
    seed: int = 0,
    progress: bool = True,
) -> list[Path]:
    """Train :data:`PAIR` with the default recipe for ``steps`` steps into ``out/{preset}``.

    A run already trained with the same recipe settings, steps, seed and corpus is reused;
    anything else there (an interrupted or different run) is replaced. Weights are snapshotted
    at 0 and 6 log-spaced steps, for the analyses that follow training. Returns the run
    directories.
    """
    corpus = load_corpus(data)
    if progress:
        print(f"demo: corpus {corpus.source} ({len(corpus.words):,} words)", flush=True)
    run_dirs = []
    for i, preset in enumerate(PAIR, 1):
        run_dir = Path(out) / preset
        if _finished(run_dir, steps, seed, corpus.sha256):
            if progress:
                print(f"demo: [{i}/{len(PAIR)}] {preset}: reusing {run_dir}", flush=True)
        else:
            if progress:
                print(f"demo: [{i}/{len(PAIR)}] training {preset}, {steps:,} steps", flush=True)
            if run_dir.exists():
                shutil.rmtree(run_dir)
            train(
                run_dir,
                corpus,
                preset=preset,
                recipe=DEFAULT.with_overrides(steps=steps),
                seed=seed,
                snapshots=default_snapshots(steps, n=6),
                progress=progress,
            )
        run_dirs.append(run_dir)
    return run_dirs


def _finished(run_dir: Path, steps: int, seed: int, sha256: str) -> bool:
    recipe = DEFAULT.with_overrides(steps=steps).to_dict()
    expected = {"recipe": recipe, "step": steps, "seed": seed, "data_sha256": sha256}
    return ckpt.run_progress(run_dir) == expected
