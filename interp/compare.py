"""Flat vs hierarchical at equal parameters, settled with seeds: train every preset with several
seeds under one recipe, then tabulate losses as mean ± std and test the differences.

>>> runs = train_grid("results/compare", corpus_path, presets=PRESETS, seeds=(0, 1, 2))
>>> summary = summarise(runs)          # per run and per preset, with Welch tests per budget
>>> summary["findings"]                # sentences generated from the numbers

Each run is an ordinary run directory (``out/runs/{preset}-seed{seed}``) trained by
``interp train`` in its own process, so runs go in parallel (``jobs``), a finished run is
reused and an interrupted one resumes when the command is run again.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy import stats as scipy_stats
from tqdm.auto import tqdm

from interp import checkpoint as ckpt
from interp.errors import InterpError
from interp.evaluate import split_losses
from interp.figures import NULL_COLOUR, OKABE_ITO, new_figure, save_figure
from interp.recipes import DEFAULT_RECIPE, Recipe, get_recipe
from models import PAIRS

#: The four presets of the comparison: (flat, hierarchical) pairs at two parameter budgets.
PRESETS: tuple[str, ...] = tuple(p for pair in PAIRS for p in pair)
COLOURS = {
    "mlp-22k": OKABE_ITO["sky"],
    "wavenet-22k": OKABE_ITO["orange"],
    "mlp-76k": OKABE_ITO["blue"],
    "wavenet-76k": OKABE_ITO["vermillion"],
}


class CompareError(InterpError):
    """A run of the comparison failed or is missing."""


@dataclass(frozen=True)
class GridRun:
    preset: str
    seed: int
    run_dir: Path


def grid(out: Path, presets: Sequence[str], seeds: Sequence[int]) -> list[GridRun]:
    return [GridRun(p, s, Path(out) / "runs" / f"{p}-seed{s}") for p in presets for s in seeds]


def _state(run_dir: Path, recipe: Recipe) -> str:
    """``"new"``, ``"partial"`` (resume it) or ``"finished"`` (reuse it); a run of other
    settings raises, so one table never mixes recipes, lengths or versions of a recipe."""
    progress = ckpt.run_progress(run_dir)
    if progress is None:
        return "new"
    have, want = progress["recipe"], recipe.to_dict()
    if have != want:
        differ = ", ".join(f"{k} {have[k]!r}, not {want[k]!r}" for k in want if have[k] != want[k])
        raise CompareError(
            f"{run_dir}: trained with other settings than this comparison asks for ({differ}); "
            "use another --out, or delete that run"
        )
    return "finished" if progress["step"] == recipe.steps else "partial"


def train_grid(
    out: str | Path,
    data: str | None,
    presets: Sequence[str] = PRESETS,
    seeds: Sequence[int] = (0, 1, 2),
    recipe: str = DEFAULT_RECIPE,
    steps: int | None = None,
    dropout: float | None = None,
    jobs: int = 1,
    threads: int = 1,
    device: str = "cpu",
    progress: bool = True,
) -> list[GridRun]:
    """Train every (preset, seed) that is not finished yet; returns the grid.

    Runs go ``jobs`` at a time, each with ``threads`` torch threads, in its own process; a log
    of each is kept beside its run directory (``{run}.log``).
    """
    runs = grid(Path(out), presets, seeds)
    settings = get_recipe(recipe).with_overrides(steps=steps, dropout=dropout)
    total = settings.steps
    todo = [r for r in runs if _state(r.run_dir, settings) != "finished"]
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), unit="run", disable=not progress)
    bar.set_description("compare")

    def one(run: GridRun) -> GridRun:
        run.run_dir.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "interp", "train", "--out", str(run.run_dir), "--quiet"]
        argv += ["--threads", str(threads), "--device", device, "--samples", "0"]
        if (run.run_dir / ckpt.TRAINER_STATE).is_file():
            argv += ["--resume"]
        else:
            if run.run_dir.exists():  # a start that never reached its first checkpoint
                shutil.rmtree(run.run_dir)
            argv += ["--preset", run.preset, "--seed", str(run.seed), "--recipe", recipe]
            argv += ["--snapshots", "none", "--eval-every", str(max(total // 40, 1))]
            if steps is not None:
                argv += ["--steps", str(steps)]
            if dropout is not None:
                argv += ["--dropout", repr(dropout)]
        if data is not None:
            argv += ["--data", str(data)]
        log = run.run_dir.with_suffix(".log")
        with open(log, "a") as f:
            code = subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT, env=_child_env())
        if code != 0:
            raise CompareError(
                f"{run.run_dir}: training failed (exit {code}); see {log}. Finished runs are "
                "kept: run the same command again once it is fixed"
            )
        return run

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for future in as_completed([pool.submit(one, r) for r in todo]):
            future.result()  # the first failure stops the grid: queued runs are cancelled
            bar.update(1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return runs


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


# ---- summary ---------------------------------------------------------------------------------
def read_curve(run_dir: Path) -> list[dict[str, float]]:
    """The run's evaluation rows: step, examples seen, train and val loss, wall seconds."""
    config = ckpt.read_config(run_dir, require=("recipe",))
    batch = config["recipe"]["batch_size"]
    rows = []
    with open(run_dir / ckpt.METRICS) as f:
        for line in f:
            row = json.loads(line)
            if row.get("kind") == "eval":
                rows.append(
                    {
                        "step": row["step"],
                        "examples": row["step"] * batch,
                        "train": row["train_loss"],
                        "val": row["val_loss"],
                        "seconds": row.get("seconds", math.nan),
                    }
                )
    return rows


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def summarise(runs: Sequence[GridRun]) -> dict[str, Any]:
    """Per-run losses and curves, per-preset mean ± std, and a Welch test per budget."""
    per_run = []
    for run in runs:
        loaded = ckpt.load_run(run.run_dir)
        losses = split_losses(loaded.model, loaded.dataset())
        curve = read_curve(run.run_dir)
        per_run.append(
            {
                "preset": run.preset,
                "seed": run.seed,
                "run_dir": str(run.run_dir),
                "params": loaded.model.model.n_params(),
                "losses": losses,
                "seconds": curve[-1]["seconds"] if curve else math.nan,
                "curve": curve,
            }
        )
    presets = list(dict.fromkeys(r["preset"] for r in per_run))
    table = {}
    for preset in presets:
        rows = [r for r in per_run if r["preset"] == preset]
        table[preset] = {
            "params": rows[0]["params"],
            "seeds": [r["seed"] for r in rows],
            **{split: _mean_std([r["losses"][split] for r in rows]) for split in rows[0]["losses"]},
            "seconds": _mean_std([r["seconds"] for r in rows]),
        }
    tests = []
    for flat, hier in PAIRS:
        if flat in table and hier in table:
            tests.append(welch(flat, hier, per_run))
    summary = {"runs": per_run, "table": table, "tests": tests}
    summary["findings"] = findings(summary)
    return summary


def welch(flat: str, hier: str, per_run: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Welch's t-test on val loss between two presets' seeds (flat minus hierarchical)."""
    a = [r["losses"]["val"] for r in per_run if r["preset"] == flat]
    b = [r["losses"]["val"] for r in per_run if r["preset"] == hier]
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) > 1 and len(b) > 1 and (statistics.stdev(a) > 0 or statistics.stdev(b) > 0):
        result = scipy_stats.ttest_ind(a, b, equal_var=False)
        t, p = float(result.statistic), float(result.pvalue)
    else:
        t, p = math.nan, math.nan
    return {"flat": flat, "hierarchical": hier, "val_difference": diff, "t": t, "p": p}


def to_json(obj: Any) -> Any:
    """``obj`` with NaN (no test, no wall time) as null, so the JSON is strict."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_json(v) for v in obj]
    return obj


def findings(summary: dict[str, Any]) -> list[str]:
    """One sentence per parameter budget, generated from the numbers."""
    out = []
    table = summary["table"]
    for test in summary["tests"]:
        flat, hier = test["flat"], test["hierarchical"]
        f, h = table[flat], table[hier]
        diff, p = test["val_difference"], test["p"]
        lower, higher = (hier, flat) if diff > 0 else (flat, hier)
        counts = f"{f['val']['n']} and {h['val']['n']} seeds"
        numbers = (
            f"{flat} ({f['params']:,} params) {f['val']['mean']:.4f} ± {f['val']['std']:.4f} vs "
            f"{hier} ({h['params']:,}) {h['val']['mean']:.4f} ± {h['val']['std']:.4f}"
        )
        if math.isnan(p):
            verdict = f"no test is possible with {counts}"
        elif p < 0.05:
            verdict = (
                f"{format_p(p)}, Welch's t-test over {counts}: larger than seed-to-seed variation"
            )
        else:
            verdict = (
                f"{format_p(p)}, Welch's t-test over {counts}: not distinguishable from "
                "seed-to-seed variation"
            )
        out.append(
            f"Val loss, {numbers}: {lower} is lower by {abs(diff):.4f} nats than {higher} "
            f"({verdict})."
        )
    return out


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        "| preset | params | train | val | test | wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for preset, row in summary["table"].items():
        cells = [f"{row[s]['mean']:.4f} ± {row[s]['std']:.4f}" for s in ("train", "val", "test")]
        lines.append(
            f"| {preset} | {row['params']:,} | {' | '.join(cells)} | "
            f"{row['seconds']['mean']:.1f} ± {row['seconds']['std']:.1f} |"
        )
    return "\n".join(lines)


def plot(summary: dict[str, Any], out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Val-loss learning curves (mean over seeds, min–max band) and final val loss per seed."""
    fig, (curves, finals) = new_figure(1, 2, size=(9.0, 3.8))
    presets = list(summary["table"])
    for preset in presets:
        runs = [r for r in summary["runs"] if r["preset"] == preset]
        colour = COLOURS.get(preset, NULL_COLOUR)
        n = min(len(r["curve"]) for r in runs)
        if n == 0:
            continue
        x = [runs[0]["curve"][i]["examples"] / 1e6 for i in range(n)]
        vals = [[r["curve"][i]["val"] for r in runs] for i in range(n)]
        style = "--" if preset.endswith("22k") else "-"  # budgets apart without colour too
        curves.plot(x, [statistics.fmean(v) for v in vals], style, color=colour, label=preset)
        curves.fill_between(
            x, [min(v) for v in vals], [max(v) for v in vals], color=colour, alpha=0.25, lw=0
        )
    curves.set_xlabel("training examples seen (millions)")
    curves.set_ylabel("val loss (nats per character)")
    lows = [r["losses"]["val"] for r in summary["runs"]]
    curves.set_ylim(min(lows) - 0.02, min(lows) + 0.25)
    curves.legend(frameon=False)
    curves.set_title("Val loss during training\n(line = mean of seeds, band = min–max)")
    for i, preset in enumerate(presets):
        row = summary["table"][preset]
        vals = [r["losses"]["val"] for r in summary["runs"] if r["preset"] == preset]
        colour = COLOURS.get(preset, NULL_COLOUR)
        finals.scatter([i] * len(vals), vals, color=colour, s=18, zorder=3)
        finals.errorbar(
            i + 0.15, row["val"]["mean"], yerr=row["val"]["std"], fmt="_", color="black",
            capsize=3, ms=10,
        )  # fmt: skip
    finals.set_xticks(
        range(len(presets)), [f"{p}\n{summary['table'][p]['params']:,}" for p in presets]
    )
    finals.set_xlim(-0.5, len(presets) - 0.5)
    finals.set_ylabel("final val loss (nats per character)")
    finals.set_title("Final val loss per seed\n(bar = mean ± std)")
    fig.suptitle(headline(summary))
    return save_figure(fig, out_dir, "compare", formats)


def headline(summary: dict[str, Any]) -> str:
    """Which model is lower at each budget, by how much, and whether seeds could explain it."""
    parts = []
    for test in summary["tests"]:
        budget = test["hierarchical"].rsplit("-", 1)[-1]
        p, diff = test["p"], test["val_difference"]
        lower = test["hierarchical"] if diff > 0 else test["flat"]
        if math.isnan(p):
            parts.append(f"{budget}: {lower} lower by {abs(diff):.3f} nats (one seed: no test)")
        elif p < 0.05:
            parts.append(f"{budget}: {lower} lower by {abs(diff):.3f} nats ({format_p(p)})")
        else:
            parts.append(f"{budget}: a tie within seed noise (Δ {abs(diff):.3f} nats)")
    return "; ".join(parts) or "Final val loss per preset"
