import pytest
import torch

import models
from interp.contributions import (
    batchnorm_scale,
    cancellation_index,
    child_contributions,
    level_contributions,
    shuffle_signs,
)
from interp.hooks import HookedModel


@pytest.mark.parametrize("preset", ["mlp-22k", "wavenet-22k"])
def test_contributions_sum_exactly_to_hook_pre(preset):
    torch.manual_seed(0)
    model = HookedModel(models.build_preset(preset)).eval()
    idx = torch.randint(0, 27, (256, 8))
    for level in range(len(model.structure)):
        c = level_contributions(model, idx, level)
        info = model.structure[level]
        assert c.raw.shape == (256, info.n_groups, info.fuse, info.d_hidden)
        torch.testing.assert_close(c.raw.sum(dim=2), c.pre, rtol=1e-5, atol=1e-5)
        assert c.max_reconstruction_error() < 1e-5


@pytest.mark.parametrize("preset", ["mlp-22k", "wavenet-22k"])
def test_centred_contributions_match_batchnorm_output(preset):
    # With running statistics equal to the data's, centred sums are BatchNorm's output - beta,
    # at every level (BatchNorm pools the batch and group axes; so must the centring).
    torch.manual_seed(0)
    model = HookedModel(models.build_preset(preset))
    idx = torch.randint(0, 27, (512, 8))
    for level in model.model.levels:
        level.norm.momentum = None  # cumulative average: after one pass, exactly the batch's
        level.norm.reset_running_stats()
    with torch.no_grad():
        model.train()(idx)
    model.eval()
    for i, level in enumerate(model.model.levels):
        c = level_contributions(model, idx, i)
        _, cache = model.run_with_cache(idx, f"levels.{i}.hook_norm")
        expected = cache[f"levels.{i}.hook_norm"] - level.norm.bias
        torch.testing.assert_close(c.centred.sum(dim=2), expected, rtol=1e-4, atol=1e-4)
        assert batchnorm_scale(level).shape == (level.norm.num_features,)


def test_child_contributions_by_hand():
    x = torch.tensor(
        [[[1.0, 2.0, 3.0, 4.0]]]
    )  # (batch 1, group 1, fan_in 4): children (1,2), (3,4)
    w = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # one unit: reads child 0's first, child 1's second
    c = child_contributions(x, w, fuse=2)
    assert c.tolist() == [[[[1.0], [4.0]]]]


def test_cancellation_index_hand_built():
    same_sign = torch.tensor([[1.0], [2.0], [0.5]])  # (fuse 3, unit 1)
    assert cancellation_index(same_sign).item() == pytest.approx(0.0)
    exact = torch.tensor([[1.5], [-1.0], [-0.5]])
    assert cancellation_index(exact).item() == pytest.approx(1.0)
    partial = torch.tensor([[3.0], [-1.0]])  # |2| / 4
    assert cancellation_index(partial).item() == pytest.approx(0.5)
    assert torch.isnan(cancellation_index(torch.zeros(2, 1))).all()


def test_shuffled_sign_null_behaves_as_expected():
    g = torch.Generator().manual_seed(0)
    # Two equal magnitudes, random signs: kappa is 0 or 1 with probability 1/2 each.
    c = torch.ones(100_000, 2, 1)
    kappa = cancellation_index(shuffle_signs(c, g), dim=1)
    assert set(kappa.unique().tolist()) == {0.0, 1.0}
    assert kappa.mean().item() == pytest.approx(0.5, abs=0.01)
    # Magnitudes are kept; more summands cancel more under the null.
    x = torch.randn(20_000, 8, 1, generator=g)
    shuffled = shuffle_signs(x, g)
    torch.testing.assert_close(shuffled.abs(), x.abs())
    k2 = cancellation_index(shuffle_signs(x[:, :2], g), dim=1).mean()
    k8 = cancellation_index(shuffled, dim=1).mean()
    assert k8 > k2 + 0.2
    # Constructed data with aligned signs is far below its shuffled null.
    aligned = x.abs()
    assert cancellation_index(aligned, dim=1).mean() == 0
    assert cancellation_index(shuffle_signs(aligned, g), dim=1).mean() > 0.5
