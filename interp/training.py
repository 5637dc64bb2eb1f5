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

import datetime as _dt
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import models
from interp import checkpoint as ckpt
from interp.data import SPLIT_SEED, Corpus, Dataset, load_corpus, make_dataset
from interp.errors import CheckpointError, ConfigError, CorpusError, InterpError, TrainingDiverged
from interp.evaluate import mean_loss, split_losses
from interp.hooks import HookedModel, NamesFilter
from interp.io import atomic_write_text
from interp.recipes import Recipe
from interp.recording import StatsSink, record


class TrainingInterrupted(InterpError):
    """Ctrl-C during training: the state was checkpointed first."""


@dataclass
class TrainResult:
    run_dir: Path
    model: HookedModel
    data: Dataset
    step: int
    losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


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


def _model_spec(
    preset: str | None, kind: str | None, n_embd: int | None, n_hidden: int | None
) -> dict[str, Any]:
    if preset is not None:
        if preset not in models.PRESETS:
            raise ConfigError(
                f"unknown preset {preset!r}; choose one of {', '.join(models.PRESETS)}"
            )
        kind_, e, h = models.PRESETS[preset]
        return {"kind": kind_, "n_embd": n_embd or e, "n_hidden": n_hidden or h}
    if kind is None or n_embd is None or n_hidden is None:
        raise ConfigError("give --preset, or all of --kind, --n-embd and --n-hidden")
    return {"kind": kind, "n_embd": n_embd, "n_hidden": n_hidden}


def _data_for_resume(config: dict[str, Any], corpus: Corpus | None, run_dir: Path) -> Corpus:
    source, sha = config["data"]["source"], config["data"]["sha256"]
    if corpus is None:
        corpus = load_corpus(None if source.startswith("builtin:") else source)
    if corpus.sha256 != sha:
        raise CorpusError(
            f"{corpus.source}: not the corpus {run_dir} was trained on (sha256 differs from "
            f"{sha[:12]}...); resume with --data {source}"
        )
    return corpus


class _Metrics:
    """Appends JSON lines to ``metrics.jsonl``; flushed at every checkpoint."""

    def __init__(self, path: Path, keep_up_to: int | None):
        if keep_up_to is not None and path.exists():  # resuming: drop steps that will be redone
            kept = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= keep_up_to
            ]
            atomic_write_text(path, "".join(line + "\n" for line in kept))
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def log(self, **row: Any) -> None:
        self.file.write(json.dumps(row) + "\n")

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


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
) -> TrainResult:
    """Train a model inside :class:`HookedModel` and write a run directory.

    Give ``preset`` (see :data:`models.PRESETS`) or ``kind``/``n_embd``/``n_hidden``. With
    ``resume=True`` everything but ``corpus`` and ``progress`` is read back from ``run_dir``.
    ``corpus`` defaults to the built-in one (or, on resume, the run's own).
    """
    run_dir = Path(run_dir)
    if resume:
        config = ckpt.read_config(run_dir)
        if not (run_dir / ckpt.TRAINER_STATE).is_file():
            raise CheckpointError(
                f"{run_dir / ckpt.TRAINER_STATE}: missing, nothing to resume from; start again "
                "without --resume"
            )
        corpus = _data_for_resume(config, corpus, run_dir)
        recipe = Recipe.from_dict(config["recipe"])
        t = config["training"]
        seed, eval_every, stats_every = config["seed"], t["eval_every"], t["stats_every"]
        stats_hooks, snapshot_steps = t["stats_hooks"], t["snapshots"]
        checkpoint_every, log_every = t["checkpoint_every"], t["log_every"]
        block_size = config["model"]["block_size"]
    else:
        if (run_dir / ckpt.CONFIG).exists():
            raise ConfigError(
                f"{run_dir}: already holds a run; continue it with --resume, "
                "or choose another --out"
            )
        corpus = corpus or load_corpus(None)
        recipe = recipe or Recipe("karpathy")
        spec = _model_spec(preset, kind, n_embd, n_hidden)
        snapshot_steps = parse_steps(snapshots, recipe.steps)
        eval_every = eval_every or max(recipe.steps // 10, 1)
    if min(eval_every, stats_every, checkpoint_every, log_every) < 1:
        raise ConfigError("eval, stats, checkpoint and log intervals must be >= 1")

    data = make_dataset(corpus, block_size)
    torch.manual_seed(seed)
    if resume:
        model = ckpt.build_model(config, run_dir / ckpt.CONFIG)
    else:
        model = models.build(
            spec["kind"], data.vocab.size, block_size, spec["n_embd"], spec["n_hidden"]
        )
        config = {
            "format": ckpt.FORMAT,
            "model": model.config(),
            "preset": preset,
            "params": model.n_params(),
            "data": {"source": corpus.source, "sha256": corpus.sha256, "words": len(corpus.words)},
            "vocab": data.vocab.itos,
            "split_seed": SPLIT_SEED,
            "examples": data.counts(),
            "seed": seed,
            "recipe": recipe.to_dict(),
            "training": {
                "eval_every": eval_every,
                "stats_every": stats_every,
                "stats_hooks": stats_hooks,
                "snapshots": snapshot_steps,
                "checkpoint_every": checkpoint_every,
                "log_every": log_every,
            },
            "step": 0,
            "torch": torch.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
    if resume and data.vocab.itos != config["vocab"]:
        raise CorpusError(f"{corpus.source}: vocabulary differs from the run's {config['vocab']!r}")

    hooked = HookedModel(model)
    hooked.train()
    optimizer = recipe.make_optimizer(model.parameters())
    batches = torch.Generator().manual_seed(seed)
    start, loop = 0, {"running": 0.0, "n_running": 0}
    if resume:
        start, loop = ckpt.load_trainer_state(
            run_dir / ckpt.TRAINER_STATE, model, optimizer, batches
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = _Metrics(run_dir / ckpt.METRICS, keep_up_to=start if resume else None)

    def save_checkpoint(step: int) -> None:
        loop = {"running": running, "n_running": n_running}
        ckpt.save_trainer_state(run_dir / ckpt.TRAINER_STATE, model, optimizer, batches, step, loop)
        ckpt.save_model(run_dir / ckpt.MODEL, model, step)
        ckpt.write_config(run_dir, {**config, "step": step})
        metrics.flush()

    def evaluate(step: int) -> dict[str, float]:
        losses = split_losses(hooked, data, ("train", "val"))
        metrics.log(step=step, kind="eval", **{f"{k}_loss": v for k, v in losses.items()})
        return losses

    running, n_running = loop["running"], loop["n_running"]  # mean batch loss since last log
    if not resume:
        if 0 in snapshot_steps:
            ckpt.save_model(ckpt.snapshot_path(run_dir, 0), model, 0)
        save_checkpoint(0)

    x_train, y_train = data.x["train"], data.y["train"]
    stats = StatsSink()
    last_saved = start
    t0 = time.perf_counter()
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
            ix = torch.randint(0, len(y_train), (recipe.batch_size,), generator=batches)
            xb, yb = x_train[ix], y_train[ix]
            if step % stats_every == 0:
                with record(hooked, stats, stats_hooks):
                    logits = hooked(xb)
                metrics.log(step=step, kind="activations", stats=stats.pop())
            else:
                logits = hooked(xb)
            loss = F.cross_entropy(logits, yb)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"loss became {value} at step {step}; training stopped. The last good "
                    f"checkpoint (step {last_saved}) is kept in {run_dir}; lower the learning "
                    "rate (--lr) and train again"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            running, n_running = running + value, n_running + 1
            if step % log_every == 0 or step == recipe.steps:
                metrics.log(step=step, kind="batch", loss=running / n_running, lr=lr)
                bar.set_postfix(loss=f"{running / n_running:.4f}", lr=f"{lr:g}", refresh=False)
                bar.update(step - bar.n)
                running, n_running = 0.0, 0
            if step in snapshot_steps:
                ckpt.save_model(ckpt.snapshot_path(run_dir, step), model, step)
            if step % eval_every == 0 or step == recipe.steps:
                losses = evaluate(step)
                bar.write(f"step {step:>7d}  train {losses['train']:.4f}  val {losses['val']:.4f}")
            if step % checkpoint_every == 0 or step == recipe.steps:
                save_checkpoint(step)
                last_saved = step
    except KeyboardInterrupt:
        save_checkpoint(step)
        raise TrainingInterrupted(
            f"interrupted at step {step}; checkpoint saved. Continue with: "
            f"interp train --resume --out {run_dir}"
        ) from None
    finally:
        bar.close()
        metrics.close()
    seconds = time.perf_counter() - t0
    hooked.eval()
    losses = {s: mean_loss(hooked, data.x[s], data.y[s]) for s in ("train", "val", "test")}
    return TrainResult(run_dir, hooked, data, step, losses, seconds)
