"""End to end over real stdio: `traintriage serve` as a subprocess, driven by the SDK's Client,
exactly as Claude Code or the MCP Inspector would drive it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from eventwriter import decaying, write_run
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
