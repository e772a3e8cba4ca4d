"""MCP tool ``plot_run``: the run's annotated plot as MCP image content, beside a short text summary,
so an agent that reads images can look at the curves with the triage's issues marked on them
(see :mod:`traintriage.plot`).

No ``from __future__ import annotations`` here: the SDK evaluates the annotations for the schemas.
The result is content blocks, not a structured model: an image has no useful JSON form, and the text
block says in a few lines what the picture shows (panels, issues marked, smoothing).
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import ImageContent, TextContent
from pydantic import Field

from ..context import ServerContext, user_errors
from .describe_run import RolesArg, RunArg, TrialArg

DpiArg = Annotated[int, Field(ge=40, le=200, description="Resolution; the default (100) gives ~1100 px wide.")]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="plot_run",
        title="Plot a run with its issues marked",
        description="The run's curves as a PNG image (loss with best validation step, LR, total grad norm with "
        "clip threshold, per-component grad norms, memory), with the triage's issues drawn as labelled step "
        "spans (#rank code), plus a short text summary. Needs matplotlib on the server (the 'plot' extra).",
    )
    @user_errors
    def plot_run(
        run: RunArg,
        trial: TrialArg = False,
        roles: RolesArg = None,
        clip_threshold: Annotated[float | None, Field(description="Clip max_norm, if not logged.")] = None,
        dpi: DpiArg = 100,
    ) -> list[TextContent | ImageContent]:
        return image_blocks(ctx, run, trial=trial, roles=roles, clip_threshold=clip_threshold, dpi=dpi)


def image_blocks(ctx: ServerContext, run: str, **kwargs) -> list[TextContent | ImageContent]:
    import base64

    from ...plot import plot_run as draw

    plot = draw(run, sandbox=ctx.sandbox, fmt="png", **kwargs)
    return [
        TextContent(type="text", text=plot.summary),
        ImageContent(type="image", data=base64.b64encode(plot.data).decode("ascii"), mime_type=plot.mime_type),
    ]
