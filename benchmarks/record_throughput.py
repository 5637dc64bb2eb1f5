"""Recording every hook point over a split, against a bare ``torch.no_grad()`` forward.

Prints, for ``wavenet-76k`` on names.txt's train split (182,625 examples):

- throughput of ``interp record`` (all 14 hook points, streamed to disk) divided by the
  throughput of a bare no-grad forward over the same data and batch size, measured in
  alternating rounds in one process (target >= 0.5), for float32 and float16 stores;
- the ceiling the disk sets on that ratio: the time to write the store's bytes straight to the
  same file system (``O_DIRECT`` from one reused buffer, no computation) against the bare forward.
  A ratio near its ceiling is limited by the disk, not by the recorder;
- peak resident memory of recording the train split and of recording the val split, each in
  its own process (target: train < 1.5x val, i.e. memory is bounded by the batch, not the split).

    python benchmarks/record_throughput.py [--data ../shared/data/names.txt] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import mmap
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


def direct_write_seconds(path: Path, nbytes: int, chunk: int = 16 << 20) -> float:
    """Seconds to write ``nbytes`` to ``path`` with O_DIRECT (buffered where refused)."""
    buffer = mmap.mmap(-1, chunk)  # page-aligned, touched once before timing
    buffer.write(b"\x01" * chunk)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(path, flags | getattr(os, "O_DIRECT", 0))
    except OSError:
        fd = os.open(path, flags)
    try:
        t0 = time.perf_counter()
        with memoryview(buffer) as view:
            for _ in range(0, nbytes, chunk):
                os.write(fd, view)
        os.fsync(fd)
        return time.perf_counter() - t0
    finally:
        os.close(fd)
        path.unlink()
        buffer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--dtype", default="both", choices=["float32", "float16", "both"])
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

        def recorded(i: int, dtype: str) -> float:
            out = tmp / f"store{i}"
            t0 = time.perf_counter()
            record_split(
                run, data, "train", out, dtype=dtype, batch_size=args.batch_size, progress=False
            )
            seconds = time.perf_counter() - t0
            shutil.rmtree(out)
            return seconds

        dtypes = ["float32", "float16"] if args.dtype == "both" else [args.dtype]
        row_bytes = sum(math.prod(shape[1:]) for shape in run.model.hook_shapes().values())
        bare()  # warm-up
        t_bare: list[float] = []
        t_rec: dict[str, list[float]] = {d: [] for d in dtypes}
        for i in range(args.rounds):
            t_bare.append(bare())
            for dtype in dtypes:
                t_rec[dtype].append(recorded(i, dtype))
        bare_s = statistics.median(t_bare)
        print(f"bare no-grad forward: {n / bare_s:10,.0f} examples/s")
        for dtype in dtypes:
            ratios = [b / r for b, r in zip(t_bare, t_rec[dtype], strict=True)]
            nbytes = n * row_bytes * torch.empty(0, dtype=getattr(torch, dtype)).element_size()
            disk_s = direct_write_seconds(tmp / "ceiling.bin", nbytes)
            print(
                f"{dtype}: record {n / statistics.median(t_rec[dtype]):10,.0f} examples/s, "
                f"{nbytes / 1e9:.2f} GB; record / bare throughput "
                f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}) "
                f"target >= 0.5; disk alone writes it at {nbytes / disk_s / 1e9:.2f} GB/s, "
                f"a ceiling of {bare_s / disk_s:.2f}"
            )

        rss = {}
        for split in ("val", "train"):  # memory does not depend on the dtype: float32
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
                    dtypes[0],
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
