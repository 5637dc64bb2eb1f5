import json
import shutil

import pytest
from helpers import tiny_run

from analyses import cancellation
from interp.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_corpus_path):
    root = tmp_path_factory.mktemp("cancel")
    mlp = tiny_run(
        root / "mlp",
        tiny_corpus_path,
        steps=80,
        snapshots="0,40,80",
        kind="mlp",
        n_embd=4,
        n_hidden=16,
    )
    wn = tiny_run(root / "wn", tiny_corpus_path, steps=80, snapshots="0,80")
    return mlp.run_dir, wn.run_dir


def test_cli_writes_json_and_figures(runs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "cancellation",
            *map(str, runs),
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


def test_bad_inputs_are_one_line_errors(runs, tmp_path, capsys):
    mlp, _ = runs
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


def test_module_entry_point(runs, tmp_path):
    code = cancellation.main(
        [str(runs[1]), "--out", str(tmp_path / "o"), "--no-probes", "--examples", "100", "--quiet"]
    )
    assert code == 0 and (tmp_path / "o" / "cancellation.json").is_file()
