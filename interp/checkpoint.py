"""Run directories: configuration, weights, resumable trainer state and snapshots.

A run directory holds:

- ``config.json``: model kind and sizes, preset, data source and sha256, vocabulary, split seed,
  seed, recipe, step;
- ``model.safetensors``: the latest weights (BatchNorm buffers included), with the step in its
  metadata;
- ``trainer_state.safetensors``: everything a resume needs in one file (weights, optimizer state,
  random-generator states, step), so it can never disagree with itself;
- ``snapshots/step_NNNNNNN.safetensors``: weights saved at chosen steps, for training dynamics;
- ``metrics.jsonl``: losses and activation statistics, one JSON object a line.

Every file is written atomically (temporary file + rename). Loading uses safetensors and JSON
only: nothing is unpickled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import models
from interp.data import Dataset, Vocab, load_corpus, make_dataset
from interp.errors import CheckpointError, ConfigError, CorpusError
from interp.hooks import HookedModel
from interp.io import atomic_write, atomic_write_json, file_sha256
from interp.recipes import Recipe
from models.levelled import LevelledModel

FORMAT = "interp-run-v1"
CONFIG = "config.json"
MODEL = "model.safetensors"
TRAINER_STATE = "trainer_state.safetensors"
METRICS = "metrics.jsonl"
SNAPSHOTS = "snapshots"
_SNAPSHOT_RE = re.compile(r"step_(\d+)\.safetensors$")


def snapshot_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / SNAPSHOTS / f"step_{step:07d}.safetensors"


def list_snapshots(run_dir: str | Path) -> list[int]:
    """Steps at which weight snapshots were saved, ascending."""
    folder = Path(run_dir) / SNAPSHOTS
    if not folder.is_dir():
        return []
    steps = (_SNAPSHOT_RE.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in steps if m)


# ---- tensors in and out ----------------------------------------------------------------------
def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing; was the run trained to completion?")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({e}); it may be truncated: "
            "retrain, or resume from trainer_state.safetensors"
        ) from None
    return tensors, metadata


def save_model(path: Path, model: LevelledModel, step: int) -> None:
    """Write ``model``'s state dict (weights and BatchNorm buffers) with its step."""
    _save_tensors(path, model.state_dict(), {"format": FORMAT, "step": str(step)})


def load_weights(path: Path, model: LevelledModel) -> int:
    """Load a weights file into ``model``; returns the step stored with it."""
    tensors, metadata = _load_tensors(path)
    _load_state(path, model, tensors)
    return int(metadata.get("step", -1))


def _load_state(path: Path, model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or extra or wrong:
        detail = "; ".join(
            s
            for s in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
                f"wrong shape {', '.join(wrong)}" if wrong else "",
            )
            if s
        )
        raise CheckpointError(
            f"{path}: weights do not match the model in config.json ({detail}); "
            "the file belongs to another run"
        )
    model.load_state_dict(tensors)


# ---- trainer state (resume) ------------------------------------------------------------------
def save_trainer_state(
    path: Path,
    model: LevelledModel,
    optimizer: torch.optim.Optimizer,
    batch_generator: torch.Generator,
    step: int,
    loop_state: dict[str, Any] | None = None,
    average: torch.nn.Module | None = None,
) -> None:
    """Everything needed to continue training bit-exactly, in one atomically written file.

    ``loop_state`` is any JSON-serialisable state of the training loop (running averages);
    ``average`` is the weight average's module, for recipes with ``ema``."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if average is not None:
        tensors |= {f"average.{k}": v for k, v in average.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for pid, state in opt["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    tensors["rng.batches"] = batch_generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {
        "format": FORMAT,
        "step": str(step),
        "optimizer": type(optimizer).__name__,
        "param_groups": json.dumps(opt["param_groups"]),
        "scalars": json.dumps(scalars),
        "loop": json.dumps(loop_state or {}),
    }
    _save_tensors(path, tensors, metadata)


def load_trainer_state(
    path: Path,
    model: LevelledModel,
    optimizer: torch.optim.Optimizer,
    batch_generator: torch.Generator,
    average: torch.nn.Module | None = None,
) -> tuple[int, dict[str, Any]]:
    """Restore :func:`save_trainer_state`'s file; returns the step and the loop state."""
    tensors, metadata = _load_tensors(path)
    if average is not None:
        prefix = "average."
        saved = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        if not saved:
            raise CheckpointError(
                f"{path}: holds no weight average, but the run's recipe keeps one (ema); the "
                "file is from another version or recipe: start the run again"
            )
        _load_state(path, average, saved)
    if metadata.get("optimizer") != type(optimizer).__name__:
        raise CheckpointError(
            f"{path}: saved with optimizer {metadata.get('optimizer')!r}, "
            f"but this recipe uses {type(optimizer).__name__}; resume with the same recipe"
        )
    _load_state(path, model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in json.loads(metadata["scalars"]).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict(
        {"state": state, "param_groups": json.loads(metadata["param_groups"])}
    )
    batch_generator.set_state(tensors["rng.batches"])
    torch.set_rng_state(tensors["rng.torch"])
    return int(metadata["step"]), json.loads(metadata.get("loop", "{}"))


# ---- config ----------------------------------------------------------------------------------
def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / CONFIG, config)


def run_progress(run_dir: str | Path) -> dict[str, Any] | None:
    """What decides whether a run can be reused: ``{"recipe", "step", "seed", "data_sha256"}``
    (every recipe setting as :meth:`Recipe.to_dict` gives them, settings a run predates at
    their defaults; the step reached); None where ``run_dir`` holds no readable
    ``config.json``."""
    try:
        config = json.loads((Path(run_dir) / CONFIG).read_text())
        return {
            "recipe": Recipe.from_dict(config["recipe"]).to_dict(),
            "step": config["step"],
            "seed": config["seed"],
            "data_sha256": config["data"]["sha256"],
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_config(run_dir: str | Path, require: tuple[str, ...] = ()) -> dict[str, Any]:
    """``config.json`` of a run directory, with clear errors for anything else.

    ``require`` names entries needed beyond ``model``, ``vocab`` and ``data``."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run directory; train one with 'interp train'")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: not a directory; pass a run directory")
    path = run_dir / CONFIG
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir}: not a run directory (no {CONFIG}); pass the --out of 'interp train'"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an interp run config (expected format {FORMAT!r})")
    missing = [k for k in ("model", "vocab", "data", *require) if k not in config]
    if missing:
        raise CheckpointError(f"{path}: missing the {', '.join(map(repr, missing))} entry")
    if not isinstance(config["vocab"], str) or not config["vocab"].startswith("."):
        raise CheckpointError(f"{path}: 'vocab' must be a string starting with '.'")
    if not isinstance(config["model"], dict) or not isinstance(config["data"], dict):
        raise CheckpointError(f"{path}: 'model' and 'data' must be objects")
    if config["model"].get("vocab_size") != len(config["vocab"]):
        raise CheckpointError(
            f"{path}: 'vocab' has {len(config['vocab'])} characters but the model expects "
            f"{config['model'].get('vocab_size')}"
        )
    return config


def build_model(config: dict[str, Any], where: Path | str = CONFIG) -> LevelledModel:
    spec = config["model"]
    try:
        return models.build(
            spec["kind"], spec["vocab_size"], spec["block_size"], spec["n_embd"], spec["n_hidden"]
        )
    except ConfigError as e:
        raise CheckpointError(f"{where}: {e}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{where}: incomplete model entry ({e})") from None


@dataclass
class Run:
    """A trained model loaded from a run directory.

    ``model`` is the :class:`HookedModel` (in eval mode), ``vocab`` its vocabulary, ``config``
    the parsed ``config.json``, ``step`` the training step of the loaded weights, read from
    ``weights_path``.
    """

    dir: Path
    model: HookedModel
    vocab: Vocab
    config: dict[str, Any]
    step: int
    weights_path: Path

    def weights_sha256(self) -> str:
        """sha256 of the weights file this model was loaded from."""
        return file_sha256(self.weights_path)

    def dataset(self, data_path: str | Path | None = None) -> Dataset:
        """The run's corpus (or ``data_path``'s) split like the lecture, encoded with the run's
        vocabulary and block size. A character the run does not know is a clear error, and so is
        a training corpus that changed since the run was trained (its split would differ)."""
        data = self.config["data"]
        if data_path is not None:
            return make_dataset(load_corpus(data_path), self.block_size, vocab=self.vocab)
        builtin = data["source"].startswith("builtin:")
        corpus = load_corpus(None if builtin else data["source"])
        if corpus.sha256 != data.get("sha256"):
            raise CorpusError(
                f"{corpus.source}: changed since {self.dir} was trained on it (sha256 differs), "
                "so its split would differ; pass --data to use a corpus explicitly"
            )
        return make_dataset(corpus, self.block_size, vocab=self.vocab)

    @property
    def name(self) -> str:
        return self.config.get("preset") or self.config["model"]["kind"]

    @property
    def block_size(self) -> int:
        return int(self.config["model"]["block_size"])


def load_run(run_dir: str | Path, step: int | None = None) -> Run:
    """Load a run's latest weights, or the snapshot at ``step``.

    Returns a :class:`Run`; raises :class:`CheckpointError` naming the file for a missing,
    truncated or mismatched checkpoint.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model = build_model(config, run_dir / CONFIG)
    if step is None:
        path = run_dir / MODEL
    else:
        path = snapshot_path(run_dir, step)
        if not path.is_file():
            have = ", ".join(map(str, list_snapshots(run_dir))) or "none"
            raise CheckpointError(f"{path}: no snapshot at step {step}; snapshots: {have}")
    loaded_step = load_weights(path, model)
    hooked = HookedModel(model)
    hooked.eval()
    return Run(run_dir, hooked, Vocab(config["vocab"]), config, loaded_step, path)


def load_initial(run_dir: str | Path) -> Run:
    """The run's model at initialisation (its step-0 snapshot): the baseline every analysis
    shows beside the trained model. A clear error if the run has none."""
    run_dir = Path(run_dir)
    if 0 not in list_snapshots(run_dir):
        raise CheckpointError(
            f"{run_dir}: no snapshot at step 0, so the initialisation baseline is missing; "
            "train with --snapshots auto (the default) or include 0"
        )
    return load_run(run_dir, step=0)
