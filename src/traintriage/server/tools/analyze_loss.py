"""MCP tool ``analyze_loss``: critique the loss curve of a run (findings with evidence, statistics).

No ``from __future__ import annotations`` here: the SDK evaluates the annotations for the schemas, and the
report model is imported inside ``register`` (the light report module only, not the detectors).
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..context import ServerContext, user_errors
from ..detail import DetailArg
from .describe_run import RolesArg, RunArg, TrialArg

SeriesArg = Annotated[
    str | None, Field(description="Analyse this series instead of the inferred training loss (any tag).")
]
TransitionsArg = Annotated[
    list[int] | None,
    Field(
        description="Curriculum / data-stage transition steps to check for regressions (stage series and "
        "epoch boundaries are found automatically)."
    ),
]
DiagnoseArg = Annotated[bool, Field(description="Add likely causes and the first fix to each finding.")]


def register(server: MCPServer, ctx: ServerContext) -> None:
    from ...detectors.loss.report import LossReport

    @server.tool(
        name="analyze_loss",
        description="Critique a run's loss curve: NaN/Inf, loss spikes (with recovery and LR changes), divergence, "
        "plateaus (chance level), stuck loss, oscillation, overfitting (best validation step), zero loss and "
        "curriculum regressions, judged against local robust baselines and the LR schedule. Returns findings with "
        "evidence and confidence, plus statistics (levels, reduction, convergence rate, noise, phases).",
    )
    @user_errors
    def analyze_loss(
        run: RunArg,
        trial: TrialArg = False,
        roles: RolesArg = None,
        series: SeriesArg = None,
        transitions: TransitionsArg = None,
        diagnose: DiagnoseArg = False,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> LossReport:
        from ...api import analyze_loss as analyze

        return analyze(
            run, sandbox=ctx.sandbox, trial=trial, roles=roles, series=series, transitions=transitions,
            diagnose=diagnose,
        )
