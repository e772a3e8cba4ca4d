"""Annotated plots (issue #20): the envelope keeps every spike, and the files the CLI writes for the
bundled demo run are valid PNG/SVG with the expected panels and issue labels."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from traintriage.commands.demo import example_run
from traintriage.plot.envelope import envelope, moving_mean

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", *args], capture_output=True, text=True, timeout=120)


def test_envelope_keeps_every_spike_and_bounds_the_points() -> None:
    rng = np.random.default_rng(0)
    steps = np.arange(1_000_000)
    values = rng.normal(1.0, 0.05, len(steps))
    spikes = rng.choice(len(steps), 25, replace=False)
    values[spikes] = 50.0 + np.arange(25)
    values[123_456] = np.nan
    x, y = envelope(steps, values, 800)
    assert len(x) <= 1600
    assert np.isfinite(y).all()
    # Every spike's exact value is drawn, at a step within its own pixel column.
    for i in spikes:
        j = int(np.flatnonzero(y == values[i])[0])
        assert abs(x[j] - steps[i]) <= len(steps) / 800
    assert y.min() == np.nanmin(values)
    short_x, _ = envelope(steps[:100], values[:100], 800)
    assert len(short_x) == 100


def test_moving_mean_matches_a_direct_mean() -> None:
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    out = moving_mean(values, 3)
    assert np.isnan(out[:2]).all()
    assert out[2] == pytest.approx(1.5) and out[3] == pytest.approx(3.0) and out[5] == pytest.approx(5.0)


def test_plot_png_of_the_demo_run(tmp_path: Path) -> None:
    out = tmp_path / "run.png"
    proc = _cli("plot", str(example_run()), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and written["bytes"] == len(data)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1100 and height > 800
    assert len(data) < 300_000
    for panel in ("loss", "lr", "grad_total", "grad_components"):
        assert panel in written["summary"]
    assert "#1 loss_spike" in written["summary"]


def test_plot_svg_has_the_panels_issue_labels_and_best_step(tmp_path: Path) -> None:
    out = tmp_path / "run.svg"
    proc = _cli("plot", str(example_run()), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for expected in ("loss", "learning rate", "total grad norm", "grad norm per component",
                     "#1 loss_spike+gradient_spike", "#3 overfitting", "best val", "smoothing:"):
        assert expected in texts, expected
    assert "memory" not in texts  # the demo run logged no memory: no empty panel


def test_plot_option_on_triage_keeps_stdout_the_report(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    proc = _cli("triage", str(example_run()), "--plot", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["issues"][0]["rank"] == 1
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert "wrote plot" in proc.stderr


def test_bad_suffix_and_missing_matplotlib_are_clear_errors(tmp_path: Path) -> None:
    proc = _cli("plot", str(example_run()), "-o", str(tmp_path / "x.jpg"))
    assert proc.returncode == 2 and ".png or .svg" in proc.stderr and "Traceback" not in proc.stderr
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from traintriage.cli import main\n"
        f"sys.exit(main(['plot', {str(example_run())!r}, '-o', {str(tmp_path / 'y.png')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "needs matplotlib" in proc.stderr and "[plot]" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "y.png").exists()
