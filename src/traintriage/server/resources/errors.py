"""The MCP resource-not-found error (-32002), for a resource URI that names nothing.

The SDK's own ``ResourceNotFoundError`` answers -32602 (invalid params, SEP-2164) and a plain
``ResourceError`` an internal error (-32603); clients written against the MCP specification's
resources page look for -32002, with the URI in ``data``. An ``MCPError`` raised by a resource
function reaches the client unchanged, so that is what :func:`not_found` raises.
"""

from __future__ import annotations

from typing import NoReturn

from mcp.shared.exceptions import MCPError

RESOURCE_NOT_FOUND = -32002


def not_found(uri: str, message: str) -> NoReturn:
    raise MCPError(RESOURCE_NOT_FOUND, message, {"uri": uri})
