"""``traintriage memory TARGET``: memory from a run, a profiler trace or a CUDA snapshot.

``traintriage memory --estimate PARAMS ...`` estimates memory per GPU before running (no target).
"""

from __future__ import annotations

import argparse

from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "memory",
        help="memory: leaks, peak vs capacity, fragmentation, from a run, a profiler trace or a CUDA snapshot",
    )
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="run dir / event file / experiment, *.pt.trace.json[.gz], or snapshot pickle")
    p.add_argument("--capacity", default=None, metavar="SIZE", help="device memory, e.g. 80GiB, 40GB, 24G")
    p.add_argument("--trial", "--optuna", action="store_true", help="TARGET is one hyperparameter-search trial")
    p.add_argument("--role", action="append", default=[], metavar="ROLE=SERIES",
                   help="override an inferred role, e.g. --role memory=gpu/alloc_bytes (repeatable)")
    est = p.add_argument_group("estimate (instead of TARGET)")
    est.add_argument("--estimate", metavar="PARAMS", default=None,
                     help="estimate memory per GPU for this many parameters (7.5e9) or a checkpoint path")
    est.add_argument("--optimizer", default="adamw", help="sgd, sgd_momentum, adam, adamw, adam8bit")
    est.add_argument("--precision", default="mixed", help="fp32, bf16, mixed (16-bit + fp32 master weights)")
    est.add_argument("--sharding", default="none", help="none, zero1, zero2, zero3, fsdp")
    est.add_argument("--gpus", type=int, default=1)
    est.add_argument("--batch-size", type=int, default=None, help="per-GPU micro-batch")
    est.add_argument("--seq-len", type=int, default=None)
    est.add_argument("--hidden-size", type=int, default=None)
    est.add_argument("--layers", type=int, default=None)
    est.add_argument("--heads", type=int, default=None)
    est.add_argument("--checkpointing", default="none", help="activation checkpointing: none, selective, full")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..errors import InputError
    from ..memory import estimate_memory, parse_size, profile_memory
    from ..memory.text import render, render_estimate
    from ..sandbox import Sandbox

    if args.estimate is not None:
        e = estimate_memory(
            args.estimate, optimizer=args.optimizer, precision=args.precision, sharding=args.sharding,
            gpus=args.gpus, batch_size=args.batch_size, seq_len=args.seq_len, hidden_size=args.hidden_size,
            num_layers=args.layers, num_heads=args.heads, activation_checkpointing=args.checkpointing,
            capacity_bytes=parse_size(args.capacity), sandbox=Sandbox.unrestricted(),
        )
        return Outcome(e, text=lambda: render_estimate(e))
    if not args.target:
        raise InputError("no TARGET given.", hint="traintriage memory RUN|TRACE|SNAPSHOT [--capacity 80GiB], "
                         "or traintriage memory --estimate 7e9 ...")
    report = profile_memory(args.target, sandbox=Sandbox.unrestricted(), capacity_bytes=args.capacity,
                            trial=args.trial, roles=args.role)
    return Outcome(report, text=lambda: render(report), findings=report.findings)
