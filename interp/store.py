"""Activation stores: hook points recorded over a whole split, on disk, read back lazily.

A store is a directory readable without this toolkit:

- ``{hook name}.npy``: one NumPy array per hook point, (examples, ...) as in
  :mod:`interp.hooks` (e.g. ``levels.0.hook_post.npy`` is (examples, groups, d_hidden));
- ``contexts.npy`` (examples, block_size) int64 and ``targets.npy`` (examples,) int64: the
  inputs, aligned row for row;
- ``index.json``: hook names, shapes, dtype, example count, split, model config, data source and
  the sha256 of the checkpoint file the activations came from.

Recording streams batches through :func:`interp.recording.record` to a :class:`DiskSink`, which
appends them to preallocated ``.npy`` files from writer threads, so memory is bounded by the
batch size, not the split. A store is written into a hidden temporary directory and renamed
when complete: an interrupted recording never leaves a directory that opens as a store.

>>> store = ActivationStore("stores/wn-val")
>>> store["levels.0.hook_post"].shape   # (examples, 4, 128), memory-mapped
>>> for rows, chunk in store.iter_chunks(["levels.0.hook_post"], chunk_size=8192): ...
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from interp.checkpoint import Run, list_snapshots, load_run
from interp.data import SPLITS, Dataset
from interp.errors import HookNameError, InterpError
from interp.hooks import NamesFilter
from interp.io import atomic_write_json, fsync_dir
from interp.recording import record

STORE_FORMAT = "interp-store-v1"
SERIES_FORMAT = "interp-store-series-v1"
INDEX = "index.json"
SERIES = "series.json"
DTYPES = {"float32": torch.float32, "float16": torch.float16}


class StoreError(InterpError):
    """A store is missing, incomplete, or does not belong to the run it is used with."""


# ---- writing ---------------------------------------------------------------------------------
ALIGN = 4096  # header size and write granularity: a page, and a multiple of any block size


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """A version 1.0 ``.npy`` header padded with spaces to exactly :data:`ALIGN` bytes.

    Readers take the header length from the file, so any padding is valid ``.npy``; a page-sized
    header keeps the data page-aligned for direct writes and for memory maps.
    """
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    magic = b"\x93NUMPY\x01\x00"
    room = ALIGN - len(magic) - 2 - 1  # 2 bytes of length, one closing newline
    if len(text) > room:
        raise ValueError(f"shape {shape} makes a .npy header longer than {ALIGN} bytes")
    body = text + b" " * (room - len(text)) + b"\n"
    return magic + len(body).to_bytes(2, "little") + body


class NpyAppender:
    """A ``.npy`` file of known shape, filled block by block along the first axis.

    The header is written first and the data area preallocated (a full disk fails here, before
    any work). Rows go through a reused, page-aligned staging buffer and are written with
    ``O_DIRECT`` where the file system allows it: activations are written once and read later,
    so passing them through the page cache would only cost a fresh page per 4 KiB (on some
    machines slower than the disk) and grow the machine's memory use with the file. Where direct
    writes are refused (tmpfs, macOS) the same code falls back to ordinary writes. The file is
    fsynced on :meth:`close`, so a completed store survives a power loss, not only a kill.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, direct: bool = True):
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.torch_dtype = torch.from_numpy(np.empty(0, self.dtype)).dtype
        self.rows = 0
        header = _npy_header(shape, self.dtype)
        self.nbytes = len(header) + int(np.prod(shape)) * self.dtype.itemsize
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(self.fd, header)
            if hasattr(os, "posix_fallocate") and self.nbytes > len(header):
                os.posix_fallocate(self.fd, len(header), self.nbytes - len(header))
        except BaseException:
            os.close(self.fd)  # a full disk must not leave an open, preallocated file behind
            raise
        self.direct = False
        if direct and hasattr(os, "O_DIRECT"):
            self._reopen(direct=True)
        self.offset = len(header)  # file offset of the first byte not yet written
        self.staging: mmap.mmap | None = None  # anonymous maps are page-aligned
        self.fill = 0

    def _reopen(self, direct: bool) -> None:
        """Reopen with or without ``O_DIRECT``; a refused ``O_DIRECT`` keeps the old descriptor."""
        try:
            fd = os.open(self.path, os.O_WRONLY | (os.O_DIRECT if direct else 0))
        except OSError:
            if not direct:
                raise
            return
        os.close(self.fd)
        self.fd, self.direct = fd, direct

    def _write(self, view: memoryview) -> None:
        while view.nbytes:
            try:
                written = os.pwrite(self.fd, view, self.offset)
            except OSError as e:
                if not (self.direct and e.errno == errno.EINVAL):
                    raise
                # The file system took O_DIRECT at open but refuses the write.
                self._reopen(direct=False)
                continue
            view, self.offset = view[written:], self.offset + written

    def append(self, block: np.ndarray | torch.Tensor) -> None:
        """Append rows (rows, *shape[1:]); a float block is cast to the file's dtype on the copy."""
        block = torch.as_tensor(block)
        if tuple(block.shape[1:]) != self.shape[1:] or block.is_floating_point() != (
            self.dtype.kind == "f"
        ):
            raise ValueError(f"{self.path.name}: block {tuple(block.shape)} does not fit")
        nbytes = block.numel() * self.dtype.itemsize
        need = self.fill + nbytes
        if self.staging is None or len(self.staging) < need:
            size = -(-2 * need // ALIGN) * ALIGN
            grown = mmap.mmap(-1, size)
            if self.staging is not None:
                grown[: self.fill] = self.staging[: self.fill]
                self.staging.close()
            self.staging = grown
        # One pass casts and copies into pages touched before (no fresh memory); torch's cast
        # to float16 is vectorised, NumPy's is not.
        target = torch.frombuffer(
            self.staging, dtype=self.torch_dtype, count=block.numel(), offset=self.fill
        )
        target.view(block.shape).copy_(block)
        del target  # the buffer must not stay exported, or it could not be closed
        whole = need - need % ALIGN  # direct writes take whole pages; the rest waits
        with memoryview(self.staging) as staged:
            self._write(staged[:whole])
        self.staging[: need - whole] = self.staging[whole:need]
        self.fill = need - whole
        self.rows += block.shape[0]

    def close(self) -> None:
        try:
            if self.rows != self.shape[0]:
                raise StoreError(f"{self.path}: wrote {self.rows} rows, expected {self.shape[0]}")
            if self.fill:  # the last partial page: written whole, then cut to the true length
                assert self.staging is not None
                self.staging[self.fill : ALIGN] = bytes(ALIGN - self.fill)
                with memoryview(self.staging) as staged:
                    self._write(staged[:ALIGN])
                os.ftruncate(self.fd, self.nbytes)
            os.fsync(self.fd)
        finally:
            self.abort()

    def abort(self) -> None:
        """Close without checks (the store is being discarded)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.staging is not None:
            # A failed write's traceback may still hold a view of the buffer; GC frees it then.
            with contextlib.suppress(BufferError):
                self.staging.close()
            self.staging = None


class DiskSink:
    """Sink for :func:`~interp.recording.record` that appends activations to ``.npy`` files.

    The caller's thread only queues the activation. ``writers`` background threads, each owning
    a share of the hook points balanced by bytes per example, cast to the file's dtype and write,
    each behind a small bounded queue: compute, casting and disk overlap, rows of one hook point
    stay in order, and memory stays bounded by a few batches.
    """

    def __init__(self, appenders: Mapping[str, NpyAppender], writers: int = 2):
        self.appenders = appenders
        self.error: BaseException | None = None
        loads = [0] * max(1, min(writers, len(appenders)))
        self.worker_of: dict[str, int] = {}
        by_size = sorted(appenders.items(), key=lambda kv: -_row_bytes(kv[1]))
        for name, appender in by_size:  # largest first, each to the least-loaded writer
            w = loads.index(min(loads))
            self.worker_of[name] = w
            loads[w] += _row_bytes(appender)
        # Each writer queues at most about two batches of every hook point.
        self.queues: list[queue.Queue] = [
            queue.Queue(maxsize=2 * len(appenders) + 1) for _ in loads
        ]
        self.threads = [
            threading.Thread(target=self._write_loop, args=(q,), daemon=True) for q in self.queues
        ]
        for thread in self.threads:
            thread.start()

    def _write_loop(self, pending: queue.Queue) -> None:
        while (item := pending.get()) is not None:
            if self.error is None:
                try:
                    name, block = item
                    self.appenders[name].append(block)
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                    self.error = e

    def __call__(self, name: str, activation: torch.Tensor) -> None:
        if self.error is not None:
            raise self.error
        # The writer thread casts to the store's dtype while copying into its staging buffer.
        self.queues[self.worker_of[name]].put((name, activation.detach()))

    def _join(self) -> None:
        for pending in self.queues:
            pending.put(None)
        for thread in self.threads:
            thread.join()

    def close(self) -> None:
        """Wait for every write, then close the files; re-raises a write error."""
        self._join()
        if self.error is not None:
            raise self.error
        for appender in self.appenders.values():
            appender.close()

    def abort(self) -> None:
        """Stop the writers and close the files without checks."""
        if any(thread.is_alive() for thread in self.threads):
            self._join()
        for appender in self.appenders.values():
            appender.abort()


def _row_bytes(appender: NpyAppender) -> int:
    return int(np.prod(appender.shape[1:])) * appender.dtype.itemsize


def _disk_error(e: OSError, where: Path, needed: int) -> StoreError:
    if e.errno == 28:  # ENOSPC
        free = shutil.disk_usage(where).free
        return StoreError(
            f"{where}: disk full while writing the store (it needs {needed / 1e9:.2f} GB, "
            f"{free / 1e9:.2f} GB free); free space, use --dtype float16, or record fewer hooks"
        )
    if e.errno == 13:  # EACCES
        return StoreError(f"{where}: permission denied; choose an --out you can write to")
    return StoreError(f"{where}: {e.strerror or e}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(out: Path) -> None:
    """Remove temporary folders (``.NAME.partial-PID-*``, ``.NAME.old-PID-*``) that processes no
    longer running left beside ``out``; a recording still in progress keeps its own."""
    if not out.parent.is_dir():
        return
    for kind in ("partial", "old"):
        for stale in out.parent.glob(f".{out.name}.{kind}-*"):
            pid = stale.name.rsplit(f".{kind}-", 1)[1].split("-", 1)[0]
            if not (pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid()):
                shutil.rmtree(stale, ignore_errors=True)


def _temp_name(out: Path, kind: str) -> Path:
    return out.absolute().parent / f".{out.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


#: The fields that identify a recording: a store with the same values is reused as it is.
REQUEST_KEYS = ("split", "hooks", "dtype", "checkpoint_sha256", "data_sha256")


def store_request(
    run: Run, data: Dataset, split: str, names: Sequence[str], dtype: str
) -> dict[str, Any]:
    """What identifies a recording: a store with the same request can be reused as is."""
    return {
        "split": split,
        "hooks": list(names),
        "dtype": dtype,
        "checkpoint_sha256": run.weights_sha256(),
        "data_sha256": data.corpus.sha256,
    }


@torch.no_grad()
def record_split(
    run: Run,
    data: Dataset,
    split: str,
    out: str | Path,
    names_filter: NamesFilter = None,
    dtype: str = "float32",
    batch_size: int = 4096,
    overwrite: bool = False,
    progress: bool = True,
) -> ActivationStore:
    """Record the selected hook points of ``run.model`` over ``data``'s ``split`` into ``out``.

    Returns the finished :class:`ActivationStore`. An existing store of the same request is
    returned as it is; a different one is an error unless ``overwrite``.
    """
    if split not in SPLITS:
        raise StoreError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if batch_size < 1:
        raise StoreError(f"batch size must be >= 1, got {batch_size}")
    if dtype not in DTYPES:
        raise StoreError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if data.block_size != run.block_size or data.vocab != run.vocab:
        raise StoreError(
            f"the data's block size {data.block_size} / vocabulary do not match run {run.dir} "
            f"(block size {run.block_size}); build the data with run.dataset()"
        )
    model = run.model
    names = model.resolve_names(names_filter)
    out = Path(out)
    request = store_request(run, data, split, names, dtype)
    if (out / INDEX).is_file():
        existing = ActivationStore(out)
        if not overwrite and existing.request == request:
            existing.verify()
            return existing
        if not overwrite:
            raise StoreError(
                f"{out}: already holds a different store ({existing.split} split, "
                f"{len(existing.hook_names)} hooks, step {existing.step}); "
                "pass --overwrite or choose another --out"
            )
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StoreError(f"{out}: exists and is not an activation store; choose another --out")

    x, y = data.x[split], data.y[split]
    n = len(y)
    shapes = {name: (n, *shape[1:]) for name, shape in model.hook_shapes().items()}
    np_dtype = np.dtype(dtype)
    needed = sum(int(np.prod(shapes[name])) for name in names) * np_dtype.itemsize
    needed += x.numel() * 8 + y.numel() * 8
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _disk_error(e, parent, needed) from None
    free = shutil.disk_usage(parent).free
    if needed > free:
        raise StoreError(
            f"{parent}: the store needs {needed / 1e9:.2f} GB but only {free / 1e9:.2f} GB is "
            "free; free space, use --dtype float16, or record fewer hooks"
        )
    _remove_leftovers(out)
    tmp = _temp_name(out, "partial")
    sink = None
    opened: list[NpyAppender] = []  # closed on any failure, so no descriptor pins the space
    try:
        tmp.mkdir()
        for name, array in (("contexts", x.numpy()), ("targets", y.numpy())):
            inputs = NpyAppender(tmp / f"{name}.npy", array.shape, array.dtype)
            opened.append(inputs)
            inputs.append(array)
            inputs.close()
        for name in names:
            opened.append(NpyAppender(tmp / f"{name}.npy", shapes[name], np_dtype))
        sink = DiskSink({name: a for name, a in zip(names, opened[2:], strict=True)})
        model.eval()
        with (
            tqdm(
                total=n,
                unit="ex",
                unit_scale=True,
                disable=not progress,
                desc=f"record {split} step {run.step}",
            ) as bar,
            record(model, sink, names),
        ):
            for start in range(0, n, batch_size):
                model(x[start : start + batch_size])
                bar.update(min(batch_size, n - start))
        sink.close()
        sink = None
        index = {
            "format": STORE_FORMAT,
            **request,
            "examples": n,
            "shapes": {name: list(shapes[name]) for name in names},
            "files": {name: f"{name}.npy" for name in names},
            "step": run.step,
            "run_dir": str(run.dir),
            "checkpoint": str(run.weights_path),
            "model": run.config["model"],
            "preset": run.config.get("preset"),
            "vocab": run.vocab.itos,
            "block_size": run.block_size,
            "data": {"source": data.corpus.source, "sha256": data.corpus.sha256},
        }
        missing = [
            f
            for f in ["contexts.npy", "targets.npy", *index["files"].values()]
            if not (tmp / f).is_file()
        ]
        if missing:  # something removed our temporary folder: never publish a hollow store
            raise StoreError(f"{tmp}: lost {', '.join(missing)} while recording; run it again")
        atomic_write_json(tmp / INDEX, index)  # fsyncs tmp: the files' names are durable too
        if out.exists():  # an empty directory, or a store being overwritten
            trash = _temp_name(out, "old")
            out.rename(trash)
            tmp.rename(out)
            shutil.rmtree(trash)
        else:
            tmp.rename(out)
        fsync_dir(out.parent)
    except OSError as e:
        raise _disk_error(e, parent, needed) from None
    finally:
        if sink is not None:
            sink.abort()
        for appender in opened:
            appender.abort()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ActivationStore(out)


def parse_checkpoints(spec: str | None, run_dir: Path) -> list[int] | None:
    """``None`` (latest weights only), ``"all"`` snapshots, or a list ``"0,1000"``."""
    if spec is None:
        return None
    available = list_snapshots(run_dir)
    if spec == "all":
        if not available:
            raise StoreError(f"{run_dir}: has no snapshots; train with --snapshots")
        return available
    try:
        steps = sorted({int(s) for s in spec.split(",") if s.strip()})
    except ValueError:
        steps = []
    if not steps:
        raise StoreError(f"--checkpoints must be 'all' or steps like 0,1000; got {spec!r}")
    missing = [s for s in steps if s not in available]
    if missing:
        raise StoreError(
            f"{run_dir}: no snapshot at step(s) {', '.join(map(str, missing))}; "
            f"snapshots: {', '.join(map(str, available)) or 'none'}"
        )
    return steps


def step_dir(out: Path, step: int) -> Path:
    return Path(out) / f"step_{step:07d}"


def record_series(
    run_dir: str | Path,
    steps: Sequence[int],
    split: str,
    out: str | Path,
    data_path: str | Path | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> StoreSeries:
    """One store per snapshot step under ``out/step_NNNNNNN``, then ``out/series.json``.

    Steps already recorded with the same request are kept, so re-running resumes.
    """
    out = Path(out)
    if out.exists() and (out / INDEX).exists():
        raise StoreError(f"{out}: holds a single store, not a series; choose another --out")
    (out / SERIES).unlink(missing_ok=True)  # incomplete until every step is recorded again
    data = None
    for step in tqdm(
        steps, desc="checkpoints", unit="ckpt", disable=not progress or len(steps) < 2
    ):
        run = load_run(run_dir, step=step)
        data = data or run.dataset(data_path)
        record_split(run, data, split, step_dir(out, step), progress=progress, **kwargs)
    atomic_write_json(
        out / SERIES,
        {"format": SERIES_FORMAT, "split": split, "steps": list(steps), "run_dir": str(run_dir)},
    )
    return StoreSeries(out)


# ---- reading ---------------------------------------------------------------------------------
class ActivationStore(Mapping[str, np.ndarray]):
    """A recorded store: ``store[name]`` is a read-only memory-mapped array (examples, ...).

    ``run`` (optional): refuse the store unless it was recorded from exactly these weights.
    """

    def __init__(self, path: str | Path, run: Run | None = None):
        self.path = Path(path)
        index_path = self.path / INDEX
        if not index_path.is_file():
            partial = any(self.path.parent.glob(f".{self.path.name}.partial-*"))
            hint = " (an interrupted recording was left; run it again)" if partial else ""
            raise StoreError(
                f"{self.path}: not an activation store (no {INDEX}){hint}; "
                "record one with 'interp record'"
            )
        try:
            self.index: dict[str, Any] = json.loads(index_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise StoreError(f"{index_path}: not valid JSON ({e})") from None
        if self.index.get("format") != STORE_FORMAT:
            raise StoreError(f"{index_path}: not an interp store index ({STORE_FORMAT!r})")
        self._arrays: dict[str, np.ndarray] = {}
        if run is not None:
            self.check_run(run)

    # identity
    @property
    def hook_names(self) -> list[str]:
        return list(self.index["hooks"])

    @property
    def split(self) -> str:
        return self.index["split"]

    @property
    def step(self) -> int:
        return int(self.index["step"])

    @property
    def dtype(self) -> str:
        return self.index["dtype"]

    @property
    def request(self) -> dict[str, Any]:
        return {k: self.index.get(k) for k in REQUEST_KEYS}

    def verify(self) -> None:
        """Check that every array file is present with the shape the index gives."""
        self.contexts, self.targets  # noqa: B018 - loading checks them
        for name in self.hook_names:
            self[name]

    def check_run(self, run: Run) -> None:
        """Raise :class:`StoreError` unless this store was recorded from ``run``'s weights."""
        sha = run.weights_sha256()
        if sha != self.index["checkpoint_sha256"]:
            raise StoreError(
                f"{self.path}: recorded from checkpoint {self.index['checkpoint']} "
                f"(sha256 {self.index['checkpoint_sha256'][:12]}...), not from "
                f"{run.weights_path} (sha256 {sha[:12]}...); record this run's activations again"
            )

    # arrays
    def _load(self, file: str, shape: Sequence[int] | None = None) -> np.ndarray:
        path = self.path / file
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise StoreError(
                f"{path}: missing or unreadable ({e}); record the store again"
            ) from None
        if shape is not None and tuple(array.shape) != tuple(shape):
            raise StoreError(f"{path}: shape {array.shape}, index says {tuple(shape)}")
        return array

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            if name not in self.index["files"]:
                raise HookNameError(
                    f"{name!r} is not in store {self.path}; it holds: {', '.join(self.hook_names)}"
                )
            self._arrays[name] = self._load(self.index["files"][name], self.index["shapes"][name])
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.hook_names)

    def __len__(self) -> int:
        return len(self.hook_names)

    @property
    def n_examples(self) -> int:
        return int(self.index["examples"])

    @property
    def contexts(self) -> np.ndarray:
        """(examples, block_size) int64."""
        return self._load("contexts.npy", (self.n_examples, self.index["block_size"]))

    @property
    def targets(self) -> np.ndarray:
        """(examples,) int64."""
        return self._load("targets.npy", (self.n_examples,))

    def tensor(self, name: str, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Rows ``start:stop`` of a hook point as a float32 tensor (a copy in memory)."""
        return torch.from_numpy(np.array(self[name][start:stop], dtype=np.float32))

    def iter_chunks(
        self, names: Sequence[str] | None = None, chunk_size: int = 8192
    ) -> Iterator[tuple[slice, dict[str, np.ndarray]]]:
        """Yield ``(rows, {name: array})`` over the examples, ``chunk_size`` rows at a time.

        Each dict also holds ``contexts`` and ``targets`` for the same rows.
        """
        names = self.hook_names if names is None else list(names)
        arrays = {name: self[name] for name in names}
        arrays["contexts"], arrays["targets"] = self.contexts, self.targets
        for start in range(0, self.n_examples, chunk_size):
            rows = slice(start, min(start + chunk_size, self.n_examples))
            yield rows, {k: np.asarray(v[rows]) for k, v in arrays.items()}

    def __repr__(self) -> str:
        return (
            f"ActivationStore({str(self.path)!r}: {self.split}, {self.n_examples} examples, "
            f"step {self.step}, {len(self)} hooks, {self.dtype})"
        )


class StoreSeries(Mapping[int, ActivationStore]):
    """Stores recorded at several training steps; ``series[step]`` is an ActivationStore."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        index = self.path / SERIES
        if not index.is_file():
            raise StoreError(
                f"{self.path}: not a complete store series (no {SERIES}); run "
                "'interp record --checkpoints ...' again to finish it"
            )
        self.index = json.loads(index.read_text(encoding="utf-8"))
        self.steps: list[int] = list(self.index["steps"])
        shared = ("split", "hooks", "dtype", "data_sha256")
        first = None
        for step in self.steps:
            request = {k: self[step].request[k] for k in shared}
            first = first or request
            if request != first:
                raise StoreError(
                    f"{step_dir(self.path, step)}: recorded with other settings than the rest "
                    "of the series; record the series again with --overwrite"
                )

    def __getitem__(self, step: int) -> ActivationStore:
        if step not in self.steps:
            raise KeyError(f"no store at step {step}; steps: {self.steps}")
        return ActivationStore(step_dir(self.path, step))

    def __iter__(self) -> Iterator[int]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)
