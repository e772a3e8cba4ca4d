"""Images over MCP (issue #20): the ``plot_run`` tool and the ``runs://{experiment}/plot.png`` resource,
through a real server over stdio and the SDK's Client; missing resources answer -32002."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from eventwriter import write_run
from mcp.shared.exceptions import MCPError
from serverproc import stdio_client

from traintriage.commands.demo import example_run

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.anyio

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(example_run(), tmp_path / "outputs" / "training" / "demo" / "run_20260101_120000")
    spiky = [(i, 2.0 * 0.995**i if i != 120 else 40.0) for i in range(300)]
    write_run(tmp_path / "outputs" / "training" / "spiky" / "run_20260102_120000",
              {"Loss/train": spiky, "lr": [(i, 1e-3) for i in range(300)]})
    return tmp_path


async def test_plot_run_returns_a_png_and_a_summary(root: Path) -> None:
    async with stdio_client("--root", str(root), timeout=120) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "plot_run" in tools and tools["plot_run"].title
        result = await client.call_tool("plot_run", {"run": "demo"})
        assert not result.is_error, result.content
        kinds = [block.type for block in result.content]
        assert kinds == ["text", "image"]
        assert "#1 loss_spike" in result.content[0].text
        image = result.content[1]
        assert image.mime_type == "image/png"
        png = base64.b64decode(image.data)
        assert png.startswith(PNG_MAGIC) and 20_000 < len(png) < 300_000

        # The resource template: the newest run of an experiment, as a PNG blob.
        contents = (await client.read_resource("runs://spiky/plot.png")).contents
        assert contents[0].mime_type == "image/png"
        blob = base64.b64decode(contents[0].blob)
        assert blob.startswith(PNG_MAGIC) and len(blob) < 300_000

        # A bad target is a tool error, and the server keeps serving.
        bad = await client.call_tool("plot_run", {"run": "no_such_run"})
        assert bad.is_error and "no_such_run" in bad.content[0].text
        assert not (await client.call_tool("plot_run", {"run": "spiky"})).is_error


async def test_missing_resources_answer_resource_not_found(root: Path) -> None:
    async with stdio_client("--root", str(root), timeout=120) as client:
        for uri in ("runs://no_such_experiment", "runs://no_such_experiment/plot.png",
                    "traintriage://reference/no_such_code"):
            with pytest.raises(MCPError) as err:
                await client.read_resource(uri)
            assert err.value.code == -32002, uri
            assert "no_such" in err.value.message
        # Still serving.
        assert (await client.read_resource("traintriage://reference/loss_spike")).contents
