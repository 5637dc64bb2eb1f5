import math

import pytest
import torch
from einops import rearrange

import models
from interp.errors import ConfigError
from interp.hooks import HookedModel
from models.dense import (
    block_mask,
    conv_distance,
    conv_to_dense,
    dense_to_conv,
    level_to_dense,
    masked_tied_dense,
)


@pytest.mark.parametrize("preset", ["wavenet-22k", "mlp-22k", "wavenet-76k"])
def test_dense_equivalent_reproduces_every_level(preset):
    torch.manual_seed(0)
    model = HookedModel(models.build_preset(preset)).eval()
    idx = torch.randint(0, 27, (64, 8))
    _, cache = model.run_with_cache(idx)
    n_items = 8
    for info in model.structure:
        x = cache[f"levels.{info.index}.hook_in"]  # (batch, groups, fuse * d_in)
        flat_in = rearrange(x, "b g f -> b (g f)")  # the level's items, flattened in order
        dense = level_to_dense(model.model.levels[info.index], n_items)
        pre = rearrange(cache[f"levels.{info.index}.hook_pre"], "b g h -> b (g h)")
        torch.testing.assert_close(flat_in @ dense.T, pre, rtol=1e-5, atol=1e-5)
        n_items = info.n_groups


def test_structure_of_the_dense_matrix():
    w = torch.randn(3, 2 * 5)  # d_hidden 3, fuse 2, d_in 5
    dense = conv_to_dense(w, n_items=8, fuse=2)
    assert dense.shape == (4 * 3, 8 * 5)
    d4 = rearrange(dense, "(g h) (n d) -> g h n d", g=4, n=8)
    mask = block_mask(8, 2)
    assert mask.tolist()[1] == [False, False, True, True, False, False, False, False]
    for g in range(4):
        assert torch.all(d4[g][:, ~mask[g]] == 0)  # zeros between distant positions
        assert torch.equal(d4[g][:, mask[g]], d4[0][:, mask[0]])  # the same block everywhere
    torch.testing.assert_close(dense_to_conv(dense, 8, 2), w)  # and back


def test_untied_pattern():
    blocks = torch.randn(2, 3, 2, 4)
    dense = masked_tied_dense(blocks, block_mask(4, 2), torch.tensor([1, 0]))
    d4 = rearrange(dense, "(g h) (n d) -> g h n d", g=2, n=4)
    assert torch.equal(d4[0][:, 0:2], blocks[1]) and torch.equal(d4[1][:, 2:4], blocks[0])
    with pytest.raises(ConfigError):
        masked_tied_dense(blocks, torch.ones(2, 4, dtype=torch.bool), torch.tensor([0, 0]))


def test_conv_distance_zero_for_tied_and_analytic_for_random():
    w = torch.randn(16, 2 * 6)
    assert conv_distance(conv_to_dense(w, 8, 2), 8, 2) == pytest.approx(0, abs=1e-6)
    torch.manual_seed(0)
    for groups, fuse in [(4, 2), (2, 4), (1, 8)]:
        d = torch.randn(groups * 200, 8 * 10)
        expected = math.sqrt(1 - 1 / groups**2)
        assert conv_distance(d, 8, fuse) == pytest.approx(expected, abs=0.01)


def test_bad_grouping():
    with pytest.raises(ConfigError, match="cannot be cut"):
        block_mask(8, 3)


def test_nearest_conv_distance_finds_a_shuffled_conv_and_bounds_random():
    from models.dense import nearest_conv_distance

    torch.manual_seed(0)
    w = torch.randn(12, 2 * 5)
    dense = conv_to_dense(w, 8, 2)  # 48 units = 4 windows x 12 filters
    shuffled = dense[torch.randperm(dense.shape[0])]
    assert nearest_conv_distance(shuffled, 8, 2) < 1e-6
    random = torch.randn(48, 8 * 5)
    d = nearest_conv_distance(random, 8, 2)
    # Keeping one window (a quarter of the energy) at best, and tying costs more: close to 1.
    assert 0.866 < d <= 1.0
    assert nearest_conv_distance(random, 8, 8) < 1e-6  # one window: any layer is a "conv"
