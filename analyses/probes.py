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

Beside them, the minimum description length of an online code (compression; Voita & Titov),
and a causal check: LEACE erases the n-gram of each group's exact receptive field from that group
through a hook, and the change in validation loss is divided by that of erasing random subspaces
of the same rank (decodable is not the same as used).

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
from interp.erasure import fit_leace, loss_with_group_erased, random_eraser
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
        "compression": online_codelength(features, target.labels, seed=seed).compression,
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
) -> list[dict[str, Any]]:
    """Per (level, group): erase the n-gram of exactly the group's receptive field with LEACE
    and report the loss change, divided by that of random erasures of the same rank."""
    import torch.nn.functional as F

    from interp.ngrams import ngram_target

    clean = F.cross_entropy(model(x), y).item()
    names = [f"levels.{info.index}.{point}" for info in model.structure]
    _, cache = model.run_with_cache(x, names_filter=names)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for info, name in zip(model.structure, names, strict=True):
        for g, (start, stop) in enumerate(info.groups):
            target = ngram_target(x.numpy(), start, stop - start, vocab_size, top_k)
            acts = cache[name][:, g]
            eraser, rank = fit_leace(acts, target.labels)
            leace = loss_with_group_erased(model, x, y, name, g, eraser) - clean
            rand = [
                loss_with_group_erased(model, x, y, name, g, random_eraser(acts, rank, generator))
                - clean
                for _ in range(random_draws)
            ]
            rows.append(
                {
                    "level": info.index,
                    "group": g,
                    "target": target.name,
                    "rank": rank,
                    "delta_loss_leace": leace,
                    "delta_loss_random": float(np.mean(rand)),
                    "ratio": leace / float(np.mean(rand)) if np.mean(rand) > 1e-9 else None,
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
    initial model (accuracy and MDL compression), and outside it against the majority class."""
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
                f"compression {mean('compression'):.2f} (init {mean('init_compression'):.2f})"
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
    """Selectivity and MDL compression of inside-receptive-field targets, trained vs init."""
    fig, axes = new_figure(1, 3, size=(14.0, 3.4))
    keys = ("selectivity", "init_selectivity", "compression", "init_compression")
    labels, stats = [], {k: [] for k in keys}
    for r in runs:
        for lv in sorted({row["level"] for row in r["rows"]}):
            rows = [x for x in r["rows"] if x["level"] == lv and x["relation"] == "inside"]
            labels.append(f"{r['name']} L{lv}")
            for k in keys:
                stats[k].append(float(np.mean([x[k] for x in rows])))
    pos = np.arange(len(labels))
    for ax, key, ylabel in [
        (axes[0], "selectivity", "selectivity (accuracy − control)"),
        (axes[1], "compression", "MDL compression (uniform / online bits)"),
    ]:
        ax.bar(pos - 0.2, stats[key], 0.4, label="trained", color=PALETTE[0])
        ax.bar(pos + 0.2, stats[f"init_{key}"], 0.4, label="at init", color=PALETTE[1])
        ax.set_xticks(pos, [label.replace(" L", "\nL") for label in labels], fontsize=7)
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, fontsize=7)
    axes[1].axhline(1, color=NULL_COLOUR, ls="--", lw=0.8)
    axes[0].set_title("Hewitt & Liang selectivity, n-grams inside the receptive field", fontsize=9)
    axes[1].set_title("Online-code compression (1 = nothing learned)", fontsize=9)
    ratios = []
    for r in runs:
        for lv in sorted({e["level"] for e in r["erasure"]}):
            rows = [e for e in r["erasure"] if e["level"] == lv]
            random_sum = sum(e["delta_loss_random"] for e in rows)
            leace_sum = sum(e["delta_loss_leace"] for e in rows)
            ratios.append(leace_sum / random_sum if random_sum > 1e-9 else np.nan)
    axes[2].bar(pos, ratios, 0.5, color=PALETTE[2])
    axes[2].axhline(1, color=NULL_COLOUR, ls="--", lw=0.8, label="random subspace, same rank")
    axes[2].set_xticks(pos, [label.replace(" L", "\nL") for label in labels], fontsize=7)
    axes[2].set_ylabel("Σ Δ loss over groups, LEACE / random")
    axes[2].set_title("Causal check: erase each group's own n-gram", fontsize=9)
    axes[2].legend(frameon=False, fontsize=7)
    gain = [c - c0 for c, c0 in zip(stats["compression"], stats["init_compression"], strict=True)]
    raised = [label for label, g in zip(labels, gain, strict=True) if g > 0]
    worst = labels[int(np.argmin(gain))]
    fig.suptitle(
        f"Training raises MDL compression at {len(raised)} of {len(labels)} levels "
        f"({', '.join(raised) or 'none'}); change from init ranges {min(gain):+.2f} ({worst}) "
        f"to {max(gain):+.2f}",
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
            "examples": examples,
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
    print(report["finding"])
    print(f"wrote {Path(args.out) / 'probes.json'} and {len(report['figures'])} figure files")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from interp.cli import analysis_main

    return analysis_main(__name__ if __name__ != "__main__" else "analyses.probes", argv)


if __name__ == "__main__":
    sys.exit(main())
