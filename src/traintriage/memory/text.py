"""``--text`` rendering of a MemoryReport / MemoryEstimate: the headline numbers, then the findings."""

from __future__ import annotations

from ..textreport import findings_block, run_header, warnings_block
from .report import MemoryEstimate, MemoryReport
from .sizes import format_bytes


def render(report: MemoryReport) -> str:
    lines: list[str] = []
    cap = f"capacity {format_bytes(report.capacity_bytes)}" if report.capacity_bytes else "capacity unknown"
    if report.kind == "run" and report.run is not None:
        lines += run_header(report.run)
        for s in report.series:
            unit = s.unit_bytes
            peak = format_bytes(s.peak_value * unit) if unit and s.peak_value is not None else s.peak_value
            slope = (f", slope {format_bytes(s.slope_per_step * unit)}/step (R^2 {s.fit_r2})"
                     if unit and s.slope_per_step is not None else "")
            lines.append(f"  {s.name} [{s.kind}]: peak {peak} @ step {s.peak_step}{slope}")
    elif report.trace is not None:
        t = report.trace
        lines.append(f"Trace: {t.path} ({t.events:,} events, {t.memory_events:,} memory events; {cap})")
        for d in t.devices:
            reserved = f" reserved up to {format_bytes(d.peak_reserved)}," if d.peak_reserved else ""
            lines.append(f"  {d.device}: peak {d.peak_allocated_human} allocated at {d.peak_time_ms:.1f} ms"
                         f" (step {d.peak_step}, op {d.peak_op}),{reserved}"
                         f" {format_bytes(d.live_at_end_bytes)} still live at the end")
        if t.steps:
            lines.append("  allocated at step end: " + ", ".join(
                f"#{s.step} {format_bytes(s.allocated_at_end)}" for s in t.steps[:12]))
        lines.append("  top allocating ops:")
        lines += [f"    {o.op:<32} {o.device:<7} {o.bytes_allocated_human:>10} in {o.allocations} allocs, "
                  f"{format_bytes(o.live_at_end_bytes)} live at end" for o in t.top_ops[:8]]
    elif report.snapshot is not None:
        s = report.snapshot
        lines.append(f"Snapshot: {s.path} ({cap})")
        for d in s.devices:
            lines.append(f"  cuda:{d.device}: {d.segments} segments, reserved {d.reserved_human}, allocated "
                         f"{d.allocated_human}, free-but-pinned {format_bytes(d.fragmented_inactive)} "
                         f"({d.fragmentation:.0%}), largest free block {format_bytes(d.largest_free_block)}")
        if s.history_peak_allocated is not None:
            lines.append(f"  history peak: {format_bytes(s.history_peak_allocated)} allocated")
        lines.append("  live memory by allocating frame:")
        lines += [f"    {f.bytes_human:>10}  {f.frame} ({f.blocks} blocks)" for f in s.top_frames[:8]]
    lines.append("")
    lines += findings_block(report.findings)
    lines += warnings_block(report.warnings)
    return "\n".join(lines)


def render_estimate(e: MemoryEstimate) -> str:
    lines = [f"{e.parameters:,} parameters ({e.parameters_source}), {e.optimizer}, {e.precision}, "
             f"{e.sharding} over {e.gpus} GPU(s): {e.bytes_per_parameter['total']:g} bytes/parameter unsharded"]
    lines += [f"  {k:<12} {v}" for k, v in e.breakdown_human.items()]
    lines.append(f"  {'total/GPU':<12} {e.total_human}")
    if e.capacity_bytes:
        lines.append(f"  capacity {format_bytes(e.capacity_bytes)}: fits={e.fits}, largest micro-batch "
                     f"{e.max_batch_size if e.max_batch_size is not None else '(needs the transformer shape)'}")
    lines += [f"  note: {n}" for n in e.notes]
    lines += [f"  source: {f}" for f in e.formulas]
    return "\n".join(lines)
