"""MCP tool ``profile_memory``: where the memory goes, from a run, a profiler trace or a CUDA snapshot."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...memory.report import MemoryReport
from ..context import ServerContext, user_errors
from ..detail import DetailArg
from .describe_run import RolesArg, TrialArg

TargetArg = Annotated[
    str,
    Field(description="A run (directory, event file, experiment name), a PyTorch profiler trace "
          "(*.pt.trace.json[.gz], or a directory of them) or a CUDA memory snapshot pickle."),
]
CapacityArg = Annotated[
    str | None,
    Field(description="Device memory, e.g. '80GiB' or bytes: for peak vs capacity and a leak's step of exhaustion."),
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="profile_memory",
        description="Memory diagnosis: leaks (growth per step, projected exhaustion), peak vs capacity, "
        "fragmentation. Reads a run's logged memory series, a torch.profiler trace recorded with "
        "profile_memory=True (timeline, peak, top allocating operators), or a torch.cuda.memory._dump_snapshot "
        "pickle (segments, largest blocks, allocating frames).",
    )
    @user_errors
    def profile_memory(
        target: TargetArg, capacity: CapacityArg = None, trial: TrialArg = False, roles: RolesArg = None,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> MemoryReport:
        from ...memory import profile_memory as profile

        return profile(target, capacity_bytes=capacity, sandbox=ctx.sandbox, trial=trial, roles=roles)
