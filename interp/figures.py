"""One figure style for every analysis: sizes for paper and slide, a colour-blind-safe palette,
labelled axes, and export to PNG plus a vector format.

Figures are built with matplotlib's object API (``Figure``), so no display or pyplot state is
needed: ``fig = new_figure(...)``, draw, then ``save_figure(fig, out_dir, "name")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

#: Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE = list(OKABE_ITO.values())
#: Null or baseline curves are drawn in grey, dashed.
NULL_COLOUR = "#7F7F7F"
#: Diverging colour map for signed weights (blue-white-red, readable in grey scale too).
DIVERGING = "RdBu_r"

SIZES = {"paper": (7.0, 3.2), "slide": (12.0, 5.5)}
FORMATS = ("png", "svg")

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "svg.fonttype": "none",
}


def new_figure(
    nrows: int = 1, ncols: int = 1, size: str | tuple[float, float] = "paper", **subplot_kw
) -> tuple[Figure, list]:
    """A figure and its axes (always a flat list), in the house style."""
    figsize = SIZES[size] if isinstance(size, str) else size
    with mpl.rc_context(RC):
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, [ax for row in axes for ax in row]


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``out_dir/stem.{png,svg,...}``; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with mpl.rc_context(RC):
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt)
            paths.append(path)
    return paths


def parse_formats(spec: str) -> list[str]:
    """``"png,svg"`` -> ``["png", "svg"]``; PNG plus one vector format is the default."""
    formats = [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in formats if f not in {"png", "svg", "pdf"}]
    if bad or not formats:
        from interp.errors import ConfigError

        raise ConfigError(f"--format takes png, svg and pdf, comma-separated; got {spec!r}")
    return formats


def signed_heatmap(ax, matrix, vmax: float | None = None):
    """Draw a signed matrix (weights) with a symmetric diverging scale; returns the image for a
    colour bar. ``vmax`` shares one scale across panels (default: this matrix's max |value|)."""
    values = matrix.numpy() if hasattr(matrix, "numpy") else matrix
    vmax = float(abs(values).max()) if vmax is None else vmax
    return ax.imshow(
        values, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest"
    )
