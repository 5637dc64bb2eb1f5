import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from analyses import cancellation
from interp.cli import main


def test_cli_writes_json_and_figures(tiny_runs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "cancellation",
            *map(str, tiny_runs),
            "--out",
            str(out),
            "--examples",
            "300",
            "--probe-examples",
            "200",
            "--quiet",
            "--format",
            "png,pdf",
        ]
    )
    assert code == 0
    report = json.loads((out / "cancellation.json").read_text())
    summary = report["summary"]
    assert set(summary) == {"mlp", "wavenet"}
    mlp0 = summary["mlp"]["level 0"]
    for key in (
        "kappa_mean",
        "kappa_mean_init",
        "kappa_mean_shuffled",
        "excess_over_shuffled",
        "frac_kappa_gt_0.9",
    ):
        assert isinstance(mlp0[key], float)
    assert mlp0["summands"] == 8 and summary["wavenet"]["level 2"]["summands"] == 2
    assert mlp0["excess_over_shuffled"] == pytest.approx(
        mlp0["kappa_mean"] - mlp0["kappa_mean_shuffled"]
    )
    mlp_run = report["runs"][0]
    assert mlp_run["levels"][0]["reconstruction_error"] < 1e-5
    assert len(mlp_run["ablation_delta_loss"]) == 8 and len(mlp_run["sensitivity"][0]) == 8
    assert [row["step"] for row in mlp_run["over_training"]] == [0, 40, 80]
    assert len(mlp_run["probes"]["hook_post"][0]) == 8
    assert "centred" in report["note"] and "mlp: level 0 (8 summands)" in report["finding"]
    for stem in (
        "kappa_distributions",
        "worked_example",
        "ablation_by_position",
        "positions_kept",
        "kappa_over_training",
    ):
        assert (out / f"{stem}.png").stat().st_size > 1000
        assert (out / f"{stem}.pdf").is_file()
    assert "kappa" in capsys.readouterr().out


def test_bad_inputs_are_one_line_errors(tiny_runs, tmp_path, capsys):
    mlp, _ = tiny_runs
    other = tmp_path / "other.txt"
    other.write_text("\n".join(["xyz", "zyx", "qqq"] * 10) + "\n")
    no_init = tmp_path / "no_init"
    shutil.copytree(mlp, no_init)
    (no_init / "snapshots" / "step_0000000.safetensors").unlink()
    bad_kind = tmp_path / "bad_kind"
    shutil.copytree(mlp, bad_kind)
    config = json.loads((bad_kind / "config.json").read_text())
    config["model"]["kind"] = "transformer"
    (bad_kind / "config.json").write_text(json.dumps(config))
    cases = [
        ([str(tmp_path)], "not a run directory"),
        ([str(mlp), "--data", str(other)], "vocabulary"),
        ([str(no_init)], "no snapshot at step 0"),
        ([str(bad_kind)], "unknown model kind 'transformer'"),
    ]
    for argv, message in cases:
        code = main(
            [
                "analyze",
                "cancellation",
                *argv,
                "--out",
                str(tmp_path / "o"),
                "--quiet",
                "--no-probes",
                "--examples",
                "50",
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_module_entry_point(tiny_runs, tmp_path):
    code = cancellation.main(
        [
            str(tiny_runs[1]),
            "--out",
            str(tmp_path / "o"),
            "--no-probes",
            "--examples",
            "100",
            "--quiet",
        ]
    )
    assert code == 0 and (tmp_path / "o" / "cancellation.json").is_file()


def _manual_ablated_loss(model, x, y, p):
    """Forward pass written out by hand, with position p's level-0 contribution replaced by its
    mean over the batch: an independent check of the hook-based ablation."""
    m = model.model
    h = m.embed(x)
    for i, level in enumerate(m.levels):
        fused = rearrange(h, "b (g k) d -> b g (k d)", k=level.fuse)
        pre = fused @ level.linear.weight.T
        if i == 0:
            g, k = divmod(p, level.fuse)
            d = m.n_embd
            c = h[:, p] @ level.linear.weight[:, k * d : (k + 1) * d].T
            pre[:, g] += c.mean(dim=0) - c
        groups = pre.shape[1]
        normed = level.norm(rearrange(pre, "b g h -> (b g) h"))
        h = torch.tanh(rearrange(normed, "(b g) h -> b g h", g=groups))
    return F.cross_entropy(m.head(h[:, 0]), y).item()


@pytest.mark.parametrize("which", [0, 1])
def test_ablation_replaces_exactly_one_position(tiny_runs, which):
    from interp.checkpoint import load_run

    run = load_run(tiny_runs[which])
    data = run.dataset()
    x, y = data.x["val"][:200], data.y["val"][:200]
    with torch.no_grad():
        deltas = cancellation.ablation_delta_loss(run.model, x, y)
        clean = F.cross_entropy(run.model(x), y).item()
        for p in range(8):
            expected = _manual_ablated_loss(run.model, x, y, p) - clean
            assert deltas[p] == pytest.approx(expected, abs=1e-5), p


def test_sensitivity_ignores_unchanged_characters():
    from interp.hooks import HookedModel
    from models import build_preset

    torch.manual_seed(0)
    model = HookedModel(build_preset("mlp-22k")).eval()
    x = torch.randint(1, 27, (300, 8))
    x[:, 0] = 0  # position 0 is always padding: resampling never changes it
    s = cancellation.position_sensitivity(model, x, seed=0)
    assert s[0][0] != s[0][0]  # NaN: nothing to measure
    assert all(0 < v < 2 for v in s[0][1:])
