"""MCP tool ``compare_runs``: what changed between a GOOD run and a BAD one (see traintriage.compare);
``image: true`` adds the overlay plot as MCP image content beside the typed result.

No ``from __future__ import annotations`` here: the SDK evaluates the annotations for the schemas.
"""

from mcp.server.mcpserver import MCPServer

from ...compare import CompareReport
from ..context import ServerContext, user_errors
from ..detail import DetailArg
from .describe_run import RolesArg


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="compare_runs",
        description="Good run vs bad run: config diff, first step where bad's loss leaves good's band, findings "
        "only bad has; image adds an overlay PNG.",
    )
    @user_errors
    def compare_runs(
        good: str,
        bad: str,
        roles: RolesArg = None,
        image: bool = False,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> CompareReport:
        from ...compare import read_and_compare

        if image:
            from ...plot.backend import figure_class

            figure_class()  # a missing matplotlib is said before any reading
        report, good_data, bad_data = read_and_compare(good, bad, sandbox=ctx.sandbox, roles=roles)
        if not image:
            return report
        return with_image(report, good_data, bad_data, detail)


def with_image(report, good_data, bad_data, detail):
    """The compact typed result (as every tool sends it) with the overlay PNG appended to its content."""
    import base64

    from mcp.types import ImageContent

    from ...compare.plot import overlay
    from ..detail import tool_result

    plot = overlay(good_data, bad_data, report, fmt="png")
    result = tool_result("compare_runs", report, detail)
    result.content.append(
        ImageContent(type="image", data=base64.b64encode(plot.data).decode("ascii"), mime_type=plot.mime_type))
    return result
