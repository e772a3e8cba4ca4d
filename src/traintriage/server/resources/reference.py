"""Resources ``traintriage://reference`` (index) and ``traintriage://reference/{code}`` (one page per code)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from ..context import ServerContext
from .errors import not_found


def register(server: MCPServer, ctx: ServerContext) -> None:
    from ...findings import CODES, reference_page

    @server.resource(
        "traintriage://reference",
        name="reference-index",
        description="Every finding code with its one-line meaning; each has a page at traintriage://reference/{code}.",
        mime_type="text/markdown",
    )
    def index() -> str:
        lines = ["# traintriage finding codes", ""]
        lines += [f"- `{c.code}` ({c.area}): {c.meaning}" for c in CODES.values()]
        return "\n".join(lines) + "\n"

    @server.resource(
        "traintriage://reference/{code}",
        name="reference",
        description="Reference page of a finding code: what it detects, why it matters, evidence, thresholds, "
        "causes, fixes, how to validate the fix.",
        mime_type="text/markdown",
    )
    def page(code: str) -> str:
        try:
            return reference_page(code)
        except KeyError:
            known = ", ".join(CODES)
            not_found(f"traintriage://reference/{code}", f"unknown finding code {code!r}; known codes: {known}")
