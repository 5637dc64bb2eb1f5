"""Corpora, vocabularies and context windows, exactly as in makemore.

A corpus is a text file with one word per line (the format of makemore's ``names.txt``). The
vocabulary is every character in the data, sorted, with the boundary token ``.`` at index 0.
Each word ``w`` yields ``len(w) + 1`` examples: the ``block_size`` previous characters (padded
with ``.``) and the next character, ending with ``.``.

The split reproduces the lecture: ``random.seed(42); random.shuffle(words)``, then 80/10/10 of
the *words*. On makemore's names.txt with block size 8 this gives 182,625 / 22,655 / 22,866
examples.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from interp.errors import ConfigError, CorpusError

BOUNDARY = "."
SPLIT_SEED = 42
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Vocab:
    """Character vocabulary; ``itos[0]`` is the boundary token ``.``."""

    itos: str

    @classmethod
    def from_words(cls, words: Sequence[str]) -> Vocab:
        chars = sorted(set("".join(words)))
        return cls(BOUNDARY + "".join(chars))

    @property
    def size(self) -> int:
        return len(self.itos)

    @property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.itos)}

    def encode(self, word: str) -> list[int]:
        stoi = self.stoi
        try:
            return [stoi[c] for c in word]
        except KeyError as e:
            raise CorpusError(
                f"character {e.args[0]!r} in {word!r} is not in the vocabulary {self.itos!r}; "
                "use a corpus with the same characters as the checkpoint's"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in ids)


@dataclass(frozen=True)
class Corpus:
    """Words read from a file (or the built-in corpus), with where they came from."""

    words: tuple[str, ...]
    source: str
    sha256: str

    @property
    def vocab(self) -> Vocab:
        return Vocab.from_words(self.words)

    def split_words(self, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
        """The lecture's split: shuffle with ``random.seed(seed)``, then 80/10/10 of words."""
        words = list(self.words)
        random.seed(seed)
        random.shuffle(words)
        n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
        return {"train": words[:n1], "val": words[n1:n2], "test": words[n2:]}


def read_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Read a one-word-per-line file. Blank lines are skipped, surrounding whitespace stripped.

    Raises :class:`CorpusError` naming the file and line for a missing or empty file, bytes that
    are not UTF-8, or a word containing the boundary character ``.``.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file; pass a text file with one word per line")
    if path.is_dir():
        raise CorpusError(f"{path}: is a directory; pass a text file with one word per line")
    raw = path.read_bytes()
    text_bytes = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
    if not text_bytes.strip():
        raise CorpusError(f"{path}: the file is empty; it needs one word per line")
    words = []
    for lineno, line in enumerate(text_bytes.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CorpusError(
                f"{path}:{lineno}: bytes that are not UTF-8 ({line[e.start : e.end]!r}); "
                "re-save the file as UTF-8"
            ) from None
        word = text.strip()
        if not word:
            continue
        if BOUNDARY in word:
            raise CorpusError(
                f"{path}:{lineno}: the word {word!r} contains {BOUNDARY!r}, the boundary token; "
                "remove or replace that character"
            )
        words.append(word)
    if not words:
        raise CorpusError(f"{path}: no words left after removing blank lines")
    return Corpus(tuple(words), str(path.resolve()), hashlib.sha256(raw).hexdigest())


def check_block_size(block_size: int) -> int:
    if not isinstance(block_size, int) or block_size < 1:
        raise ConfigError(f"block size must be a whole number >= 1, got {block_size!r}")
    return block_size


def build_examples(
    words: Sequence[str], vocab: Vocab, block_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Context windows and targets, as makemore builds them.

    Returns ``contexts`` (examples, block_size) int64 and ``targets`` (examples,) int64.
    """
    check_block_size(block_size)
    xs: list[list[int]] = []
    ys: list[int] = []
    for w in words:
        context = [0] * block_size
        for ix in [*vocab.encode(w), 0]:
            xs.append(context)
            ys.append(ix)
            context = [*context[1:], ix]
    x = torch.tensor(xs, dtype=torch.long).reshape(len(xs), block_size)
    return x, torch.tensor(ys, dtype=torch.long)


@dataclass
class Dataset:
    """A corpus turned into context windows for each split.

    ``x[split]`` is (examples, block_size) int64, ``y[split]`` is (examples,) int64.
    """

    corpus: Corpus
    vocab: Vocab
    block_size: int
    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]

    def counts(self) -> dict[str, int]:
        return {s: int(self.y[s].shape[0]) for s in SPLITS}


def make_dataset(corpus: Corpus, block_size: int = 8, vocab: Vocab | None = None) -> Dataset:
    """Split ``corpus`` like the lecture and build examples with ``block_size`` context.

    ``vocab`` defaults to the corpus's own; pass a checkpoint's vocabulary to evaluate it on
    another corpus (a character it does not know is a clear error).
    """
    vocab = vocab or corpus.vocab
    xs, ys = {}, {}
    split_words = corpus.split_words()
    empty = [s for s, words in split_words.items() if not words]
    if empty:
        raise CorpusError(
            f"{corpus.source}: {len(corpus.words)} word(s) leave the {' and '.join(empty)} "
            "split(s) empty (80/10/10); use at least 10 words"
        )
    for split, words in split_words.items():
        xs[split], ys[split] = build_examples(words, vocab, block_size)
    return Dataset(corpus, vocab, block_size, xs, ys)


def load_corpus(path: str | os.PathLike[str] | None = None) -> Corpus:
    """``path``'s corpus, or the built-in one (US SSA baby names) when ``path`` is None."""
    if path is None:
        from interp.babynames import builtin_corpus

        return builtin_corpus()
    return read_corpus(path)
