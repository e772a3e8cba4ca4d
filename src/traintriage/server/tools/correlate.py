"""MCP tool ``correlate``: the triage contract for a run (see traintriage.triage).

No ``from __future__ import annotations`` here: the SDK evaluates annotations for the schemas.
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...triage.models import TriageReport
from ..context import ServerContext, user_errors
from ..detail import DetailArg
from .describe_run import RolesArg, RunArg, TrialArg


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="correlate",
        description="Full triage of a training run: the loss, gradient (and memory/checkpoint) analyses, "
        "collapse of metrics that should vary (entropy, prediction std; role collapse_metric), hyperparameters "
        "against documented ranges, findings joined by step; returns the top issues with evidence, each one's "
        "likely root cause with confidence, an ordered remediation plan with values from the run, and a "
        "validation plan.",
    )
    @user_errors
    def correlate(
        run: RunArg,
        trial: TrialArg = False,
        roles: RolesArg = None,
        checkpoint: Annotated[str | None, Field(description="Checkpoint to count parameters from.")] = None,
        memory: Annotated[str | None, Field(description="Profiler trace or CUDA memory snapshot.")] = None,
        capacity: Annotated[str | None, Field(description="Device memory, e.g. '80GiB'.")] = None,
        clip_threshold: Annotated[float | None, Field(description="Clip max_norm, if not logged.")] = None,
        transitions: Annotated[list[int] | None, Field(description="Curriculum/data transition steps.")] = None,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> TriageReport:
        from ...api import correlate as run_correlate

        return run_correlate(
            run,
            sandbox=ctx.sandbox,
            trial=trial,
            roles=roles,
            checkpoint=checkpoint,
            memory=memory,
            capacity=capacity,
            clip_threshold=clip_threshold,
            transitions=transitions,
        )
