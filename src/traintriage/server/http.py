"""Serving the MCP server over streamable HTTP, guarded: loopback by default, Host/Origin checks, an optional
bearer token.

* Bound to 127.0.0.1 unless ``--host`` says otherwise. On a loopback address the SDK's checks are on,
  for the loopback names and the bound address: the Host header (DNS rebinding: a foreign page whose
  name resolves to 127.0.0.1 gets 421) and the Origin header (a browser page from another origin gets 403).
* On any other address the Host cannot be known in advance, so the SDK's checks are off; this module
  then refuses any request whose Origin header (sent by browsers) is not the address it was sent to
  (403), and the operator is warned when no token guards the server.
* With a token (``--token-env VAR`` or ``TRAINTRIAGE_HTTP_TOKEN``), every HTTP request without
  ``Authorization: Bearer <token>`` gets 401 with a JSON body; the comparison is constant-time
  (:func:`hmac.compare_digest`). The token is read from the environment, never from argv (which other
  users of the machine can read in ``ps``).

Errors are short JSON bodies; no traceback ever leaves the server.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_ENV = "TRAINTRIAGE_HTTP_TOKEN"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses only this machine can reach."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _json_error(send: Send, status: int, error: str, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class GuardMiddleware:
    """Bearer-token and (off loopback) same-origin checks in front of the MCP app (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, token: str | None, check_origin: bool) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._check_origin = check_origin

    def _authorized(self, scope: Scope) -> bool:
        if self._token is None:
            return True
        auth = _header(scope, b"authorization") or ""
        scheme, _, credentials = auth.partition(" ")
        # Always compare (against the token itself when the scheme is wrong) so timing says nothing.
        given = credentials.strip().encode("latin-1") if scheme.lower() == "bearer" else b""
        return hmac.compare_digest(given, self._token) and bool(given)

    def _foreign_origin(self, scope: Scope) -> bool:
        if not self._check_origin:
            return False
        origin = _header(scope, b"origin")
        if not origin:
            return False  # not a browser: nothing to check
        host = _header(scope, b"host") or ""
        return urlsplit(origin).netloc.lower() != host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (websocket is not served)
            await self.app(scope, receive, send)
            return
        if self._foreign_origin(scope):
            await _json_error(send, 403, "forbidden_origin",
                              "requests from another origin (a web page) are refused", [])
            return
        if not self._authorized(scope):
            await _json_error(
                send, 401, "unauthorized",
                "this server requires a bearer token: send 'Authorization: Bearer <token>' (the token the server "
                f"was started with, via --token-env or {TOKEN_ENV}). Claude Code: claude mcp add --transport http "
                "NAME URL --header \"Authorization: Bearer $TOKEN\" (without it, it tries OAuth, which this "
                "server does not offer)",
                [(b"www-authenticate", b'Bearer realm="traintriage"')],
            )
            return
        await self.app(scope, receive, send)


def build_http_app(server: Any, host: str, token: str | None) -> ASGIApp:
    """The ASGI app serving ``server`` (an MCPServer) at ``/mcp`` when bound to ``host``, guarded as described
    in the module docstring."""
    from mcp.server.transport_security import TransportSecuritySettings

    loopback = is_loopback(host)
    security = None
    if loopback:
        # The SDK's Host/Origin checks, for the address actually bound too (by itself it knows only
        # 127.0.0.1, localhost and ::1; 127.0.0.2 would go unchecked).
        names = ["127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host]
        names = list(dict.fromkeys(names))
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{n}:*" for n in names],
            allowed_origins=[f"{scheme}://{n}:*" for n in names for scheme in ("http", "https")],
        )
    app = server.streamable_http_app(host=host, transport_security=security)
    return GuardMiddleware(app, token=token, check_origin=not loopback)


def serve_http(server: Any, host: str, port: int, token: str | None, log: Callable[[str], None]) -> None:
    """Serve ``server`` (an MCPServer) over streamable HTTP at ``http://host:port/mcp`` until interrupted."""
    import uvicorn

    app = build_http_app(server, host, token)
    shown = f"[{host}]" if ":" in host else host
    log(f"traintriage: serving MCP over HTTP at http://{shown}:{port}/mcp "
        f"({'bearer token required' if token else 'no token'})")
    if not is_loopback(host) and not token:
        log(f"traintriage: WARNING: {host} is not a loopback address and no token is set: anyone who can reach "
            f"this port can read every run under the server's roots. Set a secret in an environment variable "
            f"and pass its name: {TOKEN_ENV}=... traintriage serve --transport http (or --token-env VAR); "
            "clients then send 'Authorization: Bearer <token>'.")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run()
