"""A report for a write-up: every analysis run on the given checkpoints, gathered into one
self-contained ``report.html`` (figures embedded, opens with no server) and ``report.md`` with
the figures beside it as PNG and a vector format.

The report opens with the runs and the headline findings, then one section per analysis. Every
finding sentence is the analysis's own, generated from its measured numbers with its null beside
them; the report adds no claim of its own. An analysis that cannot run on these runs (no
step-0 snapshot, only one model kind, ...) gets a section that says why, instead of a crash.

>>> report = build_report(["runs/mlp-22k", "runs/wavenet-22k"], "report")
>>> report["sections"][0]["finding"]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as _dt
import html
import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp import checkpoint as ckpt
from interp.errors import InterpError
from interp.evaluate import split_losses
from interp.io import atomic_write_json, atomic_write_text


@dataclass(frozen=True)
class Section:
    """One analysis in the report: its module, title, question, and quick settings."""

    name: str
    title: str
    question: str
    quick: tuple[str, ...] = field(default_factory=tuple)  # arguments for ``quick=True``


SECTIONS: tuple[Section, ...] = (
    Section(
        "cancellation",
        "Feature cancellation in the flat layer",
        "Do per-position contributions to a hidden unit cancel (opposite signs summing to "
        "almost nothing) more than chance, and what does the layer lose?",
        ("--examples", "2000", "--probe-examples", "800"),
    ),
    Section(
        "weights",
        "Learned dense weights against convolutional weights",
        "Written as dense matrices, how far is the flat layer from the WaveNet's zeros and "
        "tied blocks?",
        ("--erf-examples", "128"),
    ),
    Section(
        "probes",
        "n-gram features at each level",
        "Can a linear probe read each group's n-grams, beyond a control task and an untrained "
        "model, and does erasing them cost loss?",
        ("--examples", "1200", "--top-k", "20"),
    ),
    Section(
        "precision",
        "Is it floating-point precision?",
        "Does evaluating in float16, bfloat16 or with int8 weights change the loss by as much "
        "as the flat-vs-WaveNet gap?",
    ),
)


def run_section(
    section: Section,
    run_dirs: Sequence[str | Path],
    out: Path,
    formats: Sequence[str],
    quick: bool,
    progress: bool,
) -> dict[str, Any]:
    """Run one analysis into ``out/{name}`` with the arguments its command takes.

    Returns ``{"name", "title", "question", "finding", "figures"}`` or, where the analysis
    refuses these runs, ``{"name", "title", "question", "skipped": reason}``.
    """
    from interp.cli import add_analysis_arguments

    module = importlib.import_module(f"analyses.{section.name}")
    parser = argparse.ArgumentParser(prog=f"interp analyze {section.name}")
    add_analysis_arguments(parser, module)
    folder = out / section.name
    argv = [*map(str, run_dirs), "--out", str(folder), "--format", ",".join(formats)]
    argv += [*(section.quick if quick else ()), *([] if progress else ["--quiet"])]
    args = parser.parse_args(argv)
    base = {"name": section.name, "title": section.title, "question": section.question}
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{section.name}.log"
    try:
        with open(log, "w") as f, contextlib.redirect_stdout(f):
            module.run_from_args(args)
    except InterpError as e:
        return {**base, "skipped": str(e)}
    result = json.loads((folder / f"{section.name}.json").read_text())
    return {**base, "finding": result["finding"], "figures": result["figures"]}


def describe_runs(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One row per run: name, kind, parameters, steps, recipe, losses (eval mode)."""
    rows = []
    for run_dir in run_dirs:
        run = ckpt.load_run(run_dir)
        with torch.no_grad():
            losses = split_losses(run.model, run.dataset(), ("train", "val"))
        rows.append(
            {
                "run": str(run_dir),
                "preset": run.config.get("preset") or run.model.model.kind,
                "kind": run.model.model.kind,
                "params": run.model.model.n_params(),
                "step": run.step,
                "recipe": run.config.get("recipe", {}).get("name", "?"),
                "data": run.config["data"]["source"],
                "snapshots": len(ckpt.list_snapshots(run_dir)),
                "train": losses["train"],
                "val": losses["val"],
            }
        )
    return rows


def build_report(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    quick: bool = False,
    progress: bool = True,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run every analysis (or ``only`` these) on ``run_dirs`` and write the report to ``out``.

    Returns the report as a dict (also written as ``out/report.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if "png" not in formats:
        formats = ["png", *formats]  # the HTML embeds PNGs
    sections = [s for s in SECTIONS if only is None or s.name in only]
    report = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": describe_runs(run_dirs),
        "quick": quick,
        "sections": [],
    }
    for section in sections:
        if progress:
            print(f"report: {section.name} ...", flush=True)
        report["sections"].append(run_section(section, run_dirs, out, formats, quick, progress))
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", to_markdown(report, out))
    atomic_write_text(out / "report.html", to_html(report, out))
    return report


# ---- rendering -------------------------------------------------------------------------------
def _sentence(title: str) -> str:
    return title if title.endswith(("?", ".")) else title + "."


def _caption(path: str) -> str:
    return Path(path).stem.replace("_", " ")


def _pngs(section: dict[str, Any]) -> list[Path]:
    return [Path(p) for p in section.get("figures", []) if p.endswith(".png")]


def _runs_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            Path(r["run"]).name,
            r["preset"],
            f"{r['params']:,}",
            f"{r['step']:,}",
            r["recipe"],
            f"{r['train']:.4f}",
            f"{r['val']:.4f}",
            str(r["snapshots"]),
        ]
        for r in report["runs"]
    ]


RUN_HEADER = [
    "run",
    "model",
    "parameters",
    "steps",
    "recipe",
    "train loss",
    "val loss",
    "snapshots",
]


def to_markdown(report: dict[str, Any], out: Path) -> str:
    lines = [
        "# Flat MLP vs WaveNet: interpretability report",
        "",
        f"Generated {report['created']} by `interp report`"
        + (" (quick settings: fewer examples per analysis)" if report["quick"] else "")
        + ". Losses are mean cross-entropy in nats per character, in eval mode.",
        "",
        "| " + " | ".join(RUN_HEADER) + " |",
        "|" + "---|" * len(RUN_HEADER),
        *("| " + " | ".join(row) + " |" for row in _runs_rows(report)),
        "",
        "## Headline findings (each with its null)",
        "",
    ]
    for s in report["sections"]:
        text = s.get("finding") or f"not run: {s['skipped']}"
        lines.append(f"- **{_sentence(s['title'])}** {text}")
    for s in report["sections"]:
        lines += ["", f"## {s['title']}", "", f"*{s['question']}*", ""]
        if "skipped" in s:
            lines.append(f"This analysis did not run on these runs: {s['skipped']}")
            continue
        lines += [s["finding"], ""]
        for png in _pngs(s):
            rel = png.relative_to(out) if png.is_relative_to(out) else png
            written = set(s["figures"])  # this run's files only, never a stale one
            vectors = [
                str(rel.with_suffix(ext))
                for ext in (".svg", ".pdf")
                if str(png.with_suffix(ext)) in written
            ]
            lines.append(f"![{_caption(str(png))}]({rel})")
            if vectors:
                lines.append(f"*{_caption(str(png))}* (vector: {', '.join(vectors)})")
            lines.append("")
    return "\n".join(lines) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.skipped { background: #fff4e5; border-left: 4px solid #E69F00; padding: 0.5em 1em; }
.question { color: #555; font-style: italic; }
"""

# Counts the figures that really decoded, so a browser test can read the result from the DOM.
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img");
  var ok = 0;
  imgs.forEach(function (img) { if (img.complete && img.naturalWidth > 0) ok++; });
  document.body.setAttribute("data-figures-loaded", ok + "/" + imgs.length);
});
"""


def to_html(report: dict[str, Any], out: Path) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Flat MLP vs WaveNet: interpretability report</title>",
        f"<style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head><body>",
        "<h1>Flat MLP vs WaveNet: interpretability report</h1>",
        f"<p>Generated {e(report['created'])} by <code>interp report</code>"
        + (" (quick settings: fewer examples per analysis)" if report["quick"] else "")
        + ". Losses are mean cross-entropy in nats per character, in eval mode.</p>",
        "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in RUN_HEADER) + "</tr>",
        *(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
            for row in _runs_rows(report)
        ),
        "</table><h2>Headline findings (each with its null)</h2><ul>",
    ]
    for s in report["sections"]:
        text = s.get("finding") or f"not run: {s['skipped']}"
        parts.append(
            f"<li><a href='#{s['name']}'><b>{e(_sentence(s['title']))}</b></a> {e(text)}</li>"
        )
    parts.append("</ul>")
    for s in report["sections"]:
        parts.append(f"<h2 id='{s['name']}'>{e(s['title'])}</h2>")
        parts.append(f"<p class='question'>{e(s['question'])}</p>")
        if "skipped" in s:
            parts.append(
                f"<p class='skipped'>This analysis did not run on these runs: {e(s['skipped'])}</p>"
            )
            continue
        parts.append(f"<p>{e(s['finding'])}</p>")
        for png in _pngs(s):
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            caption = _caption(str(png))
            parts.append(
                f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{e(caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
