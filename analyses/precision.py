"""Is it floating-point precision? The loss of each checkpoint at lower precisions, beside the
flat-vs-WaveNet gap.

The seed's first hypothesis was that a flat layer loses information to rounding when it sums a
whole context. Here each run's validation loss is measured with the whole model in float32
(the reference), float16 and bfloat16, and with int8-quantised weights (symmetric, one scale per
output row, dequantised for the forward pass). The change in loss from float32 is set beside the
gap in float32 loss between the flat and the hierarchical runs, and the report says which is
larger.

    interp analyze precision RUN_DIR [RUN_DIR ...] --out DIR
    python -m analyses.precision RUN_DIR [RUN_DIR ...] --out DIR
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from interp.checkpoint import load_run
from interp.figures import NULL_COLOUR, PALETTE, new_figure, parse_formats, save_figure
from interp.hooks import HookedModel
from interp.io import atomic_write_json

PRECISIONS = ("float32", "float16", "bfloat16", "int8 weights")


@torch.no_grad()
def quantise_int8(model: HookedModel) -> HookedModel:
    """A copy whose weight matrices (Linear and Embedding) are rounded to int8 with one
    symmetric scale per output row, then dequantised; biases and BatchNorm stay float32."""
    q = copy.deepcopy(model)
    for name, p in q.named_parameters():
        if p.ndim == 2 and name.endswith("weight"):
            scale = p.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
            p.copy_(torch.clamp(torch.round(p / scale), -127, 127) * scale)
    return q


@torch.no_grad()
def loss_at(
    model: HookedModel, x: torch.Tensor, y: torch.Tensor, precision: str, batch_size: int = 8192
) -> float:
    """Mean validation loss (nats) with the model run at ``precision``; the loss itself is
    always computed in float32 from the logits."""
    if precision == "int8 weights":
        m, dtype = quantise_int8(model), torch.float32
    else:
        dtype = getattr(torch, precision)
        m = copy.deepcopy(model).to(dtype)
    m.eval()
    total = 0.0
    for start in range(0, len(y), batch_size):
        logits = m(x[start : start + batch_size]).float()
        total += F.cross_entropy(logits, y[start : start + batch_size], reduction="sum").item()
    return total / len(y)


def analyse_run(run_dir: str | Path) -> dict[str, Any]:
    run = load_run(run_dir)
    data = run.dataset()
    x, y = data.x["val"], data.y["val"]
    losses = {p: loss_at(run.model, x, y, p) for p in PRECISIONS}
    return {
        "run_dir": str(run.dir),
        "name": run.name,
        "kind": run.config["model"]["kind"],
        "params": run.model.model.n_params(),
        "val_loss": losses,
        "delta_from_float32": {p: losses[p] - losses["float32"] for p in PRECISIONS},
    }


def gap(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """float32 val loss of the best flat run minus that of the best hierarchical run."""
    flat = [r for r in runs if r["kind"] == "mlp"]
    deep = [r for r in runs if r["kind"] != "mlp"]
    if not flat or not deep:
        return None
    f = min(flat, key=lambda r: r["val_loss"]["float32"])
    d = min(deep, key=lambda r: r["val_loss"]["float32"])
    return {
        "flat": f["name"],
        "hierarchical": d["name"],
        "value": f["val_loss"]["float32"] - d["val_loss"]["float32"],
    }


def finding(runs: list[dict[str, Any]], g: dict[str, Any] | None) -> str:
    worst = max(
        (abs(v), r["name"], p)
        for r in runs
        for p, v in r["delta_from_float32"].items()
        if p != "float32"
    )
    text = f"The largest change from float32 is {worst[0]:.4f} nats ({worst[1]}, {worst[2]})"
    if g is None:
        return text + "; there is no flat/hierarchical pair to compare it with."
    larger = "larger" if abs(g["value"]) > worst[0] else "smaller"
    return (
        text + f"; the flat-vs-hierarchical gap ({g['flat']} minus {g['hierarchical']}) is "
        f"{g['value']:+.4f} nats, {larger} than any precision effect"
        f" ({abs(g['value']) / max(worst[0], 1e-12):.1f}x)."
    )


def plot(runs, g, out, formats) -> list[Path]:
    fig, axes = new_figure(1, 1, size=(6.0, 3.2))
    ax = axes[0]
    precisions = PRECISIONS[1:]
    width = 0.8 / len(runs)
    for i, r in enumerate(runs):
        values = [r["delta_from_float32"][p] for p in precisions]
        ax.bar(
            [j + i * width for j in range(len(precisions))],
            values,
            width,
            label=r["name"],
            color=PALETTE[i % len(PALETTE)],
        )
    if g is not None:
        ax.axhline(
            g["value"], color=NULL_COLOUR, ls="--", label=f"gap {g['flat']} − {g['hierarchical']}"
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(precisions))], precisions)
    ax.set_ylabel("Δ validation loss from float32 (nats)")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(finding(runs, g), fontsize=8, wrap=True)
    return save_figure(fig, out, "precision", formats)


def run_analysis(
    run_dirs: Sequence[str | Path], out: str | Path, formats: Sequence[str] = ("png", "svg")
) -> dict[str, Any]:
    runs = [analyse_run(d) for d in run_dirs]
    g = gap(runs)
    figures = plot(runs, g, Path(out), formats)
    report = {
        "analysis": "precision",
        "finding": finding(runs, g),
        "gap": g,
        "runs": runs,
        "figures": [str(p) for p in figures],
    }
    atomic_write_json(Path(out) / "precision.json", report)
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This analysis's own arguments (RUN_DIR..., --out, --format, --quiet are common)."""


def run_from_args(args: argparse.Namespace) -> int:
    report = run_analysis(args.run_dirs, args.out, parse_formats(args.format))
    for r in report["runs"]:
        row = "  ".join(f"{p} {v:.4f}" for p, v in r["val_loss"].items())
        print(f"{r['name']:<14} val loss: {row}")
    from interp.cli import print_report

    return print_report(report, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    from interp.cli import analysis_main

    return analysis_main(__name__ if __name__ != "__main__" else "analyses.precision", argv)


if __name__ == "__main__":
    sys.exit(main())
