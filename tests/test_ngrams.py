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
    # The control mixes types across the real classes: it is not a relabelling of them.
    crosstab = {(int(a), int(b)) for a, b in zip(t.labels, c, strict=True)}
    real_classes_per_control = [len({a for a, b in crosstab if b == lab}) for lab in set(c)]
    assert max(real_classes_per_control) > 1
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
    assert good.compression > 3 and good.gain_over_prior > 3
    assert 0.9 < bad.compression < 1.1 and 0.9 < bad.gain_over_prior < 1.1
    assert good.uniform_bits == bad.uniform_bits == pytest.approx(3000 * np.log2(5))


def test_online_code_by_hand():
    """Four examples, blocks [0, 2) and [2, 4): the first block costs 2 * log2(2) bits; the
    probe trained on it encodes the second. With skewed labels the prior code beats uniform
    while noise features do not beat the prior."""
    from interp.probing import online_codelength

    x = np.array([[0.0], [1.0], [0.0], [1.0]])
    y = np.array([0, 1, 0, 1])
    # A seed whose shuffle puts one example of each class in the first block.
    seed = next(
        s
        for s in range(100)
        if set(y[np.random.default_rng(s).permutation(4)[:2]].tolist()) == {0, 1}
    )
    code = online_codelength(x, y, seed=seed, fractions=(0.5, 1.0))
    assert code.uniform_bits == pytest.approx(4.0)
    first_block = 2.0
    assert first_block < code.online_bits < first_block + 2.0  # the second block is cheaper
    prior_second = -2 * np.log2(2 / 4)  # add-one counts after one of each class: 2/4 each
    assert code.prior_bits == pytest.approx(first_block + prior_second)

    rng = np.random.default_rng(1)
    skewed = (rng.random(4000) < 0.1).astype(int)
    noise = online_codelength(rng.normal(size=(4000, 3)), skewed)
    assert noise.compression > 1.8  # label frequencies alone compress a skewed target ...
    assert 0.9 < noise.gain_over_prior < 1.1  # ... and the features add nothing to them


def test_one_class_target_does_not_divide_by_zero():
    from interp.probing import online_codelength

    code = online_codelength(np.zeros((50, 2)), np.zeros(50, dtype=int))
    assert code.compression == 1.0 and code.gain_over_prior == 1.0
