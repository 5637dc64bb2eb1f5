import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TINY
from helpers import tiny_run
from safetensors import safe_open
from safetensors.torch import load_file

from interp.data import read_corpus
from interp.errors import ConfigError, TrainingDiverged
from interp.evaluate import mean_loss
from interp.recipes import KARPATHY
from interp.training import default_snapshots, parse_steps, train


def read_metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_short_training_lowers_the_loss(tmp_path, tiny_corpus_path):
    result = tiny_run(tmp_path / "r", tiny_corpus_path, steps=300)
    data = result.data
    from interp.checkpoint import load_run

    initial = load_run(result.run_dir, step=0).model
    before = mean_loss(initial, data.x["val"], data.y["val"])
    assert result.losses["val"] < before - 0.3
    evals = [m for m in read_metrics(result.run_dir) if m["kind"] == "eval"]
    assert evals[-1]["step"] == 300 and evals[-1]["val_loss"] == pytest.approx(result.losses["val"])


def test_activation_statistics_are_recorded(tmp_path, tiny_corpus_path):
    result = tiny_run(tmp_path / "r", tiny_corpus_path, steps=40, stats_every=20)
    rows = [m for m in read_metrics(result.run_dir) if m["kind"] == "activations"]
    assert [r["step"] for r in rows] == [0, 20]
    stats = rows[0]["stats"]
    assert set(stats) == set(result.model.hook_names)
    post = stats["levels.0.hook_post"]
    assert 0 <= post["frac_saturated"] <= 1 and 0 <= post["frac_dead"] <= 1
    assert stats["levels.0.hook_norm"]["mean"] == pytest.approx(0, abs=1e-4)  # BatchNorm output
    assert stats["levels.0.hook_norm"]["std"] == pytest.approx(1, abs=0.05)


def test_same_seed_same_weights(tmp_path, tiny_corpus_path):
    a = tiny_run(tmp_path / "a", tiny_corpus_path, steps=30, seed=7).model.model.state_dict()
    b = tiny_run(tmp_path / "b", tiny_corpus_path, steps=30, seed=7).model.model.state_dict()
    c = tiny_run(tmp_path / "c", tiny_corpus_path, steps=30, seed=8).model.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["levels.0.linear.weight"], c["levels.0.linear.weight"])


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_corpus_path):
    out = tmp_path / "r"
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step \d+.*last good"):
        train(
            out,
            read_corpus(tiny_corpus_path),
            **TINY,
            progress=False,
            recipe=KARPATHY.with_overrides(steps=100, lr=1e30),
        )
    from interp.checkpoint import load_run

    run = load_run(out)
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


def test_existing_run_directory_is_not_overwritten(tmp_path, tiny_corpus_path):
    tiny_run(tmp_path / "r", tiny_corpus_path, steps=10)
    with pytest.raises(ConfigError, match="already holds a run; continue it with --resume"):
        tiny_run(tmp_path / "r", tiny_corpus_path, steps=10)


def test_snapshot_steps():
    assert (
        default_snapshots(200_000)[:3] == [0, 100, 200]
        and default_snapshots(200_000)[-1] == 200_000
    )
    assert parse_steps("0,5, 10", 10) == [0, 5, 10]
    assert parse_steps("none", 10) == []
    with pytest.raises(ConfigError, match="outside"):
        parse_steps("20", 10)
    with pytest.raises(ConfigError, match="--snapshots"):
        parse_steps("often", 10)


def _train_cmd(out, corpus, steps):
    return [
        sys.executable,
        "-m",
        "interp",
        "train",
        "--kind",
        TINY["kind"],
        "--n-embd",
        str(TINY["n_embd"]),
        "--n-hidden",
        str(TINY["n_hidden"]),
        "--data",
        str(corpus),
        "--steps",
        str(steps),
        "--checkpoint-every",
        "50",
        "--stats-every",
        "100",
        "--eval-every",
        "500",
        "--threads",
        "1",
        "--quiet",
        "--samples",
        "0",
        "--out",
        str(out),
    ]


def _saved_step(path):
    try:
        with safe_open(str(path), framework="pt") as f:
            return int(f.metadata()["step"])
    except Exception:
        return -1


def test_resume_after_sigkill_continues_the_same_curve(tmp_path, tiny_corpus_path):
    steps = 4000
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(_train_cmd(reference, tiny_corpus_path, steps), check=True, env=env)

    proc = subprocess.Popen(_train_cmd(killed, tiny_corpus_path, steps), env=env)
    deadline = time.time() + 120
    while _saved_step(killed / "trainer_state.safetensors") < 300 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = _saved_step(killed / "trainer_state.safetensors")
    assert 300 <= stopped_at < steps, "the run should be killed mid-training"

    resume = [
        *_train_cmd(killed, tiny_corpus_path, steps)[:4],
        "--resume",
        "--out",
        str(killed),
        "--threads",
        "1",
        "--quiet",
        "--samples",
        "0",
    ]
    subprocess.run(resume, check=True, env=env)

    a = load_file(str(reference / "model.safetensors"))
    b = load_file(str(killed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from uninterrupted"
    curve = lambda d: [(m["step"], m["loss"]) for m in read_metrics(d) if m["kind"] == "batch"]  # noqa: E731
    assert curve(killed) == curve(reference)
    assert [m["step"] for m in read_metrics(killed) if m["kind"] == "batch"] == list(
        range(100, steps + 1, 100)
    )
