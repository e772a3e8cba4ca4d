"""Sweep adapters: ``traintriage sweep`` (JSON, --stream, --text, errors) and the ``triage_sweep`` MCP tool
over real stdio, driven by the SDK's Client as an agent would drive it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from eventwriter import decaying, write_run
from mcp import Client, StdioServerParameters

FIXTURES = Path(__file__).parent / "fixtures"
STUDY = FIXTURES / "optuna_study"


def _healthy(n: int = 60) -> dict:
    return {"Loss/train": decaying(n), "lr": [(s, 1e-3) for s in range(n)]}


def test_cli_sweep_streams_json_lines_then_the_report(tmp_path: Path, capsys) -> None:
    from traintriage.cli import main

    root = tmp_path / "sweep"
    for i in range(3):
        write_run(root / f"trial_{i}", _healthy(40 + 10 * i))
        (root / f"trial_{i}" / "params.json").write_text(json.dumps({"lr": 10.0**-i}))
    assert main(["sweep", str(root), "--stream", "--workers", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines[:-1]] == ["trial_0", "trial_1", "trial_2"]
    report = lines[-1]["report"]
    assert report["trials_total"] == 3 and [t["rank"] for t in report["trials"]] == [1, 2, 3]

    assert main(["sweep", str(root), "--text"]) == 0
    out = capsys.readouterr().out
    assert "trial_0" in out and "lr=" in out and "ranked healthiest first" in out

    assert main(["sweep", str(root / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_ray_missing_is_a_clear_error(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from traintriage.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed, whether or not it is
    write_run(tmp_path / "trial_0", _healthy())
    assert main(["sweep", str(tmp_path), "--ray", "local"]) == 2
    err = capsys.readouterr().err
    assert "needs the 'ray' package" in err and "traintriage[ray]" in err


@pytest.mark.anyio
async def test_triage_sweep_over_stdio_with_progress(tmp_path: Path) -> None:
    """An agent calls triage_sweep on the real Optuna study; a progress notification arrives per trial."""

    root = tmp_path / "root"
    shutil.copytree(STUDY, root / "study")
    params = StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(root)])
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(params, read_timeout_seconds=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "triage_sweep" in tools and tools["triage_sweep"].output_schema

        result = await client.call_tool(
            "triage_sweep",
            {"target": f"sqlite:///{root / 'study' / 'study.db'}", "workers": 1},
            progress_callback=on_progress,
        )
        assert not result.is_error, result.content
        report = result.structured_content
        assert report["study"] == "mlp_lr_search" and report["trials_ok"] == 16
        modes = {m["code"]: m for m in report["failure_modes"]}
        assert modes["nan_inf"]["trials"] == 5 and modes["nan_inf"]["effects"][0]["param"] == "lr"
        assert len(progress) == 16 and progress[-1][:2] == (16, 16) and "critical" in (progress[0][2] or "")

        # Outside the roots: a readable tool error, and the server keeps serving.
        outside = await client.call_tool("triage_sweep", {"target": f"sqlite:///{STUDY / 'study.db'}"})
        assert outside.is_error and "outside every root" in outside.content[0].text
        remote = await client.call_tool("triage_sweep", {"target": "s3://bucket/sweep"})
        assert remote.is_error and "remote root" in remote.content[0].text
        # A directory of trials, in a process pool started from the server (a threaded process: forkserver).
        again = await client.call_tool("triage_sweep", {"target": str(root / "study" / "runs"), "workers": 2})
        assert not again.is_error and again.structured_content["trials_total"] == 16
        assert again.structured_content["backend"] == ("processes:2" if (os.cpu_count() or 1) >= 2 else "serial")


@pytest.mark.anyio
async def test_serve_accepts_a_url_root_and_enforces_it(tmp_path: Path) -> None:
    """`serve --root memory://bucket/sweeps` admits remote sweep targets under that prefix and no others."""
    pytest.importorskip("fsspec")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "traintriage", "serve", "--root", str(tmp_path), "--root", "memory://bucket/sweeps"],
        env={k: v for k, v in os.environ.items() if k != "TRAINTRIAGE_REMOTE_ROOTS"},
    )
    async with Client(params, read_timeout_seconds=60) as client:
        other = await client.call_tool("triage_sweep", {"target": "memory://bucket/other"})
        assert other.is_error and "remote root" in other.content[0].text
        inside = await client.call_tool("triage_sweep", {"target": "memory://bucket/sweeps/empty"})
        assert inside.is_error and "remote root" not in inside.content[0].text  # admitted; nothing is there
        assert "Traceback" not in inside.content[0].text
