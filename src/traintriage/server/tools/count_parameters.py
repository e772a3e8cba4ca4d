"""MCP tool ``count_parameters``: what a checkpoint holds, read safely (no torch, no pickle execution).

No ``from __future__ import annotations`` here: the SDK evaluates annotations for the schemas. The tool is
async so that the value scan, which streams every tensor's bytes, can send progress notifications (bytes
scanned of bytes planned); the reading itself runs in a worker thread within the call's budget.
"""

import time
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from ...checkpoints.report import ParamReport
from ..context import ServerContext, run_call

PROGRESS_EVERY_S = 0.5

CheckpointArg = Annotated[
    str,
    Field(description="A checkpoint: *.safetensors, a torch.save file (.pt/.pth/.bin/.ckpt, zip or legacy, "
          "Lightning .ckpt), a sharded *.index.json, a model directory, an HF Trainer output directory (newest "
          "checkpoint-*), a DeepSpeed directory (latest -> global_step*), a torch.distributed.checkpoint "
          "directory (.metadata + *.distcp), or a HF config.json (analytic count)."),
]
DepthArg = Annotated[int, Field(ge=1, le=8, description="Module levels shown in the tree (blocks -> blocks.0 -> ...).")]
ScanArg = Annotated[bool | None, Field(
    description="Stream tensor bytes to find NaN/Inf, dead and value-tied tensors, collapsed norms, stale "
    "embedding rows. Default (null): on up to 2 GiB of tensors, off above (set true to scan a bigger one).")]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="count_parameters",
        description="Parameter accounting from a checkpoint, without torch and without running its pickle "
        "(classes it names are recorded by name as inert stand-ins, numpy values decoded, code-running "
        "globals refused and named; hyperparameters saved beside the weights reported): totals and bytes by "
        "dtype, a module tree, categories "
        "(embeddings, attention, MLP, norms, output head), tied weights counted once, optimizer state "
        "(Adam moments, ZeRO shards) reported separately, weight health (NaN/Inf, dead matrices, collapsed norm "
        "gains, stale embedding rows, layer norms far from their siblings; progress reported while scanning), "
        "and architecture_imbalance "
        "findings (e.g. embeddings holding most parameters, with vocab x d_model arithmetic and priced "
        "rebalancing options).",
    )
    async def count_parameters(checkpoint: CheckpointArg, context: Context, depth: DepthArg = 2,
                               scan_values: ScanArg = None) -> ParamReport:
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
