import json

import pytest

from analyses import weights
from interp.cli import main


def test_cli_writes_json_and_figures(tiny_runs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "weights",
            *map(str, tiny_runs),
            "--out",
            str(out),
            "--quiet",
            "--erf-examples",
            "32",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "weights.json").read_text())
    mlp, wn = report["runs"]
    lv = mlp["levels"][0]
    assert lv["items"] == 8 and 1 <= lv["effective_positions"] <= 8
    assert lv["init"]["effective_positions"] > 0 and "2" in lv["shift_sharing_calibrated"]
    assert len(lv["block_cosines"]) == 8
    assert set(lv["nearest_conv_distance"]) == {"2", "4"}
    assert 0 < lv["nearest_conv_distance"]["2"] <= 1 and "nearest_conv_distance" in lv["init"]
    # The WaveNet's dense equivalents are exactly masked and tied.
    for level in wn["levels"][:-1]:
        assert level["conv_distance_of_dense_equivalent"] == pytest.approx(0, abs=1e-6)
    assert wn["levels"][0]["effective_positions"] <= 2 + 1e-6
    assert wn["levels"][0]["shift_sharing"]["2"] == pytest.approx(1.0)
    for profile in mlp["erf"] + wn["erf"]:
        assert len(profile) == 8 and sum(profile) == pytest.approx(1.0)
    assert [row["step"] for row in mlp["over_training"]] == [0, 40, 80]
    assert len(mlp["embedding_pca"]["coords"]) == len(mlp["vocab"])
    for stem in (
        "dense_vs_conv",
        "block_norms",
        "receptive_field",
        "embeddings_pca",
        "weights_over_training",
    ):
        assert (out / f"{stem}.png").stat().st_size > 1000 and (out / f"{stem}.svg").is_file()
    assert "effective positions per unit" in report["finding"]


def test_errors_and_module_entry(tiny_runs, tmp_path, capsys):
    code = main(["analyze", "weights", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "not a run directory" in err
    assert weights.main([str(tiny_runs[1]), "--out", str(tmp_path / "o"), "--quiet"]) == 0
