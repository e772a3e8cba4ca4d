"""The main series of a run, summarised one per line: the rows of the series table and sparklines that
the ``--text``, markdown and HTML reports share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..signals import RunData
from ..textreport import fmt_num
from .sparkline import sparkline


@dataclass(frozen=True)
class SeriesRow:
    role: str
    name: str
    points: int
    first: str
    last: str
    low: str  # minimum and its step
    high: str  # maximum and its step
    spark: str
    log: bool


def main_series(data: RunData) -> list[tuple[str, str]]:
    """(role, series name) of the series a person looks at first, in reading order."""
    r = data.roles
    out = [("train loss", r.train_loss)] + [("val loss", n) for n in r.val_loss]
    out += [("lr", r.lr), ("grad norm", r.grad_preclip or r.grad_total), ("grad norm post-clip", r.grad_postclip)]
    out += [("memory", n) for n in r.memory[:2]]
    return [(role, name) for role, name in out if name and data.get(name) is not None and len(data.get(name))]


def series_rows(data: RunData, width: int = 32) -> list[SeriesRow]:
    rows = []
    for role, name in main_series(data):
        s = data.series[name]
        v, st = s.values, s.steps
        finite = np.isfinite(v)
        if finite.any():
            fi = np.flatnonzero(finite)
            lo_i, hi_i = fi[np.argmin(v[finite])], fi[np.argmax(v[finite])]
            low, high = f"{fmt_num(v[lo_i])} @{st[lo_i]}", f"{fmt_num(v[hi_i])} @{st[hi_i]}"
        else:
            low = high = "-"
        spark = sparkline(v, width)
        rows.append(SeriesRow(role, name, len(s), fmt_num(v[0]), fmt_num(v[-1]), low, high, spark.text, spark.log))
    return rows


def text_block(data: RunData) -> list[str]:
    """The ``--text`` report's SERIES section: one sparkline per main series."""
    rows = series_rows(data)
    if not rows:
        return []
    width = max(len(f"{r.role} ({r.name})") for r in rows)
    lines = ["SERIES (one character per bucket of steps, its maximum; × = NaN/Inf)"]
    for r in rows:
        label = f"{r.role} ({r.name})".ljust(width)
        lines.append(f"  {label}  {r.spark}  {r.first} -> {r.last}{'  (log scale)' if r.log else ''}")
    return lines
