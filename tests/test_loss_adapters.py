"""analyze_loss through its adapters: the CLI (JSON, --text, aliases, exit codes) and the MCP tool in memory,
on real event files (tests/fixtures/events, and runs written with tensorboard's own writer)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from eventwriter import write_run
from mcp import Client

from traintriage.cli import loss_curve_critic_main, main
from traintriage.sandbox import Sandbox
from traintriage.server.app import build_server

EVENTS = Path(__file__).parent / "fixtures" / "events"
CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus" / "runs"


@pytest.fixture
def stuck_run(tmp_path):
    loss = [(i, 2.0 * math.exp(-i / 30)) for i in range(100)] + [
        (i, 2.0 * math.exp(-100 / 30)) for i in range(100, 400)
    ]
    lr = [(i, 1e-3 if i < 100 else 0.0) for i in range(400)]
    write_run(tmp_path / "run", {"Loss/train": loss, "LR": lr})
    return tmp_path / "run"


def test_cli_json_text_and_alias(stuck_run, capsys):
    assert main(["loss", str(stuck_run), "--diagnose"]) == 0
    out = json.loads(capsys.readouterr().out)
    stuck = [f for f in out["findings"] if f["code"] == "stuck_loss"]
    assert stuck and stuck[0]["step_start"] == 100
    assert stuck[0]["details"]["first_fix"]
    assert out["series"] == "Loss/train" and out["run"]["roles"]["lr"] == "LR"
    assert out["statistics"]["initial"] > out["statistics"]["final"]

    assert loss_curve_critic_main([str(stuck_run), "--text", "--fail-on", "warning"]) == 1
    text = capsys.readouterr().out
    assert "[stuck_loss]" in text and "Loss curve: Loss/train" in text


def test_cli_no_loss_series_exits_2(tmp_path, capsys):
    write_run(tmp_path / "r", {"accuracy": [(i, i / 30) for i in range(30)]})
    assert main(["loss", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "accuracy" in err and "--role train_loss=SERIES" in err and "Traceback" not in err


def test_cli_series_and_transition(stuck_run, capsys):
    assert main(["loss", str(stuck_run), "--series", "LR", "--transition", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["series"] == "LR"


@pytest.fixture
def curriculum_loss_only(tmp_path):
    """The corpus's real curriculum run (a harder stage from step 600, after the LR schedule had ended) as a
    user without a stage series would have it: its training loss alone, in a CSV. Only ``--transition``
    can tell the detector where the stage changed."""
    from traintriage.api import load

    loss = load(CORPUS / "curriculum_regression", sandbox=Sandbox.unrestricted()).series["Loss/train"]
    run = tmp_path / "loss_only"
    run.mkdir()
    rows = "".join(f"{s},{v!r}\n" for s, v in zip(loss.steps.tolist(), loss.values.tolist(), strict=True))
    (run / "metrics.csv").write_text("step,train_loss\n" + rows)
    return run


@pytest.mark.parametrize("command", ["loss", "triage"])
def test_cli_transition_reaches_the_detector(curriculum_loss_only, command, capsys):
    def regressions(*extra: str) -> list[dict]:
        assert main([command, str(curriculum_loss_only), *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        return [f for f in out["findings"] if f["code"] == "curriculum_regression"]

    assert regressions() == []  # no stage series: nothing marks the transition
    found = regressions("--transition", "600")
    assert [f["step_start"] for f in found] == [600]


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.iterdir() if p.is_dir()) if EVENTS.exists() else [])
def test_event_fixtures_never_crash(name, capsys):
    rc = main(["loss", str(EVENTS / name), "--trial"])
    captured = capsys.readouterr()
    assert rc in (0, 2) and "internal error" not in captured.err
    if rc == 0:
        out = json.loads(captured.out)
        assert out["series"]
        if name == "nan_inf":
            assert any(f["code"] == "nan_inf" and f["severity"] == "critical" for f in out["findings"])


@pytest.mark.anyio
async def test_mcp_tool_in_memory(stuck_run, tmp_path):
    async with Client(build_server([tmp_path])) as c:
        r = await c.call_tool("analyze_loss", {"run": str(stuck_run), "diagnose": True, "transitions": [100]})
        assert not r.is_error
        data = r.structured_content
        assert any(f["code"] == "stuck_loss" for f in data["findings"])
        assert data["statistics"]["series"] == "Loss/train"
        bad = await c.call_tool("analyze_loss", {"run": str(stuck_run), "series": "nope"})
        assert bad.is_error
