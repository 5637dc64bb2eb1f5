import pytest
import torch

from interp.weights import (
    block_cosines,
    locality,
    masked_distance,
    position_blocks,
    position_shares,
    shift_sharing,
)
from models.dense import conv_to_dense


def test_locality_on_hand_built_matrices():
    # Unit 0 reads only position 7; unit 1 spreads evenly over all 8 positions.
    blocks = torch.zeros(8, 2, 3)
    blocks[7, 0] = 1.0
    blocks[:, 1] = 1.0
    a = position_shares(blocks)
    assert a[:, 0].tolist() == [0] * 7 + [1]
    assert a[:, 1].tolist() == pytest.approx([1 / 8] * 8)
    m = locality(blocks)
    assert m["effective_positions"] == pytest.approx((1 + 8) / 2)
    assert m["adjacent_pair_share"] == pytest.approx((1 + 0.25) / 2)
    assert m["recent_share"] == pytest.approx((1 + 0.25) / 2)
    assert m["uniform_adjacent_pair_share"] == 0.25


def test_sharing_on_hand_built_matrices():
    torch.manual_seed(0)
    w = torch.randn(5, 2 * 4)  # a conv: d_hidden 5, pairs of 4-d inputs
    dense = conv_to_dense(w, 8, 2)  # (4 groups * 5 units, 8 positions * 4)
    blocks = position_blocks(dense, 8)
    assert shift_sharing(blocks, 2) == pytest.approx(1.0)  # every filter reappears 2 later
    assert masked_distance(blocks, 2) == pytest.approx(0.0, abs=1e-3)
    cos = block_cosines(blocks)
    assert cos[0, 2].item() == pytest.approx(0.0, abs=1e-6)  # different groups' rows
    assert cos[0, 0].item() == pytest.approx(1.0)
    random = torch.randn(8, 64, 24)
    assert shift_sharing(random, 1) < 0.8
    assert masked_distance(random, 2) == pytest.approx((1 - 0.25) ** 0.5, abs=0.05)
