"""``traintriage serve``: run the MCP server (stdio by default, streamable HTTP on request)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from ..limits import (
        DEFAULT_CALL_MEMORY_MB,
        DEFAULT_CALL_TIMEOUT_S,
        DEFAULT_MAX_CONCURRENT_CALLS,
        ENV_CALL_MEMORY_MB,
        ENV_CALL_TIMEOUT,
        ENV_MAX_CONCURRENT_CALLS,
    )

    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR|URL",
        help="directory the server may read (repeatable; default: the working directory); a URL prefix such as "
        "s3://bucket/sweeps lets triage_sweep read remote trials under it (needs the 'remote' extra)",
    )
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1: local only)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument(
        "--token-env",
        metavar="VAR",
        help="HTTP: require 'Authorization: Bearer <token>', the token read from environment variable VAR "
        "(default: TRAINTRIAGE_HTTP_TOKEN when set; never pass the secret itself on the command line)",
    )
    p.add_argument(
        "--call-timeout",
        type=float,
        metavar="SECONDS",
        help=f"time limit of one tool call (default ${ENV_CALL_TIMEOUT} or {DEFAULT_CALL_TIMEOUT_S:g}; 0: none)",
    )
    p.add_argument(
        "--call-memory-mb",
        type=int,
        metavar="MB",
        help="memory one tool call may add to the server "
        f"(default ${ENV_CALL_MEMORY_MB} or {DEFAULT_CALL_MEMORY_MB}; 0: none)",
    )
    p.add_argument(
        "--max-concurrent-calls",
        type=int,
        metavar="N",
        help=f"tool calls worked on at once; more wait (default ${ENV_MAX_CONCURRENT_CALLS} or "
        f"{DEFAULT_MAX_CONCURRENT_CALLS})",
    )
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> str | None:
    import os

    from ..errors import InputError
    from ..server.http import TOKEN_ENV

    var = args.token_env or TOKEN_ENV
    value = os.environ.get(var, "").strip()
    if args.token_env and not value:
        raise InputError(f"--token-env {var}: the environment variable {var} is not set or empty.",
                         hint=f"Export the secret first (export {var}=...), then start the server.")
    return value or None


def run(args: argparse.Namespace) -> None:
    import os
    import sys
    from pathlib import Path

    from ..errors import TargetNotFoundError
    from ..limits import CallLimits
    from ..server.app import build_server
    from ..sources.remote import ENV_ROOTS, is_remote

    local_roots = [r for r in args.root if not is_remote(r)]
    remote_roots = [r for r in args.root if is_remote(r)]
    for root in local_roots:
        if not Path(root).expanduser().is_dir():
            raise TargetNotFoundError(f"--root {root} is not a directory.", hint="Pass an existing directory.")
    if remote_roots:  # read by the sweep tool and inherited by its worker processes
        os.environ[ENV_ROOTS] = " ".join([*remote_roots, os.environ.get(ENV_ROOTS, "")]).strip()
    limits = CallLimits.resolve(args.call_timeout, args.call_memory_mb, args.max_concurrent_calls)
    token = _token(args) if args.transport == "http" else None
    server = build_server(local_roots or None, limits=limits)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        from ..server.http import serve_http

        def log(line: str) -> None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

        log(f"traintriage: {limits.describe()}")
        serve_http(server, args.host, args.port, token, log)
