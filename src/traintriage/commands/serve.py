"""``traintriage serve``: run the MCP server (stdio by default, streamable HTTP on request)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="directory the server may read (repeatable; default: the working directory)",
    )
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1: local only)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from ..errors import TargetNotFoundError
    from ..server.app import build_server

    for root in args.root:
        if not Path(root).expanduser().is_dir():
            raise TargetNotFoundError(f"--root {root} is not a directory.", hint="Pass an existing directory.")
    server = build_server(args.root or None)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
