"""MCP tool ``count_parameters``: what a checkpoint holds, read safely (no torch, no pickle execution)."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...checkpoints.report import ParamReport
from ..context import ServerContext, user_errors
from ..detail import DetailArg

CheckpointArg = Annotated[
    str,
    Field(description="A checkpoint: *.safetensors, a torch.save file (.pt/.pth/.bin/.ckpt, zip or legacy), a "
          "sharded *.index.json, a model directory, or a HF config.json (analytic count)."),
]
DepthArg = Annotated[int, Field(ge=1, le=8, description="Module levels shown in the tree (blocks -> blocks.0 -> ...).")]
ScanArg = Annotated[bool, Field(description="Stream tensor bytes to find NaN/Inf, all-zero and value-tied tensors.")]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="count_parameters",
        description="Parameter accounting from a checkpoint, without torch and without running its pickle "
        "(unsafe globals are refused and named): totals and bytes by dtype, a module tree, categories "
        "(embeddings, attention, MLP, norms, output head), tied weights counted once, optimizer state "
        "(Adam moments) reported separately, NaN/Inf and all-zero tensors, and architecture_imbalance "
        "findings (e.g. embeddings holding most parameters, with vocab x d_model arithmetic and priced "
        "rebalancing options).",
    )
    @user_errors
    def count_parameters(
        checkpoint: CheckpointArg,
        depth: DepthArg = 2,
        scan_values: ScanArg = True,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> ParamReport:
        from ...checkpoints import count_parameters as count

        return count(checkpoint, depth=depth, scan_values=scan_values, sandbox=ctx.sandbox)
