"""The gradnorm CLI command and the analyze_gradnorm MCP tool, on a real event file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eventwriter import write_run
from gradsim import two_branch
from mcp import Client

from traintriage.cli import gradnorm_analyze_main, main
from traintriage.server.context import ServerContext
from traintriage.server.tools import analyze_gradnorm as tool_module


def gradnorm_server(root):
    """A server with just this tool (what build_server registers for it), so that this test does not
    depend on the other tools' modules."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("traintriage-test")
    tool_module.register(server, ServerContext.from_roots([root]))
    return server


@pytest.fixture
def dead_run(tmp_path):
    sim = two_branch(factor=0.0, steps=200)
    scalars = {"Loss/train": list(enumerate(sim["loss"].tolist()))}
    for k in ("branch_a", "branch_b", "head"):
        scalars[f"GradNorm/{k}"] = list(enumerate(sim[k].tolist()))
    scalars["GradNorm/Total_PreClip"] = list(enumerate(sim["total"].tolist()))
    scalars["GradNorm/Clipped_Total"] = list(enumerate(np.minimum(sim["total"], 1e-3).tolist()))
    write_run(tmp_path / "run", scalars)
    return tmp_path / "run"


def test_cli_json_and_text(dead_run, capsys):
    assert main(["gradnorm", str(dead_run)]) == 0
    out = json.loads(capsys.readouterr().out)
    codes = {f["code"] for f in out["findings"]}
    assert {"dead_component", "heavy_clipping"} <= codes
    assert out["run"]["roles"]["grad_preclip"] == "GradNorm/Total_PreClip"
    assert [c["name"] for c in out["components"]] == ["branch_a", "branch_b", "head"]

    assert gradnorm_analyze_main([str(dead_run), "--text", "--fail-on", "critical"]) == 1
    text = capsys.readouterr().out
    assert "DEAD [branch_b]" in text and "clipping:" in text


def test_cli_no_gradients_exits_2(tmp_path, capsys):
    write_run(tmp_path / "r", {"loss": [(i, 1.0 / (i + 1)) for i in range(30)]})
    assert main(["gradnorm", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no gradient-norm series" in err and "self.log_dict(grad_norm(self, norm_type=2))" in err


@pytest.mark.anyio
async def test_mcp_tool(dead_run, tmp_path):
    server = gradnorm_server(tmp_path)
    async with Client(server) as c:
        r = await c.call_tool("analyze_gradnorm", {"run": str(dead_run), "clip_threshold": 0.5})
        assert not r.is_error
        data = r.structured_content
        assert data["clipping"]["method"] == "threshold" and data["clipping"]["threshold_source"] == "argument"
        assert any(f["code"] == "dead_component" for f in data["findings"])
        bad = await c.call_tool("analyze_gradnorm", {"run": str(tmp_path / "missing")})
        assert bad.is_error
