import re

import pytest
import torch

import models
from interp.errors import HookNameError
from interp.hooks import HookedModel

LEVEL_POINTS = ("hook_in", "hook_pre", "hook_norm", "hook_post")


def wrapped(preset: str) -> HookedModel:
    torch.manual_seed(0)
    return HookedModel(models.build_preset(preset))


def test_hook_names_and_shapes_wavenet():
    shapes = wrapped("wavenet-76k").hook_shapes()
    assert list(shapes)[0] == "hook_embed" and list(shapes)[-1] == "hook_logits"
    assert shapes["hook_embed"] == ("batch", 8, 24)
    assert shapes["levels.0.hook_in"] == ("batch", 4, 48)
    assert shapes["levels.1.hook_in"] == ("batch", 2, 256)
    assert shapes["levels.2.hook_in"] == ("batch", 1, 256)
    for i, groups in enumerate([4, 2, 1]):
        for p in LEVEL_POINTS[1:]:
            assert shapes[f"levels.{i}.{p}"] == ("batch", groups, 128)
    assert shapes["hook_logits"] == ("batch", 27)
    assert len(shapes) == 1 + 3 * 4 + 1


def test_hook_names_and_shapes_mlp_keep_group_axis():
    shapes = wrapped("mlp-22k").hook_shapes()
    assert shapes == {
        "hook_embed": ("batch", 8, 10),
        "levels.0.hook_in": ("batch", 1, 80),
        "levels.0.hook_pre": ("batch", 1, 200),
        "levels.0.hook_norm": ("batch", 1, 200),
        "levels.0.hook_post": ("batch", 1, 200),
        "hook_logits": ("batch", 27),
    }


@pytest.mark.parametrize("preset", ["mlp-22k", "wavenet-22k"])
def test_cache_matches_plain_forward(preset):
    model = wrapped(preset).eval()
    idx = torch.randint(0, 27, (16, 8))
    logits, cache = model.run_with_cache(idx)
    torch.testing.assert_close(logits, model.model(idx), rtol=0, atol=0)
    torch.testing.assert_close(cache["hook_logits"], logits)
    last = len(model.structure) - 1
    for i in range(last + 1):
        torch.testing.assert_close(
            cache[f"levels.{i}.hook_post"], torch.tanh(cache[f"levels.{i}.hook_norm"])
        )
        w = model.model.levels[i].linear.weight
        torch.testing.assert_close(
            cache[f"levels.{i}.hook_pre"], cache[f"levels.{i}.hook_in"] @ w.T
        )
    final = cache[f"levels.{last}.hook_post"][:, 0]
    torch.testing.assert_close(logits, model.model.head(final))


def test_filters_name_glob_regex_list_callable():
    model = wrapped("wavenet-22k")
    assert model.resolve_names("hook_embed") == ["hook_embed"]
    assert model.resolve_names("levels.*.hook_post") == [f"levels.{i}.hook_post" for i in range(3)]
    assert model.resolve_names(re.compile(r"levels\.[01]\.hook_pre")) == [
        "levels.0.hook_pre",
        "levels.1.hook_pre",
    ]
    assert model.resolve_names(["hook_logits", "hook_embed"]) == ["hook_embed", "hook_logits"]
    assert model.resolve_names(lambda n: n.endswith("norm")) == [
        f"levels.{i}.hook_norm" for i in range(3)
    ]
    assert len(model.resolve_names(None)) == 14


def test_unknown_hook_name_lists_valid_names():
    model = wrapped("mlp-22k")
    with pytest.raises(HookNameError, match=r"levels\.3\.hook_post.*valid hook points: hook_embed"):
        model.run_with_cache(torch.zeros(1, 8, dtype=torch.long), names_filter="levels.3.hook_post")
    with pytest.raises(HookNameError, match="no pattern"):
        model.resolve_names("blocks.*")


def test_hooks_removed_after_exception():
    model = wrapped("wavenet-22k")

    def boom(x, hook):
        raise RuntimeError("inside hook")

    with pytest.raises(RuntimeError, match="inside hook"):
        model.run_with_hooks(torch.zeros(2, 8, dtype=torch.long), [("levels.1.hook_post", boom)])
    assert not model.has_hooks()
    with pytest.raises(ValueError), model.hooks([("hook_embed", lambda x, hook: None)]):
        assert model.has_hooks()
        raise ValueError
    assert not model.has_hooks()


def test_hooks_can_replace_activations():
    model = wrapped("wavenet-22k").eval()
    idx = torch.randint(0, 27, (8, 8))
    clean = model(idx)

    def zero_ablate(x, hook):
        return torch.zeros_like(x)

    ablated = model.run_with_hooks(idx, [("levels.2.hook_post", zero_ablate)])
    # With the last hidden layer zeroed, only the head's bias is left.
    torch.testing.assert_close(ablated, model.model.head.bias.expand(8, -1))
    assert not torch.allclose(clean, ablated)
    seen = []
    model.run_with_hooks(idx, [("levels.*.hook_in", lambda x, hook: seen.append(hook.name))])
    assert seen == ["levels.0.hook_in", "levels.1.hook_in", "levels.2.hook_in"]
    torch.testing.assert_close(model(idx), clean)


def test_cache_missing_name_is_clear():
    model = wrapped("mlp-22k").eval()
    _, cache = model.run_with_cache(torch.zeros(1, 8, dtype=torch.long), "hook_embed")
    with pytest.raises(HookNameError, match="cached hook points: hook_embed"):
        cache["hook_logits"]


def test_gradients_flow_through_cache_when_not_detached():
    model = wrapped("wavenet-22k")
    _, cache = model.run_with_cache(
        torch.randint(0, 27, (4, 8)), "levels.0.hook_post", detach=False
    )
    cache["levels.0.hook_post"].sum().backward()
    assert model.model.levels[0].linear.weight.grad is not None
