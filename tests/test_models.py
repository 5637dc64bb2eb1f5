import pytest
import torch

import models
from interp.errors import ConfigError


@pytest.mark.parametrize(
    ("preset", "params"),
    [("mlp-22k", 22097), ("wavenet-22k", 22397), ("wavenet-76k", 76579)],
)
def test_lecture_parameter_counts(preset, params):
    assert models.build_preset(preset).n_params() == params


def test_mlp_76k_matches_wavenet_76k_within_one_percent():
    mlp = models.build_preset("mlp-76k").n_params()
    assert isinstance(models.build_preset("mlp-76k"), models.FlatMLP)
    assert abs(mlp - 76579) / 76579 < 0.01


def test_structure_describes_receptive_fields():
    (mlp_level,) = models.build_preset("mlp-22k").structure()
    assert mlp_level.groups == ((0, 8),) and mlp_level.fan_in == 80
    wn = models.build_preset("wavenet-76k").structure()
    assert [lv.groups for lv in wn] == [
        ((0, 2), (2, 4), (4, 6), (6, 8)),
        ((0, 4), (4, 8)),
        ((0, 8),),
    ]
    assert [lv.receptive_field for lv in wn] == [2, 4, 8]
    assert [lv.fan_in for lv in wn] == [48, 256, 256]


@pytest.mark.parametrize("block_size", [1, 3, 6, 12])
def test_wavenet_needs_power_of_two(block_size):
    with pytest.raises(ConfigError, match="power of two"):
        models.build("wavenet", 27, block_size, 8, 16)


def test_other_block_sizes():
    assert len(models.build("wavenet", 27, 16, 8, 16).levels) == 4
    mlp = models.build("mlp", 27, 5, 8, 16)
    assert mlp(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 27)


def test_unknown_preset_and_kind():
    with pytest.raises(ConfigError, match="wavenet-76k"):
        models.build_preset("wavenet-1m")
    with pytest.raises(ConfigError, match="unknown model kind"):
        models.build("transformer", 27, 8, 8, 8)


def test_lecture_initialisation():
    torch.manual_seed(0)
    model = models.build_preset("wavenet-76k")
    w0 = model.levels[0].linear.weight  # (d_hidden, fan_in)
    assert w0.std().item() == pytest.approx(48**-0.5, rel=0.05)
    assert model.head.weight.std().item() == pytest.approx(0.1 * 128**-0.5, rel=0.1)
    assert torch.all(model.head.bias == 0)
    # Initial loss is close to uniform: -log(1/27) = 3.296.
    idx = torch.randint(0, 27, (2048, 8))
    loss = torch.nn.functional.cross_entropy(model(idx), torch.randint(0, 27, (2048,)))
    assert loss.item() == pytest.approx(3.296, abs=0.05)


def test_batchnorm_uses_batch_and_group_axes():
    model = models.build_preset("wavenet-22k")
    model.train()
    x = torch.randint(0, 27, (64, 8))
    h = model.embed(x)
    level = model.levels[0]
    pre = level.linear(h.reshape(64, 4, -1))  # (batch, groups, hidden)
    mean = pre.mean(dim=(0, 1))
    var = pre.var(dim=(0, 1), unbiased=False)
    expected = torch.tanh((pre - mean) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(level(h), expected, atol=1e-5, rtol=1e-4)


def test_tanh_is_torch_tanh_forward_and_backward():
    from models.levelled import SIGMOID_TANH_MIN, tanh

    # large enough to take the sigmoid form
    x = (torch.randn(SIGMOID_TANH_MIN) * 4).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = tanh(x), torch.tanh(x_ref)
    assert "SigmoidTanh" in type(y.grad_fn).__name__
    assert (y - y_ref).abs().max() < 3e-7
    assert y.abs().max() <= 1
    grad = torch.randn_like(y)
    (g,) = torch.autograd.grad(y, x, grad, create_graph=True)
    (g_ref,) = torch.autograd.grad(y_ref, x_ref, grad, create_graph=True)
    assert torch.allclose(g, g_ref, atol=1e-6)
    (gg,) = torch.autograd.grad(g.sum(), x)  # double backward
    (gg_ref,) = torch.autograd.grad(g_ref.sum(), x_ref)
    assert torch.allclose(gg, gg_ref, atol=1e-5)


def test_tanh_works_under_torch_func_and_keeps_torch_tanh_elsewhere():
    from torch.func import jacrev, jvp, vmap

    from models.levelled import SIGMOID_TANH_MIN, _SigmoidTanh, tanh

    x = torch.randn(3, SIGMOID_TANH_MIN)
    assert torch.allclose(vmap(tanh)(x), torch.tanh(x), atol=3e-7)
    small = torch.randn(5)
    assert torch.allclose(jacrev(_SigmoidTanh.apply)(small), jacrev(torch.tanh)(small), atol=1e-6)
    tangent = torch.randn(5)
    _, out = jvp(_SigmoidTanh.apply, (small,), (tangent,))
    assert torch.allclose(out, jvp(torch.tanh, (small,), (tangent,))[1], atol=1e-6)
    # small tensors and other dtypes take torch.tanh, rounding included
    for t in (torch.randn(100), torch.randn(SIGMOID_TANH_MIN).to(torch.bfloat16)):
        assert torch.equal(tanh(t), torch.tanh(t))
    assert type(tanh(torch.randn(10, requires_grad=True)).grad_fn).__name__ == "TanhBackward0"
