"""``traintriage compare GOOD BAD`` and the ``compare_runs`` tool (issue 20, section 5) on two real torch runs
that differ in the learning rate (and its warmup): ``adam_lr_ok`` (Adam at 1e-3, 40 warmup steps) and
``adam_lr_too_high`` (Adam at 0.05, no warmup), both written by ``fixtures/generate_hyperparameter_risk_runs.py``."""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traintriage.api import Sandbox, compare_runs, load
from traintriage.compare.separation import BAND_SIGMAS, MIN_SIGMA, PERSIST, WINDOW, separate
from traintriage.errors import InputError, TargetNotFoundError
from traintriage.signals import Series

RUNS = Path(__file__).parent / "fixtures" / "runs" / "hyperparameter_risk"
GOOD, BAD = RUNS / "adam_lr_ok", RUNS / "adam_lr_too_high"
ANY = Sandbox.unrestricted()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _first_separation_by_hand(good: np.ndarray, bad: np.ndarray) -> int | None:
    """The rule written as a plain loop over one shared step grid (both runs log every step): GOOD's window of
    WINDOW points around the step (edges repeated), its median and 1.4826·MAD in log space, and BAD outside
    median ± BAND_SIGMAS·sigma at PERSIST steps in a row."""
    half = WINDOW // 2
    outside = []
    for i in range(len(bad)):
        window = [math.log(good[min(max(j, 0), len(good) - 1)]) for j in range(i - half, i + half + 1)]
        med = sorted(window)[half]
        mad = sorted(abs(w - med) for w in window)[half]
        sigma = max(1.4826 * mad, MIN_SIGMA)
        outside.append(abs(math.log(bad[i]) - med) > BAND_SIGMAS * sigma)
    for i in range(len(outside) - PERSIST + 1):
        if all(outside[i : i + PERSIST]):
            return i
    return None


def test_the_lr_runs_differ_in_lr_and_warmup_and_separate_where_the_loss_says() -> None:
    report = compare_runs(str(GOOD), str(BAD), sandbox=ANY)
    # Only what really differs: the generator sets lr=0.05 and warmup 0 against lr=1e-3 and warmup 40.
    assert {c.key: (c.change, c.good, c.bad) for c in report.config} == {
        "lr": ("changed", 0.001, 0.05), "warmup_steps": ("changed", 40.0, 0.0)}
    assert report.config_keys == [7, 7]

    good = load(str(GOOD), sandbox=ANY)
    bad = load(str(BAD), sandbox=ANY)
    g = good.get(good.roles.train_loss)
    b = bad.get(bad.roles.train_loss)
    assert list(g.steps) == list(b.steps) == list(range(400))  # one grid: the loop needs no interpolation
    expected = _first_separation_by_hand(g.values, b.values)
    sep = report.separation
    assert sep is not None and sep.step == expected
    # By hand: same seed, same first batch, so step 0 is identical (3.62); the first update at LR 0.05 with no
    # warmup throws the loss up (3.92, 4.54, ...) while GOOD's warmup keeps it at 3.6.
    assert expected == 1 and g.values[0] == b.values[0]
    assert sep.bad == pytest.approx(b.values[1]) and sep.bad > sep.band[1] > sep.good > sep.band[0]
    assert report.overlap == [0, 399] and report.compared_points == 400

    new = {(f.code, f.title) for f in report.new_findings}
    assert ("plateau", "loss/train flat for 100% of the run at chance level ln 37") in new
    assert any(code == "hyperparameter_risk" and "0.05" in title for code, title in new)
    assert report.resolved_findings == []  # GOOD has no findings at all


def test_a_run_against_a_csv_copy_at_every_fifth_step_does_not_separate(tmp_path: Path) -> None:
    good = load(str(GOOD), sandbox=ANY)
    loss = good.get(good.roles.train_loss)
    copy = tmp_path / "copy"
    copy.mkdir()
    rows = "".join(f"{s},{float(v)!r}\n" for s, v in zip(loss.steps[::5], loss.values[::5], strict=True))
    (copy / "metrics.csv").write_text("step,train_loss\n" + rows)
    hparams = {"model": "transformer", "optimizer": "adam", "lr": 0.001, "warmup_steps": 40, "batch_size": 16,
               "n_layer": 2, "n_head": 4}
    (copy / "hparams.json").write_text(json.dumps(hparams))

    report = compare_runs(str(GOOD), str(copy / "metrics.csv"), sandbox=ANY)
    assert report.config == [] and report.config_keys == [7, 7]
    assert report.separation is None
    assert report.overlap == [0, 395] and report.compared_points == 80
    assert report.new_findings == []

    (copy / "hparams.json").unlink()  # no configuration for BAD: no diff of every key, a warning instead
    bare = compare_runs(str(GOOD), str(copy / "metrics.csv"), sandbox=ANY)
    assert bare.config == [] and bare.config_keys == [7, 0]
    assert any("no configuration found for BAD" in w for w in bare.warnings)


def test_separation_on_a_different_grid_is_the_first_bad_step_after_the_change() -> None:
    """GOOD every step, BAD every 7th; BAD's loss is 20 % higher from step 500 on (noise ~1 %): the first BAD step
    at or after 500 is the separation, and identical noise-free copies never separate."""
    rng = np.random.default_rng(0)
    steps = np.arange(2000)
    clean = 3.0 * np.exp(-steps / 800) + 1.0
    good = Series.from_arrays("loss", steps, clean * np.exp(rng.normal(0, 0.01, len(steps))))
    bad_steps = steps[::7]
    bad_values = clean[::7] * np.exp(rng.normal(0, 0.01, len(bad_steps))) * np.where(bad_steps >= 500, 1.2, 1.0)
    result = separate(good, Series.from_arrays("loss", bad_steps, bad_values))
    assert result.separation is not None
    assert result.separation.step == int(bad_steps[bad_steps >= 500][0])

    noisy_copy = clean[::7] * np.exp(rng.normal(0, 0.01, len(bad_steps)))
    same = separate(good, Series.from_arrays("loss", bad_steps, noisy_copy))
    assert same.separation is None and same.compared == len(bad_steps)


def test_a_diverged_bad_run_separates_at_its_first_non_finite_losses() -> None:
    steps = np.arange(300)
    good = Series.from_arrays("loss", steps, np.full(300, 2.0))
    values = np.full(300, 2.0)
    values[200:] = np.nan
    result = separate(good, Series.from_arrays("loss", steps, values))
    assert result.separation.step == 200 and result.separation.bad == "nan"

    all_nan = Series.from_arrays("loss", steps, np.full(300, np.nan))
    nothing = separate(all_nan, Series.from_arrays("loss", steps, values))
    assert nothing.overlap is None and nothing.separation is None  # GOOD has no finite loss: no band to leave


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError, match="no_such_run"):
        compare_runs(str(GOOD), str(tmp_path / "no_such_run"), sandbox=ANY)
    lr_only = tmp_path / "lr_only"
    lr_only.mkdir()
    (lr_only / "metrics.csv").write_text("step,lr\n" + "".join(f"{i},0.001\n" for i in range(50)))
    with pytest.raises(InputError, match=r"BAD run .* has no training loss"):
        compare_runs(str(GOOD), str(lr_only / "metrics.csv"), sandbox=ANY)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", *args], capture_output=True, text=True, timeout=120)


def test_the_cli_prints_the_comparison_and_draws_the_overlay(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "overlay.png"
    done = _cli("compare", str(GOOD), str(BAD), "--plot", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["separation"]["step"] == 1 and [c["key"] for c in report["config"]] == ["lr", "warmup_steps"]
    assert out.read_bytes().startswith(PNG_MAGIC) and "wrote plot" in done.stderr

    text = _cli("compare", str(GOOD), str(BAD), "--text")
    assert "lr: 0.001 -> 0.05" in text.stdout and "separate at step 1" in text.stdout

    # --fail-on looks at BAD's new findings: warnings here, none the other way round (GOOD has none at all).
    assert _cli("compare", str(GOOD), str(BAD), "--fail-on", "warning").returncode == 1
    assert _cli("compare", str(GOOD), str(BAD), "--fail-on", "critical").returncode == 0
    assert _cli("compare", str(BAD), str(GOOD), "--fail-on", "info").returncode == 0

    missing = _cli("compare", str(GOOD), str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.anyio
async def test_the_mcp_tool_answers_typed_results_and_an_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from serverproc import stdio_client

    for run in (GOOD, BAD):
        shutil.copytree(run, tmp_path / run.name)
    async with stdio_client("--root", str(tmp_path), timeout=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["compare_runs"]
        assert tool.title and tool.annotations.read_only_hint and tool.annotations.open_world_hint is False
        assert tool.output_schema is not None

        result = await client.call_tool("compare_runs", {"good": "adam_lr_ok", "bad": "adam_lr_too_high"})
        assert not result.is_error, result.content
        data = result.structured_content
        assert data["separation"]["step"] == 1 and {c["key"] for c in data["config"]} == {"lr", "warmup_steps"}
        assert json.loads(result.content[0].text) == data
        assert "rule" not in data  # the summary leaves the constant rule text out; 'full' has it
        full = await client.call_tool("compare_runs", {"good": "adam_lr_ok", "bad": "adam_lr_too_high",
                                                       "detail": "full"})
        assert "robust sigmas" in full.structured_content["rule"]

        pictured = await client.call_tool("compare_runs", {"good": "adam_lr_ok", "bad": "adam_lr_too_high",
                                                           "image": True})
        assert [block.type for block in pictured.content] == ["text", "image"]
        png = base64.b64decode(pictured.content[1].data)
        assert png.startswith(PNG_MAGIC) and 20_000 < len(png) < 300_000
        assert pictured.structured_content == data

        bad = await client.call_tool("compare_runs", {"good": "adam_lr_ok", "bad": "no_such_run"})
        assert bad.is_error and "no_such_run" in bad.content[0].text
        assert not (await client.call_tool("compare_runs", {"good": "adam_lr_ok", "bad": "adam_lr_ok"})).is_error
