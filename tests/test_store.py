import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import tiny_run

from interp.checkpoint import load_run
from interp.cli import main
from interp.data import make_dataset
from interp.errors import HookNameError
from interp.store import (
    ALIGN,
    ActivationStore,
    NpyAppender,
    StoreError,
    StoreSeries,
    record_series,
    record_split,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_corpus_path):
    out = tmp_path_factory.mktemp("store") / "run"
    tiny_run(out, tiny_corpus_path, steps=60, snapshots="0,30,60")
    return out


@pytest.fixture(scope="module")
def store(run_dir, tmp_path_factory):
    run = load_run(run_dir)
    out = tmp_path_factory.mktemp("stores") / "val"
    return record_split(run, run.dataset(), "val", out, batch_size=64, progress=False)


def test_store_equals_run_with_cache(run_dir, store):
    run = load_run(run_dir)
    data = run.dataset()
    x = data.x["val"]
    _, cache = run.model.run_with_cache(x)
    assert store.n_examples == len(x) and set(store) == set(run.model.hook_names)
    for name in run.model.hook_names:
        torch.testing.assert_close(store.tensor(name), cache[name], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(store.contexts, x.numpy())
    np.testing.assert_array_equal(store.targets, data.y["val"].numpy())


def test_float16_within_its_precision(run_dir, tmp_path):
    run = load_run(run_dir)
    data = run.dataset()
    s16 = record_split(
        run,
        data,
        "val",
        tmp_path / "s16",
        names_filter="levels.*.hook_post",
        dtype="float16",
        progress=False,
    )
    assert s16["levels.0.hook_post"].dtype == np.float16
    _, cache = run.model.run_with_cache(data.x["val"], "levels.*.hook_post")
    for name in s16:
        torch.testing.assert_close(s16.tensor(name), cache[name], rtol=1e-3, atol=1e-3)


def test_readable_without_the_toolkit(store):
    index = json.loads((store.path / "index.json").read_text())
    assert index["split"] == "val" and index["dtype"] == "float32"
    assert index["examples"] == store.n_examples
    assert len(index["checkpoint_sha256"]) == 64 and index["model"]["kind"] == "wavenet"
    for name in index["hooks"]:
        array = np.load(store.path / f"{name}.npy", mmap_mode="r")
        assert list(array.shape) == index["shapes"][name]
    assert index["shapes"]["levels.0.hook_post"][1:] == [4, 16]
    assert np.load(store.path / "contexts.npy").shape == (store.n_examples, 8)


def test_chunks_cover_every_row(store):
    seen = 0
    for rows, chunk in store.iter_chunks(["levels.1.hook_post"], chunk_size=100):
        assert chunk["levels.1.hook_post"].shape == (rows.stop - rows.start, 2, 16)
        assert chunk["targets"].shape == (rows.stop - rows.start,)
        seen += rows.stop - rows.start
    assert seen == store.n_examples
    with pytest.raises(HookNameError, match="it holds: hook_embed"):
        store["levels.7.hook_post"]


def test_rerun_reuses_and_differences_are_refused(run_dir, store):
    run = load_run(run_dir)
    mtime = (store.path / "index.json").stat().st_mtime_ns
    again = record_split(run, run.dataset(), "val", store.path, progress=False)
    assert (again.path / "index.json").stat().st_mtime_ns == mtime
    with pytest.raises(StoreError, match="already holds a different store.*--overwrite"):
        record_split(run, run.dataset(), "test", store.path, progress=False)


def test_overwrite_replaces(run_dir, tmp_path):
    run = load_run(run_dir)
    out = tmp_path / "s"
    record_split(run, run.dataset(), "val", out, names_filter="hook_embed", progress=False)
    new = record_split(
        run, run.dataset(), "test", out, names_filter="hook_logits", overwrite=True, progress=False
    )
    assert new.split == "test" and list(new) == ["hook_logits"]
    assert not (out / "hook_embed.npy").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_refuses_store_from_other_weights(run_dir, store):
    store.check_run(load_run(run_dir))
    with pytest.raises(StoreError, match="not from .*step_0000000"):
        ActivationStore(store.path, run=load_run(run_dir, step=0))


def test_failed_recording_leaves_nothing(run_dir, tmp_path):
    run = load_run(run_dir)
    calls = []

    def fail_third_batch(x, hook):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")

    out = tmp_path / "s"
    with run.model.hooks([("hook_logits", fail_third_batch)]), pytest.raises(RuntimeError):
        record_split(run, run.dataset(), "train", out, batch_size=32, progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="not an activation store"):
        ActivationStore(out)


KILL_SCRIPT = """
import os, signal, sys
from interp.checkpoint import load_run
from interp.store import record_split
run = load_run(sys.argv[1])
calls = []
def kill(x, hook):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
run.model.add_hook("hook_logits", kill)
record_split(run, run.dataset(), "train", sys.argv[2], batch_size=32, progress=False)
"""


def test_sigkill_mid_recording_never_leaves_a_valid_store(run_dir, tmp_path):
    out = tmp_path / "s"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(run_dir), str(out)])
    assert proc.returncode == -9
    assert not out.exists() and list(tmp_path.glob(".s.partial-*")), "partial data stays hidden"
    with pytest.raises(StoreError, match="interrupted recording was left"):
        ActivationStore(out)
    run = load_run(run_dir)
    store = record_split(run, run.dataset(), "train", out, batch_size=32, progress=False)
    assert store.n_examples == len(run.dataset().y["train"])
    assert [p.name for p in tmp_path.iterdir()] == ["s"], "the leftover was cleaned up"


def test_bad_requests(run_dir, tmp_path, monkeypatch):
    run = load_run(run_dir)
    data = run.dataset()
    with pytest.raises(HookNameError, match="valid hook points"):
        record_split(run, data, "val", tmp_path / "a", names_filter="levels.9.*", progress=False)
    with pytest.raises(StoreError, match="block size"):
        record_split(
            run, make_dataset(data.corpus, 4, run.vocab), "val", tmp_path / "b", progress=False
        )
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="File exists|Not a directory"):
        record_split(run, data, "val", tmp_path / "file" / "store", progress=False)
    with pytest.raises(StoreError, match="batch size must be >= 1"):
        record_split(run, data, "val", tmp_path / "d", batch_size=0, progress=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("x")
    with pytest.raises(StoreError, match="not an activation store"):
        record_split(run, data, "val", tmp_path / "full", progress=False)

    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(StoreError, match="needs .* GB but only"):
        record_split(run, data, "val", tmp_path / "c", progress=False)


def test_disk_full_during_writes_is_clear(run_dir, tmp_path, monkeypatch):
    from interp import store as store_module

    real_write = store_module.NpyAppender._write

    def no_space(self, view):  # the inputs are written; the first activation block fails
        if "hook" in self.path.name:
            raise OSError(28, "No space left on device")
        real_write(self, view)

    monkeypatch.setattr(store_module.NpyAppender, "_write", no_space)
    run = load_run(run_dir)
    with pytest.raises(StoreError, match="disk full while writing"):
        record_split(run, run.dataset(), "val", tmp_path / "s", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_series_over_snapshots(run_dir, tmp_path):
    out = tmp_path / "series"
    series = record_series(
        run_dir, [0, 60], "val", out, names_filter="levels.0.hook_post", progress=False
    )
    assert list(series) == [0, 60]
    assert isinstance(StoreSeries(out)[60], ActivationStore)
    assert series[0].step == 0 and series[60].step == 60
    assert not np.array_equal(series[0]["levels.0.hook_post"], series[60]["levels.0.hook_post"])
    mtime = (out / "step_0000000" / "index.json").stat().st_mtime_ns
    record_series(
        run_dir, [0, 30, 60], "val", out, names_filter="levels.0.hook_post", progress=False
    )
    assert (out / "step_0000000" / "index.json").stat().st_mtime_ns == mtime
    assert StoreSeries(out).steps == [0, 30, 60]


def test_cli_record(run_dir, tmp_path, capsys):
    out = tmp_path / "s"
    code = main(
        [
            "record",
            str(run_dir),
            "--split",
            "val",
            "--hooks",
            "levels.*.hook_post",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0 and "3 hook points" in capsys.readouterr().out
    assert ActivationStore(out).hook_names == [f"levels.{i}.hook_post" for i in range(3)]
    code = main(
        [
            "record",
            str(run_dir),
            "--checkpoints",
            "all",
            "--hooks",
            "hook_embed",
            "--out",
            str(tmp_path / "series"),
            "--quiet",
        ]
    )
    assert code == 0 and StoreSeries(tmp_path / "series").steps == [0, 30, 60]
    code = main(["record", str(run_dir), "--checkpoints", "5", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "no snapshot at step(s) 5; snapshots: 0, 30, 60" in err


def test_another_corpus_is_not_mistaken_for_the_stored_one(run_dir, tmp_path, tiny_corpus_path):
    run = load_run(run_dir)
    out = tmp_path / "s"
    first = record_split(run, run.dataset(), "val", out, names_filter="hook_embed", progress=False)
    other = tmp_path / "other.txt"
    other.write_text(tiny_corpus_path.read_text() + "bada\nkemi\n")
    with pytest.raises(StoreError, match="already holds a different store"):
        record_split(run, run.dataset(other), "val", out, names_filter="hook_embed", progress=False)
    assert first.request["data_sha256"] == run.dataset().corpus.sha256


def test_a_hollow_store_is_never_published_or_reused(run_dir, tmp_path):
    run = load_run(run_dir)
    out = tmp_path / "s"
    store = record_split(run, run.dataset(), "val", out, names_filter="hook_embed", progress=False)
    (out / "hook_embed.npy").unlink()
    with pytest.raises(StoreError, match="missing or unreadable"):
        record_split(run, run.dataset(), "val", out, names_filter="hook_embed", progress=False)
    assert store.n_examples > 0


def test_a_live_recording_keeps_its_temporary_folder(run_dir, tmp_path):
    import os

    from interp.store import _remove_leftovers

    out = tmp_path / "s"
    live = tmp_path / f".s.partial-{os.getppid()}-abcd"  # our parent process is alive
    dead = tmp_path / ".s.partial-999999999-abcd"
    old = tmp_path / ".s.old-999999999-abcd"
    for d in (live, dead, old):
        d.mkdir()
    _remove_leftovers(out)
    assert live.exists() and not dead.exists() and not old.exists()


def test_series_with_mixed_settings_is_refused(run_dir, tmp_path):
    out = tmp_path / "series"
    record_series(run_dir, [0, 60], "val", out, names_filter="hook_embed", progress=False)
    record_split(
        load_run(run_dir, step=60),
        load_run(run_dir).dataset(),
        "val",
        out / "step_0000060",
        names_filter="hook_logits",
        overwrite=True,
        progress=False,
    )
    with pytest.raises(StoreError, match="other settings than the rest"):
        StoreSeries(out)


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64])
def test_appender_writes_a_plain_npy(tmp_path, direct, dtype):
    rng = np.random.default_rng(0)
    full = rng.normal(size=(1000, 3, 7)).astype(np.float32)
    path = tmp_path / "a.npy"
    appender = NpyAppender(path, full.shape, np.dtype(dtype), direct=direct)
    for start in (0, 1, 300, 301, 999):  # blocks that end mid-page, and a one-row block
        stop = {0: 1, 1: 300, 300: 301, 301: 999, 999: 1000}[start]
        block = full[start:stop]
        appender.append(block.astype(dtype) if dtype is np.int64 else torch.from_numpy(block))
    appender.close()
    expected = full.astype(dtype)
    assert path.stat().st_size == ALIGN + expected.nbytes  # page-sized header, no padding after
    np.testing.assert_array_equal(np.load(path), expected)
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), expected)


def test_appender_refuses_wrong_rows_and_shapes(tmp_path):
    appender = NpyAppender(tmp_path / "a.npy", (4, 2), np.dtype(np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        appender.append(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        appender.append(np.zeros((2, 2), np.int64))
    appender.append(np.zeros((2, 2), np.float32))
    with pytest.raises(StoreError, match="wrote 2 rows, expected 4"):
        appender.close()


def test_appender_falls_back_when_direct_writes_are_refused(tmp_path, monkeypatch):
    import errno
    import fcntl
    import os

    from interp import store as store_module

    real_pwrite = os.pwrite
    refused = []

    def pwrite(fd, data, offset):  # a file system that opens with O_DIRECT but refuses writes
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(store_module.os, "pwrite", pwrite)
    data = np.arange(5000, dtype=np.float32).reshape(1000, 5)
    appender = NpyAppender(tmp_path / "a.npy", data.shape, data.dtype)
    opened_direct = appender.direct  # False where the file system refuses O_DIRECT at open
    appender.append(data)
    appender.close()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)
    assert appender.direct is False
    assert len(refused) == (1 if opened_direct else 0)  # refused once, then the page cache


def test_a_failed_preallocation_closes_its_file(tmp_path, monkeypatch):
    import os

    from interp import store as store_module

    def no_space(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "posix_fallocate", no_space, raising=False)
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(OSError):
        NpyAppender(tmp_path / "a.npy", (1000, 4), np.dtype(np.float32))
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before
