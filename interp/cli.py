"""The ``interp`` command line. Every subcommand is a thin layer over the Python API.

Errors a user can fix are printed as one line (``interp: error: ...``) with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from interp.errors import InterpError, TrainingInterrupted

EPILOG = """\
examples:
  interp demo                                         # train, analyse, report: a few minutes
  interp data --json                                  # the built-in corpus (US SSA names, 2017)
  interp train --preset wavenet-76k --out runs/wn     # the default recipe
  interp train --preset mlp-22k --recipe karpathy --data names.txt --out runs/mlp
  interp eval runs/wn --json
  interp sample runs/wn -n 10
  interp hooks runs/wn
  interp record runs/wn --split val --hooks 'levels.*.hook_post' --out stores/wn-val
  interp analyze cancellation runs/mlp runs/wn --out results/cancellation
  interp report runs/mlp runs/wn --out report
  interp compare --data names.txt --out results/compare   # 4 presets x 3 seeds
"""


def _add_data_arg(p: argparse.ArgumentParser, help_extra: str = "") -> None:
    p.add_argument(
        "--data",
        metavar="PATH",
        help="text file with one word per line (makemore's names.txt format); "
        "default: the built-in offline corpus of US baby names" + help_extra,
    )


def _set_threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise InterpError(f"--threads must be >= 1, got {n}")
        import torch

        torch.set_num_threads(n)


# ---- data ------------------------------------------------------------------------------------
def cmd_data(args: argparse.Namespace) -> int:
    from interp.data import load_corpus, make_dataset

    corpus = load_corpus(args.data)
    data = make_dataset(corpus, args.block_size)
    summary = {"words": len(corpus.words), "vocab_size": data.vocab.size, "splits": data.counts()}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"corpus      {corpus.source} (sha256 {corpus.sha256[:12]}...)")
        print(f"words       {summary['words']:,}")
        print(f"vocabulary  {data.vocab.size} characters: {data.vocab.itos!r}")
        print(f"block size  {args.block_size}")
        for split, n in summary["splits"].items():
            print(f"{split:<11} {n:,} examples")
    return 0


# ---- train -----------------------------------------------------------------------------------
#: Settings fixed when a run starts (``None`` when not given, so --resume can refuse them).
TRAIN_SETTINGS = (
    "preset",
    "kind",
    "n_embd",
    "n_hidden",
    "block_size",
    "recipe",
    "steps",
    "lr",
    "batch_size",
    "ema",
    "dropout",
    "seed",
    "eval_every",
    "stats_every",
    "snapshots",
    "checkpoint_every",
)


def cmd_train(args: argparse.Namespace) -> int:
    from interp.data import load_corpus
    from interp.evaluate import sample
    from interp.recipes import DEFAULT_RECIPE, get_recipe
    from interp.training import train

    _set_threads(args.threads)
    seed = 42 if args.seed is None else args.seed
    if args.resume:
        if args.out is None:
            raise InterpError("--resume needs --out RUN_DIR, the run to continue")
        given = [f"--{k.replace('_', '-')}" for k in TRAIN_SETTINGS if getattr(args, k) is not None]
        if given:
            raise InterpError(
                f"--resume continues the run with the settings it was started with; "
                f"drop {', '.join(given)} (or train a new run with another --out)"
            )
        corpus = load_corpus(args.data) if args.data else None
        result = train(args.out, corpus, resume=True, progress=not args.quiet, device=args.device)
    else:
        recipe = get_recipe(args.recipe or DEFAULT_RECIPE).with_overrides(
            steps=args.steps,
            lr=args.lr,
            batch_size=args.batch_size,
            ema=args.ema,
            dropout=args.dropout,
        )
        if args.preset is None and args.kind is None:
            args.preset = "wavenet-76k"
        out = args.out or f"runs/{args.preset or args.kind}"
        result = train(
            out,
            load_corpus(args.data),
            preset=args.preset,
            kind=args.kind,
            n_embd=args.n_embd,
            n_hidden=args.n_hidden,
            block_size=args.block_size or 8,
            recipe=recipe,
            seed=seed,
            eval_every=args.eval_every,
            stats_every=args.stats_every or 1000,
            snapshots=args.snapshots or "auto",
            checkpoint_every=args.checkpoint_every or 1000,
            progress=not args.quiet,
            device=args.device,
        )
    losses = result.losses
    params = result.model.model.n_params()
    print(
        f"{result.run_dir}: {params:,} params, step {result.step}, {result.seconds:.0f} s  |  "
        f"loss train {losses['train']:.4f}  val {losses['val']:.4f}  test {losses['test']:.4f}"
    )
    if args.samples:
        names = sample(
            result.model, result.data.vocab, result.data.block_size, args.samples, seed=seed
        )
        print("samples: " + ", ".join(names))
    return 0


# ---- eval / sample / hooks -------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from interp.checkpoint import load_run
    from interp.evaluate import split_losses

    _set_threads(args.threads)
    run = load_run(args.run_dir, step=args.step)
    data = run.dataset(args.data)
    result = {**split_losses(run.model, data), "params": run.model.model.n_params()}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{run.dir} ({run.name}, step {run.step}, {result['params']:,} params)")
        for split in ("train", "val", "test"):
            print(f"  {split:<5} loss {result[split]:.4f}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from interp.checkpoint import load_run
    from interp.store import parse_checkpoints, record_series, record_split

    _set_threads(args.threads)
    options = {
        "names_filter": args.hooks.split(",") if args.hooks else None,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "overwrite": args.overwrite,
        "progress": not args.quiet,
    }
    steps = parse_checkpoints(args.checkpoints, Path(args.run_dir))
    if steps is None:
        run = load_run(args.run_dir)
        store = record_split(run, run.dataset(args.data), args.split, args.out, **options)
        print(
            f"{store.path}: {store.n_examples:,} {store.split} examples, step {store.step}, "
            f"{len(store)} hook points ({store.dtype})"
        )
    else:
        series = record_series(args.run_dir, steps, args.split, args.out, args.data, **options)
        print(
            f"{series.path}: {len(series)} stores ({args.split} split) at steps "
            f"{', '.join(map(str, series.steps))}"
        )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from interp.checkpoint import load_run
    from interp.evaluate import sample

    run = load_run(args.run_dir, step=args.step)
    for name in sample(run.model, run.vocab, run.block_size, args.n, seed=args.seed):
        print(name)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from interp import compare
    from interp.figures import parse_formats
    from interp.io import atomic_write_json, atomic_write_text
    from models import PRESETS

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise InterpError(
            f"--presets: unknown {', '.join(unknown)}; choose from {', '.join(PRESETS)}"
        )
    if args.seeds < 1:
        raise InterpError(f"--seeds must be >= 1, got {args.seeds}")
    formats = parse_formats(args.format)
    out = Path(args.out)
    runs = compare.train_grid(
        out,
        args.data,
        presets=presets,
        seeds=range(args.seeds),
        recipe=args.recipe,
        steps=args.steps,
        dropout=args.dropout,
        jobs=args.jobs,
        threads=args.threads or 1,
        device=args.device,
        progress=not args.quiet,
    )
    summary = compare.summarise(runs)
    atomic_write_json(out / "compare.json", compare.to_json(summary))
    table = compare.markdown_table(summary)
    atomic_write_text(
        out / "compare.md",
        "# Flat vs hierarchical at equal parameters\n\n"
        + table
        + "\n\n"
        + "\n".join(f"- {f}" for f in summary["findings"])
        + "\n",
    )
    figures = compare.plot(summary, out, formats)
    print(table)
    for finding in summary["findings"]:
        print(f"- {finding}")
    print(f"wrote {out / 'compare.json'}, {out / 'compare.md'}, {', '.join(map(str, figures))}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from interp.figures import parse_formats
    from interp.report import SECTIONS, build_report

    names = [s.name for s in SECTIONS]
    only = None
    if args.only:
        only = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = [a for a in only if a not in names]
        if unknown:
            raise InterpError(
                f"--only: unknown {', '.join(unknown)}; choose from {', '.join(names)}"
            )
    _set_threads(args.threads)
    report = build_report(
        args.run_dirs,
        args.out,
        parse_formats(args.format),
        quick=args.quick,
        progress=not args.quiet,
        only=only,
    )
    for section in report["sections"]:
        status = "skipped: " + section["skipped"] if "skipped" in section else "done"
        print(f"  {section['name']}: {status}")
    out = Path(args.out)
    print(f"report: {(out / 'report.html').absolute()} (and report.md beside it)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from interp.demo import train_pair
    from interp.report import build_report

    if args.steps < 100:
        raise InterpError(f"--steps must be at least 100, got {args.steps}")
    _set_threads(args.threads)
    t0 = time.perf_counter()
    out = Path(args.out)
    run_dirs = train_pair(out / "runs", args.data, steps=args.steps, progress=not args.quiet)
    print("demo: running every analysis for the report", flush=True)
    build_report(run_dirs, out / "report", quick=True, progress=not args.quiet)
    print(f"demo: done in {(time.perf_counter() - t0) / 60:.1f} min")
    print(f"report: {(out / 'report' / 'report.html').absolute()}")
    return 0


def cmd_hooks(args: argparse.Namespace) -> int:
    from interp.hooks import HookedModel

    if (args.run_dir is None) == (args.preset is None):
        raise InterpError("give a RUN_DIR or --preset NAME (one of them)")
    if args.preset:
        from models import build_preset

        model, title = HookedModel(build_preset(args.preset)), f"preset {args.preset}"
    else:
        from interp.checkpoint import load_run

        run = load_run(args.run_dir)
        model, title = run.model, f"{run.dir} ({run.name})"
    shapes = model.hook_shapes()
    if args.json:
        print(json.dumps(shapes))
        return 0
    print(f"hook points of {title}:")
    for name, shape in shapes.items():
        print(f"  {name:<22} ({', '.join(map(str, shape))})")
    print("structure (input positions each group covers):")
    for level in model.structure:
        spans = " ".join(f"[{a},{b})" for a, b in level.groups)
        print(f"  level {level.index}: fuse {level.fuse}, {level.n_groups} group(s): {spans}")
    return 0


# ---- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from interp.recipes import DEFAULT_RECIPE, RECIPES
    from models import PAIRS, PRESETS

    parser = argparse.ArgumentParser(
        prog="interp",
        description="Interpretability toolkit: flat MLP vs WaveNet on character-level names "
        "(makemore part 5). Train inside a hooks wrapper, then inspect and analyse checkpoints.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "data",
        help="summarise a corpus and its lecture-style split",
        description="Read a corpus, build its vocabulary and the lecture's "
        "80/10/10 split, and print the example counts.",
    )
    _add_data_arg(p)
    p.add_argument("--block-size", type=int, default=8, help="context length (default 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_data)

    presets = ", ".join(f"{k} ({v[0]}, n_embd {v[1]}, n_hidden {v[2]})" for k, v in PRESETS.items())
    p = sub.add_parser(
        "train",
        help="train a model inside the hooks wrapper",
        description="Train a flat MLP or a WaveNet inside the hooks wrapper. Writes a run "
        "directory (config.json, model.safetensors, trainer_state.safetensors, snapshots/, "
        "metrics.jsonl), checkpointed as it goes: continue an interrupted run with --resume. "
        f"Presets: {presets}.",
    )
    p.add_argument("--preset", choices=list(PRESETS), help="named model (default wavenet-76k)")
    p.add_argument("--kind", choices=["mlp", "wavenet"], help="custom model kind (with sizes)")
    p.add_argument("--n-embd", type=int, help="embedding size (overrides the preset's)")
    p.add_argument("--n-hidden", type=int, help="hidden units per level (overrides the preset's)")
    _add_data_arg(p)
    p.add_argument("--block-size", type=int, help="context length (default 8)")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default runs/PRESET)")
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help=f"training recipe (default {DEFAULT_RECIPE}): default = AdamW, batch 1024, cosine "
        "schedule, dropout 0.05 on each level's output, weight average, 10,000 steps; "
        "karpathy = the lecture's loop: batch 32, SGD lr 0.1 then 0.01 for the last quarter, "
        "200,000 steps",
    )
    p.add_argument("--steps", type=int, help="optimizer steps (overrides the recipe's)")
    p.add_argument(
        "--lr",
        type=float,
        help="learning rate (overrides the recipe's; the final rate keeps its ratio to it)",
    )
    p.add_argument("--batch-size", type=int, help="batch size (overrides the recipe's)")
    p.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="keep a moving average of the weights with this decay per step and make it the "
        "run's model (default recipe 0.995; 0 turns it off)",
    )
    p.add_argument(
        "--dropout",
        type=float,
        metavar="P",
        help="dropout rate on the recipe's dropout hook points while training (default recipe "
        "0.05 on levels.*.hook_post; 0 turns it off)",
    )
    p.add_argument("--seed", type=int, help="initialisation and batch seed (42)")
    p.add_argument("--eval-every", type=int, help="steps between train/val losses (steps/10)")
    p.add_argument(
        "--stats-every",
        type=int,
        help="steps between activation statistics (default 1000)",
    )
    p.add_argument(
        "--snapshots",
        help="steps to snapshot weights at: 'auto' (0 and 12 log-spaced), 'none', "
        "or a list like 0,1000,5000",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        help="steps between resumable checkpoints (default 1000)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--device",
        default="cpu",
        help="where to train: cpu (default), cuda or cuda:N; checkpoints are the same either way",
    )
    p.add_argument("--samples", type=int, default=10, help="names to sample at the end (10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        help="losses of a run on train/val/test",
        description="Mean cross-entropy (nats per character) of a run's model on "
        "each split, in eval mode (BatchNorm running statistics).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    _add_data_arg(p, "; default: the corpus the run was trained on")
    p.add_argument("--step", type=int, help="evaluate the snapshot at this step instead")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "record",
        help="record hook points over a whole split to disk",
        description="Run a run's model over a whole split in batches and stream the selected "
        "hook points to an activation store: one .npy per hook point (memory-mappable), "
        "contexts.npy and targets.npy aligned with them, and index.json (names, shapes, dtype, "
        "split, model, checkpoint sha256). Memory stays bounded by the batch size. The store "
        "appears only when complete; re-running the same command reuses it.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--split", choices=["train", "val", "test"], default="val", help="which split (default val)"
    )
    p.add_argument(
        "--hooks",
        metavar="PATTERN",
        help="hook names or globs, comma-separated, e.g. 'levels.*.hook_post' "
        "(default: every hook point; 'interp hooks RUN_DIR' lists them)",
    )
    p.add_argument("--out", metavar="STORE_DIR", required=True, help="store directory")
    p.add_argument(
        "--dtype",
        choices=["float32", "float16"],
        default="float32",
        help="storage precision (default float32)",
    )
    p.add_argument(
        "--checkpoints",
        metavar="all|STEP,...",
        help="record the snapshots instead: 'all' or steps like 0,1000; one store per "
        "step under STORE_DIR/step_NNNNNNN",
    )
    _add_data_arg(p, "; default: the corpus the run was trained on")
    p.add_argument("--batch-size", type=int, default=4096, help="examples per batch (4096)")
    p.add_argument("--overwrite", action="store_true", help="replace a different existing store")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "sample",
        help="sample names from a run",
        description="Sample names one character at a time from a run's model.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-n", type=int, default=20, help="how many names (20)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    p.add_argument("--step", type=int, help="sample from the snapshot at this step")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "hooks",
        help="list hook points and their shapes",
        description="List a model's hook points with shapes (batch first) and "
        "which input positions each level's groups cover.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?")
    p.add_argument("--preset", choices=list(PRESETS), help="describe a preset instead of a run")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_hooks)
    p = sub.add_parser(
        "compare",
        help="train every preset with several seeds; flat vs hierarchical as mean ± std",
        description="Train mlp-22k, wavenet-22k, mlp-76k and wavenet-76k (or --presets) with "
        "--seeds seeds each under one recipe, then write compare.json, compare.md (losses as "
        "mean ± std, wall time, Welch's t-test per parameter budget) and a figure of learning "
        "curves with seed bands. Runs live in OUT/runs/; run the same command again to resume "
        "an interrupted comparison (finished runs are reused).",
    )
    p.add_argument("--out", default="results/compare", help="output folder (results/compare)")
    _add_data_arg(p)
    p.add_argument(
        "--presets",
        default=",".join(p for pair in PAIRS for p in pair),
        help="comma-separated presets (default: the flat/WaveNet pairs at 22k and 76k)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds per preset: 0..N-1 (3)")
    p.add_argument(
        "--recipe",
        default=DEFAULT_RECIPE,
        choices=list(RECIPES),
        help=f"training recipe, the same for every preset ({DEFAULT_RECIPE})",
    )
    p.add_argument("--steps", type=int, help="override the recipe's number of steps")
    p.add_argument("--dropout", type=float, metavar="P", help="override the recipe's dropout rate")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once (2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (1)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--format", default="png,svg", help="figure formats (png,svg)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "demo",
        help="the whole pipeline in a few minutes: train, analyse, report",
        description="Train a parameter-matched flat MLP and WaveNet (mlp-22k and wavenet-22k) "
        "inside the hooks wrapper on the built-in corpus (or --data), run every analysis "
        "(cancellation, weights, probes, precision) with quick settings, and write a report. "
        "Works offline; a few minutes on 2 CPU cores. Running it again reuses the trained runs.",
    )
    p.add_argument("--out", default="demo", help="output folder (demo)")
    _add_data_arg(p)
    p.add_argument(
        "--steps", type=int, default=2000, help="training steps per model, batch 1024 (2000)"
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "report",
        help="run every analysis on runs and write report.html and report.md",
        description="Run every analysis (cancellation, weights, probes, precision) on the "
        "given runs and write a self-contained report.html (figures embedded, opens with no "
        "server) and report.md with the figures beside it. It opens with the runs and each "
        "analysis's finding, generated from the measured numbers with its null; an analysis "
        "that cannot run on these runs gets a section that says why.",
    )
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="runs to report on")
    p.add_argument("--out", default="report", help="output folder (report)")
    p.add_argument("--only", help="comma-separated analyses to include (default: all)")
    p.add_argument("--quick", action="store_true", help="fewer examples per analysis (a demo)")
    p.add_argument("--format", default="png,svg", help="figure formats: png,svg,pdf (png,svg)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "analyze",
        help="run an analysis on checkpoints",
        description="Run one analysis on one or more runs; each writes a JSON file with every "
        "number (nulls beside each) and figures for write-ups.",
    )
    analyses = p.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    for name, summary in ANALYSES.items():
        module = importlib.import_module(f"analyses.{name}")
        a = analyses.add_parser(name, help=summary, description=_first_paragraph(module))
        add_analysis_arguments(a, module)
    return parser


#: ``interp analyze NAME``: each is a module ``analyses.NAME`` with ``add_arguments(parser)``
#: and ``run_from_args(args)``.
ANALYSES = {
    "cancellation": "feature cancellation in each level, against its nulls",
    "weights": "learned dense weights against convolutional weights",
    "probes": "linear probes for n-gram features per level, with controls",
    "precision": "loss at float16, bfloat16 and int8 weights, beside the flat-vs-WaveNet gap",
}


def _first_paragraph(module) -> str:
    return (module.__doc__ or "").split("\n\n")[0]


def add_analysis_arguments(p: argparse.ArgumentParser, module) -> None:
    """The arguments every analysis takes, then the module's own."""
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="runs to analyse")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for the JSON and figures")
    module.add_arguments(p)
    p.add_argument("--format", default="png,svg", help="figure formats: png,svg,pdf (png,svg)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=module.run_from_args)


def print_report(report: dict, out: str | Path) -> int:
    """Close an analysis command: its finding sentence and what it wrote."""
    print(report["finding"])
    print(
        f"wrote {Path(out) / (report['analysis'] + '.json')} and {len(report['figures'])} "
        "figure files"
    )
    return 0


def analysis_main(module_name: str, argv: Sequence[str] | None = None) -> int:
    """``python -m analyses.NAME ...``: the same arguments as ``interp analyze NAME``."""
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=f"python -m {module_name}", description=_first_paragraph(module)
    )
    add_analysis_arguments(parser, module)
    return run_command(module.run_from_args, parser.parse_args(argv))


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command, turning the errors a user can fix into one line on stderr."""
    try:
        return func(args)
    except TrainingInterrupted as e:
        print(f"interp: {e}", file=sys.stderr)
        return 130
    except InterpError as e:
        print(f"interp: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file-system problem the user can fix (permissions, space, paths)
        where = f"{e.filename}: " if e.filename else ""
        print(f"interp: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `interp sample ... | head`
        sys.stderr.close()
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
