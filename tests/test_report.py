"""``gepa-dspy report``: one self-contained HTML file of a run, checked in a real headless browser (issue 31)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from gepa_dspy.cli import main as cli_main
from gepa_dspy.report import NotARunDirectory, load_run, write_html_report
from gepa_dspy.report.diffs import diff_html

from .report_fixture import run_scripted_compile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    log_dir = tmp_path_factory.mktemp("run") / "log"
    run_scripted_compile(log_dir)
    return log_dir


def chromium(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_report_holds_every_section_and_needs_nothing_from_outside(finished_run: Path) -> None:
    path = write_html_report(finished_run)
    text = path.read_text()
    for heading in ("Score against metric calls", "Lineage", "Prompt changes, parent", "Validation examples against the seed",
                    "Pareto front", "Budget and cost ledger"):
        assert heading in text, heading
    assert "<script" not in text and "src=" not in text and "http://" not in text and "https://" not in text
    assert "<svg" in text and "<ins>" in text  # inline charts, and the diff of an accepted child
    run = load_run(finished_run)
    assert run.finished and run.rejected and run.rejected[0].texts  # a rejected proposal with its text
    assert "Keep the text exactly as it was given" in text  # ... shown in the report


def test_report_of_a_running_search_reads_the_checkpoint_alone(finished_run: Path, tmp_path: Path) -> None:
    running = tmp_path / "running"
    running.mkdir()
    shutil.copy(finished_run / "gepa_state.json", running)
    shutil.copy(finished_run / "run.json", running)
    (running / "proposals.jsonl").write_text((finished_run / "proposals.jsonl").read_text() + '{"torn line\n')
    run = load_run(running)
    assert not run.finished and run.budget == 150 and run.skipped_lines == 1
    text = write_html_report(running).read_text()
    assert "running" in text and "1 damaged journal line(s) skipped" in text


def test_cli_writes_the_report_and_refuses_a_folder_without_a_run(finished_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.html"
    assert cli_main(["report", str(finished_run), "-o", str(out)]) == 0
    assert out.exists() and "report:" in capsys.readouterr().out
    assert cli_main(["report", str(tmp_path / "empty")]) == 2
    assert "no gepa_state.json" in capsys.readouterr().err
    with pytest.raises(NotARunDirectory):
        load_run(tmp_path)


def test_pngs_for_notebooks(finished_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from gepa_dspy.report import PNG_NAMES, write_pngs

    paths = write_pngs(finished_run, tmp_path / "png")
    assert [p.name for p in paths] == list(PNG_NAMES)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in paths)


def test_word_diff_marks_removed_and_added_words() -> None:
    assert diff_html("Copy the text.", "Copy the <text> now.") == "Copy the <del>text.</del><ins>&lt;text&gt; now.</ins>"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(finished_run: Path, tmp_path: Path) -> None:
    page = write_html_report(finished_run).resolve().as_uri()
    dom = chromium("--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert "GEPA run report" in rendered and "finished" in rendered
    assert "iter 1 rejected" in rendered and "child did not beat its parent" in rendered  # the lineage tree
    assert "★ best" in rendered and "openai/gpt-4o-mini" in rendered and "win(s)" in rendered
    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1200,1600", page)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000
    if os.environ.get("GEPA_DSPY_REPORT_SCREENSHOT"):  # refresh the docs screenshot
        shutil.copy(shot, os.environ["GEPA_DSPY_REPORT_SCREENSHOT"])
