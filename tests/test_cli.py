"""Smoke tests of the ``interp`` command line, in-process through ``main(argv)``."""

import json

import pytest
from conftest import TINY

from interp.cli import main


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_corpus_path):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(
        [
            "train",
            "--kind",
            TINY["kind"],
            "--n-embd",
            str(TINY["n_embd"]),
            "--n-hidden",
            str(TINY["n_hidden"]),
            "--data",
            str(tiny_corpus_path),
            "--steps",
            "50",
            "--ema",
            "0.9",
            "--dropout",
            "0.2",
            "--quiet",
            "--samples",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_data_json(capsys, tiny_corpus_path):
    code, out, _ = run_cli(
        capsys, "data", "--data", tiny_corpus_path, "--block-size", "8", "--json"
    )
    summary = json.loads(out)
    assert code == 0
    assert summary["words"] == 400 and set(summary["splits"]) == {"train", "val", "test"}
    assert summary["vocab_size"] == 1 + len(set("bdklmnrstaeiou"))


def test_data_json_names(capsys, names_path):
    _, out, _ = run_cli(capsys, "data", "--data", names_path, "--json")
    assert json.loads(out) == {
        "words": 32033,
        "vocab_size": 27,
        "splits": {"train": 182625, "val": 22655, "test": 22866},
    }


def test_data_builtin_default(capsys):
    code, out, _ = run_cli(capsys, "data", "--json")
    assert code == 0 and json.loads(out)["words"] == 29910


def test_eval_sample_hooks(capsys, trained):
    code, out, _ = run_cli(capsys, "eval", trained, "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"train", "val", "test", "params"}
    assert 0 < result["val"] < 3.5 and result["params"] == 1563

    code, out, _ = run_cli(capsys, "sample", trained, "-n", "5", "--seed", "3")
    assert code == 0 and len(out.splitlines()) == 5
    _, again, _ = run_cli(capsys, "sample", trained, "-n", "5", "--seed", "3")
    assert again == out

    code, out, _ = run_cli(capsys, "hooks", trained)
    assert code == 0 and "levels.2.hook_post" in out and "(batch, 1, 16)" in out

    code, out, _ = run_cli(capsys, "hooks", "--preset", "mlp-22k", "--json")
    assert json.loads(out)["levels.0.hook_in"] == ["batch", 1, 80]


def test_train_overrides_are_recorded(trained):
    recipe = json.loads((trained / "config.json").read_text())["recipe"]
    assert (recipe["name"], recipe["steps"], recipe["ema"]) == ("default", 50, 0.9)
    assert recipe["dropout"] == 0.2


def test_eval_snapshot(capsys, trained):
    code, out, _ = run_cli(capsys, "eval", trained, "--step", "0", "--json")
    assert code == 0 and json.loads(out)["val"] == pytest.approx(3.0, abs=0.4)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "nowhere"], "nowhere: no such run directory"),
        (["data", "--data", "missing.txt"], "missing.txt: no such file"),
        (["data", "--block-size", "0"], "block size must be"),
        (["hooks"], "give a RUN_DIR or --preset"),
        (["train", "--ema", "1.5", "--out", "x"], "ema is a decay per step in [0, 1)"),
        (
            [
                "train",
                "--kind",
                "wavenet",
                "--n-embd",
                "4",
                "--n-hidden",
                "4",
                "--block-size",
                "6",
                "--out",
                "x",
            ],
            "power of two",
        ),
    ],
)
def test_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a directory")
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith("interp: error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_utf8_corpus_error_names_line(capsys, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ann\n\xffbob\n")
    code, _, err = run_cli(capsys, "data", "--data", path)
    assert code == 2 and f"{path}:2:" in err


def test_help_explains(capsys):
    for argv in (["--help"], ["train", "--help"], ["eval", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "karpathy" in out and "--resume" in out and "nats" in out


def test_eval_refuses_a_changed_training_corpus(capsys, tmp_path, tiny_corpus_path):
    corpus = tmp_path / "words.txt"
    corpus.write_text(tiny_corpus_path.read_text())
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--kind",
                "mlp",
                "--n-embd",
                "3",
                "--n-hidden",
                "5",
                "--data",
                str(corpus),
                "--steps",
                "5",
                "--quiet",
                "--samples",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with corpus.open("a") as f:
        f.write("bada\n")
    code, _, err = run_cli(capsys, "eval", out)
    assert code == 2 and "changed since" in err and "--data" in err
    code, out_text, _ = run_cli(capsys, "eval", out, "--data", corpus, "--json")
    assert code == 0 and "val" in json.loads(out_text)


def test_corrupt_config_entries_are_clear(capsys, trained, tmp_path):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(trained, run)
    config = json.loads((run / "config.json").read_text())
    for change, message in [
        ({"vocab": 5}, "'vocab' must be a string"),
        ({"vocab": ".ab"}, "'vocab' has 3 characters but the model expects"),
        ({"data": None, "model": config["model"]}, "'model' and 'data' must be objects"),
    ]:
        (run / "config.json").write_text(json.dumps({**config, **change}))
        code, _, err = run_cli(capsys, "sample", run)
        assert code == 2 and message in err, err
    broken = {k: v for k, v in config.items() if k != "recipe"}
    (run / "config.json").write_text(json.dumps(broken))
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run)
    assert code == 2 and "missing the 'recipe' entry" in err
