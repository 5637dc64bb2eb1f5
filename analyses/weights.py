"""Learned dense weights against convolutional weights: "architecture as preset weights".

A WaveNet level is a dense layer over its whole input with preset weights: zeros between
distant items and the same block at every group (see :mod:`models.dense`). The flat MLP learns
its dense matrix from scratch. This analysis draws both on the same axes and measures how
conv-like each learned matrix is, always beside the same model at initialisation:

- locality (effective positions per unit, adjacent-pair share, share on the latest positions);
- sharing (cosine between position blocks; shift-sharing score, calibrated between the model at
  initialisation (0) and an exact conv (1));
- masked distance (keep only each unit's best window) and, for the WaveNet's levels, the conv
  distance of the dense equivalent (exactly 0: a check);
- effective receptive field: the Jacobian norm of each level's output with respect to each
  position's embedding, averaged over validation contexts;
- the character embeddings projected to 2-D (PCA), as in the lecture;
- the measures at every training snapshot.

    interp analyze weights RUN_DIR [RUN_DIR ...] --out DIR
    python -m analyses.weights RUN_DIR [RUN_DIR ...] --out DIR
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import jacrev, vmap
from tqdm.auto import tqdm

from interp.checkpoint import list_snapshots, load_initial, load_run
from interp.errors import InterpError
from interp.figures import (
    DIVERGING,
    NULL_COLOUR,
    PALETTE,
    new_figure,
    parse_formats,
    save_figure,
    signed_heatmap,
)
from interp.io import atomic_write_json
from interp.weights import (
    block_cosines,
    locality,
    masked_distance,
    position_blocks,
    position_shares,
    shift_sharing,
)
from models.dense import conv_distance, level_to_dense, nearest_conv_distance
from models.levelled import LevelledModel


# ---- measures ---------------------------------------------------------------------------------
def level_dense_matrices(model: LevelledModel) -> list[tuple[torch.Tensor, int]]:
    """Each level's dense matrix over its input items, with the number of items."""
    out, items = [], model.block_size
    for level in model.levels:
        out.append((level_to_dense(level, items), items))
        items //= level.fuse
    return out


def level_measures(model: LevelledModel) -> list[dict[str, Any]]:
    rows = []
    for i, ((dense, items), level) in enumerate(
        zip(level_dense_matrices(model), model.levels, strict=True)
    ):
        blocks = position_blocks(dense, items)
        row: dict[str, Any] = {"level": i, "items": items, "fuse": level.fuse}
        row.update(locality(blocks))
        row["block_cosines"] = block_cosines(blocks).tolist()
        row["shift_sharing"] = {str(s): shift_sharing(blocks, s) for s in (1, 2) if s < items}
        row["masked_distance"] = {
            str(k): masked_distance(blocks, k) for k in (2, 4) if k < items and items % k == 0
        }
        # A flat level's distance to the nearest conv with as many units, per WaveNet window
        # pattern (a masked level is a conv already: see conv_distance_of_dense_equivalent).
        row["nearest_conv_distance"] = {
            str(k): nearest_conv_distance(dense, items, k)
            for k in (2, 4)
            if level.fuse == items and k < items and items % k == 0
        }
        if level.fuse < items:
            row["conv_distance_of_dense_equivalent"] = conv_distance(dense, items, level.fuse)
        rows.append(row)
    return rows


def effective_receptive_field(model: LevelledModel, idx: torch.Tensor) -> list[list[float]]:
    """Per level: mean over contexts of ||d output / d embedding_p||_F, normalised to sum 1."""
    model.eval()
    emb = model.embed(idx).detach()  # (batch, positions, d_embd)
    profiles = []
    for depth in range(1, len(model.levels) + 1):

        def level_output(e: torch.Tensor, depth=depth) -> torch.Tensor:
            x = e.unsqueeze(0)
            for level in model.levels[:depth]:
                x = level(x)
            return x.flatten()

        jac = vmap(jacrev(level_output))(emb)  # (batch, outputs, positions, d_embd)
        norms = jac.pow(2).sum(dim=(1, 3)).sqrt().mean(dim=0)  # (positions,)
        profiles.append((norms / norms.sum()).tolist())
    return profiles


def embedding_pca(model: LevelledModel) -> dict[str, Any]:
    e = model.embed.weight.detach()
    centred = e - e.mean(dim=0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ v[:2].T
    return {"coords": coords.tolist(), "explained": (s[:2] ** 2 / (s**2).sum()).tolist()}


#: The measures reported at initialisation and at every snapshot beside the trained values.
TRACKED = (
    "effective_positions",
    "adjacent_pair_share",
    "recent_share",
    "shift_sharing",
    "masked_distance",
    "nearest_conv_distance",
)


def calibrate(trained: float, init: float) -> float | None:
    """Place ``trained`` between the initial model (0) and an exact conv (1)."""
    return None if init >= 1 else (trained - init) / (1 - init)


def analyse_run(run_dir: str | Path, progress: bool, erf_examples: int) -> dict[str, Any]:
    run = load_run(run_dir)
    init = load_initial(run.dir)
    model, model0 = run.model.model, init.model.model
    trained, at_init = level_measures(model), level_measures(model0)
    for t, i in zip(trained, at_init, strict=True):
        t["init"] = {k: i[k] for k in TRACKED}
        t["shift_sharing_calibrated"] = {
            s: calibrate(v, i["shift_sharing"][s]) for s, v in t["shift_sharing"].items()
        }
    idx = run.dataset().x["val"][:erf_examples]
    over = []
    for step in tqdm(
        list_snapshots(run.dir), desc=f"weights {run.name}", leave=False, disable=not progress
    ):
        m = load_run(run.dir, step=step).model.model
        rows = level_measures(m)
        over.append(
            {
                "step": step,
                "levels": [{k: r[k] for k in ("level", *TRACKED)} for r in rows],
            }
        )
    return {
        "run_dir": str(run.dir),
        "name": run.name,
        "kind": run.config["model"]["kind"],
        "step": run.step,
        "vocab": run.vocab.itos,
        "levels": trained,
        "erf": effective_receptive_field(model, idx),
        "erf_init": effective_receptive_field(model0, idx),
        "embedding_pca": embedding_pca(model),
        "over_training": over,
        "_matrices": {  # for the figures only; not written to JSON
            "dense": level_dense_matrices(model)[0][0],
            "dense_init": level_dense_matrices(model0)[0][0],
            "n_hidden": model.n_hidden,
            "levels": level_dense_matrices(model),
        },
    }


# ---- figures ----------------------------------------------------------------------------------
def _sorted_units(dense: torch.Tensor, items: int) -> torch.Tensor:
    a = position_shares(position_blocks(dense, items))  # (positions, units)
    preferred = a.argmax(dim=0).float() + (a * torch.arange(items)[:, None]).sum(0) / items / 10
    return preferred.argsort()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _recent(lv: dict[str, Any]) -> str:
    """The share on the latest positions, unless the architecture fixes it (masked levels)."""
    if lv["fuse"] < lv["items"]:
        return "fixed by the architecture"
    return f"{lv['recent_share']:.2f} (init {lv['init']['recent_share']:.2f})"


def plot_headline(runs, out, formats) -> list[Path]:
    fig, axes = new_figure(1, len(runs), size=(5.0 * len(runs), 4.6))
    for ax, r in zip(axes, runs, strict=True):
        dense = r["_matrices"]["dense"]
        items = r["levels"][0]["items"]
        d = dense.shape[1] // items
        kind = r["kind"]
        if kind == "mlp":
            dense = dense[_sorted_units(dense, items)]
        image = signed_heatmap(ax, dense)
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
        for p in range(1, items):
            ax.axvline(p * d - 0.5, color="black", lw=0.4)
        if kind != "mlp":
            h = r["_matrices"]["n_hidden"]
            for g in range(1, dense.shape[0] // h):
                ax.axhline(g * h - 0.5, color="black", lw=0.4)
        ax.set_xticks([p * d + d / 2 for p in range(items)], [str(p) for p in range(items)])
        ax.set_xlabel(f"input position (each block: {d} embedding dims)")
        lv = r["levels"][0]
        if kind == "mlp":
            ax.set_ylabel("hidden unit (sorted by preferred position)")
            ax.set_title(
                f"{r['name']}: learned dense layer\n{lv['effective_positions']:.1f} "
                f"effective positions per unit (init {lv['init']['effective_positions']:.1f})"
            )
        else:
            ax.set_ylabel("output group × hidden unit")
            ax.set_title(
                f"{r['name']} level 0 written out densely\nzeros off the diagonal "
                "blocks, one block repeated (conv distance "
                f"{lv.get('conv_distance_of_dense_equivalent', 0):.1f})"
            )
    shares = ", ".join(f"{r['name']} {_recent(r['levels'][0])}" for r in runs)
    fig.suptitle(
        "First layer over the whole context, same axes: the WaveNet's zeros and tied blocks "
        f"are preset.\nShare of weight energy on the last two positions: {shares}"
    )
    return save_figure(fig, out, "dense_vs_conv", formats)


def plot_all_levels(runs, out, formats) -> list[Path]:
    """Every level of every run as the dense matrix over its whole input, same conventions:
    rows are output units (group by group), columns the input items (blocks marked)."""
    panels = [(r, i, d, n) for r in runs for i, (d, n) in enumerate(r["_matrices"]["levels"])]
    fig, axes = new_figure(1, len(panels), size=(3.2 * len(panels), 3.8))
    vmax = max(dense.abs().max().item() for _, _, dense, _ in panels)  # one scale for all
    for ax, (r, i, dense, items) in zip(axes, panels, strict=True):
        image = signed_heatmap(ax, dense, vmax)
        width = dense.shape[1] // items
        for p in range(1, items):
            ax.axvline(p * width - 0.5, color="black", lw=0.3)
        h = r["_matrices"]["n_hidden"]
        for g in range(1, dense.shape[0] // h):
            ax.axhline(g * h - 0.5, color="black", lw=0.3)
        zeros = (dense == 0).float().mean().item()
        ax.set_title(
            f"{r['name']} L{i}: {items} input items\n{zeros:.0%} of entries are preset zeros",
            fontsize=8,
        )
        ax.set_xlabel(f"input item ({width} values each)", fontsize=8)
        ax.set_xticks(
            [p * width + width / 2 for p in range(items)],
            [str(p) for p in range(items)],
            fontsize=7,
        )
    axes[0].set_ylabel("output unit (group by group)")
    fig.colorbar(image, ax=axes[-1], shrink=0.8, label="weight")
    fig.suptitle(
        "Every level written out as a dense matrix over its whole input: the flat layer "
        "is dense; WaveNet levels are block-diagonal with one block repeated",
        fontsize=9,
    )
    return save_figure(fig, out, "all_levels_dense", formats)


def plot_block_norms(runs, out, formats) -> list[Path]:
    panels = [(r, key) for r in runs for key in ("dense", "dense_init")]
    fig, axes = new_figure(1, len(panels), size=(3.0 * len(panels), 3.8))
    for ax, (r, key) in zip(axes, panels, strict=True):
        dense, n = r["_matrices"][key], r["levels"][0]["items"]
        a = position_shares(position_blocks(dense, n))  # (positions, units)
        order = _sorted_units(r["_matrices"]["dense"], n)
        image = ax.imshow(
            a[:, order].T.numpy(),
            aspect="auto",
            cmap="viridis",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_xlabel("input position")
        ax.set_xticks(range(n))
        ax.set_title(f"{r['name']} {'trained' if key == 'dense' else 'at init'}", fontsize=9)
    axes[0].set_ylabel("hidden unit (sorted by preferred position)")
    fig.colorbar(image, ax=axes[-1], shrink=0.8, label="share of the unit's weight energy")
    m = [f"{r['name']} {_recent(r['levels'][0])}" for r in runs]
    fig.suptitle(
        "Share of each unit's weight energy per position; share on the last two "
        f"positions: {', '.join(m)}"
    )
    return save_figure(fig, out, "block_norms", formats)


def plot_sharing(runs, out, formats) -> list[Path]:
    """Cosine similarity between whole position blocks of the first layer, trained and init."""
    mlp = [r for r in runs if r["kind"] == "mlp"] or runs[:1]
    fig, axes = new_figure(1, 2 * len(mlp), size=(3.4 * 2 * len(mlp), 3.2))
    for k, r in enumerate(mlp):
        n = r["levels"][0]["items"]
        init = block_cosines(position_blocks(r["_matrices"]["dense_init"], n))
        for ax, (matrix, label) in zip(
            axes[2 * k : 2 * k + 2],
            [(r["levels"][0]["block_cosines"], "trained"), (init.tolist(), "at init")],
            strict=True,
        ):
            image = ax.imshow(np.asarray(matrix), cmap=DIVERGING, vmin=-1, vmax=1)
            ax.set_xticks(range(n))
            ax.set_yticks(range(n))
            ax.set_xlabel("input position")
            ax.set_ylabel("input position")
            ax.set_title(f"{r['name']} {label}", fontsize=9)
        fig.colorbar(image, ax=axes[2 * k + 1], shrink=0.8, label="cosine of position blocks")
    lv = mlp[0]["levels"][0]
    fig.suptitle(
        f"Are position blocks shared? {mlp[0]['name']} shift-2 sharing "
        f"{lv['shift_sharing'].get('2', float('nan')):.2f} vs "
        f"{lv['init']['shift_sharing'].get('2', float('nan')):.2f} at init "
        f"(calibrated {_fmt(lv['shift_sharing_calibrated'].get('2'))}; exact conv 1)"
    )
    return save_figure(fig, out, "block_sharing", formats)


def plot_erf(runs, out, formats) -> list[Path]:
    fig, axes = new_figure(1, 1, size=(5.5, 3.2))
    ax = axes[0]
    i = 0
    for r in runs:
        for level, profile in enumerate(r["erf"]):
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(
                range(len(profile)),
                profile,
                "-o",
                ms=3,
                color=colour,
                label=f"{r['name']} L{level}",
            )
            ax.plot(range(len(profile)), r["erf_init"][level], ":", color=colour)
            i += 1
    ax.axhline(1 / len(runs[0]["erf"][0]), color=NULL_COLOUR, ls="--", lw=0.8, label="uniform")
    ax.set_xlabel("input position")
    ax.set_ylabel("share of Jacobian norm")
    last = {f"{r['name']} L{len(r['erf']) - 1}": r["erf"][-1][-1] for r in runs}
    ax.set_title(
        "Effective receptive field (dotted: at init); share on the latest position: "
        + ", ".join(f"{k} {v:.2f}" for k, v in last.items()),
        fontsize=8,
    )
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return save_figure(fig, out, "receptive_field", formats)


def plot_embeddings(runs, out, formats) -> list[Path]:
    fig, axes = new_figure(1, len(runs), size=(3.6 * len(runs), 3.4))
    for ax, r in zip(axes, runs, strict=True):
        coords = np.asarray(r["embedding_pca"]["coords"])
        vowels = set("aeiouy")
        for ch, (x, y) in zip(r["vocab"], coords, strict=True):
            colour = PALETTE[3] if ch == "." else PALETTE[0] if ch in vowels else PALETTE[1]
            ax.scatter(x, y, s=140, color=colour, alpha=0.35)
            ax.annotate(ch, (x, y), ha="center", va="center", fontsize=8)
        ev = r["embedding_pca"]["explained"]
        ax.set_xlabel(f"PC 1 ({ev[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 ({ev[1]:.0%})")
        ax.set_title(r["name"], fontsize=9)
    fig.suptitle(
        "Character embeddings, first two principal components "
        "(blue: vowels and y, orange: consonants, red: boundary '.')"
    )
    return save_figure(fig, out, "embeddings_pca", formats)


def plot_over_training(runs, out, formats) -> list[Path]:
    fig, axes = new_figure(1, 3, size=(14.0, 3.2))
    for i, r in enumerate(runs):
        steps = [max(row["step"], 1) for row in r["over_training"]]
        lv = 0
        colour = PALETTE[i % len(PALETTE)]
        axes[0].plot(
            steps,
            [row["levels"][lv]["effective_positions"] for row in r["over_training"]],
            "-o",
            ms=3,
            color=colour,
            label=f"{r['name']} L0",
        )
        share = [row["levels"][lv]["shift_sharing"].get("2") for row in r["over_training"]]
        if all(s is not None for s in share):
            axes[1].plot(steps, share, "-o", ms=3, color=colour, label=f"{r['name']} L0")
        for k, style in (("2", "-o"), ("4", "--s")):
            dist = [row["levels"][lv]["nearest_conv_distance"].get(k) for row in r["over_training"]]
            if all(d is not None for d in dist):
                axes[2].plot(
                    steps, dist, style, ms=3, color=colour, label=f"{r['name']} L0, windows of {k}"
                )
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training step (step 0 drawn at 1)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=7)
        else:
            ax.text(
                0.5,
                0.5,
                "no flat level among these runs",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
    axes[0].set_ylabel("effective positions per unit")
    axes[0].set_title("Locality over training (WaveNet L0: at most 2 by construction)", fontsize=9)
    axes[1].set_ylabel("shift-sharing score, shift 2")
    axes[1].set_title("Weight sharing over training (exact conv: 1)", fontsize=9)
    axes[2].set_ylabel("distance to the nearest conv (relative)")
    axes[2].set_title("Flat layer vs the nearest conv with as many units (conv: 0)", fontsize=9)
    mlp = [r for r in runs if r["kind"] == "mlp"]
    if mlp and mlp[0]["over_training"]:
        first, last = mlp[0]["over_training"][0], mlp[0]["over_training"][-1]
        fig.suptitle(
            f"Does the flat layer drift toward conv structure? {mlp[0]['name']}: effective "
            f"positions {first['levels'][0]['effective_positions']:.2f} → "
            f"{last['levels'][0]['effective_positions']:.2f}, shift sharing "
            f"{_fmt(first['levels'][0]['shift_sharing'].get('2'))} → "
            f"{_fmt(last['levels'][0]['shift_sharing'].get('2'))}, nearest-conv distance "
            f"{_fmt(first['levels'][0]['nearest_conv_distance'].get('2'))} → "
            f"{_fmt(last['levels'][0]['nearest_conv_distance'].get('2'))}"
        )
    return save_figure(fig, out, "weights_over_training", formats)


def finding(runs) -> str:
    parts = []
    for r in runs:
        lv = r["levels"][0]
        preset = lv["fuse"] < lv["items"]
        parts.append(
            f"{r['name']} level 0: {lv['effective_positions']:.2f} effective positions per unit "
            f"(init {lv['init']['effective_positions']:.2f}, uniform "
            f"{lv['uniform_effective_positions']:.0f}"
            f"{'; at most ' + str(lv['fuse']) + ' by construction' if preset else ''}), "
            f"weight energy on the last two positions {_recent(lv)}, shift-2 sharing "
            f"{_fmt(lv['shift_sharing'].get('2'))} "
            f"(init {_fmt(lv['init']['shift_sharing'].get('2'))}"
            f"{', 1 by construction' if preset else ''})"
            + (
                f", distance to the nearest conv with pairs of positions "
                f"{_fmt(lv['nearest_conv_distance'].get('2'))} "
                f"(init {_fmt(lv['init']['nearest_conv_distance'].get('2'))})"
                if lv["nearest_conv_distance"]
                else ""
            )
        )
    return "; ".join(parts) + "."


def run_analysis(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    progress: bool = True,
    erf_examples: int = 256,
) -> dict[str, Any]:
    runs = [analyse_run(d, progress, erf_examples) for d in run_dirs]
    out = Path(out)
    figures = []
    figures += plot_headline(runs, out, formats)
    figures += plot_all_levels(runs, out, formats)
    figures += plot_block_norms(runs, out, formats)
    figures += plot_sharing(runs, out, formats)
    figures += plot_erf(runs, out, formats)
    figures += plot_embeddings(runs, out, formats)
    if all(r["over_training"] for r in runs):
        figures += plot_over_training(runs, out, formats)
    report = {
        "analysis": "weights",
        "finding": finding(runs),
        "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
        "figures": [str(p) for p in figures],
    }
    atomic_write_json(out / "weights.json", report)
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This analysis's own arguments (RUN_DIR..., --out, --format, --quiet are common)."""
    p.add_argument(
        "--erf-examples",
        type=int,
        default=256,
        help="validation contexts for the receptive-field Jacobians (256)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    if args.erf_examples < 1:
        raise InterpError("--erf-examples must be >= 1")
    report = run_analysis(
        args.run_dirs,
        args.out,
        parse_formats(args.format),
        progress=not args.quiet,
        erf_examples=args.erf_examples,
    )
    from interp.cli import print_report

    return print_report(report, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    from interp.cli import analysis_main

    return analysis_main(__name__ if __name__ != "__main__" else "analyses.weights", argv)


if __name__ == "__main__":
    sys.exit(main())
