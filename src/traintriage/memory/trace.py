"""PyTorch profiler Chrome traces: the memory timeline, the peak, and which operators allocate.

With ``torch.profiler.profile(profile_memory=True)`` every allocation and free becomes an instant
event named ``[memory]`` whose args carry ``Bytes`` (negative for a free), ``Total Allocated`` and
``Total Reserved`` (the allocator's running totals after it), ``Device Type``/``Device Id`` and
``Addr``. Operators are complete events (``ph: "X"``, ``cat: "cpu_op"``) on the thread that ran
them; an allocation belongs to the innermost operator on its thread whose interval contains it.
``ProfilerStep#N`` annotations (present when a ``schedule`` is used) give the training steps.

The file is streamed (:mod:`.jsonstream`); what is kept is compact: per memory event and per
operator a few numbers in ``array`` buffers (tens of bytes each, not a dict), and the live
allocations by address.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..findings import Evidence, Finding, make_finding
from ..rules.memory_leak.thresholds import LEAK_MIN_GROWTH, LEAK_MIN_STEPS, MIN_POINTS, STEADY_INCREMENT
from ..rules.memory_pressure.thresholds import (
    FRAGMENTATION_FRACTION,
    FRAGMENTATION_MIN_BYTES,
    PRESSURE_CRITICAL,
    PRESSURE_WARNING,
)
from ..untrusted import clean_text
from .jsonstream import TraceStream, event_time
from .report import DeviceMemory, OpAllocation, StepMemory, TimelinePoint, TraceMemory
from .series import fit_leak
from .sizes import format_bytes

RECORD_HINT = (
    "Record one with memory events: `with torch.profiler.profile(activities=[ProfilerActivity.CPU, "
    "ProfilerActivity.CUDA], profile_memory=True, record_shapes=True) as prof: ...` then "
    "`prof.export_chrome_trace('run.pt.trace.json')` (or on_trace_ready=tensorboard_trace_handler(dir))."
)

# c10::DeviceType values that appear in practice.
_DEVICE_TYPES = {0: "cpu", 1: "cuda", 6: "hip", 12: "xpu", 13: "mps", 19: "mtia", 20: "privateuseone"}
# Ops that only carve out memory for their caller: the caller is the one to blame.
_ALLOCATOR_OPS = frozenset({
    "aten::empty", "aten::empty_strided", "aten::empty_like", "aten::new_empty", "aten::new_empty_strided",
    "aten::resize_", "aten::zeros_like", "aten::zero_", "aten::fill_",
})
_STEP_RE = re.compile(r"^ProfilerStep#(\d{1,18})$")
TIMELINE_POINTS = 200
TOP_OPS = 15
MAX_STEP_ROWS = 200


def device_name(device_type: int, device_id: int) -> str:
    kind = _DEVICE_TYPES.get(int(device_type), f"device{int(device_type)}")
    return kind if kind == "cpu" else f"{kind}:{max(int(device_id), 0)}"


@dataclass
class _Collected:
    """What one pass over the trace keeps: compact columns, interned names."""

    mem_ts: array = field(default_factory=lambda: array("d"))
    mem_bytes: array = field(default_factory=lambda: array("q"))
    mem_alloc: array = field(default_factory=lambda: array("q"))
    mem_reserved: array = field(default_factory=lambda: array("q"))
    mem_dev: array = field(default_factory=lambda: array("i"))
    mem_tid: array = field(default_factory=lambda: array("i"))
    mem_addr: array = field(default_factory=lambda: array("q"))
    op_start: array = field(default_factory=lambda: array("d"))
    op_end: array = field(default_factory=lambda: array("d"))
    op_name: array = field(default_factory=lambda: array("i"))
    op_tid: array = field(default_factory=lambda: array("i"))
    names: dict[str, int] = field(default_factory=dict)
    tids: dict[str, int] = field(default_factory=dict)
    devices: dict[tuple[int, int], int] = field(default_factory=dict)
    profiler_steps: list[tuple[int, float, float]] = field(default_factory=list)
    optimizer_steps: list[tuple[float, float]] = field(default_factory=list)
    oom: list[tuple[float, int, int]] = field(default_factory=list)
    events: int = 0

    def intern(self, table: dict, key) -> int:
        index = table.get(key)
        if index is None:
            index = table[key] = len(table)
        return index


def _int(value, default: int = 0) -> int:
    """An integer field; ``default`` when it is not one, is NaN/Inf, or lies past the int64 range the
    compact columns hold (no allocator counts past it: a ``1e300`` is corrupt)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if -(1 << 63) <= number < (1 << 63) else default


def _args(ev: dict) -> dict:
    args = ev.get("args")
    return args if isinstance(args, dict) else {}


def _collect(stream: TraceStream) -> _Collected:
    c = _Collected()
    for ev in stream:
        c.events += 1
        name = ev.get("name")
        ph = ev.get("ph")
        if name == "[memory]":
            args = _args(ev)
            ts = event_time(ev.get("ts"))
            if ts is None:
                continue
            dev = c.intern(c.devices, (_int(args.get("Device Type")), _int(args.get("Device Id"), -1)))
            c.mem_ts.append(ts)
            c.mem_bytes.append(_int(args.get("Bytes")))
            c.mem_alloc.append(_int(args.get("Total Allocated")))
            c.mem_reserved.append(_int(args.get("Total Reserved")))
            c.mem_dev.append(dev)
            c.mem_tid.append(c.intern(c.tids, str(ev.get("pid")) + ":" + str(ev.get("tid"))))
            c.mem_addr.append(_int(args.get("Addr")) & 0x7FFFFFFFFFFFFFFF)
        elif name == "[OutOfMemory]":
            args = _args(ev)
            c.oom.append((event_time(ev.get("ts", 0.0)) or 0.0, _int(args.get("Bytes")),
                          c.intern(c.devices, (_int(args.get("Device Type")), _int(args.get("Device Id"), -1)))))
        elif ph == "X" and isinstance(name, str):
            cat = ev.get("cat")
            start, dur = event_time(ev.get("ts")), event_time(ev.get("dur", 0.0))
            if start is None or dur is None:
                continue
            end = start + dur
            if cat == "cpu_op":
                c.op_start.append(start)
                c.op_end.append(end)
                c.op_name.append(c.intern(c.names, clean_text(name)))
                c.op_tid.append(c.intern(c.tids, str(ev.get("pid")) + ":" + str(ev.get("tid"))))
            elif cat == "user_annotation":
                match = _STEP_RE.match(name)
                if match:
                    c.profiler_steps.append((int(match.group(1)), start, end))
                elif name.startswith("Optimizer.step#"):
                    c.optimizer_steps.append((start, end))
    return c


def _attribute(c: _Collected) -> np.ndarray:
    """Index (into ``names``) of the op each memory event belongs to; -1 when outside every op.

    Per thread: ops sorted by start (longest first on ties) form a nesting; sweep the memory events
    in time order with a stack of open ops and take the innermost one that is not a bare allocator.
    """
    owner = np.full(len(c.mem_ts), -1, dtype=np.int64)
    if not len(c.mem_ts) or not len(c.op_start):
        return owner
    names_by_index = {i: n for n, i in c.names.items()}
    allocator = np.array([names_by_index[i] in _ALLOCATOR_OPS for i in range(len(names_by_index))])
    op_start = np.frombuffer(c.op_start, dtype=np.float64)
    op_end = np.frombuffer(c.op_end, dtype=np.float64)
    op_name = np.frombuffer(c.op_name, dtype=np.int32)
    op_tid = np.frombuffer(c.op_tid, dtype=np.int32)
    mem_ts = np.frombuffer(c.mem_ts, dtype=np.float64)
    mem_tid = np.frombuffer(c.mem_tid, dtype=np.int32)
    for tid in np.unique(mem_tid):
        ops = np.flatnonzero(op_tid == tid)
        if not ops.size:
            continue
        ops = ops[np.lexsort((-(op_end[ops] - op_start[ops]), op_start[ops]))]
        mems = np.flatnonzero(mem_tid == tid)
        mems = mems[np.argsort(mem_ts[mems], kind="stable")]
        stack: list[int] = []
        k = 0
        for m in mems:
            t = mem_ts[m]
            while k < ops.size and op_start[ops[k]] <= t:
                op = ops[k]
                while stack and op_end[stack[-1]] < op_start[op]:
                    stack.pop()
                stack.append(op)
                k += 1
            while stack and op_end[stack[-1]] < t:
                stack.pop()
            for op in reversed(stack):
                if op_end[op] >= t and not allocator[op_name[op]]:
                    owner[m] = op_name[op]
                    break
            else:
                if stack:
                    owner[m] = op_name[stack[-1]]
    return owner


def _downsample(times: np.ndarray, alloc: np.ndarray, reserved: np.ndarray) -> list[TimelinePoint]:
    """At most ~TIMELINE_POINTS points, keeping the highest allocated point of each bucket."""
    n = times.size
    if n <= TIMELINE_POINTS:
        keep = np.arange(n)
    else:
        edges = np.linspace(0, n, TIMELINE_POINTS + 1).astype(int)
        keep = np.array([lo + int(np.argmax(alloc[lo:hi])) for lo, hi in pairwise(edges)
                         if hi > lo])
        keep = np.unique(np.concatenate([[0], keep, [n - 1]]))
    return [TimelinePoint(time_ms=round(float(times[i]), 3), allocated=int(alloc[i]), reserved=int(reserved[i]))
            for i in keep]


def _steps(c: _Collected) -> tuple[str, list[tuple[int, float, float]]]:
    if c.profiler_steps:
        return "ProfilerStep", sorted(c.profiler_steps, key=lambda s: s[1])
    if c.optimizer_steps:
        ends = sorted(c.optimizer_steps)
        out, prev = [], -np.inf
        for i, (_, end) in enumerate(ends, start=1):
            out.append((i, prev, end))
            prev = end
        return "optimizer_step", out
    return "none", []


@dataclass
class TraceAnalysis:
    summary: TraceMemory
    findings: list[Finding]
    warnings: list[str]
    stats: dict


def analyze_trace(path: Path, *, capacity_bytes: int | None = None) -> TraceAnalysis:
    """Stream a profiler trace and report its memory: timeline, peak, top ops, per-step levels, findings."""
    stream = TraceStream(path)
    c = _collect(stream)
    warnings: list[str] = []
    if not stream.found_events:
        raise InputError(f"{path}: no traceEvents array: not a profiler trace.", hint=RECORD_HINT)
    if stream.truncated:
        warnings.append(f"the trace is cut short ({stream.truncated}); analysed the {c.events} events before it.")
    flag = stream.header.get("profile_memory")
    if not len(c.mem_ts):
        why = ("it was recorded without profile_memory=True" if not flag
               else "profile_memory was on but no allocation happened while recording")
        raise InputError(f"{path}: the trace has no [memory] events ({c.events} events read): {why}.",
                         hint=RECORD_HINT)

    owner = _attribute(c)
    names = {i: n for n, i in c.names.items()}
    ts = np.frombuffer(c.mem_ts, dtype=np.float64)
    nbytes = np.frombuffer(c.mem_bytes, dtype=np.int64)
    alloc = np.frombuffer(c.mem_alloc, dtype=np.int64)
    reserved = np.frombuffer(c.mem_reserved, dtype=np.int64)
    dev = np.frombuffer(c.mem_dev, dtype=np.int32)
    addr = np.frombuffer(c.mem_addr, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    t0 = float(ts[order[0]])
    step_source, steps = _steps(c)

    def step_of(t: float) -> int | None:
        i = bisect_right([s[1] for s in steps], t) - 1
        return steps[i][0] if i >= 0 and t <= steps[i][2] else None

    device_keys = {i: device_name(*k) for k, i in c.devices.items()}
    devices: list[DeviceMemory] = []
    step_rows: list[StepMemory] = []
    op_rows: dict[tuple[str, str], list[int]] = {}  # (op, device) -> [count, bytes, live]
    findings: list[Finding] = []
    for d, dname in sorted(device_keys.items(), key=lambda kv: kv[1]):
        idx = order[dev[order] == d]
        if not idx.size:
            continue
        live: dict[int, tuple[int, int]] = {}
        for i in idx:
            b = int(nbytes[i])
            op = names.get(int(owner[i]), "<outside any op>")
            if b > 0:
                row = op_rows.setdefault((op, dname), [0, 0, 0])
                row[0] += 1
                row[1] += b
                live[int(addr[i])] = (b, int(owner[i]))
            elif b < 0:
                live.pop(int(addr[i]), None)
        for b, o in live.values():
            op_rows.setdefault((names.get(o, "<outside any op>"), dname), [0, 0, 0])[2] += b
        a, r, t = alloc[idx], reserved[idx], ts[idx]
        peak_i = int(np.argmax(a))
        peak_t = float(t[peak_i])
        devices.append(DeviceMemory(
            device=dname, memory_events=int(idx.size), allocations=int((nbytes[idx] > 0).sum()),
            bytes_allocated_total=int(nbytes[idx][nbytes[idx] > 0].sum()),
            peak_allocated=int(a[peak_i]), peak_allocated_human=format_bytes(int(a[peak_i])),
            peak_time_ms=round((peak_t - t0) / 1000.0, 3),
            peak_op=names.get(int(owner[idx[peak_i]])), peak_step=step_of(peak_t),
            peak_reserved=int(r.max()), final_allocated=int(a[-1]),
            live_at_end_bytes=int(sum(b for b, _ in live.values())),
            timeline=_downsample((t - t0) / 1000.0, a, r),
        ))
        for number, start, end in steps:
            j = int(np.searchsorted(t, end, side="right")) - 1
            if j < 0:
                continue
            inside = (t >= start) & (t <= end)
            step_rows.append(StepMemory(
                step=number, device=dname, start_ms=round((max(start, t0) - t0) / 1000.0, 3),
                end_ms=round((end - t0) / 1000.0, 3), allocated_at_end=int(a[j]),
                peak_allocated=int(a[inside].max()) if inside.any() else int(a[j]),
            ))

    top = sorted(op_rows.items(), key=lambda kv: -kv[1][1])[:TOP_OPS]
    top_ops = [OpAllocation(op=op, device=dname, allocations=v[0], bytes_allocated=v[1],
                            bytes_allocated_human=format_bytes(v[1]), live_at_end_bytes=v[2])
               for (op, dname), v in top]
    all_step_rows = step_rows
    if len(step_rows) > MAX_STEP_ROWS:
        keep = np.unique(np.linspace(0, len(step_rows) - 1, MAX_STEP_ROWS).astype(int))
        step_rows = [step_rows[i] for i in keep]
        warnings.append(f"{len(all_step_rows)} step rows; the report lists {len(step_rows)} evenly spaced ones.")
    summary = TraceMemory(
        path=str(path), events=c.events, memory_events=len(c.mem_ts),
        profile_memory_flag=None if flag is None else bool(flag), step_source=step_source,  # type: ignore[arg-type]
        devices=devices, steps=step_rows, top_ops=top_ops, out_of_memory_events=len(c.oom),
    )
    for dm in devices:
        rows = [s for s in all_step_rows if s.device == dm.device]
        leak = _step_leak(dm, rows, op_rows)
        if leak is not None:
            findings.append(leak)
        findings.extend(_trace_pressure(dm, capacity_bytes))
    for t_oom, b, d in c.oom:
        findings.append(make_finding(
            "memory_pressure", "critical", f"out of memory on {device_keys.get(d, '?')}",
            f"The trace records an out-of-memory event: {format_bytes(b)} could not be allocated "
            f"at {(t_oom - t0) / 1000.0:.1f} ms.",
            confidence=0.95, step_start=step_of(t_oom), step_end=step_of(t_oom),
            evidence=[Evidence(metric=f"trace:{device_keys.get(d, '?')}:out_of_memory", step=step_of(t_oom),
                               value=float(b), expected="no [OutOfMemory] event")],
            details={"kind": "oom"},
        ))
    if step_source == "none":
        warnings.append("no ProfilerStep#N or optimizer step annotations: memory per step (and a leak across "
                        "steps) cannot be judged. Profile with a schedule and call prof.step() every step.")
    if capacity_bytes is None:
        warnings.append("capacity unknown: peaks are absolute numbers. Pass capacity (--capacity 80GiB) to "
                        "compare them with the device.")
    main = max(devices, key=lambda dm: dm.peak_allocated)
    stats = {
        "devices": [dm.device for dm in devices], "peak_device": main.device,
        "peak_allocated_bytes": main.peak_allocated, "peak_allocated_human": main.peak_allocated_human,
        "peak_op": main.peak_op, "peak_step": main.peak_step, "peak_reserved_bytes": main.peak_reserved,
        "memory_events": len(c.mem_ts), "steps": len({s.step for s in all_step_rows}),
        "capacity_bytes": capacity_bytes,
    }
    if capacity_bytes:
        stats["peak_fraction_of_capacity"] = round(max(main.peak_allocated, main.peak_reserved) / capacity_bytes, 4)
    return TraceAnalysis(summary, findings, warnings, stats)


def _step_leak(dm: DeviceMemory, rows: list[StepMemory], op_rows: dict) -> Finding | None:
    """Allocated memory at the end of each step rising, steadily, after the first (warm-up) step."""
    if len(rows) < LEAK_MIN_STEPS:
        return None
    rows = sorted(rows, key=lambda s: s.step)[1:]
    ends = np.array([s.allocated_at_end for s in rows], dtype=float)
    rises = np.diff(ends)
    mean_rise = float(rises.mean())
    level = max(ends[0], 1.0)
    growth = ends[-1] - ends[0]
    if len(rows) >= 2 * MIN_POINTS:
        # Many steps: per-step noise is expected, ask for the logged-series criteria instead
        # (sustained growth in every quarter, robust slope, after warm-up).
        fit = fit_leak(np.array([s.step for s in rows], dtype=np.int64), ends)
        if fit is None or not fit.is_leak:
            return None
        mean_rise = fit.slope
    elif not (mean_rise > 0 and np.all(rises > 0) and np.all(rises >= STEADY_INCREMENT * mean_rise)
              and growth / level >= LEAK_MIN_GROWTH):
        return None
    holders = sorted(((op, v[2]) for (op, dname), v in op_rows.items() if dname == dm.device and v[2] > 0),
                     key=lambda kv: -kv[1])[:3]
    evidence = [
        Evidence(metric=f"trace:{dm.device}:allocated_at_step_end", step=rows[0].step, value=float(ends[0]),
                 expected="level after the warm-up step"),
        Evidence(metric=f"trace:{dm.device}:allocated_at_step_end", step=rows[-1].step, value=float(ends[-1]),
                 expected=f"about {format_bytes(ends[0])} (flat after warm-up); " + (
                     f"rose in every one of {len(rises)} steps by {format_bytes(mean_rise)} on average"
                     if len(rows) < 2 * MIN_POINTS
                     else f"robust slope {format_bytes(mean_rise)}/step, rising in every quarter of the steps")),
    ]
    evidence += [Evidence(metric=f"trace:{dm.device}:live_at_end:{op}", value=float(b),
                          expected="freed by the end of the trace") for op, b in holders]
    ops_text = ", ".join(f"{op} ({format_bytes(b)})" for op, b in holders)
    return make_finding(
        "memory_leak", "warning", f"{dm.device} memory grows {format_bytes(mean_rise)} every step",
        f"Allocated memory on {dm.device} at the end of each profiled step rose from {format_bytes(ends[0])} "
        f"(step {rows[0].step}) to {format_bytes(ends[-1])} (step {rows[-1].step}), by "
        f"{format_bytes(mean_rise)} per step, in every step. Something keeps tensors from one step to the "
        f"next (a loss kept with its graph, a growing list of outputs, a cache)."
        + (f" Still allocated at the end, by the op that made it: {ops_text}." if holders else ""),
        confidence=min(0.9, 0.55 + 0.07 * len(rises)), series=f"trace:{dm.device}",
        step_start=rows[0].step, step_end=rows[-1].step, evidence=evidence,
        details={"slope_per_step_bytes": mean_rise, "steps": len(rows) + 1,
                 "live_at_end_by_op": dict(holders)},
    )


def _trace_pressure(dm: DeviceMemory, capacity_bytes: int | None) -> list[Finding]:
    out: list[Finding] = []
    peak = max(dm.peak_allocated, dm.peak_reserved)
    if capacity_bytes and peak / capacity_bytes >= PRESSURE_WARNING:
        share = peak / capacity_bytes
        out.append(make_finding(
            "memory_pressure", "critical" if share >= PRESSURE_CRITICAL else "warning",
            f"{dm.device} peak memory at {share:.0%} of capacity",
            f"Peak on {dm.device}: {format_bytes(dm.peak_allocated)} allocated, {format_bytes(dm.peak_reserved)} "
            f"reserved, against {format_bytes(capacity_bytes)}; the peak allocation was made by "
            f"{dm.peak_op or 'an unknown op'} at {dm.peak_time_ms:.1f} ms.",
            confidence=0.85, series=f"trace:{dm.device}", step_start=dm.peak_step, step_end=dm.peak_step,
            evidence=[Evidence(metric=f"trace:{dm.device}:peak", step=dm.peak_step, value=float(peak),
                               expected=f"< {PRESSURE_WARNING:.0%} of capacity "
                               f"({format_bytes(PRESSURE_WARNING * capacity_bytes)})")],
            details={"kind": "peak", "peak_fraction": round(share, 4), "peak_op": dm.peak_op},
        ))
    unused = dm.peak_reserved - dm.peak_allocated
    if dm.peak_reserved > 0 and unused / dm.peak_reserved >= FRAGMENTATION_FRACTION \
            and unused >= FRAGMENTATION_MIN_BYTES:
        out.append(make_finding(
            "memory_pressure", "warning", f"{dm.device}: reserved far above allocated",
            f"The allocator reserved up to {format_bytes(dm.peak_reserved)} on {dm.device} while allocated "
            f"memory peaked at {format_bytes(dm.peak_allocated)}: {format_bytes(unused)} cached but unused.",
            confidence=0.6, series=f"trace:{dm.device}",
            evidence=[Evidence(metric=f"trace:{dm.device}:peak_reserved", value=float(dm.peak_reserved),
                               expected=f"close to peak allocated {format_bytes(dm.peak_allocated)}")],
            details={"kind": "fragmentation", "unused_bytes": unused},
        ))
    return out
