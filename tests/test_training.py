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
from interp.errors import ConfigError, InterpError, TrainingDiverged
from interp.evaluate import mean_loss
from interp.recipes import KARPATHY
from interp.training import default_snapshots, parse_steps, train


def read_metrics(run_dir):
    """Rows of metrics.jsonl, without wall times (which differ between identical runs)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds", None)
    return rows


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


def test_lr_override_keeps_the_schedule_shape():
    recipe = KARPATHY.with_overrides(lr=0.001, steps=400)
    assert [recipe.lr_at(s) for s in (0, 299, 300, 399)] == [0.001, 0.001, 0.0001, 0.0001]
    assert [KARPATHY.lr_at(s) for s in (149_999, 150_000)] == [0.1, 0.01]  # the lecture's
    with pytest.raises(ConfigError, match="learning rate must be > 0"):
        KARPATHY.with_overrides(lr=-1.0)


def test_tiny_corpus_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("emma\n")
    from interp.errors import CorpusError

    with pytest.raises(CorpusError, match="leave the train and val split"):
        train(tmp_path / "r", read_corpus(path), **TINY, progress=False)
    assert not (tmp_path / "r").exists()


def test_bad_settings_are_refused_before_anything_is_written(tmp_path, tiny_corpus_path):
    corpus = read_corpus(tiny_corpus_path)
    out = tmp_path / "r"
    cases = [
        ({"kind": "wavenet", "n_embd": 4, "n_hidden": 0}, "n_hidden must be > 0"),
        ({"preset": "mlp-22k", "kind": "wavenet"}, "not both"),
        ({**TINY, "seed": 2**70}, "seed must be"),
        ({**TINY, "eval_every": 0}, "eval_every must be > 0"),
        ({**TINY, "stats_hooks": "levels.7.*"}, "valid hook points"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InterpError, match=message):
            train(out, corpus, progress=False, **kwargs)
        assert not out.exists()


def test_changed_preset_sizes_are_not_recorded_as_the_preset(tmp_path, tiny_corpus_path):
    result = train(tmp_path / "r", read_corpus(tiny_corpus_path), preset="wavenet-22k", n_embd=3,
                   recipe=KARPATHY.with_overrides(steps=2), progress=False)  # fmt: skip
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["preset"] is None and config["based_on"] == "wavenet-22k"
    assert config["model"]["n_embd"] == 3


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
        sys.executable, "-m", "interp", "train", "--kind", TINY["kind"],
        "--n-embd", str(TINY["n_embd"]), "--n-hidden", str(TINY["n_hidden"]),
        "--data", str(corpus), "--steps", str(steps), "--checkpoint-every", "50",
        "--stats-every", "70", "--eval-every", "130", "--threads", "1", "--quiet",
        "--samples", "0", "--out", str(out),
    ]  # fmt: skip


def _resume_cmd(out):
    return [sys.executable, "-m", "interp", "train", "--resume", "--out", str(out),
            "--threads", "1", "--quiet", "--samples", "0"]  # fmt: skip


def _saved_step(path):
    try:
        with safe_open(str(path), framework="pt") as f:
            return int(f.metadata()["step"])
    except Exception:
        return -1


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
STEPS = 3000


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_corpus_path):
    out = tmp_path_factory.mktemp("reference") / "run"
    subprocess.run(_train_cmd(out, tiny_corpus_path, STEPS), check=True, env=ENV)
    return out


def assert_same_run(a, b):
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "resumed weights differ from uninterrupted"
    ta = load_file(str(a / "trainer_state.safetensors"))
    tb = load_file(str(b / "trainer_state.safetensors"))
    assert all(torch.equal(ta[k], tb[k]) for k in ta), "optimizer or generator state differs"
    # Every row (batch losses, evaluations, activation statistics), none lost or repeated.
    assert read_metrics(a) == read_metrics(b)


def wait_for_checkpoint(path, step, proc, timeout=120):
    deadline = time.time() + timeout
    while _saved_step(path) < step and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)


def test_resume_after_sigkill_continues_the_same_curve(tmp_path, tiny_corpus_path, reference):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, tiny_corpus_path, STEPS), env=ENV)
    wait_for_checkpoint(killed / "trainer_state.safetensors", 300, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = _saved_step(killed / "trainer_state.safetensors")
    assert 300 <= stopped_at < STEPS, "the run should be killed mid-training"
    subprocess.run(_resume_cmd(killed), check=True, env=ENV)
    assert_same_run(reference, killed)
    batch_steps = [m["step"] for m in read_metrics(killed) if m["kind"] == "batch"]
    assert batch_steps == list(range(100, STEPS + 1, 100))


KILL_INSIDE_CHECKPOINT = """
import os, signal, sys
from interp import checkpoint
from interp.cli import main
real = checkpoint.save_trainer_state
def save_then_die(path, model, optimizer, batches, step, loop_state=None, **kwargs):
    real(path, model, optimizer, batches, step, loop_state, **kwargs)
    if step == int(sys.argv[1]):  # after the trainer state, before the weights and config
        os.kill(os.getpid(), signal.SIGKILL)
checkpoint.save_trainer_state = save_then_die
main(sys.argv[2:])
"""


def test_kill_inside_a_checkpoint_loses_nothing(tmp_path, tiny_corpus_path, reference):
    killed = tmp_path / "killed"
    argv = _train_cmd(killed, tiny_corpus_path, STEPS)[3:]
    proc = subprocess.run([sys.executable, "-c", KILL_INSIDE_CHECKPOINT, "200", *argv], env=ENV)
    assert proc.returncode == -signal.SIGKILL
    assert _saved_step(killed / "model.safetensors") == 150  # the weights lag one checkpoint
    subprocess.run(_resume_cmd(killed), check=True, env=ENV)
    assert_same_run(reference, killed)


def test_ctrl_c_checkpoints_and_resume_is_bit_exact(tmp_path, tiny_corpus_path, reference):
    stopped = tmp_path / "stopped"
    proc = subprocess.Popen(_train_cmd(stopped, tiny_corpus_path, STEPS), env=ENV,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for_checkpoint(stopped / "trainer_state.safetensors", 300, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved. Continue with: interp train --resume" in err
    step = _saved_step(stopped / "trainer_state.safetensors")
    assert 300 <= step < STEPS and f"interrupted at step {step};" in err
    subprocess.run(_resume_cmd(stopped), check=True, env=ENV)
    assert_same_run(reference, stopped)
