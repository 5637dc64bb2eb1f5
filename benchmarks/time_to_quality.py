"""Time to reach the lecture's val loss: the default recipe against the lecture's loop.

Trains ``wavenet-76k`` on names.txt (the lecture's split) twice in this process, one after the
other on the same machine: with ``--recipe karpathy`` (batch 32, SGD, 200,000 steps) and with
the default recipe. Both run inside the hooks wrapper with the toolkit's ``train()``, every cost
included (evaluations, checkpoints). Prints, for each, the wall time at which val loss first
reached the target (1.993, the lecture's 200k-step result), the final val loss, and the ratio of
the two times (target <= 1/3). Where the lecture's loop never reaches the target, the ratio is
bounded by its whole run time, and that is what is printed.

    python benchmarks/time_to_quality.py [--data ../shared/data/names.txt] [--target 1.993]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_facts  # noqa: E402

from interp.compare import read_curve  # noqa: E402
from interp.data import read_corpus  # noqa: E402
from interp.recipes import DEFAULT_RECIPE, get_recipe  # noqa: E402
from interp.training import train  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"


def time_to(curve: list[dict], target: float) -> float | None:
    return next((row["seconds"] for row in curve if row["val"] <= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--target", type=float, default=1.993)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        default="karpathy=1,default=2",
        help="torch threads per recipe (each its fastest here: batch 32 gains nothing from 2)",
    )
    parser.add_argument("--evals", type=int, default=100, help="val evaluations per run (100)")
    args = parser.parse_args()
    threads = dict(item.split("=") for item in args.threads.split(","))
    corpus = read_corpus(args.data)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("karpathy", DEFAULT_RECIPE):
            recipe = get_recipe(name)
            torch.set_num_threads(int(threads.get(name, threads.get("default", 1))))
            print(machine_facts(), f"| recipe {name}", flush=True)
            result = train(
                Path(tmp) / name,
                corpus,
                preset="wavenet-76k",
                recipe=recipe,
                seed=args.seed,
                eval_every=max(recipe.steps // args.evals, 1),
                snapshots="none",
                progress=False,
                log_every=1000,
            )
            curve = read_curve(result.run_dir)
            results[name] = (time_to(curve, args.target), result.seconds, result.losses["val"])
            reached, total, val = results[name]
            when = f"{reached:.1f} s" if reached is not None else "never"
            print(
                f"{name}: {result.model.model.n_params():,} params, final val {val:.4f} "
                f"after {total:.1f} s; val <= {args.target} reached: {when}",
                flush=True,
            )
    ours, theirs = results[DEFAULT_RECIPE], results["karpathy"]
    if ours[0] is None:
        print(f"the {DEFAULT_RECIPE} recipe did not reach {args.target}: no ratio")
    elif theirs[0] is None:
        bound = ours[0] / theirs[1]
        print(
            f"time-to-{args.target} ratio ({DEFAULT_RECIPE} / karpathy): < {bound:.3f} (karpathy "
            f"never reached it; bounded by its whole {theirs[1]:.0f} s)  target <= 0.333"
        )
    else:
        print(
            f"time-to-{args.target} ratio ({DEFAULT_RECIPE} / karpathy): {ours[0] / theirs[0]:.3f}"
            "  target <= 0.333"
        )
    print(f"final val loss, {DEFAULT_RECIPE}: {ours[2]:.4f}  target <= 1.97")


if __name__ == "__main__":
    main()
