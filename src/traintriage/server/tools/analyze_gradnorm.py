"""MCP tool ``analyze_gradnorm``: per-component gradient health of a run.

No ``from __future__ import annotations`` here: the SDK evaluates the annotations for the schemas.
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..context import ServerContext, user_errors
from ..detail import DetailArg
from .describe_run import RolesArg, RunArg, TrialArg

ClipArg = Annotated[
    float | None, Field(description="Clip threshold (max_norm) the run used, when not logged.", gt=0)
]
DepthArg = Annotated[
    int | None,
    Field(description="Name parts kept when grouping per-parameter norms (Lightning) into modules; default auto.",
          ge=1),
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    from ...detectors.gradnorm.models import GradNormReport

    @server.tool(
        name="analyze_gradnorm",
        description="Gradient-norm health of a run, per component (module, branch, layer): dead components, "
        "imbalance, exploding/vanishing gradients (over time and front-vs-back layers), heavy clipping, "
        "gradient spikes, the loss/grad-norm correlation; per-component statistics and findings with evidence.",
    )
    @user_errors
    def analyze_gradnorm(
        run: RunArg,
        trial: TrialArg = False,
        roles: RolesArg = None,
        clip_threshold: ClipArg = None,
        depth: DepthArg = None,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> GradNormReport:
        from ...api import analyze_gradnorm as analyze

        return analyze(run, sandbox=ctx.sandbox, trial=trial, roles=roles, clip_threshold=clip_threshold, depth=depth)
