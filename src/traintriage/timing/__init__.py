"""Time verdicts: where a run's wall-clock time goes.

- From a run's logs (:mod:`.walltime`, run by ``correlate``): time per step and throughput for every
  report's context, ``slow_steps`` (a lasting throughput regression) and ``stall`` (a gap far above the
  typical step time).
- From a torch.profiler trace (:func:`profile_step`, CLI ``traintriage profile TRACE``): the share of each
  step spent waiting for data, ``input_bound``.

This package's ``__init__`` stays free of numpy: the server imports the report models at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .report import StepProfile, StepTiming

if TYPE_CHECKING:
    from ..sandbox import Sandbox

__all__ = ["StepProfile", "StepTiming", "profile_step"]


def profile_step(target: str | Path, *, sandbox: Sandbox) -> StepProfile:
    """Measure how the profiled steps of a trace (a file, or a directory of ``*.pt.trace.json[.gz]``) spend
    their time; ``sandbox`` says where the path may lie (the MCP server passes its own)."""
    from ..errors import InputError
    from ..memory import _traces_in, artifact_kind
    from ..sources.resolve import resolve_target
    from .trace import analyze_step_trace

    path = resolve_target(str(target), sandbox=sandbox).path
    warnings: list[str] = []
    if path.is_dir():
        traces = _traces_in(path)
        if not traces:
            raise InputError(f"{path}: no profiler trace (*.pt.trace.json[.gz]) in this directory.",
                             hint="Pass the trace file that torch.profiler exported.")
        if len(traces) > 1:
            warnings.append(f"{len(traces)} profiler traces in {path}; read the newest, {traces[-1].name}.")
        path = traces[-1]
    elif artifact_kind(path) != "trace":
        raise InputError(f"{path}: not a profiler trace (a Chrome trace JSON with traceEvents).",
                         hint="Export one with prof.export_chrome_trace('run.pt.trace.json').")
    report = analyze_step_trace(path)
    report.warnings = warnings + report.warnings
    return report
