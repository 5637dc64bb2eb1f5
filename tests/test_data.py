import pytest
import torch

from interp.babynames import builtin_corpus
from interp.data import Vocab, build_examples, load_corpus, make_dataset, read_corpus
from interp.errors import ConfigError, CorpusError


def test_lecture_split_counts(names_path):
    corpus = read_corpus(names_path)
    assert len(corpus.words) == 32033
    data = make_dataset(corpus, block_size=8)
    assert data.counts() == {"train": 182625, "val": 22655, "test": 22866}
    assert data.vocab.itos == ".abcdefghijklmnopqrstuvwxyz"


def test_examples_match_makemore():
    vocab = Vocab.from_words(["emma"])
    assert vocab.itos == ".aem"
    x, y = build_examples(["emma"], vocab, block_size=3)
    # ... -> e, ..e -> m, .em -> m, emm -> a, mma -> .
    assert [vocab.decode(row) for row in x.tolist()] == ["...", "..e", ".em", "emm", "mma"]
    assert vocab.decode(y.tolist()) == "emma."
    assert x.dtype == torch.long and x.shape == (5, 3)


def test_split_is_deterministic_and_disjoint(tiny_corpus_path):
    corpus = read_corpus(tiny_corpus_path)
    a, b = corpus.split_words(), corpus.split_words()
    assert a == b
    assert sum(len(v) for v in a.values()) == len(corpus.words)
    assert len(a["train"]) == int(0.8 * len(corpus.words))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \n\n \t\n", "is empty"),
        (b"anna\nbob\n\xff\xfeeve\n", ":3: bytes that are not UTF-8"),
        (b"anna\nmr.bob\n", ":2: the word 'mr.bob' contains '.'"),
    ],
)
def test_bad_corpus_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "words.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match="words.txt") as info:
        read_corpus(path)
    assert message in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        read_corpus(tmp_path)


def test_blank_lines_and_whitespace_are_cleaned(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("  anna \n\n bob\n")
    assert read_corpus(path).words == ("anna", "bob")


@pytest.mark.parametrize("block_size", [0, -3])
def test_block_size_must_be_positive(tiny_corpus_path, block_size):
    with pytest.raises(ConfigError, match="block size"):
        make_dataset(read_corpus(tiny_corpus_path), block_size)


def test_unknown_character_for_checkpoint_vocab(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("abc\n" * 20 + "zoe\n")
    with pytest.raises(CorpusError, match="not in the vocabulary"):
        make_dataset(read_corpus(path), 3, vocab=Vocab(".abc"))


def test_builtin_corpus_offline_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    corpus = builtin_corpus()
    assert corpus.source == "builtin:babynames-2017"
    assert len(corpus.words) == 29910  # unique a-z names given in 2017
    assert all(w.isascii() and w.isalpha() and w.islower() for w in corpus.words)
    assert (tmp_path / "babynames-2017.txt").is_file()
    again = load_corpus(None)
    assert again.words == corpus.words and again.sha256 == corpus.sha256


def test_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes(b"\xef\xbb\xbfemma\r\nolivia\r\n")
    corpus = read_corpus(path)
    assert corpus.words == ("emma", "olivia") and "\ufeff" not in corpus.vocab.itos


def test_source_is_an_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "w.txt").write_text("anna\n")
    monkeypatch.chdir(tmp_path)
    assert read_corpus("w.txt").source == str(tmp_path / "w.txt")
