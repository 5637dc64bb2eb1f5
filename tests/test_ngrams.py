import numpy as np
import pytest

from interp.ngrams import aligned_targets, control_labels, ngram_target, ngram_types


def test_ngram_types_and_topk():
    ctx = np.array([[0, 1, 2, 3], [0, 1, 2, 4], [5, 1, 2, 3]])
    assert ngram_types(ctx, 1, 2, vocab_size=10).tolist() == [12, 12, 12]
    t = ngram_target(ctx, 2, 2, vocab_size=10, top_k=1)
    assert t.labels.tolist() == [0, 1, 0]  # "23" is the most frequent; "24" is other
    assert t.name == "2-gram@2" and list(t.positions) == [2, 3]


def test_aligned_offsets():
    ctx = np.zeros((5, 8), dtype=np.int64)
    names = [t.name for t in aligned_targets(ctx, 27)]
    assert names[:8] == [f"1-gram@{o}" for o in range(8)]
    assert names[8:] == [
        "2-gram@0",
        "2-gram@2",
        "2-gram@4",
        "2-gram@6",
        "4-gram@0",
        "4-gram@4",
        "8-gram@0",
    ]


def test_control_task_is_a_function_of_the_type_with_the_same_distribution():
    rng = np.random.default_rng(0)
    ctx = rng.integers(0, 27, size=(20_000, 8))
    t = ngram_target(ctx, 0, 2, 27, top_k=50)
    c = control_labels(t, seed=1)
    for typ in np.unique(t.types)[:50]:  # one label per n-gram type
        assert len(np.unique(c[t.types == typ])) == 1
    real = np.bincount(t.labels, minlength=51) / len(t.labels)
    ctrl = np.bincount(c, minlength=51) / len(c)
    assert 0.5 * np.abs(real - ctrl).sum() < 0.1
    assert not np.array_equal(c, t.labels)
    assert np.array_equal(c, control_labels(t, seed=1))
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(c, control_labels(t, seed=2))


def test_online_code_separates_signal_from_noise():
    from interp.probing import online_codelength

    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, size=3000)
    informative = np.eye(5)[y] + 0.3 * rng.normal(size=(3000, 5))
    noise = rng.normal(size=(3000, 5))
    good = online_codelength(informative, y)
    bad = online_codelength(noise, y)
    assert good.compression > 3
    assert 0.9 < bad.compression < 1.1
    assert good.uniform_bits == bad.uniform_bits == pytest.approx(3000 * np.log2(5))
