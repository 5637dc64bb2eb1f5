"""The report: every analysis gathered into report.html / report.md, checked in a real browser."""

import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import TINY
from helpers import tiny_run

from interp.cli import main
from interp.report import SECTIONS, build_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """The browser to test in; CI sets INTERP_REQUIRE_BROWSER so it can never be skipped."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("INTERP_REQUIRE_BROWSER"):
        pytest.fail("INTERP_REQUIRE_BROWSER is set but no chromium is installed")
    pytest.skip("no headless Chromium here (Debian: apt-get install chromium)")


def render(html_path, tmp_path) -> tuple[str, bytes]:
    """(DOM after load, screenshot PNG bytes) of a page in headless Chromium."""
    browser = chromium()
    url = html_path.absolute().as_uri()
    dom = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile1'}",
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
         "--window-size=1200,2000", f"--screenshot={shot}", url],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return dom, shot.read_bytes()


@pytest.fixture(scope="module")
def full_report(tiny_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    report = build_report(list(tiny_runs), out, quick=True, progress=False)
    return out, report


def test_every_analysis_appears_with_its_generated_finding(full_report):
    out, report = full_report
    assert [s["name"] for s in report["sections"]] == [s.name for s in SECTIONS]
    md = (out / "report.md").read_text()
    for section in report["sections"]:
        assert "skipped" not in section, section
        own = json.loads((out / section["name"] / f"{section['name']}.json").read_text())
        assert section["finding"] == own["finding"]  # the analysis's own sentence, verbatim
        assert own["finding"] in md
        for png in (p for p in own["figures"] if p.endswith(".png")):
            rel = os.path.relpath(png, out)
            assert f"]({rel})" in md  # the markdown points at the PNG beside it
            assert os.path.exists(png.replace(".png", ".svg"))


def test_html_is_self_contained_and_every_figure_loads_in_a_browser(full_report, tmp_path):
    out, report = full_report
    html = (out / "report.html").read_text()
    n_png = sum(p.endswith(".png") for s in report["sections"] for p in s["figures"])
    assert n_png > 5 and html.count("src='data:image/png;base64,") == n_png
    assert not re.search(r"src=['\"](?!data:)", html)  # nothing to fetch from anywhere
    moved = tmp_path / "elsewhere" / "report.html"  # opens alone, away from its folder
    moved.parent.mkdir()
    shutil.copy(out / "report.html", moved)
    dom, png = render(moved, tmp_path)
    assert f'data-figures-loaded="{n_png}/{n_png}"' in dom
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_runs_without_snapshots_or_a_second_kind_still_render(tmp_path, tiny_corpus_path):
    run = tiny_run(tmp_path / "wn", tiny_corpus_path, steps=20, snapshots="none", **TINY)
    report = build_report([run.run_dir], tmp_path / "report", quick=True, progress=False)
    skipped = {s["name"]: s["skipped"] for s in report["sections"] if "skipped" in s}
    assert "cancellation" in skipped and "snapshot" in skipped["cancellation"]
    html = (tmp_path / "report" / "report.html").read_text()
    for reason in skipped.values():
        assert "did not run on these runs" in html
        assert reason.split(";")[0].replace("'", "&#x27;") in html
    dom, _ = render(tmp_path / "report" / "report.html", tmp_path)
    assert "data-figures-loaded=" in dom


def test_report_cli_refuses_unknown_sections(tiny_runs, tmp_path, capsys):
    assert main(["report", *map(str, tiny_runs), "--out", str(tmp_path), "--only", "vibes"]) == 2
    assert "unknown vibes" in capsys.readouterr().err


def test_demo_trains_the_pair_and_ends_with_the_report_path(tmp_path, tiny_corpus_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--data", str(tiny_corpus_path), "--steps", "100", "--quiet"]
    assert main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    html = out / "report" / "report.html"
    assert last == f"report: {html.absolute()}" and html.is_file()
    report = json.loads((out / "report" / "report.json").read_text())
    assert [r["preset"] for r in report["runs"]] == ["mlp-22k", "wavenet-22k"]
    assert all("finding" in s for s in report["sections"])  # every analysis ran
    # Running it again reuses the trained runs.
    weights = out / "runs" / "mlp-22k" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert main([*argv, "--quiet"]) == 0
    assert weights.stat().st_mtime_ns == before
