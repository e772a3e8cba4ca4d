"""profile_memory: where the memory goes, from the artifacts users have.

One entry point, three kinds of artifact, told apart by what the target is:

* a PyTorch profiler Chrome trace (``*.pt.trace.json`` or ``.json.gz``, recorded with
  ``profile_memory=True``), or a directory of them as ``tensorboard_trace_handler`` writes:
  :mod:`.trace`, streamed, so a trace of hundreds of MB is fine;
* a CUDA caching-allocator snapshot (``torch.cuda.memory._dump_snapshot`` pickle): :mod:`.snapshot`,
  read with a restricted unpickler that allows no globals;
* a run (anything :func:`traintriage.sources.load_run` reads, or a :class:`~traintriage.signals.RunData`)
  with memory series: :mod:`.series`.

And :func:`estimate_memory` (:mod:`.estimate`) answers "will it fit" before there is any artifact.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import InputError
from ..findings import sort_findings
from ..sandbox import Sandbox
from ..signals import RunData
from .estimate import estimate_memory
from .report import MemoryEstimate, MemoryReport
from .sizes import format_bytes, parse_size

__all__ = ["MemoryEstimate", "MemoryReport", "estimate_memory", "format_bytes", "parse_size", "profile_memory"]

_TRACE_SUFFIXES = (".pt.trace.json", ".pt.trace.json.gz")
_SNAPSHOT_SUFFIXES = (".pickle", ".pkl", ".pck")
_SNIFF_BYTES = 1 << 16


def _looks_like_trace(head: bytes) -> bool:
    """Chrome-trace markers in the first bytes: the traceEvents key, or event fields in a bare array.

    Other JSON files (``trainer_state.json``, metrics dumps) are runs and go to the run loader.
    """
    text = head.lstrip()
    return b'"traceEvents"' in head or (text[:1] == b"[" and b'"ph"' in head)


def artifact_kind(path: Path) -> str | None:
    """'trace', 'snapshot' or None (a run), from the name and the first bytes of a file."""
    if not path.is_file():
        return None
    name = path.name.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as g:
                head = g.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):  # unreadable, or a gzip stream cut short or corrupt
        return None
    if name.endswith(_SNAPSHOT_SUFFIXES) or head[:1] == b"\x80":
        return "snapshot"
    if name.endswith(_TRACE_SUFFIXES) or _looks_like_trace(head):
        return "trace"
    return None


def _traces_in(directory: Path) -> list[Path]:
    found = [p for pattern in ("*.pt.trace.json", "*.pt.trace.json.gz", "*/*.pt.trace.json", "*/*.pt.trace.json.gz")
             for p in directory.glob(pattern) if p.is_file()]
    return sorted(set(found), key=lambda p: (p.stat().st_mtime, p.name))


def profile_memory(
    target: str | Path | RunData,
    *,
    capacity_bytes: int | str | None = None,
    sandbox: Sandbox,
    trial: bool = False,
    roles: Mapping[str, str] | Sequence[str] | None = None,
) -> MemoryReport:
    """Diagnose memory from a trace, a snapshot or a run: findings, statistics and warnings.

    ``capacity_bytes`` is the device memory (bytes, or a size such as ``"80GiB"``); without it the
    report gives absolute numbers and says to pass it. ``sandbox`` confines path targets (the MCP
    server's roots; a run already read needs none, but a sandbox is still required); ``trial`` and
    ``roles`` are passed to the run loader.
    """
    capacity = parse_size(capacity_bytes) if capacity_bytes is not None else None
    if isinstance(target, RunData):
        return _from_run(target, str(target.path), capacity)

    from ..sources.resolve import resolve_target

    resolved = resolve_target(str(target), sandbox=sandbox, trial=trial)
    path = resolved.path
    kind = artifact_kind(path)
    pre_warnings: list[str] = []
    if kind is None and path.is_dir():
        from ..sources import detect_formats

        traces = _traces_in(path)
        traces = [t for t in traces if sandbox.contains(t)]  # a trace may be a symlink to outside the roots
        if traces and not detect_formats(path, sandbox=sandbox):
            path, kind = traces[-1], "trace"
            if len(traces) > 1:
                pre_warnings.append(f"{len(traces)} profiler traces in {resolved.path}; read the newest, "
                                    f"{path.name} (pass a file to choose another).")
    if kind == "trace":
        from .trace import analyze_trace

        t = analyze_trace(path, capacity_bytes=capacity)
        return MemoryReport(target=str(path), kind="trace", capacity_bytes=capacity,
                            findings=sort_findings(t.findings), warnings=pre_warnings + t.warnings, stats=t.stats,
                            trace=t.summary)
    if kind == "snapshot":
        from .snapshot import analyze_snapshot, load_snapshot

        s = analyze_snapshot(load_snapshot(path), path=str(path), capacity_bytes=capacity)
        return MemoryReport(target=str(path), kind="snapshot", capacity_bytes=capacity,
                            findings=sort_findings(s.findings), warnings=s.warnings, stats=s.stats,
                            snapshot=s.summary)

    from ..sources import load_run

    run = load_run(target, sandbox=sandbox, trial=trial, roles=roles)
    return _from_run(run, str(run.path), capacity)


def _from_run(run: RunData, target: str, capacity: int | None) -> MemoryReport:
    from .series import analyze_series

    findings, series_stats, headline, warnings = analyze_series(run, capacity_bytes=capacity)
    if not run.roles.memory and not run.series:
        raise InputError(f"{run.path}: the run has no series at all.", hint="Pass a run with logged scalars.")
    stats = dict(headline)
    stats["memory_series"] = [s.name for s in series_stats]
    return MemoryReport(target=target, kind="run", run=run.info(), capacity_bytes=capacity,
                        findings=sort_findings(findings), warnings=list(run.warnings) + warnings, stats=stats,
                        series=series_stats)
