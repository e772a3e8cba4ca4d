"""End to end over real stdio: `traintriage serve` as a subprocess, driven by the SDK's Client,
exactly as Claude Code or the MCP Inspector would drive it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from eventwriter import decaying, write_run
from importcheck import imported_after
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio


def _server(root: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(root)])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    run = tmp_path / "outputs" / "training" / "gnn" / "run_20260101_120000"
    write_run(run, {"Loss/train": decaying(50), "lr": [(i, 1e-3) for i in range(50)]})
    write_run(run, {"loss/val": decaying(5, step_every=10)}, filename_suffix=".val")
    (tmp_path.parent / "outside_run").mkdir(exist_ok=True)
    return tmp_path


async def test_stdio_session_lists_calls_and_survives_bad_requests(root: Path) -> None:
    async with Client(_server(root), read_timeout_seconds=60) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "describe_run" in tools

        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert "runs://" in resources
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "traintriage://reference/{code}" in templates

        page = await client.read_resource("traintriage://reference/loss_spike")
        assert "loss_spike" in page.contents[0].text

        listing = await client.read_resource("runs://")
        assert "run_20260101_120000" in listing.contents[0].text

        # An experiment name, resolved to its newest run, with roles in structured content.
        ok = await client.call_tool("describe_run", {"run": "gnn"})
        assert not ok.is_error
        described = ok.structured_content
        assert described["run"]["roles"]["train_loss"] == "Loss/train"
        assert described["run"]["roles"]["val_loss"] == ["loss/val"]

        # Bad requests get clear errors, and the server keeps serving.
        missing = await client.call_tool("describe_run", {"run": "no_such_experiment"})
        assert missing.is_error and "no_such_experiment" in missing.content[0].text
        outside = await client.call_tool("describe_run", {"run": str(root.parent / "outside_run")})
        assert outside.is_error and "outside every root" in outside.content[0].text
        wrong_type = await client.call_tool("describe_run", {"run": 12})
        assert wrong_type.is_error
        unknown_tool = await client.call_tool("no_such_tool", {})
        assert unknown_tool.is_error

        again = await client.call_tool("describe_run", {"run": "gnn"})
        assert not again.is_error


CORPUS = Path(__file__).parent.parent / "benchmarks" / "corpus" / "runs"


async def test_agent_triage_workflow_over_stdio() -> None:
    """What an agent does: list tools, read a reference page, get the triage prompt, call correlate,
    and get the contract back as structured content (top issue, root cause, plan with run values)."""
    async with Client(_server(CORPUS), read_timeout_seconds=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("analyze_loss", "analyze_gradnorm", "count_parameters", "profile_memory", "correlate"):
            assert name in tools, name
            assert tools[name].output_schema, name

        page = await client.read_resource("traintriage://reference/loss_spike")
        assert "loss_spike" in page.contents[0].text

        prompt = await client.get_prompt("triage_run", {"run": "loss_spike_lr_bump"})
        text = " ".join(m.content.text for m in prompt.messages if hasattr(m.content, "text"))
        assert "correlate" in text

        result = await client.call_tool("correlate", {"run": "loss_spike_lr_bump"})
        assert not result.is_error, result.content
        report = result.structured_content
        top = report["issues"][0]
        assert "loss_spike" in top["codes"]
        assert top["root_cause"]["category"] == "optimizer"
        assert top["evidence"] and all("metric" in e for e in top["evidence"])
        # The plan cites the run's own numbers: the logged LR before and after the bump.
        first = report["remediation"][0]
        assert first["order"] == 1 and "0.001" in first["change"] and "0.03" in first["change"]
        assert report["validation"]

        loss = await client.call_tool("analyze_loss", {"run": "loss_spike_lr_bump"})
        assert not loss.is_error and any(f["code"] == "loss_spike" for f in loss.structured_content["findings"])


async def test_a_file_name_that_is_not_utf8_is_answered_with_escapes(tmp_path: Path) -> None:
    """``run\\xff/`` (a Latin-1 name, a name from a broken archive) reaches answers through os.fsdecode as a
    lone surrogate, which cannot be written as JSON: the answer writes it as an escape instead of failing."""
    import os
    import subprocess

    written = tmp_path / "written"
    write_run(written, {"Loss/train": decaying(50), "gradnorm/total": [(i, 1.0) for i in range(50)]})
    os.rename(bytes(written), os.fsencode(tmp_path) + b"/run\xff")  # the writer cannot name it itself
    run = tmp_path / os.fsdecode(b"run\xff")
    async with Client(_server(tmp_path), read_timeout_seconds=60) as client:
        # The agent cannot send the name (the client cannot encode it either): it names the directory
        # above, whose only run is the one inside it.
        for tool in ("describe_run", "analyze_loss", "analyze_gradnorm", "correlate"):
            result = await client.call_tool(tool, {"run": str(tmp_path)})
            assert not result.is_error, (tool, result.content[0].text)
            assert result.structured_content["run"]["path"] == str(tmp_path / "run\\udcff"), tool
        listing = await client.read_resource("runs://")
        assert '"run\\\\udcff"' in listing.contents[0].text
        near = await client.call_tool("describe_run", {"run": "run"})  # the hint names it
        assert near.is_error and "run\\udcff" in near.content[0].text
    cli = subprocess.run([sys.executable, "-m", "traintriage", "loss", str(run)], capture_output=True, check=False)
    assert cli.returncode == 0 and b"run\\\\udcff" in cli.stdout, cli.stderr


def test_the_server_starts_without_the_analysis_stack(tmp_path: Path) -> None:
    """``initialize`` must come fast (Claude Code drops slow servers): building the server, its tools and
    their published schemas (the report records' modules) imports neither numpy nor the readers; the first
    call does."""
    heavy = ("numpy", "bottleneck", "scipy", "tbparse", "tensorboard", "torch", "matplotlib", "google_crc32c",
             "traintriage.sources.eventfile", "traintriage.detectors.loss.analyze")
    code = "import sys\nfrom traintriage.server.app import build_server\nbuild_server([sys.argv[1]])\n"
    assert imported_after(code, str(tmp_path), prefixes=heavy) == []
