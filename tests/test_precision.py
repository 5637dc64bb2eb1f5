import json

import pytest
import torch

from analyses import precision
from interp.cli import main


def test_int8_quantisation_rounds_each_row_to_127_levels(tiny_runs):
    from interp.checkpoint import load_run

    model = load_run(tiny_runs[1]).model
    q = precision.quantise_int8(model)
    w, wq = model.model.levels[0].linear.weight, q.model.levels[0].linear.weight
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    levels = wq / scale
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)
    assert (w - wq).abs().max() <= scale.max() / 2 + 1e-7
    assert torch.equal(q.model.head.bias, model.model.head.bias)  # biases untouched
    assert not torch.equal(w, wq)


def test_cli_reports_deltas_and_the_gap(tiny_runs, tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["analyze", "precision", *map(str, tiny_runs), "--out", str(out)]) == 0
    report = json.loads((out / "precision.json").read_text())
    mlp, wn = report["runs"]
    assert mlp["delta_from_float32"]["float32"] == 0
    assert abs(mlp["delta_from_float32"]["bfloat16"]) < 0.05
    assert report["gap"]["value"] == pytest.approx(
        mlp["val_loss"]["float32"] - wn["val_loss"]["float32"]
    )
    assert "than any precision effect" in report["finding"]
    assert (out / "precision.png").stat().st_size > 1000
    assert "float16" in capsys.readouterr().out
