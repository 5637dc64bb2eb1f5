"""Feature cancellation: do the per-position contributions to a flat layer's units cancel, and
what information does the layer lose?

For every level of every run (the MLP has one level that sums 8 positions; each WaveNet level
sums 2 children), on held-out (validation) contexts:

1. **Decomposition** of each unit's pre-activation into its children's contributions (exact:
   the reconstruction error is reported), centred over the data and scaled by BatchNorm's
   eval-time multiplier, since BatchNorm removes each unit's mean.
2. **Cancellation index** kappa = 1 - |sum c| / sum |c| per (example, group, unit): its
   distribution, mean, magnitude-weighted mean, per-unit means and the fraction above 0.9.
3. **Nulls**: the same model at initialisation (snapshot 0), the same contributions with shuffled
   signs (same magnitudes, independent signs: what kappa is with no sign structure at all, for
   that number of summands), and the excess over each. ``normalised_excess`` =
   (kappa - kappa_shuffled) / (1 - kappa_shuffled) puts an 8-term and a 2-term sum on one scale.
4. **What is lost**: position sensitivity S_p (resample the character at position p), linear
   probes decoding the character at each position from the level's activations (pre- and
   post-tanh, trained and initial model), collisions (distinct contexts with nearly identical
   hidden vectors, and how different their next-character distributions are), and the change in
   validation loss when one position's contribution to level 0 is replaced by its mean.
5. **Over training**: kappa, its nulls, S_p and the ablation effects at every snapshot.

    interp analyze cancellation RUN_DIR [RUN_DIR ...] --out DIR
    python -m analyses.cancellation RUN_DIR [RUN_DIR ...] --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from interp.checkpoint import Run, list_snapshots, load_initial, load_run
from interp.contributions import cancellation_index, level_contributions, shuffle_signs
from interp.data import Dataset
from interp.errors import CorpusError, InterpError
from interp.figures import NULL_COLOUR, PALETTE, new_figure, parse_formats, save_figure
from interp.hooks import HookedModel
from interp.io import atomic_write_json
from interp.probing import probe

KAPPA_HIGH = 0.9
BINS = np.linspace(0, 1, 41)


@dataclass
class Settings:
    """How much data each measurement uses (all from the validation split)."""

    examples: int = 10_000  # contexts for kappa, sensitivity and ablation
    probe_examples: int = 6_000  # contexts for the position probes (70% train, 30% test)
    collision_examples: int = 4_000  # contexts searched for collisions
    collision_eps: float = 0.05  # relative distance below which two hidden vectors "collide"
    min_count: int = 5  # training occurrences needed to estimate a next-character distribution
    seed: int = 0
    probes: bool = True
    probe_examples_over_training: int = 2_000  # fewer per snapshot: post-tanh probes only
    jobs: int = 2


# ---- kappa ------------------------------------------------------------------------------------
def kappa_summary(centred: torch.Tensor, generator: torch.Generator) -> dict[str, Any]:
    """Statistics of kappa over (examples, groups, units) and of its sign-shuffled null.

    ``centred`` is (batch, groups, fuse, d_hidden)."""
    kappa = cancellation_index(centred, dim=2)  # (batch, groups, units)
    weight = centred.abs().sum(dim=2)
    shuffled = cancellation_index(shuffle_signs(centred, generator), dim=2)
    valid = torch.isfinite(kappa)
    k, w, s = kappa[valid], weight[valid], shuffled[torch.isfinite(shuffled)]
    mean, mean_shuffled = k.mean().item(), s.mean().item()
    per_unit = torch.nanmean(rearrange(kappa, "b g h -> (b g) h"), dim=0)
    return {
        "kappa_mean": mean,
        "kappa_weighted_mean": (k * w).sum().item() / w.sum().item(),
        "kappa_median": k.median().item(),
        "frac_kappa_gt_0.9": (k > KAPPA_HIGH).float().mean().item(),
        "kappa_mean_shuffled": mean_shuffled,
        "frac_kappa_gt_0.9_shuffled": (s > KAPPA_HIGH).float().mean().item(),
        "excess_over_shuffled": mean - mean_shuffled,
        "normalised_excess": (mean - mean_shuffled) / (1 - mean_shuffled),
        "per_unit_kappa_mean": per_unit.tolist(),
        "histogram": np.histogram(k.numpy(), BINS)[0].tolist(),
        "histogram_shuffled": np.histogram(s.numpy(), BINS)[0].tolist(),
    }


def kappa_by_level(model: HookedModel, x: torch.Tensor, seed: int) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for info in model.structure:
        c = level_contributions(model, x, info.index)
        summary = kappa_summary(c.centred, generator)
        summary.update(
            level=info.index, summands=info.fuse, reconstruction_error=c.max_reconstruction_error()
        )
        out.append(summary)
    return out


# ---- what is lost ------------------------------------------------------------------------------
def level_outputs(
    model: HookedModel, x: torch.Tensor, point: str = "hook_post"
) -> list[torch.Tensor]:
    """Each level's activations flattened to (batch, groups * d_hidden)."""
    names = [f"levels.{i.index}.{point}" for i in model.structure]
    _, cache = model.run_with_cache(x, names_filter=names)
    return [rearrange(cache[n], "b g h -> b (g h)") for n in names]


@torch.no_grad()
def position_sensitivity(model: HookedModel, x: torch.Tensor, seed: int) -> list[list[float]]:
    """S_p per level: E||h(x) - h(x with position p resampled)|| / E||h(x) - h(x')||.

    The character at p is resampled from its marginal (a permutation of column p), and the
    numerator averages only over examples where the character actually changed, so that S_p
    is not smaller at positions that are mostly padding. NaN where nothing changed."""
    g = torch.Generator().manual_seed(seed)
    base = level_outputs(model, x)
    other = level_outputs(model, x[torch.randperm(len(x), generator=g)])
    scale = [(b - o).norm(dim=1).mean() for b, o in zip(base, other, strict=True)]
    result = [[0.0] * x.shape[1] for _ in base]
    for p in range(x.shape[1]):
        x_p = x.clone()
        x_p[:, p] = x[torch.randperm(len(x), generator=g), p]
        changed = x_p[:, p] != x[:, p]
        for i, h in enumerate(level_outputs(model, x_p)):
            moved = (base[i] - h).norm(dim=1)[changed]
            result[i][p] = (moved.mean() / scale[i]).item() if len(moved) else float("nan")
    return result


def position_probes(
    model: HookedModel,
    x: torch.Tensor,
    settings: Settings,
    points: Sequence[str] = ("hook_pre", "hook_post"),
) -> dict[str, list[list[dict]]]:
    """Probe accuracy for the character at each position, from each level (pre and post)."""
    jobs, keys = [], []
    for point in points:
        for level, feats in enumerate(level_outputs(model, x, point)):
            for p in range(x.shape[1]):
                keys.append((point, level, p))
                jobs.append(delayed(probe)(feats.numpy(), x[:, p].numpy(), seed=settings.seed))
    results = Parallel(n_jobs=settings.jobs)(jobs)
    table: dict[str, list[list[dict]]] = defaultdict(lambda: [[] for _ in model.structure])
    for (point, level, _p), r in zip(keys, results, strict=True):
        table[point][level].append(r.to_dict())
    return dict(table)


def _next_char_distributions(data: Dataset, min_count: int) -> dict[tuple, np.ndarray]:
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for ctx, y in zip(data.x["train"].tolist(), data.y["train"].tolist(), strict=True):
        counts[tuple(ctx)][y] += 1
    out = {}
    for ctx, c in counts.items():
        total = sum(c.values())
        if total >= min_count:
            p = np.zeros(data.vocab.size)
            for k, v in c.items():
                p[k] = v / total
            out[ctx] = p
    return out


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats): the extra loss of one shared distribution for both."""
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / b[mask])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


@torch.no_grad()
def collisions(model: HookedModel, data: Dataset, settings: Settings) -> list[dict[str, Any]]:
    """Per level: pairs of distinct contexts whose hidden vectors nearly coincide.

    Distance is relative to the median distance between random pairs. For colliding contexts
    seen at least ``min_count`` times in training, the Jensen-Shannon divergence of their
    next-character distributions is the loss a shared prediction costs, per prediction; it is
    reported next to the same for random pairs of such contexts (the null)."""
    dists = _next_char_distributions(data, settings.min_count)
    x_all = torch.unique(data.x["val"], dim=0)
    g = torch.Generator().manual_seed(settings.seed)
    x = x_all[torch.randperm(len(x_all), generator=g)[: settings.collision_examples]]
    keys = [tuple(row) for row in x.tolist()]
    out = []
    for level, h in enumerate(level_outputs(model, x)):
        d = torch.cdist(h, h)
        iu = torch.triu_indices(len(x), len(x), offset=1)
        pair_d = d[iu[0], iu[1]]
        relative = pair_d / pair_d.median()
        hit = relative < settings.collision_eps
        d_rel = d / pair_d.median()
        d_rel.fill_diagonal_(float("inf"))
        nearest = d_rel.min(dim=1).values
        i_idx, j_idx = iu[0][hit].tolist(), iu[1][hit].tolist()
        js = [
            _js(dists[keys[i]], dists[keys[j]])
            for i, j in zip(i_idx, j_idx, strict=True)
            if keys[i] in dists and keys[j] in dists
        ]
        known = [i for i, k in enumerate(keys) if k in dists]
        rng = np.random.default_rng(settings.seed)
        null = []
        if len(known) > 1:
            for _ in range(2000):
                a, b = rng.choice(known, 2, replace=False)
                null.append(_js(dists[keys[a]], dists[keys[b]]))
        out.append(
            {
                "level": level,
                "contexts": len(x),
                "pairs": int(len(pair_d)),
                "colliding_pairs": int(hit.sum()),
                "colliding_fraction": hit.float().mean().item(),
                "nearest_neighbour_relative_distance": {
                    "min": nearest.min().item(),
                    "p01": nearest.quantile(0.01).item(),
                    "median": nearest.median().item(),
                },
                "colliding_pairs_with_distributions": len(js),
                "js_colliding_mean": float(np.mean(js)) if js else None,
                "js_random_pairs_mean": float(np.mean(null)) if null else None,
            }
        )
    return out


@torch.no_grad()
def ablation_delta_loss(model: HookedModel, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Change in loss when position p's contribution to level 0 is replaced by its mean."""
    info = model.structure[0]
    base = level_contributions(model, x, 0)
    mean = base.raw.mean(dim=0)  # (groups, fuse, d_hidden)
    clean = F.cross_entropy(model(x), y).item()
    deltas = []
    for p in range(x.shape[1]):
        g, k = next((gi, p - a) for gi, (a, b) in enumerate(info.groups) if a <= p < b)
        weight = model.model.levels[0].linear.weight
        store: dict[str, torch.Tensor] = {}

        def keep_input(act, hook, store=store):
            store["in"] = act

        def replace(act, hook, g=g, k=k, store=store, weight=weight):
            from interp.contributions import child_contributions

            c = child_contributions(store["in"], weight, info.fuse)[:, g, k]
            act = act.clone()
            act[:, g] += mean[g, k] - c
            return act

        logits = model.run_with_hooks(
            x, [("levels.0.hook_in", keep_input), ("levels.0.hook_pre", replace)]
        )
        deltas.append(F.cross_entropy(logits, y).item() - clean)
    return deltas


# ---- one run ----------------------------------------------------------------------------------
def check_data(run: Run, data: Dataset) -> None:
    if data.corpus.vocab.itos != run.vocab.itos:
        raise CorpusError(
            f"{data.corpus.source}: vocabulary {data.corpus.vocab.itos!r} differs from the "
            f"checkpoint's {run.vocab.itos!r}; use the corpus the run was trained on"
        )


def analyse_run(
    run_dir: str | Path, data_path: str | Path | None, settings: Settings, progress: bool = True
) -> dict[str, Any]:
    run = load_run(run_dir)
    data = run.dataset(data_path)
    check_data(run, data)
    x, y = data.x["val"][: settings.examples], data.y["val"][: settings.examples]
    model = run.model.eval()
    init = load_initial(run.dir).model.eval()
    init_source = "snapshot at step 0"
    steps = tqdm(total=6, desc=f"cancellation {run.name}", disable=not progress, unit="part")
    result: dict[str, Any] = {
        "run_dir": str(run.dir),
        "name": run.name,
        "kind": run.config["model"]["kind"],
        "params": model.model.n_params(),
        "step": run.step,
        "examples": len(x),
        "init_source": init_source,
    }
    trained = kappa_by_level(model, x, settings.seed)
    at_init = kappa_by_level(init, x, settings.seed)
    for t, i in zip(trained, at_init, strict=True):
        t["kappa_mean_init"] = i["kappa_mean"]
        t["excess_over_init"] = t["kappa_mean"] - i["kappa_mean"]
        t["frac_kappa_gt_0.9_init"] = i["frac_kappa_gt_0.9"]
        t["histogram_init"] = i["histogram"]
    result["levels"] = trained
    steps.update()
    result["sensitivity"] = position_sensitivity(model, x, settings.seed)
    result["sensitivity_init"] = position_sensitivity(init, x, settings.seed)
    steps.update()
    result["ablation_delta_loss"] = ablation_delta_loss(model, x, y)
    steps.update()
    if settings.probes:
        xp = data.x["val"][: settings.probe_examples]
        result["probes"] = position_probes(model, xp, settings)
        result["probes_init"] = position_probes(init, xp, settings)
    steps.update()
    result["collisions"] = collisions(model, data, settings)
    result["collisions_init"] = collisions(init, data, settings)
    steps.update()
    result["worked_example"] = worked_example(model, x)
    result["over_training"] = over_training(run, data, x, y, settings, progress)
    steps.update()
    steps.close()
    return result


def worked_example(model: HookedModel, x: torch.Tensor) -> dict[str, Any]:
    """The (context, group, unit) of level 0 with the largest total |contribution| among those
    that cancel (kappa > 0.9): its per-position contributions and their sum."""
    c = level_contributions(model, x, 0).centred  # (batch, groups, fuse, units)
    kappa = cancellation_index(c, dim=2)  # (batch, groups, units)
    magnitude = c.abs().sum(dim=2)
    score = torch.where(kappa > KAPPA_HIGH, magnitude, torch.zeros_like(magnitude))
    if score.max() == 0:
        score = magnitude
    b, g, unit = np.unravel_index(int(score.argmax()), tuple(score.shape))
    start, stop = model.structure[0].groups[g]
    return {
        "context_ids": x[b].tolist(),
        "group": int(g),
        "positions": list(range(start, stop)),
        "unit": int(unit),
        "contributions": c[b, g, :, unit].tolist(),
        "sum": c[b, g, :, unit].sum().item(),
        "kappa": kappa[b, g, unit].item(),
    }


def over_training(
    run: Run, data: Dataset, x: torch.Tensor, y: torch.Tensor, settings: Settings, progress: bool
) -> list[dict[str, Any]]:
    """kappa, its null, S_p, ablation effects, collisions and (post-tanh) position probes at
    every snapshot."""
    rows = []
    for step in tqdm(list_snapshots(run.dir), desc="snapshots", leave=False, disable=not progress):
        model = load_run(run.dir, step=step).model.eval()
        levels = kappa_by_level(model, x, settings.seed)
        rows.append(
            {
                "step": step,
                "levels": [
                    {
                        k: lv[k]
                        for k in (
                            "level",
                            "kappa_mean",
                            "kappa_mean_shuffled",
                            "normalised_excess",
                            "frac_kappa_gt_0.9",
                        )
                    }
                    for lv in levels
                ],
                "sensitivity": position_sensitivity(model, x, settings.seed),
                "ablation_delta_loss": ablation_delta_loss(model, x, y),
                "collisions": [
                    {
                        k: c[k]
                        for k in (
                            "level",
                            "colliding_fraction",
                            "nearest_neighbour_relative_distance",
                        )
                    }
                    for c in collisions(model, data, settings)
                ],
            }
        )
        if settings.probes:
            n = min(settings.probe_examples_over_training, settings.probe_examples)
            xp = data.x["val"][:n]
            probes = position_probes(model, xp, settings, points=("hook_post",))["hook_post"]
            rows[-1]["probe_accuracy_post"] = [[p["accuracy"] for p in lv] for lv in probes]
    return rows


# ---- summary and figures ----------------------------------------------------------------------
SUMMARY_KEYS = (
    "summands",
    "kappa_mean",
    "kappa_mean_init",
    "kappa_mean_shuffled",
    "excess_over_shuffled",
    "excess_over_init",
    "normalised_excess",
    "frac_kappa_gt_0.9",
)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        r["name"]: {f"level {lv['level']}": {k: lv[k] for k in SUMMARY_KEYS} for lv in r["levels"]}
        for r in runs
    }


def finding(runs: list[dict[str, Any]]) -> str:
    """One sentence per run, generated from the numbers."""
    parts = []
    for r in runs:
        levels = "; ".join(
            f"level {lv['level']} ({lv['summands']} summands): kappa {lv['kappa_mean']:.3f} vs "
            f"{lv['kappa_mean_shuffled']:.3f} shuffled and {lv['kappa_mean_init']:.3f} at init "
            f"({'more' if lv['excess_over_shuffled'] > 0 else 'less'} cancellation than random "
            f"signs by {abs(lv['excess_over_shuffled']):.3f})"
            for lv in r["levels"]
        )
        parts.append(f"{r['name']}: {levels}.")
    return " ".join(parts)


def _label(r: dict[str, Any], level: int) -> str:
    return f"{r['name']} L{level}"


def plot_kappa_distributions(runs, out, formats) -> list[Path]:
    """Cumulative distributions (a 2-term sum puts a point mass at kappa = 0, which a density
    would hide), trained against its two nulls, one panel per level."""
    panels = [(r, lv) for r in runs for lv in r["levels"]]
    fig, axes = new_figure(1, len(panels), size=(2.6 * len(panels), 3.2), sharey=True)
    for ax, (r, lv) in zip(axes, panels, strict=True):
        for key, colour, label, style in [
            ("histogram", PALETTE[0], "trained", "-"),
            ("histogram_init", PALETTE[1], "at init", "-"),
            ("histogram_shuffled", NULL_COLOUR, "signs shuffled", "--"),
        ]:
            h = np.asarray(lv[key], dtype=float)
            cdf = np.concatenate([[0.0], np.cumsum(h) / h.sum()])
            ax.step(BINS, cdf, style, where="post", color=colour, label=label)
        ax.set_title(
            f"{_label(r, lv['level'])} ({lv['summands']} terms)\n"
            f"mean κ {lv['kappa_mean']:.2f}, shuffled {lv['kappa_mean_shuffled']:.2f}, "
            f"init {lv['kappa_mean_init']:.2f}",
            fontsize=8,
        )
        ax.set_xlabel("cancellation index κ")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("fraction of (example, unit) pairs ≤ κ")
    axes[0].legend(frameon=False, loc="lower right")
    excess = ", ".join(
        f"{_label(r, lv['level'])} {lv['excess_over_shuffled']:+.2f}" for r, lv in panels
    )
    fig.suptitle(f"Cancellation beyond random signs (mean κ minus shuffled null): {excess}")
    return save_figure(fig, out, "kappa_distributions", formats)


def plot_worked_example(runs, vocab: dict[str, str], out, formats) -> list[Path]:
    fig, axes = new_figure(1, len(runs), size=(3.5 * len(runs), 3.0))
    for ax, r in zip(axes, runs, strict=True):
        ex = r["worked_example"]
        c = np.asarray(ex["contributions"])
        colours = [PALETTE[0] if v >= 0 else PALETTE[3] for v in c]
        ax.bar(range(len(c)), c, color=colours)
        ax.axhline(ex["sum"], color="black", lw=1.5, label=f"sum = {ex['sum']:.2f}")
        ax.axhline(0, color=NULL_COLOUR, lw=0.8)
        itos = vocab[r["run_dir"]]
        context = "".join(itos[i] for i in ex["context_ids"])
        ax.set_xticks(range(len(c)), [f"{p}\n'{context[p]}'" for p in ex["positions"]])
        ax.set_xlabel("input position and its character")
        ax.set_ylabel("centred contribution (BN units)")
        ax.set_title(
            f"{r['name']}, unit {ex['unit']}, context '{context}'\n"
            f"κ = {ex['kappa']:.2f}: |sum| {abs(ex['sum']):.2f} of "
            f"{np.abs(c).sum():.2f} total"
        )
        ax.legend(frameon=False, loc="best")
    fig.suptitle("A worked example of cancellation: opposite-signed contributions to one unit")
    return save_figure(fig, out, "worked_example", formats)


def plot_ablation(runs, out, formats) -> list[Path]:
    fig, axes = new_figure(1, 1, size=(5.0, 3.0))
    ax = axes[0]
    width = 0.8 / len(runs)
    for i, r in enumerate(runs):
        d = r["ablation_delta_loss"]
        ax.bar(np.arange(len(d)) + i * width, d, width, label=r["name"], color=PALETTE[i])
    n = len(runs[0]["ablation_delta_loss"])
    ax.set_xticks(
        np.arange(n) + width * (len(runs) - 1) / 2, [f"{p}\n(t-{n - p})" for p in range(n)]
    )
    ax.set_xlabel("input position (t-k: k characters before the prediction)")
    ax.set_ylabel("Δ validation loss (nats)")
    ax.axhline(0, color=NULL_COLOUR, lw=0.8)
    ax.legend(frameon=False)
    totals = ", ".join(f"{r['name']} {sum(r['ablation_delta_loss']):.2f}" for r in runs)
    ax.set_title(
        "Loss increase when one position's level-0 contribution is replaced by its "
        f"mean\n(summed over positions: {totals} nats)"
    )
    return save_figure(fig, out, "ablation_by_position", formats)


def plot_sensitivity_and_probes(runs, out, formats) -> list[Path]:
    has_probes = all("probes" in r for r in runs)
    fig, axes = new_figure(
        1, 2 if has_probes else 1, size=(10.0, 3.2) if has_probes else (5.0, 3.2)
    )
    ax = axes[0]
    i = 0
    for r in runs:
        for level, s in enumerate(r["sensitivity"]):
            ax.plot(
                range(len(s)),
                s,
                "-o",
                ms=3,
                color=PALETTE[i % len(PALETTE)],
                label=_label(r, level),
            )
            ax.plot(
                range(len(s)), r["sensitivity_init"][level], ":", color=PALETTE[i % len(PALETTE)]
            )
            i += 1
    ax.set_xlabel("input position resampled")
    ax.set_ylabel("S_p (relative change of the level's output)")
    ax.set_title("Position sensitivity S_p (solid: trained, dotted: at init)")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    if has_probes:
        ax = axes[1]
        i = 0
        for r in runs:
            for level, row in enumerate(r["probes"]["hook_post"]):
                acc = [p["accuracy"] for p in row]
                ax.plot(
                    range(len(acc)),
                    acc,
                    "-o",
                    ms=3,
                    color=PALETTE[i % len(PALETTE)],
                    label=_label(r, level),
                )
                init = [p["accuracy"] for p in r["probes_init"]["hook_post"][level]]
                ax.plot(range(len(init)), init, ":", color=PALETTE[i % len(PALETTE)])
                i += 1
        majority = [p["majority"] for p in runs[0]["probes"]["hook_post"][0]]
        ax.plot(range(len(majority)), majority, "--", color=NULL_COLOUR, label="majority class")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("input position decoded")
        ax.set_ylabel("probe accuracy (held out)")
        ax.set_title("Which character was at position p? (post-tanh; dotted: at init)")
        ax.legend(frameon=False, fontsize=7, ncol=2)
    fig.suptitle(positions_finding(runs))
    return save_figure(fig, out, "positions_kept", formats)


def positions_finding(runs) -> str:
    """A title generated from the numbers: probe accuracy against the majority baseline, and
    whether training moved sensitivity toward the most recent position."""
    parts = []
    if all("probes" in r for r in runs):
        margins = [
            (p["accuracy"] - p["majority"], r["name"], level, pos)
            for r in runs
            for level, row in enumerate(r["probes"]["hook_post"])
            for pos, p in enumerate(row)
        ]
        worst, name, level, pos = min(margins)
        parts.append(
            f"probes beat the majority baseline at every position and level (smallest margin "
            f"{worst:+.3f}, {name} L{level} position {pos})"
            if worst > 0
            else f"at {sum(m[0] <= 0 for m in margins)} of {len(margins)} (level, position) "
            f"pairs the probe does not beat the majority baseline (worst {worst:+.3f})"
        )
    last = [
        (r["sensitivity"][lv][-1] - r["sensitivity_init"][lv][-1], r["name"], lv)
        for r in runs
        for lv in range(len(r["sensitivity"]))
    ]
    rose = [f"{name} L{lv}" for d, name, lv in last if d > 0]
    parts.append(f"training raised S at the last position for {len(rose)} of {len(last)} levels")
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def plot_over_training(runs, out, formats) -> list[Path]:
    with_probes = all(
        r["over_training"] and "probe_accuracy_post" in r["over_training"][0] for r in runs
    )
    fig, axes = new_figure(
        1, 2 if with_probes else 1, size=(11.0, 3.4) if with_probes else (5.5, 3.2)
    )
    ax = axes[0]
    i = 0
    for r in runs:
        rows = r["over_training"]
        if not rows:
            continue
        steps = [max(row["step"], 1) for row in rows]
        for level in range(len(rows[0]["levels"])):
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(
                steps,
                [row["levels"][level]["kappa_mean"] for row in rows],
                "-o",
                ms=3,
                color=colour,
                label=_label(r, level),
            )
            ax.plot(
                steps,
                [row["levels"][level]["kappa_mean_shuffled"] for row in rows],
                "--",
                color=colour,
                alpha=0.6,
            )
            i += 1
    ax.set_xscale("log")
    ax.set_xlabel("training step (step 0 drawn at 1)")
    ax.set_ylabel("mean κ")

    def excess(row, level):
        lv = row["levels"][level]
        return lv["kappa_mean"] - lv["kappa_mean_shuffled"]

    changes = ", ".join(
        f"{_label(r, lv)} {excess(r['over_training'][0], lv):+.2f}"
        f"→{excess(r['over_training'][-1], lv):+.2f}"
        for r in runs
        if r["over_training"]
        for lv in range(len(r["over_training"][0]["levels"]))
    )
    ax.set_title("Mean κ over training (dashed: shuffled-sign null)", fontsize=9)
    fig.suptitle(
        f"Excess cancellation over the shuffled-sign null, first→last snapshot: {changes}",
        fontsize=9,
    )
    ax.legend(frameon=False, fontsize=7, ncol=2)
    if with_probes:
        ax = axes[1]
        i = 0
        for r in runs:
            rows = r["over_training"]
            steps = [max(row["step"], 1) for row in rows]
            for level in range(len(rows[0]["levels"])):
                acc = [float(np.mean(row["probe_accuracy_post"][level])) for row in rows]
                ax.plot(
                    steps, acc, "-o", ms=3, color=PALETTE[i % len(PALETTE)], label=_label(r, level)
                )
                i += 1
        majority = float(np.mean([p["majority"] for p in runs[0]["probes"]["hook_post"][0]]))
        ax.axhline(majority, ls="--", color=NULL_COLOUR, label="majority class")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("training step (step 0 drawn at 1)")
        ax.set_ylabel("probe accuracy, mean over positions")
        ax.set_title("Input characters decodable from each level over training", fontsize=9)
        ax.legend(frameon=False, fontsize=7, ncol=2)
    return save_figure(fig, out, "kappa_over_training", formats)


def run_analysis(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    data_path=None,
    settings: Settings | None = None,
    formats: Sequence[str] = ("png", "svg"),
    progress: bool = True,
) -> dict[str, Any]:
    """Analyse every run, write ``cancellation.json`` and the figures into ``out``."""
    settings = settings or Settings()
    torch.manual_seed(settings.seed)
    runs = [analyse_run(d, data_path, settings, progress) for d in run_dirs]
    out = Path(out)
    vocab = {r["run_dir"]: load_run(r["run_dir"]).vocab.itos for r in runs}
    figures = []
    figures += plot_kappa_distributions(runs, out, formats)
    figures += plot_worked_example(runs, vocab, out, formats)
    figures += plot_ablation(runs, out, formats)
    figures += plot_sensitivity_and_probes(runs, out, formats)
    if any(r["over_training"] for r in runs):
        figures += plot_over_training(runs, out, formats)
    report = {
        "analysis": "cancellation",
        "note": "kappa is measured on centred contributions (each child's contribution minus "
        "its mean over the data), scaled by BatchNorm's eval-time multiplier, because "
        "BatchNorm removes each unit's mean.",
        "summary": summarise(runs),
        "finding": finding(runs),
        "settings": settings.__dict__,
        "runs": runs,
        "figures": [str(p) for p in figures],
    }
    atomic_write_json(out / "cancellation.json", _finite(report))
    return report


def _finite(obj: Any) -> Any:
    """NaN/inf become null so the JSON is strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# ---- command line -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """This analysis's own arguments (RUN_DIR..., --out, --format, --quiet are common)."""
    p.add_argument(
        "--data", metavar="PATH", help="corpus (default: the one each run was trained on)"
    )
    p.add_argument(
        "--examples",
        type=int,
        default=Settings.examples,
        help=f"validation contexts for kappa, sensitivity, ablation ({Settings.examples})",
    )
    p.add_argument(
        "--probe-examples",
        type=int,
        default=Settings.probe_examples,
        help=f"contexts for the position probes ({Settings.probe_examples})",
    )
    p.add_argument("--no-probes", action="store_true", help="skip the position probes")
    p.add_argument("--seed", type=int, default=0)


def run_from_args(args: argparse.Namespace) -> int:
    settings = Settings(
        examples=args.examples,
        probe_examples=args.probe_examples,
        probes=not args.no_probes,
        seed=args.seed,
    )
    if min(settings.examples, settings.probe_examples) < 10:
        raise InterpError("--examples and --probe-examples must be at least 10")
    if settings.seed < 0:
        raise InterpError(f"--seed must be >= 0, got {settings.seed}")
    report = run_analysis(
        args.run_dirs,
        args.out,
        args.data,
        settings,
        parse_formats(args.format),
        progress=not args.quiet,
    )
    print(json.dumps(report["summary"], indent=2))
    from interp.cli import print_report

    return print_report(report, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    from interp.cli import analysis_main

    return analysis_main(__name__ if __name__ != "__main__" else "analyses.cancellation", argv)


if __name__ == "__main__":
    sys.exit(main())
