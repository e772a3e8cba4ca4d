"""Per-tag summaries of a run's weight and gradient histograms (``traintriage triage --histograms``).

Many runs log a histogram per layer (Keras ``histogram_freq=1``, ``add_histogram`` per parameter) and no
gradient norm at all: the histograms are then their only evidence of gradient health (a layer whose
gradient spread collapses to zero or grows by orders of magnitude). The reader summarises each histogram
as it skips it (:mod:`.eventskim`); this module reduces those points to a few numbers per tag, small enough
to hand to an agent: the spread (std) at the first and last step and its extremes, the mean, min and max.
Opt-in, since it re-reads the event files with histograms collected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from .eventfile import scan_event_file
from .eventskim import HistogramPoint

MAX_TAGS = 200
_GRAD = re.compile(r"grad", re.IGNORECASE)
_WEIGHT = re.compile(r"weight|kernel|bias|param", re.IGNORECASE)


def _kind(tag: str) -> str:
    return "gradient" if _GRAD.search(tag) else "weight" if _WEIGHT.search(tag) else "other"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def summarize(points: list[HistogramPoint]) -> list[dict[str, Any]]:
    """One entry per tag (file order of first appearance; at most ``MAX_TAGS``)."""
    by_tag: dict[str, list[HistogramPoint]] = {}
    for p in points:
        by_tag.setdefault(p.tag, []).append(p)
    out = []
    for tag, pts in list(by_tag.items())[:MAX_TAGS]:
        pts.sort(key=lambda p: p.step)
        finite = [p for p in pts if math.isfinite(p.std) and math.isfinite(p.mean)]
        first, last = pts[0], pts[-1]
        stds = [p.std for p in finite]
        out.append({
            "tag": tag,
            "kind": _kind(tag),
            "points": len(pts),
            "steps": [first.step, last.step],
            "mean": {"first": _num(first.mean), "last": _num(last.mean)},
            "std": {"first": _num(first.std), "last": _num(last.std),
                    "min": min(stds) if stds else None, "max": max(stds) if stds else None},
            "min": _num(min((p.min for p in pts), default=math.nan)),
            "max": _num(max((p.max for p in pts), default=math.nan)),
            "nonfinite_points": len(pts) - len(finite)
            + sum(1 for p in finite if not (math.isfinite(p.min) and math.isfinite(p.max))),
        })
    return out


def histogram_summary(event_files: list[Path]) -> dict[str, Any]:
    """``{"tags": [...], "tags_total": n, "warnings": [...]}`` for the histograms of these event files."""
    points: list[HistogramPoint] = []
    warnings: list[str] = []
    for path in event_files:
        scan = scan_event_file(path, histograms=True)
        points.extend(scan.histograms)
        warnings.extend(f"{path.name}: {w}" for w in scan.warnings)
    tags = summarize(points)
    return {"tags": tags, "tags_total": len({p.tag for p in points}), "warnings": warnings}
