"""`traintriage serve --transport http` as a real subprocess: loopback by default, Host and Origin checks,
the optional bearer token, the warning off loopback, and no traceback in any answer."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from serverproc import CORPUS, free_port, http_server

RUN = "loss_spike_lr_bump"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def _post(url: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.post(url, json=INIT, headers={**MCP_HEADERS, **(headers or {})}, timeout=10)


async def _describe(url: str, headers: dict[str, str] | None = None) -> dict:
    http = httpx2.AsyncClient(headers=headers or {}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
        result = await client.call_tool("describe_run", {"run": RUN})
        assert not result.is_error, result.content
        return result.structured_content


def test_loopback_server_checks_origin_and_host() -> None:
    with http_server("--root", str(CORPUS)) as server:
        ok = _post(server.url)
        assert ok.status_code == 200
        assert _post(server.url, {"origin": f"http://127.0.0.1:{server.port}"}).status_code == 200

        foreign = _post(server.url, {"origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert "Traceback" not in foreign.text and "File \"" not in foreign.text

        # DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 sends its own Host.
        rebound = _post(server.url, {"host": f"evil.example:{server.port}"})
        assert rebound.status_code == 421
        assert "Traceback" not in rebound.text

        described = anyio.run(_describe, server.url)
        assert described["run"]["roles"]["train_loss"]
    assert "Traceback" not in server.stderr


def test_bearer_token_from_the_environment_guards_every_request() -> None:
    secret = "tt-test-secret-4f1c"
    with http_server("--root", str(CORPUS), "--token-env", "MY_TT_TOKEN", env={"MY_TT_TOKEN": secret}) as server:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {secret}"},
                        {"authorization": "Bearer"}, {"authorization": f"Bearer {secret}x"}):
            denied = _post(server.url, headers)
            assert denied.status_code == 401, headers
            body = denied.json()
            assert body["error"] == "unauthorized" and "Authorization: Bearer" in body["message"]
            assert "--header" in body["message"]  # how a client (Claude Code) passes the token
            assert denied.headers["www-authenticate"].startswith("Bearer")
            assert secret not in denied.text and "Traceback" not in denied.text
        # Any path, any method: the token guards the whole server.
        assert httpx2.get(f"http://127.0.0.1:{server.port}/other", timeout=10).status_code == 401

        assert _post(server.url, {"authorization": f"Bearer {secret}"}).status_code == 200
        described = anyio.run(_describe, server.url, {"authorization": f"Bearer {secret}"})
        assert described["run"]["roles"]["train_loss"]
        # Origin checks still apply with a valid token.
        both = _post(server.url, {"authorization": f"Bearer {secret}", "origin": "http://evil.example"})
        assert both.status_code == 403
    assert secret not in server.stderr


def test_the_token_comes_from_the_named_variable_or_the_default_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from traintriage.commands.serve import _token
    from traintriage.errors import InputError

    monkeypatch.delenv("TRAINTRIAGE_HTTP_TOKEN", raising=False)
    assert _token(argparse.Namespace(token_env=None)) is None
    monkeypatch.setenv("TRAINTRIAGE_HTTP_TOKEN", "abc123")
    assert _token(argparse.Namespace(token_env=None)) == "abc123"
    monkeypatch.setenv("MY_TT_TOKEN", "xyz")
    assert _token(argparse.Namespace(token_env="MY_TT_TOKEN")) == "xyz"
    monkeypatch.delenv("MY_TT_TOKEN")
    with pytest.raises(InputError, match="MY_TT_TOKEN"):
        _token(argparse.Namespace(token_env="MY_TT_TOKEN"))

    proc = subprocess.run(
        [sys.executable, "-m", "traintriage", "serve", "--transport", "http", "--port", str(free_port()),
         "--token-env", "NO_SUCH_TT_VAR"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "NO_SUCH_TT_VAR" in proc.stderr and "Traceback" not in proc.stderr


def test_non_loopback_host_without_token_warns_and_refuses_foreign_origins() -> None:
    with http_server("--root", str(CORPUS), "--host", "0.0.0.0") as server:
        # No Host allow-list is possible here, but a browser page from elsewhere is still refused.
        foreign = _post(server.url, {"origin": "http://evil.example"})
        assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden_origin"
        same = _post(server.url, {"origin": f"http://127.0.0.1:{server.port}"})
        assert same.status_code == 200
        assert _post(server.url).status_code == 200
    assert "WARNING" in server.stderr and "not a loopback address" in server.stderr
    assert "TRAINTRIAGE_HTTP_TOKEN" in server.stderr


# The real server and HTTP code path (build_server + serve_http, as `traintriage serve` runs them) with one
# extra tool that crashes, since no shipped tool is meant to: the crash must stay on the server.
CRASHING_SERVER = """
import sys
from traintriage.server.app import build_server
from traintriage.server.context import user_errors
from traintriage.server.http import serve_http

server = build_server([sys.argv[2]])

@server.tool(name="crash")
@user_errors
def crash(run: str) -> str:
    raise RuntimeError("internal detail that must not leave the server: /secret/path " + run)

serve_http(server, "127.0.0.1", int(sys.argv[1]), None, lambda line: print(line, file=sys.stderr))
"""


def test_an_internal_error_in_a_tool_returns_no_traceback_over_http() -> None:
    async def call(url: str) -> tuple[object, object]:
        async with Client(url, read_timeout_seconds=30) as client:
            crashed = await client.call_tool("crash", {"run": "x"})
            after = await client.call_tool("describe_run", {"run": RUN})
            return crashed, after

    with http_server(str(CORPUS), code=CRASHING_SERVER) as server:
        crashed, after = anyio.run(call, server.url)
    assert crashed.is_error
    wire = json.dumps(crashed.model_dump(mode="json"))
    assert "Error executing tool crash" in wire
    assert "Traceback" not in wire and "/secret/path" not in wire and "RuntimeError" not in wire
    assert not after.is_error  # the server keeps serving
    assert "RuntimeError" in server.stderr  # logged where the operator can read it


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    from traintriage.server.http import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.com")


def test_any_loopback_bind_address_gets_the_host_and_origin_checks() -> None:
    """Bound to 127.0.0.2 (loopback, but not one of the names the SDK knows by itself): still checked."""
    from starlette.testclient import TestClient

    from traintriage.server.app import build_server
    from traintriage.server.http import build_http_app

    app = build_http_app(build_server([CORPUS]), "127.0.0.2", None)
    with TestClient(app, base_url="http://127.0.0.2:8765") as client:
        assert client.post("/mcp", json=INIT, headers=MCP_HEADERS).status_code == 200
        ok_origin = {**MCP_HEADERS, "origin": "http://127.0.0.2:8765"}
        assert client.post("/mcp", json=INIT, headers=ok_origin).status_code == 200
        foreign = {**MCP_HEADERS, "origin": "http://evil.example"}
        assert client.post("/mcp", json=INIT, headers=foreign).status_code == 403
        rebound = {**MCP_HEADERS, "host": "evil.example:8765"}
        assert client.post("/mcp", json=INIT, headers=rebound).status_code == 421
