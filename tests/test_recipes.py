import json
import math

import pytest
from conftest import TINY

from interp.checkpoint import load_run
from interp.data import read_corpus
from interp.errors import ConfigError, HookNameError
from interp.evaluate import mean_loss
from interp.recipes import DEFAULT, KARPATHY, RECIPES, get_recipe
from interp.training import resolve_device, train


def test_cosine_schedule_warms_up_then_decays_to_the_final_rate():
    recipe = DEFAULT.with_overrides(steps=1000, warmup=0.1, lr=1e-2, lr_final=1e-4)
    rates = [recipe.lr_at(s) for s in range(1000)]
    assert rates[0] == pytest.approx(1e-4)  # 1/100 of the way up
    assert rates[99] == pytest.approx(1e-2)
    assert max(rates) == pytest.approx(1e-2)
    assert rates[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(rates[99:], rates[100:], strict=False))  # monotone decay


def test_bad_recipe_settings_are_refused():
    with pytest.raises(ConfigError, match="schedule"):
        DEFAULT.with_overrides(schedule="linear")
    with pytest.raises(ConfigError, match="dropout"):
        DEFAULT.with_overrides(dropout=1.0)
    with pytest.raises(ConfigError, match="warmup"):
        DEFAULT.with_overrides(warmup=-0.1)
    with pytest.raises(ConfigError, match="unknown recipe"):
        get_recipe("fastest")
    assert set(RECIPES) == {"default", "karpathy"}


def unigram_loss(data) -> float:
    """Cross-entropy on val of the train split's character frequencies (no context at all)."""
    counts = data.y["train"].bincount(minlength=data.vocab.size).double() + 1e-9
    probs = counts / counts.sum()
    return float(-probs[data.y["val"]].log().mean())


def test_default_recipe_beats_the_unigram_loss_on_a_small_corpus(tmp_path, tiny_corpus_path):
    result = train(
        tmp_path / "run",
        read_corpus(tiny_corpus_path),
        recipe=DEFAULT.with_overrides(steps=300),
        progress=False,
        snapshots="none",
        **TINY,
    )
    baseline = unigram_loss(result.data)
    assert result.losses["val"] < baseline - 0.05, (result.losses, baseline)


def test_dropout_is_training_only_and_leaves_no_hook(tmp_path, tiny_corpus_path):
    recipe = DEFAULT.with_overrides(steps=30, dropout=0.5)
    result = train(
        tmp_path / "run", read_corpus(tiny_corpus_path), recipe=recipe, progress=False, **TINY
    )
    assert all(not hp._forward_hooks for hp in result.model.hook_dict.values())
    run = load_run(tmp_path / "run")  # the saved weights give the loss train() reported
    data = run.dataset()
    assert mean_loss(run.model, data.x["val"], data.y["val"]) == pytest.approx(
        result.losses["val"], abs=1e-6
    )


def test_dropout_at_an_unknown_hook_is_refused_before_writing(tmp_path, tiny_corpus_path):
    recipe = DEFAULT.with_overrides(steps=5, dropout=0.1, dropout_at="levels.9.hook_post")
    with pytest.raises(HookNameError):
        train(tmp_path / "run", read_corpus(tiny_corpus_path), recipe=recipe, progress=False,
              **TINY)  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="not a device"):
        resolve_device("gpu0")
    with pytest.raises(ConfigError, match="only cpu and cuda"):
        resolve_device("meta")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


def test_karpathy_recipe_is_the_lectures():
    assert (KARPATHY.optimizer, KARPATHY.batch_size, KARPATHY.steps) == ("sgd", 32, 200_000)
    assert KARPATHY.lr_at(0) == 0.1 and math.isclose(KARPATHY.lr_at(150_000), 0.01)


@pytest.mark.parametrize("steps", [50, 150, 1000])
def test_warmup_never_exceeds_the_peak(steps):
    recipe = DEFAULT.with_overrides(steps=steps)
    rates = [recipe.lr_at(s) for s in range(steps)]
    assert max(rates) == pytest.approx(recipe.lr) and rates[0] <= recipe.lr


def test_training_statistics_are_read_before_dropout(tmp_path, tiny_corpus_path):
    def stats_at_step_0(dropout):
        recipe = DEFAULT.with_overrides(steps=1, dropout=dropout)
        out = tmp_path / f"d{dropout}"
        train(out, read_corpus(tiny_corpus_path), recipe=recipe, progress=False, stats_every=1,
              snapshots="none", **TINY)  # fmt: skip
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        (row,) = [r for r in rows if r["kind"] == "activations"]
        return row["stats"]["levels.0.hook_post"]

    # Same seed, so same weights and batch: statistics cannot depend on the dropout rate.
    assert stats_at_step_0(0.0) == stats_at_step_0(0.5)
