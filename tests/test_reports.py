"""Reports for CI and people (issue #20): markdown for triage and sweep, sparklines in --text, and the
self-contained HTML report, rendered in a real headless Chromium when one is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from traintriage.commands.demo import example_run
from traintriage.report.sparkline import BARS, NONFINITE, sparkline

FIXTURES = Path(__file__).parent / "fixtures"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", *args], capture_output=True, text=True, timeout=180)


def test_sparkline_shows_a_one_step_spike_and_marks_nan() -> None:
    values = np.linspace(1.0, 0.5, 1000)
    values[637] = 5.0
    values[10] = np.nan
    spark = sparkline(values, 40)
    assert len(spark.text) == 40
    assert spark.text[int(637 / 1000 * 40)] == BARS[-1]  # the spike's bucket is the tallest bar
    assert spark.text[0] == NONFINITE
    assert not spark.log
    assert sparkline(np.logspace(0, -3, 100), 20).log


def test_triage_markdown_has_issues_plan_validation_and_series_table() -> None:
    proc = _cli("triage", str(example_run()), "--format", "markdown", "--fail-on", "critical")
    assert proc.returncode == 1, proc.stderr  # markdown still honours --fail-on
    md = proc.stdout
    assert md.startswith("## traintriage: 🔴 critical issues")
    for heading in ("### Top issues", "### Plan (smallest safe change first)", "### Validation (next run)",
                    "### Series"):
        assert heading in md, heading
    assert re.search(r"^1\. 🔴 \*\*Loss/train spikes to 13\.54", md, re.M)
    assert "| train loss | `Loss/train` | 700 |" in md
    row = next(line for line in md.splitlines() if line.startswith("| train loss"))
    spark = re.search(r"`([▁▂▃▄▅▆▇█×]+)`", row).group(1)
    assert BARS[-1] in spark  # the spike at step 452 is the tallest bar


def test_sweep_markdown_ranks_trials_and_lists_failure_modes() -> None:
    proc = _cli("sweep", "sqlite:///" + str(FIXTURES / "optuna_study" / "study.db"), "--format", "markdown",
                "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("## traintriage sweep: 🔴 5 trial(s) with critical issues")
    table = [line for line in md.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(table) == 16
    assert "### Failure modes" in md and "**nan_inf**: 5/16 trials" in md
    bad = _cli("sweep", str(FIXTURES / "optuna_study"), "--format", "markdown", "--stream")
    assert bad.returncode == 2 and "cannot --stream" in bad.stderr


def test_text_report_has_a_sparkline_per_main_series() -> None:
    proc = _cli("triage", str(example_run()), "--text")
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout.split("SERIES (")[1].splitlines()[1:]
    roles = [line.split("(")[0].strip() for line in block if line.strip()]
    assert roles == ["train loss", "val loss", "lr", "grad norm"]
    assert all(re.search(r"[▁▂▃▄▅▆▇█]{20,}", line) for line in block if line.strip())


@pytest.fixture(scope="module")
def html_report(tmp_path_factory) -> Path:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = _cli("report", str(example_run()), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plot"] is True
    return out


def test_html_report_is_self_contained(html_report: Path) -> None:
    page = html_report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "<script" not in page.lower()
    # Nothing for a browser to fetch: every link is a fragment inside the page (SVG's xmlns are names, not fetches).
    refs = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert all(r.startswith("#") for r in refs), [r for r in refs if not r.startswith("#")][:5]
    assert "@import" not in page and "url(http" not in page
    for text in ("#1 [critical] Loss/train spikes", "Remediation plan", "Validation plan", "Run context",
                 "gradnorm/aux_encoder"):
        assert text in page, text


def test_bad_report_name_is_a_clear_error(tmp_path: Path) -> None:
    proc = _cli("report", str(example_run()), "-o", str(tmp_path / "report.pdf"))
    assert proc.returncode == 2 and ".html" in proc.stderr and "Traceback" not in proc.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_renders_in_headless_chromium(html_report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("headless browser test: no chromium on PATH (apt-get install chromium to run it)")
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with tempfile.TemporaryDirectory() as profile:
        common = [browser, *flags, f"--user-data-dir={profile}", "--window-size=1280,2000"]
        subprocess.run([*common, f"--screenshot={shot}", html_report.as_uri()], capture_output=True, timeout=120)
        dom = subprocess.run([*common, "--dump-dom", html_report.as_uri()], capture_output=True, text=True,
                             timeout=120)
    assert shot.exists(), "chromium wrote no screenshot"
    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05  # not a blank page
    # The critical badge and the issue box are drawn in red (#d62728): the styles applied.
    red = (np.abs(rgb[..., 0] - 0xD6 / 255) < 0.04) & (np.abs(rgb[..., 1] - 0x27 / 255) < 0.04)
    assert red.sum() > 500
    # The browser parsed the whole page, the inline SVG included.
    assert "</svg>" in dom.stdout and "#1 [critical]" in dom.stdout and "Made by traintriage report" in dom.stdout
