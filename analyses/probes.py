"""Probe every group of every level for n-gram features, with the controls beside each result.

The hierarchical claim: WaveNet level 0 encodes the bigram it sees, level 1 the 4-gram, level 2
the whole context, and a group knows little about characters outside its receptive field. For
every (model, level, group) and every n-gram target (n = 1, 2, 4, 8 at aligned offsets; top-K
n-grams plus ``other``), a linear probe (standardise, logistic regression, fixed C) is trained on
held-out contexts and scored on a disjoint part of them. Beside each accuracy:

- the majority-class baseline;
- a Hewitt & Liang control task (each n-gram type mapped to a random label with the real label
  distribution): **selectivity** = accuracy - control accuracy;
- the same probe on the same architecture at initialisation;
- the flat MLP's hidden layer as the comparison.

Targets are labelled ``inside`` (all of the n-gram's positions in the group's receptive field),
``outside`` (none) or ``partial``.

Beside them, the minimum description length of an online code (Voita & Titov), compared with
the code that learns only the label frequencies (so that a skewed target does not look learned),
and a causal check: LEACE erases the n-gram of each group's exact receptive field from that group
through a hook (fitted on 70% of the contexts, scored on the rest), and the change in validation
loss is compared with three erasures of the same rank: random directions that remove the same
variance (the figure's null), LEACE of the control task, and plain random subspaces; the
variance each removes is reported too.

    interp analyze probes RUN_DIR [RUN_DIR ...] --out DIR
    python -m analyses.probes RUN_DIR [RUN_DIR ...] --out DIR
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed

from interp.checkpoint import load_initial, load_run
from interp.erasure import (
    fit_leace,
    loss_with_group_erased,
    random_eraser,
    variance_matched_eraser,
)
from interp.errors import InterpError
from interp.figures import NULL_COLOUR, PALETTE, new_figure, parse_formats, save_figure
from interp.hooks import HookedModel
from interp.io import atomic_write_json
from interp.ngrams import Target, aligned_targets, control_labels
from interp.probing import online_codelength, probe

NS = (1, 2, 4, 8)


def relation(target: Target, group: tuple[int, int]) -> str:
    start, stop = group
    inside = [start <= p < stop for p in target.positions]
    return "inside" if all(inside) else "outside" if not any(inside) else "partial"


def group_features(model: HookedModel, x: torch.Tensor, point: str) -> list[list[np.ndarray]]:
    """[level][group] -> (examples, d_hidden) activations."""
    names = [f"levels.{info.index}.{point}" for info in model.structure]
    _, cache = model.run_with_cache(x, names_filter=names)
    return [[cache[n][:, g].numpy() for g in range(cache[n].shape[1])] for n in names]


def _probe_pair(features: np.ndarray, target: Target, seed: int) -> dict[str, float]:
    real = probe(features, target.labels, seed=seed)
    control = probe(features, control_labels(target, seed), seed=seed)
    return {
        "accuracy": real.accuracy,
        "macro_f1": real.macro_f1,
        "majority": real.majority,
        "control_accuracy": control.accuracy,
        "control_majority": control.majority,  # the control's labels need not share the majority
        "selectivity": real.accuracy - control.accuracy,
        **{
            k: v
            for k, v in online_codelength(features, target.labels, seed=seed).to_dict().items()
            if k in ("compression", "gain_over_prior")
        },
    }


def probe_model(
    model: HookedModel, x: torch.Tensor, targets: list[Target], point: str, seed: int, jobs: int
) -> list[dict[str, Any]]:
    feats = group_features(model, x, point)
    keys, work = [], []
    for info in model.structure:
        for g, span in enumerate(info.groups):
            for t in targets:
                keys.append(
                    {
                        "level": info.index,
                        "group": g,
                        "receptive_field": list(span),
                        "target": t.name,
                        "n": t.n,
                        "offset": t.offset,
                        "relation": relation(t, span),
                    }
                )
                work.append(delayed(_probe_pair)(feats[info.index][g], t, seed))
    results = Parallel(n_jobs=jobs)(work)
    return [{**k, **r} for k, r in zip(keys, results, strict=True)]


@torch.no_grad()
def erasure_effects(
    model: HookedModel,
    x: torch.Tensor,
    y: torch.Tensor,
    point: str,
    top_k: int,
    vocab_size: int,
    seed: int,
    random_draws: int = 3,
    fit_fraction: float = 0.7,
) -> list[dict[str, Any]]:
    """Per (level, group): erase the n-gram of exactly the group's receptive field with LEACE
    (fitted on the first ``fit_fraction`` of the examples) and measure the loss change on the
    rest. Two nulls of the same rank: LEACE fitted to the control task's labels (the primary
    null: same method, a random function of the same characters), and random subspaces. The
    variance each erasure removes is reported, since a larger erasure costs more loss whatever
    it erases."""
    import torch.nn.functional as F

    from interp.ngrams import ngram_target

    n_fit = int(fit_fraction * len(y))
    x_eval, y_eval = x[n_fit:], y[n_fit:]
    clean = F.cross_entropy(model(x_eval), y_eval).item()
    names = [f"levels.{info.index}.{point}" for info in model.structure]
    _, cache = model.run_with_cache(x, names_filter=names)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for info, name in zip(model.structure, names, strict=True):
        for g, (start, stop) in enumerate(info.groups):
            target = ngram_target(x.numpy(), start, stop - start, vocab_size, top_k)
            acts = cache[name][:, g]
            fit_acts, eval_acts = acts[:n_fit], acts[n_fit:]
            erasers = {
                "leace": fit_leace(fit_acts, target.labels[:n_fit])[0],
                "control": fit_leace(fit_acts, control_labels(target, seed)[:n_fit])[0],
            }
            rank = min(len(np.unique(target.labels[:n_fit])) - 1, acts.shape[1])
            erasers.update(
                {
                    f"random{i}": random_eraser(fit_acts, rank, generator)
                    for i in range(random_draws)
                }
            )
            leace_variance = float(
                (fit_acts.double() - erasers["leace"](fit_acts).double()).pow(2).sum(1).mean()
            )
            erasers.update(
                {
                    f"matched{i}": variance_matched_eraser(
                        fit_acts, rank, leace_variance, generator
                    )
                    for i in range(random_draws)
                }
            )
            delta, removed = {}, {}
            for key, erase in erasers.items():
                delta[key] = loss_with_group_erased(model, x_eval, y_eval, name, g, erase) - clean
                removed[key] = (eval_acts.double() - erase(eval_acts).double()).pow(2).sum(1).mean()

            def mean_of(prefix: str, values: dict) -> float:
                return float(np.mean([v for k, v in values.items() if k.startswith(prefix)]))

            rand, matched = mean_of("random", delta), mean_of("matched", delta)
            rows.append(
                {
                    "level": info.index,
                    "group": g,
                    "target": target.name,
                    "rank": rank,
                    "delta_loss_leace": delta["leace"],
                    "delta_loss_variance_matched": matched,
                    "delta_loss_control_leace": delta["control"],
                    "delta_loss_random": rand,
                    "variance_removed_leace": float(removed["leace"]),
                    "variance_removed_variance_matched": mean_of("matched", removed),
                    "variance_removed_control_leace": float(removed["control"]),
                    "variance_removed_random": mean_of("random", removed),
                    "ratio_to_variance_matched": delta["leace"] / matched
                    if matched > 1e-3
                    else None,
                    "ratio_to_control": delta["leace"] / delta["control"]
                    if delta["control"] > 1e-3
                    else None,
                    "ratio_to_random": delta["leace"] / rand if rand > 1e-3 else None,
                }
            )
    return rows


def analyse_run(
    run_dir, examples: int, point: str, top_k: int, seed: int, jobs: int, progress: bool
) -> dict[str, Any]:
    run = load_run(run_dir)
    init = load_initial(run.dir)
    data = run.dataset()
    x = data.x["val"][:examples]
    targets = aligned_targets(x.numpy(), run.vocab.size, NS, top_k)
    t0 = time.perf_counter()
    trained = probe_model(run.model.eval(), x, targets, point, seed, jobs)
    init = probe_model(init.model.eval(), x, targets, point, seed, jobs)
    for row, row0 in zip(trained, init, strict=True):
        row["init_accuracy"] = row0["accuracy"]
        row["init_selectivity"] = row0["selectivity"]
        row["init_compression"] = row0["compression"]
        row["init_gain_over_prior"] = row0["gain_over_prior"]
    xv, yv = data.x["val"][:examples], data.y["val"][:examples]
    erasure = erasure_effects(run.model.eval(), xv, yv, point, top_k, run.vocab.size, seed)
    if progress:
        print(
            f"probes {run.name}: {len(trained) * 4} probes and {len(erasure)} erasures in "
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    return {
        "run_dir": str(run.dir),
        "name": run.name,
        "kind": run.config["model"]["kind"],
        "examples": len(x),
        "point": point,
        "rows": trained,
        "erasure": erasure,
    }


def cell(rows, level: int, n: int, relation_: str, key: str) -> float | None:
    values = [
        r[key] for r in rows if r["level"] == level and r["n"] == n and r["relation"] == relation_
    ]
    return float(np.mean(values)) if values else None


def summarise(runs) -> dict[str, Any]:
    """Mean over groups and offsets, per model, level, n and relation."""
    out = {}
    for r in runs:
        levels = sorted({row["level"] for row in r["rows"]})
        out[r["name"]] = {
            f"level {lv}": {
                f"{n}-gram {rel}": {
                    k: cell(r["rows"], lv, n, rel, k)
                    for k in (
                        "accuracy",
                        "control_accuracy",
                        "control_majority",
                        "selectivity",
                        "majority",
                        "init_accuracy",
                        "compression",
                        "init_compression",
                        "gain_over_prior",
                        "init_gain_over_prior",
                    )
                }
                for n in NS
                for rel in ("inside", "outside")
                if cell(r["rows"], lv, n, rel, "accuracy") is not None
            }
            for lv in levels
        }
    return out


def finding(runs) -> str:
    """Per level, generated from the numbers: n-grams inside the receptive field against the
    initial model (accuracy, and MDL against the label-frequency code), and outside it against
    the majority class."""
    parts = []
    for r in runs:
        for lv in sorted({row["level"] for row in r["rows"]}):
            rows = [row for row in r["rows"] if row["level"] == lv]
            inside = [x for x in rows if x["relation"] == "inside"]
            outside = [x for x in rows if x["relation"] == "outside"]

            def mean(key, rows=inside):
                return float(np.mean([x[key] for x in rows]))

            text = (
                f"{r['name']} L{lv} inside: accuracy {mean('accuracy'):.2f} (init "
                f"{mean('init_accuracy'):.2f}, control {mean('control_accuracy'):.2f}), "
                f"MDL gain over the label-frequency code {mean('gain_over_prior'):.2f} "
                f"(init {mean('init_gain_over_prior'):.2f}; 1 = none)"
            )
            if outside:
                gain = mean("accuracy", outside) - mean("majority", outside)
                text += f"; outside: {gain:+.2f} over majority"
            parts.append(text)
    return "; ".join(parts) + "."


def plot_heatmaps(runs, out, formats) -> list[Path]:
    panels = [(r, rel) for r in runs for rel in ("inside", "outside")]
    fig, axes = new_figure(1, len(panels), size=(2.9 * len(panels), 3.0))
    image = None
    for ax, (r, rel) in zip(axes, panels, strict=True):
        levels = sorted({row["level"] for row in r["rows"]})
        grid = np.full((len(levels), len(NS)), np.nan)
        for i, lv in enumerate(levels):
            for j, n in enumerate(NS):
                v = cell(r["rows"], lv, n, rel, "accuracy")
                grid[i, j] = np.nan if v is None else v
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        if np.isnan(grid).all():
            ax.text(
                len(NS) / 2 - 0.5,
                (len(levels) - 1) / 2,
                "no such targets:\nthe group sees every position",
                ha="center",
                va="center",
                fontsize=8,
            )
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if not np.isnan(grid[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{grid[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if grid[i, j] < 0.5 else "black",
                    )
        ax.set_xticks(range(len(NS)), [str(n) for n in NS])
        ax.set_yticks(range(len(levels)), [f"L{lv}" for lv in levels])
        ax.set_xlabel("n-gram length")
        ax.set_title(f"{r['name']}\n{rel} the receptive field", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes[-1], shrink=0.8, label="probe accuracy (held out)")
    maj = np.mean([row["majority"] for r in runs for row in r["rows"]])
    fig.suptitle(
        "n-gram probe accuracy by level and length, inside vs outside each group's receptive "
        f"field (blank: no such target; mean majority baseline {maj:.2f})",
        fontsize=9,
    )
    return save_figure(fig, out, "probe_accuracy_by_level", formats)


def plot_bars(runs, out, formats) -> list[Path]:
    """Selectivity, MDL gain over the label-frequency code, and the causal erasure check."""
    fig, axes = new_figure(1, 3, size=(14.0, 3.4))
    keys = ("selectivity", "init_selectivity", "gain_over_prior", "init_gain_over_prior")
    labels, stats = [], {k: [] for k in keys}
    for r in runs:
        for lv in sorted({row["level"] for row in r["rows"]}):
            rows = [x for x in r["rows"] if x["level"] == lv and x["relation"] == "inside"]
            labels.append(f"{r['name']} L{lv}")
            for k in keys:
                stats[k].append(float(np.mean([x[k] for x in rows])))
    pos = np.arange(len(labels))
    ticks = [label.replace(" L", "\nL") for label in labels]
    for ax, key, ylabel in [
        (axes[0], "selectivity", "selectivity (accuracy − control)"),
        (axes[1], "gain_over_prior", "label-frequency code / online code"),
    ]:
        ax.bar(pos - 0.2, stats[key], 0.4, label="trained", color=PALETTE[0])
        ax.bar(pos + 0.2, stats[f"init_{key}"], 0.4, label="at init", color=PALETTE[1])
        ax.set_xticks(pos, ticks, fontsize=7)
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, fontsize=7)
    axes[1].axhline(1, color=NULL_COLOUR, ls="--", lw=0.8)
    axes[0].set_title("Hewitt & Liang selectivity, n-grams inside the receptive field", fontsize=9)
    axes[1].set_title("MDL: how much the features shorten the code (1 = nothing)", fontsize=9)
    ratios = []
    for r in runs:
        for lv in sorted({e["level"] for e in r["erasure"]}):
            rows = [e for e in r["erasure"] if e["level"] == lv]
            null = sum(e["delta_loss_variance_matched"] for e in rows)
            real = sum(e["delta_loss_leace"] for e in rows)
            ratios.append(real / null if null > 1e-3 else np.nan)
    axes[2].bar(pos, ratios, 0.5, color=PALETTE[2])
    axes[2].axhline(
        1, color=NULL_COLOUR, ls="--", lw=0.8, label="random erasure, same rank and variance"
    )
    axes[2].set_xticks(pos, ticks, fontsize=7)
    axes[2].set_ylabel("Σ Δ loss over groups, LEACE / null")
    axes[2].set_title("Causal check: erase each group's own n-gram (same rank)", fontsize=9)
    axes[2].legend(frameon=False, fontsize=7, loc="lower right")
    gain = [
        c - c0
        for c, c0 in zip(stats["gain_over_prior"], stats["init_gain_over_prior"], strict=True)
    ]
    raised = [label for label, g in zip(labels, gain, strict=True) if g > 0]
    fig.suptitle(
        f"Training shortens the n-gram code (vs init) at {len(raised)} of {len(labels)} levels "
        f"({', '.join(raised) or 'none'}); erasing the n-gram costs "
        f"{np.nanmin(ratios):.2f}-{np.nanmax(ratios):.2f}x the loss of a random erasure of the "
        "same rank and variance",
        fontsize=9,
    )
    return save_figure(fig, out, "probe_controls", formats)


def run_analysis(
    run_dirs,
    out,
    examples=4000,
    point="hook_post",
    top_k=50,
    seed=0,
    jobs=2,
    formats=("png", "svg"),
    progress=True,
) -> dict[str, Any]:
    runs = [analyse_run(d, examples, point, top_k, seed, jobs, progress) for d in run_dirs]
    out = Path(out)
    figures = plot_heatmaps(runs, out, formats) + plot_bars(runs, out, formats)
    report = {
        "analysis": "probes",
        "finding": finding(runs),
        "summary": summarise(runs),
        "settings": {
            "examples": min(examples, min(r["examples"] for r in runs)),
            "point": point,
            "top_k": top_k,
            "seed": seed,
            "probe": "standardise + logistic regression, C=1, 70/30 split",
        },
        "runs": runs,
        "figures": [str(p) for p in figures],
    }
    atomic_write_json(out / "probes.json", report)
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This analysis's own arguments (RUN_DIR..., --out, --format, --quiet are common)."""
    p.add_argument(
        "--examples",
        type=int,
        default=4000,
        help="validation contexts (70%% to fit each probe, 30%% to score) (4000)",
    )
    p.add_argument(
        "--point",
        choices=["hook_post", "hook_pre"],
        default="hook_post",
        help="activations to probe (post-tanh by default)",
    )
    p.add_argument("--top-k", type=int, default=50, help="n-gram classes besides 'other' (50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="parallel probe fits (2)")


def run_from_args(args: argparse.Namespace) -> int:
    if args.examples < 20 or args.top_k < 1 or args.jobs < 1 or args.seed < 0:
        raise InterpError("need --examples >= 20, --top-k >= 1, --jobs >= 1 and --seed >= 0")
    report = run_analysis(
        args.run_dirs,
        args.out,
        args.examples,
        args.point,
        args.top_k,
        args.seed,
        args.jobs,
        parse_formats(args.format),
        not args.quiet,
    )
    from interp.cli import print_report

    return print_report(report, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    from interp.cli import analysis_main

    return analysis_main(__name__ if __name__ != "__main__" else "analyses.probes", argv)


if __name__ == "__main__":
    sys.exit(main())
