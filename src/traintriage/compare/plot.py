"""The overlay plot of a comparison: both training losses on one step axis, GOOD's band shaded, the
separation step marked. matplotlib comes from :mod:`traintriage.plot.backend` (Agg, imported here only).

Long series are drawn as min/max envelopes per pixel column (:mod:`traintriage.plot.envelope`), so a spike
of either run stays visible; a log y-axis when the losses span two decades or more, as in the run plot.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..plot import Plot, format_for
from ..plot.backend import figure_class
from ..plot.render import LOG_DECADES

GOOD_COLOUR, BAD_COLOUR, SEP_COLOUR = "#1f77b4", "#d62728", "#444444"


def _line(ax, steps, values, columns, **kw):
    from ..plot.envelope import envelope

    x, y = envelope(steps, values, columns)
    ax.plot(x, y, **kw)


def overlay(good_data, bad_data, report, *, fmt: str = "png", dpi: int = 100) -> Plot:
    import numpy as np

    from .separation import separate

    Figure = figure_class()
    good = good_data.get(report.loss_series[0])
    bad = bad_data.get(report.loss_series[1])
    result = separate(good, bad)
    fig = Figure(figsize=(11, 4.6), dpi=dpi)
    ax = fig.add_axes((0.075, 0.14, 0.70, 0.70))
    columns = max(int(11 * dpi * 0.7), 100)
    g_name, b_name = Path(report.good).name, Path(report.bad).name
    if result.band is not None:
        b = result.band
        ax.fill_between(b.steps, b.low, b.high, color=GOOD_COLOUR, alpha=0.15, linewidth=0,
                        label="GOOD's band")
    _line(ax, good.steps, good.values, columns, color=GOOD_COLOUR, linewidth=1.1, label=f"GOOD: {g_name}")
    _line(ax, bad.steps, bad.values, columns, color=BAD_COLOUR, linewidth=1.1, label=f"BAD: {b_name}")
    finite = np.concatenate([v[np.isfinite(v)] for v in (good.values, bad.values)])
    if finite.size and finite.min() > 0 and np.log10(finite.max() / finite.min()) >= LOG_DECADES:
        ax.set_yscale("log")
    sep = report.separation
    if sep is not None:
        ax.axvline(sep.step, color=SEP_COLOUR, linestyle="--", linewidth=1.0, label=f"separate @ step {sep.step}")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss ({report.loss_series[0]})")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    head = f"separate at step {sep.step}" if sep else "no separation"
    changed = ", ".join(c.key for c in report.config[:4]) + (" …" if len(report.config) > 4 else "")
    missing = [w for w, n in zip(("GOOD", "BAD"), report.config_keys, strict=True) if not n]
    config = f"config not found for {' and '.join(missing)}" if missing else f"config changed: {changed or 'nothing'}"
    fig.suptitle(f"{b_name} vs {g_name}: {head}", x=0.075, ha="left", fontsize=12)
    fig.text(0.075, 0.885, f"{config}; "
             f"findings only in BAD: {len(report.new_findings)}", fontsize=9, color="#555555")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    summary = (f"Overlay of the training losses ({fmt.upper()}, {buf.tell():,} bytes): GOOD {g_name} in blue with "
               f"its band shaded, BAD {b_name} in red; {head}.")
    return Plot(buf.getvalue(), fmt, summary)


def write_overlay(path: str | Path, good_data, bad_data, report, *, dpi: int = 100) -> Plot:
    out = Path(path).expanduser()
    plot = overlay(good_data, bad_data, report, fmt=format_for(out), dpi=dpi)
    if not out.parent.is_dir():
        from ..errors import InputError

        raise InputError(f"cannot write {str(out)!r}: its directory does not exist.")
    out.write_bytes(plot.data)
    return plot
