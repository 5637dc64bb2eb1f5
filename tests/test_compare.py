import json
import shutil

import pytest

from interp import checkpoint as ckpt
from interp import compare
from interp.cli import main

PAIR = ("mlp-22k", "wavenet-22k")


@pytest.fixture(scope="module")
def grid_out(tmp_path_factory, tiny_corpus_path):
    out = tmp_path_factory.mktemp("compare")
    code = main(
        ["compare", "--out", str(out), "--data", str(tiny_corpus_path), "--presets",
         ",".join(PAIR), "--seeds", "2", "--steps", "40", "--jobs", "2", "--quiet"]
    )  # fmt: skip
    assert code == 0
    return out


def test_compare_writes_table_json_and_figure(grid_out, capsys):
    summary = json.loads((grid_out / "compare.json").read_text())
    assert list(summary["table"]) == list(PAIR)
    for preset in PAIR:
        row = summary["table"][preset]
        assert row["seeds"] == [0, 1] and row["val"]["n"] == 2
        vals = [r["losses"]["val"] for r in summary["runs"] if r["preset"] == preset]
        assert row["val"]["mean"] == pytest.approx(sum(vals) / 2)
    (test,) = summary["tests"]
    assert (test["flat"], test["hierarchical"]) == PAIR
    assert test["val_difference"] == pytest.approx(
        summary["table"]["mlp-22k"]["val"]["mean"] - summary["table"]["wavenet-22k"]["val"]["mean"]
    )
    # The sentence is built from the measured numbers, not asserted.
    (finding,) = summary["findings"]
    assert f"{summary['table']['mlp-22k']['val']['mean']:.4f}" in finding
    assert f"{abs(test['val_difference']):.4f}" in finding
    params = summary["table"]["mlp-22k"]["params"]  # the tiny corpus has fewer letters
    assert f"| mlp-22k | {params:,} |" in (grid_out / "compare.md").read_text()
    for ext in ("png", "svg"):
        assert (grid_out / f"compare.{ext}").stat().st_size > 1000
    # Each seed is its own initialisation: the two seeds of a preset differ.
    runs = [r for r in summary["runs"] if r["preset"] == "mlp-22k"]
    assert runs[0]["losses"]["val"] != runs[1]["losses"]["val"]


def test_compare_reuses_finished_runs(grid_out, tiny_corpus_path):
    weights = sorted(grid_out.glob("runs/*/model.safetensors"))
    assert len(weights) == 4
    before = [p.stat().st_mtime_ns for p in weights]
    runs = compare.train_grid(grid_out, str(tiny_corpus_path), presets=PAIR, seeds=(0, 1),
                              steps=40, progress=False)  # fmt: skip
    assert [p.stat().st_mtime_ns for p in weights] == before
    assert [r.run_dir.name for r in runs] == [
        "mlp-22k-seed0", "mlp-22k-seed1", "wavenet-22k-seed0", "wavenet-22k-seed1"
    ]  # fmt: skip


def test_welch_marks_a_tie_and_a_difference():
    runs = [{"preset": "a", "losses": {"val": v}} for v in (2.00, 2.01, 1.99)]
    runs += [{"preset": "b", "losses": {"val": v}} for v in (2.001, 1.995, 2.006)]
    tie = compare.welch("a", "b", runs)
    assert tie["p"] > 0.5
    runs += [{"preset": "c", "losses": {"val": v}} for v in (1.90, 1.901, 1.899)]
    clear = compare.welch("a", "c", runs)
    assert clear["p"] < 0.01 and clear["val_difference"] == pytest.approx(0.1)


def test_compare_refuses_unknown_presets(capsys):
    assert main(["compare", "--presets", "mlp-1k"]) == 2
    assert "unknown mlp-1k" in capsys.readouterr().err


def test_a_failed_run_names_its_log(tmp_path, tiny_corpus_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Ab1\n")  # refused by the corpus reader in the child process
    with pytest.raises(compare.CompareError, match=r"training failed .* see .*\.log"):
        compare.train_grid(tmp_path / "out", str(bad), presets=("mlp-22k",), seeds=(0,),
                           steps=5, progress=False)  # fmt: skip


def test_compare_refuses_to_mix_recipes_in_one_folder(grid_out, tiny_corpus_path):
    with pytest.raises(compare.CompareError, match="use another --out"):
        compare.train_grid(grid_out, str(tiny_corpus_path), presets=PAIR, seeds=(0,),
                           recipe="karpathy", steps=40, progress=False)  # fmt: skip


def test_a_run_from_before_a_recipe_setting_existed_is_not_reused(grid_out, tmp_path,
                                                                   tiny_corpus_path):  # fmt: skip
    old = tmp_path / "out" / "runs" / "mlp-22k-seed0"
    shutil.copytree(grid_out / "runs" / "mlp-22k-seed0", old)
    config = json.loads((old / "config.json").read_text())
    del config["recipe"]["ema"]  # as written before the weight average existed
    (old / "config.json").write_text(json.dumps(config))
    assert ckpt.run_progress(old)["recipe"]["ema"] == 0.0  # missing settings read as defaults
    with pytest.raises(compare.CompareError, match=r"ema 0\.0, not 0\.995"):
        compare.train_grid(tmp_path / "out", str(tiny_corpus_path), presets=("mlp-22k",),
                           seeds=(0,), steps=40, progress=False)  # fmt: skip


def test_another_dropout_rate_is_another_comparison(grid_out, tiny_corpus_path):
    with pytest.raises(compare.CompareError, match=r"dropout 0\.05, not 0\.2"):
        compare.train_grid(grid_out, str(tiny_corpus_path), presets=PAIR, seeds=(0,),
                           steps=40, dropout=0.2, progress=False)  # fmt: skip


def test_one_seed_is_no_test_and_the_json_stays_strict():
    runs = [
        {"preset": p, "losses": {"val": v}} for p, v in (("mlp-22k", 2.0), ("wavenet-22k", 2.1))
    ]
    test = compare.welch("mlp-22k", "wavenet-22k", runs)
    summary = {"tests": [test], "table": {}}
    assert "no test" in compare.headline(summary)
    json.dumps(compare.to_json(test), allow_nan=False)
