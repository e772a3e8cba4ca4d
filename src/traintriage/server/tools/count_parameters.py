"""MCP tool ``count_parameters``: what a checkpoint holds, read safely (no torch, no pickle execution).

No ``from __future__ import annotations`` here: the SDK evaluates annotations for the schemas. The tool is
async so that the value scan, which streams every tensor's bytes, can send progress notifications (bytes
scanned of bytes planned); the reading itself runs in a worker thread within the call's budget. Taking the
SDK's Context, it reports its own progress, so the server's elapsed-time heartbeat (:mod:`..progress`) leaves
it alone.
"""

import time
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from ...checkpoints.report import ParamReport
from ..context import ServerContext, run_call
from ..detail import DetailArg

PROGRESS_EVERY_S = 0.5

CheckpointArg = Annotated[
    str,
    Field(description="A checkpoint file (*.safetensors, torch.save .pt/.pth/.bin/.ckpt, sharded *.index.json, HF "
          "config.json) or directory (model dir, HF Trainer output, DeepSpeed, torch.distributed.checkpoint)."),
]
DepthArg = Annotated[int, Field(ge=1, le=8, description="Module levels shown in the tree (blocks -> blocks.0 -> ...).")]
ScanArg = Annotated[bool | None, Field(
    description="Stream tensor bytes for NaN/Inf, dead, tied and stale weights. Default (null): on up to 2 GiB of "
    "tensors; true for a bigger one.")]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="count_parameters",
        description="Parameter accounting from a checkpoint, without torch and without running its pickle "
        "(code-running globals refused): totals and bytes by dtype, module tree, categories, tied weights counted "
        "once, optimizer state, saved hyperparameters, weight health (NaN/Inf, dead matrices, collapsed norm "
        "gains, stale embedding rows) and architecture_imbalance findings (e.g. embeddings holding most "
        "parameters, with priced rebalancing options).",
    )
    async def count_parameters(
        checkpoint: CheckpointArg,
        context: Context,  # its own progress (bytes scanned), so server/progress.py's heartbeat leaves it alone
        depth: DepthArg = 2,
        scan_values: ScanArg = None,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> ParamReport:
        import contextlib

        import anyio.from_thread

        from ...checkpoints import count_parameters as count
        from ...limits import check_budget

        last = [0.0]

        def progress(done: int, total: int) -> None:
            check_budget()  # after each tensor: a scan past the call's time limit stops here
            now = time.monotonic()
            if done < total and now - last[0] < PROGRESS_EVERY_S:
                return  # at most two notifications a second, and always the last one
            last[0] = now
            # Progress is a courtesy: a client that went away must not fail the call.
            with contextlib.suppress(Exception):
                anyio.from_thread.run(context.report_progress, done, total,
                                      f"value scan: {done / 1e6:,.1f} of {total / 1e6:,.1f} MB")

        def work() -> ParamReport:
            return count(checkpoint, depth=depth, scan_values=scan_values, sandbox=ctx.sandbox, progress=progress)

        return await run_call("count_parameters", work)
