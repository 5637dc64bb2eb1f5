import json

import pytest
import torch
from helpers import tiny_run
from safetensors.torch import load_file

from interp.checkpoint import MODEL, list_snapshots, load_run
from interp.errors import CheckpointError


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_corpus_path):
    return tiny_run(
        tmp_path_factory.mktemp("runs") / "tiny", tiny_corpus_path, steps=60, snapshots="0,10,60"
    )


def test_run_directory_contents(run):
    d = run.run_dir
    for name in ("config.json", "model.safetensors", "trainer_state.safetensors", "metrics.jsonl"):
        assert (d / name).is_file(), name
    config = json.loads((d / "config.json").read_text())
    assert config["step"] == 60
    assert config["model"]["kind"] == "wavenet"
    assert config["data"]["sha256"] and config["data"]["source"].endswith("tiny.txt")
    assert config["vocab"].startswith(".")
    assert config["split_seed"] == 42
    assert config["recipe"]["name"] == "karpathy" and config["recipe"]["steps"] == 60
    assert list_snapshots(d) == [0, 10, 60]
    assert not list(d.glob(".*.tmp")), "no temporary files left behind"


def test_round_trip_is_bit_exact(run):
    loaded = load_run(run.run_dir)
    assert loaded.step == 60
    original = run.model.model.state_dict()
    restored = loaded.model.model.state_dict()
    assert original.keys() == restored.keys()
    for k in original:
        assert torch.equal(original[k], restored[k]), k
    idx = run.data.x["val"][:64]
    run.model.eval()
    assert torch.equal(run.model(idx), loaded.model(idx))
    assert loaded.vocab == run.data.vocab


def test_snapshots_load_and_differ(run):
    first, last = load_run(run.run_dir, step=0), load_run(run.run_dir, step=60)
    w0 = first.model.model.levels[0].linear.weight
    assert first.step == 0 and not torch.equal(w0, last.model.model.levels[0].linear.weight)
    with pytest.raises(CheckpointError, match="no snapshot at step 5; snapshots: 0, 10, 60"):
        load_run(run.run_dir, step=5)


def test_files_are_plain_safetensors(run):
    tensors = load_file(str(run.run_dir / MODEL))  # no pickle involved
    assert "levels.0.linear.weight" in tensors and "levels.0.norm.running_var" in tensors


def copy_run(run, dest):
    import shutil

    shutil.copytree(run.run_dir, dest)
    return dest


def test_truncated_checkpoint_is_a_clear_error(run, tmp_path):
    d = copy_run(run, tmp_path / "r")
    data = (d / MODEL).read_bytes()
    (d / MODEL).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated"):
        load_run(d)
    (d / MODEL).write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_run(d)


def test_mismatched_checkpoint_is_a_clear_error(run, tmp_path):
    d = copy_run(run, tmp_path / "r")
    config = json.loads((d / "config.json").read_text())
    config["model"]["n_hidden"] = 32
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: weights do not match.*shape"):
        load_run(d)


def test_missing_pieces(run, tmp_path):
    with pytest.raises(CheckpointError, match="no such run directory"):
        load_run(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"not a run directory \(no config.json\)"):
        load_run(tmp_path / "empty")
    d = copy_run(run, tmp_path / "r")
    (d / MODEL).unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors: file is missing"):
        load_run(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        load_run(d)
