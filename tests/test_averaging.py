import json

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file
from torch import nn

from interp.averaging import WeightAverage
from interp.checkpoint import load_run, load_trainer_state, save_trainer_state
from interp.data import read_corpus
from interp.errors import CheckpointError, ConfigError
from interp.evaluate import mean_loss
from interp.recipes import DEFAULT
from interp.training import train


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_average_moves_by_the_decay_rule_and_copies_integer_buffers():
    model = small_model()
    start = [t.detach().clone() for t in model.state_dict().values()]
    average = WeightAverage(model, decay=0.2)
    with torch.no_grad():  # the model jumps to new weights and stays there
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.add_(2.0)
        model[1].num_batches_tracked.add_(7)
    for _ in range(3):
        average.update(model)
    # each update keeps d_n of the distance: d_1 = 2/11, then the cap: d_2 = d_3 = 0.2
    keep = (2 / 11) * 0.2 * 0.2
    state, target = average.module.state_dict(), model.state_dict()
    for (name, now), before in zip(state.items(), start, strict=True):
        if name.endswith("num_batches_tracked"):
            assert now.item() == 7
        else:
            expected = target[name] + (before - target[name]) * keep
            assert torch.allclose(now, expected, atol=1e-6), name
    assert all(not p.requires_grad for p in average.module.parameters())
    assert average.decay_at(10_000) == 0.2


def test_bad_decays_are_refused():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(small_model(), decay=1.0)
    with pytest.raises(ConfigError, match="ema"):
        DEFAULT.with_overrides(ema=1.5)


@pytest.mark.parametrize("ema", [0.9, 0.0])
def test_the_run_model_is_the_average(tmp_path, tiny_corpus_path, ema):
    recipe = DEFAULT.with_overrides(steps=60, ema=ema)
    result = train(
        tmp_path / "run", read_corpus(tiny_corpus_path), recipe=recipe, progress=False, **TINY
    )
    saved = load_file(str(tmp_path / "run" / "model.safetensors"))
    raw = load_file(str(tmp_path / "run" / "trainer_state.safetensors"))
    returned = result.model.model.state_dict()
    assert all(torch.equal(saved[k], returned[k]) for k in saved)  # saved = returned
    weight = "levels.0.linear.weight"
    assert torch.equal(saved[weight], raw[f"model.{weight}"]) == (ema == 0)
    assert any(k.startswith("average.") for k in raw) == (ema > 0)
    run = load_run(tmp_path / "run")  # the saved weights give the loss train() reported
    data = run.dataset()
    loss = mean_loss(run.model, data.x["val"], data.y["val"])
    assert loss == pytest.approx(result.losses["val"], abs=1e-6)
    # the evaluations during training scored the same model: the last one is that loss
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    last = [json.loads(r) for r in rows if '"eval"' in r][-1]
    assert last["step"] == 60 and last["val_loss"] == pytest.approx(loss, abs=1e-6)


def test_a_trainer_state_without_the_average_is_refused(tmp_path):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "trainer_state.safetensors"
    save_trainer_state(path, model, optimizer, torch.Generator(), step=3)
    with pytest.raises(CheckpointError, match="holds no weight average"):
        load_trainer_state(path, model, optimizer, torch.Generator(), average=small_model())
