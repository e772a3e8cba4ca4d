"""CUDA caching-allocator snapshots: ``torch.cuda.memory._snapshot()`` / ``_dump_snapshot`` pickles.

The format (documented in ``torch/cuda/memory.py``, read by ``torch/cuda/_memory_viz.py``) is plain
containers: ``{"segments": [...], "device_traces": [[...], ...]}``. Each segment is one
``cudaMalloc`` (``total_size`` bytes, the sum of segments is *reserved* memory) split into blocks
whose ``state`` is ``active_allocated`` (a live tensor), ``active_pending_free`` (freed, waiting on a
stream; the docstring calls it ``active_awaiting_free``) or ``inactive`` (cached, free). Each block
and each history entry carries the Python/C++ stack (``frames``, innermost first) that allocated it.

So the pickle is read with :func:`traintriage.safe_pickle.restricted_loads` allowing NO globals: a
snapshot never needs one, and a pickle that names one is refused before anything runs.

Fragmentation here is precise: inactive bytes inside segments that still hold a live block. Those
cannot be given back by ``empty_cache()`` and serve only allocations that fit the gaps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..findings import Evidence, Finding, make_finding
from ..rules.memory_pressure.thresholds import FRAGMENTATION_MIN_BYTES, PRESSURE_CRITICAL, PRESSURE_WARNING
from ..rules.memory_pressure.thresholds import SNAPSHOT_FRAGMENTATION_FRACTION as FRAGMENTATION_FRACTION
from ..untrusted import clean_text
from .report import BlockInfo, FrameAllocation, HistoryEntry, SnapshotDevice, SnapshotMemory
from .sizes import format_bytes

MAX_SNAPSHOT_BYTES = 4 << 30
LARGEST_BLOCKS = 10
TOP_FRAMES = 10
HISTORY_BEFORE, HISTORY_AFTER = 12, 6
_ACTIVE_STATES = ("active_allocated", "active_pending_free", "active_awaiting_free")
# Frames that say nothing about who allocated: the allocator itself and the interpreter.
_NOISE = ("CUDACachingAllocator", "CapturedTraceback", "unwind::", "c10::", "PyEval_", "PyObject_",
          "_PyEval", "_PyObject", "PyFunction_", "__libc_start_main", "_start")
SNAPSHOT_HINT = (
    "Record one with torch.cuda.memory._record_memory_history(max_entries=100000), run the steps, then "
    "torch.cuda.memory._dump_snapshot('snapshot.pickle')."
)


def load_snapshot(path: Path) -> dict[str, Any]:
    """Read a snapshot pickle with no globals allowed, and check it has the documented shape."""
    from ..safe_pickle import restricted_loads

    with open(path, "rb") as f:
        data = restricted_loads(f, allowed={}, max_bytes=MAX_SNAPSHOT_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise InputError(
            f"{path}: a pickle, but not a CUDA memory snapshot (no 'segments' list).", hint=SNAPSHOT_HINT
        )
    if not isinstance(data.get("device_traces", []), list):
        raise InputError(f"{path}: 'device_traces' is not a list.", hint=SNAPSHOT_HINT)
    return data


def looks_like_snapshot_file(path: Path) -> bool:
    """A pickle by its first byte (protocol 2+ starts with PROTO 0x80); the shape is checked on load."""
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"\x80"
    except OSError:
        return False


def _text(value: Any, default: str = "") -> str:
    """A string field of the snapshot; anything else (a pickle may put a list nested 100k deep there, or
    one whose str() would never end) is ``default``, or a number as text."""
    if isinstance(value, str):
        return clean_text(str(value[:500]))
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64:
        return str(value)
    return default


def user_frame(frames: Any) -> str | None:
    """The frame to blame for an allocation: the innermost Python frame outside torch, as file:line:func."""
    if not isinstance(frames, list) or not frames:
        return None
    fields = [tuple(None if f.get(k) is None else _text(f.get(k)) for k in ("filename", "line", "name"))
              for f in frames if isinstance(f, dict)]
    clean = [f for f in fields if not any(n in (f[2] or "") for n in _NOISE) and f[0] not in ("??", "")]
    for pick in (
        lambda f: (f[0] or "").endswith(".py") and "/torch/" not in f[0],
        lambda f: (f[0] or "").endswith(".py"),
        lambda f: True,
    ):
        for f in clean:
            if pick(f):
                return f"{f[0]}:{f[1]}:{f[2]}"
    return None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """An integer field; 0 when it is not one or lies past the int64 range (no allocator counts past it)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if -(1 << 63) <= number < (1 << 63) else 0


@dataclass
class SnapshotAnalysis:
    summary: SnapshotMemory
    findings: list[Finding]
    warnings: list[str]
    stats: dict


def analyze_snapshot(
    data: dict[str, Any], *, path: str = "<snapshot>", capacity_bytes: int | None = None
) -> SnapshotAnalysis:
    """Segments, allocated vs reserved, fragmentation, largest blocks, top frames, history around the peak."""
    warnings: list[str] = []
    per_device: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    blocks: list[BlockInfo] = []
    by_frame: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seg in data["segments"]:
        if not isinstance(seg, dict):
            continue
        dev = _int(seg.get("device", 0))
        d = per_device[dev]
        total = _int(seg.get("total_size"))
        d["segments"] += 1
        d["large" if seg.get("segment_type") == "large" else "small"] += 1
        d["reserved"] += total
        seg_blocks = [b for b in _list(seg.get("blocks")) if isinstance(b, dict)]
        seg_active = seg_inactive = 0
        for b in seg_blocks:
            size, state = _int(b.get("size")), _text(b.get("state"))
            if state == "active_allocated":
                d["allocated"] += size
                d["requested"] += _int(b.get("requested_size", size))
                frame = user_frame(b.get("frames")) or "<no stack recorded>"
                by_frame[frame][0] += size
                by_frame[frame][1] += 1
            if state in _ACTIVE_STATES:
                seg_active += size
                blocks.append(BlockInfo(
                    device=dev, address=_int(b.get("address")), size=size, size_human=format_bytes(size),
                    requested_size=_int(b.get("requested_size", size)), state=state,
                    segment_type=_text(seg.get("segment_type"), "?"), frame=user_frame(b.get("frames")),
                ))
            elif state == "inactive":
                seg_inactive += size
                d["largest_free"] = max(d["largest_free"], size)
        if not seg_blocks:  # old or trimmed snapshots: fall back to the segment's own counters
            seg_active = _int(seg.get("active_size"))
            d["allocated"] += _int(seg.get("allocated_size"))
            seg_inactive = total - seg_active
        d["active"] += seg_active
        if seg_active > 0:
            d["fragmented"] += seg_inactive

    devices = []
    for dev, d in sorted(per_device.items()):
        reserved = d["reserved"]
        devices.append(SnapshotDevice(
            device=dev, segments=d["segments"], large_segments=d["large"], small_segments=d["small"],
            reserved=reserved, reserved_human=format_bytes(reserved), allocated=d["allocated"],
            allocated_human=format_bytes(d["allocated"]), active=d["active"], requested=d["requested"],
            inactive=reserved - d["active"], fragmented_inactive=d["fragmented"],
            largest_free_block=d["largest_free"],
            fragmentation=round(d["fragmented"] / reserved, 4) if reserved else 0.0,
        ))

    history, peak, around, ooms = _replay(data, {d.device: d.active for d in devices}, warnings)
    largest = sorted(blocks, key=lambda b: -b.size)[:LARGEST_BLOCKS]
    top_frames = [FrameAllocation(frame=f, bytes=v[0], bytes_human=format_bytes(v[0]), blocks=v[1])
                  for f, v in sorted(by_frame.items(), key=lambda kv: -kv[1][0])[:TOP_FRAMES]]
    summary = SnapshotMemory(
        path=path, devices=devices, largest_blocks=largest, top_frames=top_frames, history_entries=history,
        history_peak_allocated=peak, history_around_peak=around, oom_events=ooms,
    )
    if not devices:
        warnings.append("the snapshot has no segments: nothing was allocated on the device when it was taken.")
    if history == 0:
        warnings.append("no allocation history (device_traces empty): the peak is unknown. "
                        "Call torch.cuda.memory._record_memory_history() before the steps you snapshot.")
    findings = _findings(devices, peak, around, ooms, top_frames, capacity_bytes, warnings)
    stats: dict[str, Any] = {
        "devices": len(devices),
        "segments": sum(d.segments for d in devices),
        "reserved_bytes": sum(d.reserved for d in devices),
        "allocated_bytes": sum(d.allocated for d in devices),
        "fragmented_inactive_bytes": sum(d.fragmented_inactive for d in devices),
        "history_peak_allocated_bytes": peak,
        "capacity_bytes": capacity_bytes,
    }
    return SnapshotAnalysis(summary, findings, warnings, stats)


def _replay(
    data: dict[str, Any], active_end: dict[int, int], warnings: list[str]
) -> tuple[int, int | None, list[HistoryEntry], list[HistoryEntry]]:
    """Replay ``device_traces`` as ``_memory_viz.trace`` does (alloc +size, free_completed -size).

    The history is a ring buffer (``max_entries``) that may start mid-run, so the level before its
    first entry is not zero: it is the active bytes at the snapshot minus the history's net change.
    Returns (entries, peak over devices, entries around that peak, OOM entries).
    """
    traces = _list(data.get("device_traces"))
    total_entries = 0
    best: tuple[int, int, list[dict], list[int]] | None = None
    ooms: list[HistoryEntry] = []
    for dev, entries in enumerate(traces):
        if not isinstance(entries, list) or not entries:
            continue
        entries = [e for e in entries if isinstance(e, dict)]
        if not entries:
            continue
        total_entries += len(entries)
        net = 0
        deltas = []
        for e in entries:
            action, size = e.get("action"), _int(e.get("size"))
            delta = size if action == "alloc" else -size if action == "free_completed" else 0
            net += delta
            deltas.append(delta)
        level = active_end.get(dev, 0) - net
        if level < 0:
            warnings.append(f"device {dev}: the allocation history frees more than the snapshot accounts for; "
                            "levels replayed from 0.")
            level = 0
        levels = []
        for delta in deltas:
            level += delta
            levels.append(level)
        peak_i = max(range(len(levels)), key=levels.__getitem__)
        if best is None or levels[peak_i] > best[0]:
            best = (levels[peak_i], peak_i, entries, levels)
        for i, e in enumerate(entries):
            if e.get("action") == "oom":
                ooms.append(_entry(i, e, levels[i]))
    if best is None:
        return 0, None, [], ooms
    peak, peak_i, entries, levels = best
    lo, hi = max(0, peak_i - HISTORY_BEFORE), min(len(entries), peak_i + HISTORY_AFTER + 1)
    return total_entries, peak, [_entry(i, entries[i], levels[i]) for i in range(lo, hi)], ooms


def _entry(i: int, e: dict, level: int | None) -> HistoryEntry:
    return HistoryEntry(
        index=i, action=_text(e.get("action"), "?"), addr=_int(e["addr"]) if "addr" in e else None,
        size=_int(e.get("size")), allocated_after=level,
        time_us=_int(e["time_us"]) if "time_us" in e else None, frame=user_frame(e.get("frames")),
    )


def _findings(
    devices: list[SnapshotDevice], peak: int | None, around: list[HistoryEntry], ooms: list[HistoryEntry],
    top_frames: list[FrameAllocation], capacity_bytes: int | None, warnings: list[str],
) -> list[Finding]:
    out: list[Finding] = []
    for d in devices:
        if d.fragmentation >= FRAGMENTATION_FRACTION and d.fragmented_inactive >= FRAGMENTATION_MIN_BYTES:
            out.append(make_finding(
                "memory_pressure", "warning",
                f"cuda:{d.device}: {format_bytes(d.fragmented_inactive)} free but pinned in partly used segments",
                f"On cuda:{d.device} the allocator reserves {d.reserved_human} for {d.allocated_human} of live "
                f"tensors. {format_bytes(d.fragmented_inactive)} ({d.fragmentation:.0%} of reserved) is free but "
                f"inside segments that still hold live blocks, so empty_cache() cannot release it and only "
                f"allocations up to {format_bytes(d.largest_free_block)} (the largest free block) fit in it.",
                confidence=0.8, series=f"snapshot:cuda:{d.device}",
                evidence=[
                    Evidence(metric=f"snapshot:cuda:{d.device}:reserved", value=float(d.reserved),
                             expected=f"close to allocated ({d.allocated_human})"),
                    Evidence(metric=f"snapshot:cuda:{d.device}:fragmented_inactive", value=float(d.fragmented_inactive),
                             expected=f"< {FRAGMENTATION_FRACTION:.0%} of reserved "
                             f"and < {format_bytes(FRAGMENTATION_MIN_BYTES)}"),
                    Evidence(metric=f"snapshot:cuda:{d.device}:largest_free_block", value=float(d.largest_free_block)),
                ],
                details={"kind": "fragmentation", "fragmentation": d.fragmentation},
            ))
    for e in ooms:
        out.append(make_finding(
            "memory_pressure", "critical", f"out of memory: {format_bytes(e.size)} could not be allocated",
            f"The allocator raised OOM (history entry {e.index}) asking for {format_bytes(e.size)}"
            + (f", allocated at the time {format_bytes(e.allocated_after)}" if e.allocated_after is not None else "")
            + (f", from {e.frame}" if e.frame else "") + ".",
            confidence=0.95, series="snapshot",
            evidence=[Evidence(metric="snapshot:oom:size", value=float(e.size), expected="no OOM entry")],
            details={"kind": "oom", "index": e.index},
        ))
    reserved = max((d.reserved for d in devices), default=0)
    high = max(reserved, peak or 0)
    if capacity_bytes is None:
        warnings.append(f"capacity unknown: reserved {format_bytes(reserved)}, history peak "
                        f"{format_bytes(peak)} allocated, as absolute numbers. Pass capacity "
                        "(--capacity 80GiB) to compare them with the device.")
    elif high / capacity_bytes >= PRESSURE_WARNING:
        share = high / capacity_bytes
        at = next((e for e in around if e.allocated_after == peak), None)
        out.append(make_finding(
            "memory_pressure", "critical" if share >= PRESSURE_CRITICAL else "warning",
            f"peak memory at {share:.0%} of capacity",
            f"Peak {format_bytes(high)} ({'reserved' if reserved >= (peak or 0) else 'allocated, from the history'}) "
            f"against {format_bytes(capacity_bytes)}"
            + (f"; the allocation that reached it came from {at.frame}" if at and at.frame else "")
            + (f". Most live memory comes from {top_frames[0].frame} ({top_frames[0].bytes_human})."
               if top_frames else "."),
            confidence=0.85, series="snapshot",
            evidence=[Evidence(metric="snapshot:peak", value=float(high),
                               expected=f"< {PRESSURE_WARNING:.0%} of capacity "
                               f"({format_bytes(PRESSURE_WARNING * capacity_bytes)})")],
            details={"kind": "peak", "peak_fraction": round(share, 4)},
        ))
    return out
