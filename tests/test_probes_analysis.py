import json

import numpy as np
import pytest
import torch

from analyses import probes
from interp.cli import main
from interp.ngrams import ngram_target
from interp.probing import probe


def test_one_hot_code_of_one_position_is_recovered_there_and_chance_elsewhere():
    """A synthetic 'model' whose activations are a one-hot code of position 3's character."""
    rng = np.random.default_rng(0)
    contexts = rng.integers(0, 27, size=(3000, 8))
    features = np.eye(27)[contexts[:, 3]] + 0.01 * rng.normal(size=(3000, 27))
    at_3 = probe(features, ngram_target(contexts, 3, 1, 27).labels)
    assert at_3.accuracy == 1.0
    for p in (0, 5, 7):
        elsewhere = probe(features, ngram_target(contexts, p, 1, 27).labels)
        assert elsewhere.accuracy < 1 / 27 + 0.03  # chance: 27 balanced classes


def test_cli_writes_json_and_figures(tiny_runs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "probes",
            *map(str, tiny_runs),
            "--out",
            str(out),
            "--examples",
            "250",
            "--quiet",
            "--top-k",
            "10",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "probes.json").read_text())
    mlp, wn = report["runs"]
    assert {r["relation"] for r in mlp["rows"]} == {"inside"}
    assert {r["relation"] for r in wn["rows"]} == {"inside", "outside", "partial"}
    row = wn["rows"][0]
    for key in (
        "accuracy",
        "majority",
        "control_accuracy",
        "selectivity",
        "compression",
        "init_accuracy",
        "init_compression",
    ):
        assert isinstance(row[key], float)
    assert row["selectivity"] == pytest.approx(row["accuracy"] - row["control_accuracy"])
    # 15 aligned n-gram targets per group; WaveNet groups: 4 + 2 + 1.
    assert len(mlp["rows"]) == 15 and len(wn["rows"]) == 15 * 7
    assert "level 2" in report["summary"]["wavenet"]
    erasure = wn["erasure"]
    assert [(e["level"], e["group"]) for e in erasure] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 0),
        (1, 1),
        (2, 0),
    ]
    assert erasure[0]["target"] == "2-gram@0" and erasure[-1]["target"] == "8-gram@0"
    for e in erasure:
        assert e["rank"] >= 1
        for key in (
            "delta_loss_leace",
            "delta_loss_control_leace",
            "delta_loss_random",
            "variance_removed_leace",
            "variance_removed_control_leace",
            "variance_removed_random",
        ):
            assert isinstance(e[key], float), key
    assert isinstance(row["gain_over_prior"], float)
    for stem in ("probe_accuracy_by_level", "probe_controls"):
        assert (out / f"{stem}.png").stat().st_size > 1000
    assert "outside" in report["finding"]


def test_errors_and_module_entry(tiny_runs, tmp_path, capsys):
    assert (
        main(["analyze", "probes", str(tiny_runs[0]), "--out", str(tmp_path), "--top-k", "0"]) == 2
    )
    assert "--top-k >= 1" in capsys.readouterr().err
    torch.manual_seed(0)
    assert (
        probes.main(
            [str(tiny_runs[0]), "--out", str(tmp_path / "o"), "--examples", "100", "--quiet"]
        )
        == 0
    )


def test_variance_matched_null_removes_the_requested_variance():
    from interp.erasure import variance_matched_eraser

    g = torch.Generator().manual_seed(0)
    scales = torch.linspace(3, 0.1, 32)
    acts = torch.randn(4000, 32, generator=g) * scales
    total = acts.var(dim=0).sum().item()
    for target in (0.2 * total, 0.5 * total):
        erase = variance_matched_eraser(acts, 8, target, g)
        removed = (acts - erase(acts)).pow(2).sum(1).mean().item()
        assert removed == pytest.approx(target, rel=0.25)
