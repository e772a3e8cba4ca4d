"""MCP tool ``profile_step``: how a profiled training step spends its time (waiting for data or computing)."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...timing.report import StepProfile
from ..context import ServerContext, user_errors

TraceArg = Annotated[
    str,
    Field(description="A PyTorch profiler Chrome trace (*.pt.trace.json[.gz]) recorded with a schedule and "
          "prof.step(), or a directory of them (the newest is read)."),
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="profile_step",
        description="Time diagnosis of a torch.profiler trace: per profiled step, the time spent waiting for "
        "the next batch against the step's span, and input_bound findings above a 30% share with the fix "
        "(num_workers, pin_memory, prefetch). A logged run's step times and stalls are in correlate's report.",
    )
    @user_errors
    def profile_step(trace: TraceArg) -> StepProfile:
        from ...timing import profile_step as profile

        return profile(trace, sandbox=ctx.sandbox)
