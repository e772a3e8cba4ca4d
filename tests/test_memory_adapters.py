"""The memory adapters: `traintriage memory` (JSON, --text, exit status) and the MCP tool over stdio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "memory"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", "memory", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_json_text_and_exit_status():
    out = _cli(str(FIXTURES / "leak.pt.trace.json.gz"), "--fail-on", "warning")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["kind"] == "trace" and [f["code"] for f in report["findings"]] == ["memory_leak"]
    text = _cli(str(FIXTURES / "snapshot.pickle"), "--text", "--capacity", "6.5GiB")
    assert text.returncode == 0 and "free but pinned" in text.stdout
    bad = _cli(str(FIXTURES / "no_memory.pt.trace.json.gz"))
    assert bad.returncode == 2 and "profile_memory=True" in bad.stderr and "Traceback" not in bad.stderr
    est = _cli("--estimate", "7.5e9", "--sharding", "zero1", "--gpus", "64")
    assert est.returncode == 0 and round(json.loads(est.stdout)["total_bytes"] / 1e9, 1) == 31.4


@pytest.mark.anyio
async def test_mcp_tool_profile_memory(tmp_path: Path) -> None:
    """The tool module registered on its own (in-memory session), so it is tested apart from the others."""
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    from traintriage.server.context import ServerContext
    from traintriage.server.tools import profile_memory as tool

    shutil.copy(FIXTURES / "leak.pt.trace.json.gz", tmp_path / "leak.pt.trace.json.gz")
    server = MCPServer("traintriage-test")
    tool.register(server, ServerContext.from_roots([tmp_path]))
    async with Client(server) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"profile_memory"}
        ok = await client.call_tool("profile_memory", {"target": str(tmp_path / "leak.pt.trace.json.gz"),
                                                       "capacity": "80GiB"})
        assert not ok.is_error, ok.content
        assert ok.structured_content["findings"][0]["code"] == "memory_leak"
        assert ok.structured_content["capacity_bytes"] == 80 * 2**30
        outside = await client.call_tool("profile_memory", {"target": str(FIXTURES / "snapshot.pickle")})
        assert outside.is_error and "outside every root" in outside.content[0].text
        bad = await client.call_tool("profile_memory", {"target": str(tmp_path / "leak.pt.trace.json.gz"),
                                                        "capacity": "lots"})
        assert bad.is_error and "size" in bad.content[0].text
