"""``traintriage params CHECKPOINT``: what a checkpoint holds, read safely."""

from __future__ import annotations

import argparse

from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "params",
        help="parameter counts of a checkpoint (safetensors, torch.save, shards, config.json), "
        "without torch or running its pickle",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="*.safetensors, .pt/.pth/.bin/.ckpt, *.index.json, a model directory or config.json")
    p.add_argument("--depth", type=int, default=2, help="module levels shown in the tree (default 2)")
    scan = p.add_mutually_exclusive_group()
    scan.add_argument("--no-scan", action="store_true", help="counts only: do not read tensor values (NaN/Inf, ties)")
    scan.add_argument("--scan", action="store_true",
                      help="read tensor values even when they hold over 2 GiB (default: only up to 2 GiB)")
    p.add_argument("--max-scan-bytes", type=int, default=None, metavar="N",
                   help="stop the value scan after N bytes (default 8 GiB)")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..checkpoints import DEFAULT_MAX_SCAN_BYTES, count_parameters
    from ..checkpoints.text import render
    from ..sandbox import Sandbox

    report = count_parameters(
        args.checkpoint, sandbox=Sandbox.unrestricted(), depth=args.depth,
        scan_values=False if args.no_scan else (True if args.scan else None),
        max_scan_bytes=args.max_scan_bytes if args.max_scan_bytes is not None else DEFAULT_MAX_SCAN_BYTES,
    )
    return Outcome(report, text=lambda: render(report), findings=report.findings)
