"""Training-step throughput of a model inside the hooks wrapper vs the same plain nn.Module.

Both run the same training step of a recipe (``--recipe``: its optimiser, batch size and, for
the default recipe, its dropout, which the wrapper applies through a hook point and the plain
module through a bare function at the same place of its forward; the recipe's weight average
is left out: it runs outside the model, would cost the same on both sides, and would only dilute
the ratio) on the same data, in
alternating rounds so drift of a shared, noisy machine hits both alike. The figure to quote is
the median of the per-round ratios (wrapped / plain throughput; target >= 0.97). Also shown: the
wrapper with a statistics recorder attached on every step (the worst case; training attaches it
once every ``--stats-every`` steps).

    python benchmarks/hook_overhead.py [--preset wavenet-76k] [--recipe default] [--rounds 30]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_facts  # noqa: E402

import models  # noqa: E402
from interp.hooks import HookedModel  # noqa: E402
from interp.recipes import DEFAULT_RECIPE, RECIPES, Recipe, get_recipe  # noqa: E402
from interp.recording import StatsSink, record  # noqa: E402
from interp.training import fast_dropout  # noqa: E402


def steps_per_second(model, x, y, steps: int, recipe: Recipe, attach=None, forward=None) -> float:
    opt = recipe.make_optimizer(model.parameters())
    forward = forward or model
    batch = recipe.batch_size
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        ix = torch.randint(0, len(y), (batch,), generator=gen)
        if attach is not None:
            with attach():
                logits = forward(x[ix])
        else:
            logits = forward(x[ix])
        loss = F.cross_entropy(logits, y[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wavenet-76k", choices=list(models.PRESETS))
    parser.add_argument(
        "--rounds", type=int, default=30, help="alternating rounds (30: 15 left medians noisy here)"
    )
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, choices=list(RECIPES))
    parser.add_argument("--steps", type=int, default=100, help="training steps per round")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randint(0, 27, (50_000, 8))
    y = torch.randint(0, 27, (50_000,))
    recipe = get_recipe(args.recipe)
    plain = models.build_preset(args.preset)
    wrapped = HookedModel(copy.deepcopy(plain))
    sink = StatsSink()
    plain_forward = plain
    if recipe.dropout:  # the same dropout on both sides: a hook point vs a bare function

        def dropout(activation, hook):
            return fast_dropout(activation, recipe.dropout, training=hook.training)

        wrapped.add_hook(recipe.dropout_at.split(","), dropout)
        targets = set(wrapped.resolve_names(recipe.dropout_at.split(",")))

        def tap(name, x):
            return (
                fast_dropout(x, recipe.dropout, training=plain.training) if name in targets else x
            )

        def plain_forward(idx):
            return plain(idx, tap=tap)

    def attach_stats():
        return record(wrapped, sink)

    print(machine_facts())
    print(
        f"{args.preset}, recipe {recipe.name}: {args.rounds} rounds of {args.steps} training "
        f"steps (batch {recipe.batch_size}, {recipe.optimizer}, dropout {recipe.dropout})"
    )
    steps_per_second(plain, x, y, 30, recipe, forward=plain_forward)  # warm-up
    steps_per_second(wrapped, x, y, 30, recipe)
    ratios, ratios_rec, rates = [], [], []
    for i in range(args.rounds):  # alternate the order so neither side always runs first
        if i % 2:
            w = steps_per_second(wrapped, x, y, args.steps, recipe)
            p = steps_per_second(plain, x, y, args.steps, recipe, forward=plain_forward)
        else:
            p = steps_per_second(plain, x, y, args.steps, recipe, forward=plain_forward)
            w = steps_per_second(wrapped, x, y, args.steps, recipe)
        r = steps_per_second(wrapped, x, y, args.steps, recipe, attach=attach_stats)
        rates.append(p)
        ratios.append(w / p)
        ratios_rec.append(r / p)
    print(f"plain nn.Module:              {statistics.median(rates):8.1f} steps/s (median)")
    print(
        f"wrapped / plain, no recorder: {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})  target >= 0.97"
    )
    print(
        f"wrapped / plain, stats on every step: {statistics.median(ratios_rec):.3f} "
        f"(min {min(ratios_rec):.3f}, max {max(ratios_rec):.3f})"
    )


if __name__ == "__main__":
    main()
