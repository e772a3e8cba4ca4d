"""MCP tool ``describe_run``: what a target resolves to, its files, series and roles.

Tool modules do not use ``from __future__ import annotations``: the SDK evaluates the function's
annotations to build the input and output schemas, so the types must be real objects at
registration. Result models are imported at module level for that reason; analysis code is
imported inside the function, so startup stays fast.
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...describe import RunDescription
from ..context import ServerContext, user_errors

RunArg = Annotated[
    str, Field(description="Run directory, event file or experiment name (under outputs/training/).")
]
TrialArg = Annotated[bool, Field(description="The target is one hyperparameter-search trial directory.")]
RolesArg = Annotated[
    dict[str, str] | None,
    Field(description="Role overrides, e.g. {'train_loss': 'loss/total', 'collapse_metric': 'pred/spread'}."),
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="describe_run",
        description="Show what a run target resolves to: files read, every series with its inferred role "
        "(train_loss, val_loss, lr, grad norms, memory, ...) and value range, and read warnings. "
        "Use it to check roles before analysing, or when a result looks wrong.",
    )
    @user_errors
    def describe_run(run: RunArg, trial: TrialArg = False, roles: RolesArg = None) -> RunDescription:
        from ...describe import summarize
        from ...sources import load_run

        return summarize(load_run(run, sandbox=ctx.sandbox, trial=trial, roles=roles))
