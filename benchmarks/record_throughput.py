"""Recording every hook point over a split, against a bare ``torch.no_grad()`` forward.

Prints, for ``wavenet-76k`` on names.txt's train split (182,625 examples):

- throughput of ``interp record`` (all 14 hook points, streamed to disk) divided by the
  throughput of a bare no-grad forward over the same data and batch size, measured in
  alternating rounds in one process (target >= 0.5);
- peak resident memory of recording the train split and of recording the val split, each in
  its own process (target: train < 1.5x val, i.e. memory is bounded by the batch, not the split).

    python benchmarks/record_throughput.py [--data ../shared/data/names.txt] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_facts  # noqa: E402

from interp.checkpoint import load_run  # noqa: E402
from interp.data import read_corpus  # noqa: E402
from interp.recipes import KARPATHY  # noqa: E402
from interp.store import record_split  # noqa: E402
from interp.training import train  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"


def peak_rss_mb(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({status})")
    return usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--tmp", default=None, help="folder for the stores (default: system tmp)")
    args = parser.parse_args()
    print(machine_facts())
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        # Throughput does not depend on the weights: a model trained for 10 steps will do.
        train(
            tmp / "run",
            read_corpus(args.data),
            preset="wavenet-76k",
            recipe=KARPATHY.with_overrides(steps=10),
            snapshots="none",
            progress=False,
        )
        run = load_run(tmp / "run")
        data = run.dataset()
        x = data.x["train"]
        n = len(x)
        print(
            f"wavenet-76k, train split: {n:,} examples, batch {args.batch_size}, "
            f"all {len(run.model.hook_names)} hook points, {args.dtype}"
        )

        def bare() -> float:
            t0 = time.perf_counter()
            with torch.no_grad():
                for s in range(0, n, args.batch_size):
                    run.model(x[s : s + args.batch_size])
            return time.perf_counter() - t0

        def recorded(i: int) -> float:
            out = tmp / f"store{i}"
            t0 = time.perf_counter()
            record_split(
                run,
                data,
                "train",
                out,
                dtype=args.dtype,
                batch_size=args.batch_size,
                progress=False,
            )
            seconds = time.perf_counter() - t0
            shutil.rmtree(out)
            return seconds

        bare()  # warm-up
        ratios, t_bare, t_rec = [], [], []
        for i in range(args.rounds):
            b, r = bare(), recorded(i)
            t_bare.append(b)
            t_rec.append(r)
            ratios.append(b / r)
        print(f"bare no-grad forward:  {n / statistics.median(t_bare):10,.0f} examples/s")
        print(f"record to disk:        {n / statistics.median(t_rec):10,.0f} examples/s")
        print(
            f"record / bare throughput: {statistics.median(ratios):.3f} "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})  target >= 0.5"
        )

        rss = {}
        for split in ("val", "train"):
            rss[split] = peak_rss_mb(
                [
                    sys.executable,
                    "-m",
                    "interp",
                    "record",
                    str(tmp / "run"),
                    "--split",
                    split,
                    "--out",
                    str(tmp / f"rss-{split}"),
                    "--dtype",
                    args.dtype,
                    "--quiet",
                    "--batch-size",
                    str(args.batch_size),
                ]
            )
            shutil.rmtree(tmp / f"rss-{split}")
        print(f"peak RSS recording val:   {rss['val']:8.0f} MB")
        print(f"peak RSS recording train: {rss['train']:8.0f} MB")
        print(f"train / val peak RSS: {rss['train'] / rss['val']:.2f}  target < 1.5")


if __name__ == "__main__":
    main()
