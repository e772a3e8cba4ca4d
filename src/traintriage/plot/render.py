"""Drawing the annotated run plot with matplotlib (see ``plot/__init__.py`` for what it shows).

Layout decisions, each for something that was hard to read otherwise:

* an issue lane above the panels: one bar per issue over its steps, labels packed into rows so they
  never overlap; the panels below are shaded only for issues narrower than half the run (a span over
  the whole run would tint everything and mark nothing);
* legends outside the axes, on the right, so they never hide a curve;
* a log y-axis wherever a panel's values span two decades or more (a loss spike or a starved component
  would otherwise flatten everything else to the floor);
* raw values are always drawn: the train loss gets a moving mean on top for readability, never instead,
  so smoothing cannot hide a spike; the footer states the smoothing and the downsampling.
"""

from __future__ import annotations

import io

import numpy as np

from .backend import figure_class
from .envelope import envelope, moving_mean
from .marks import SEVERITY_COLOURS, Mark
from .panels import Panel

WIDTH_IN = 11.0
LEFT, RIGHT = 0.075, 0.80  # axes span this fraction of the width; legends sit to the right
LOG_DECADES = 2.0
SMOOTH_MIN_POINTS = 200
LANE_ROW_IN = 0.22
SHADE_MAX_FRACTION = 0.5


def render(
    panels: list[Panel], marks: list[Mark], *, title: str, subtitle: str = "", fmt: str = "png", dpi: int = 100
) -> tuple[bytes, dict]:
    """Draw and encode the plot; returns (file bytes, facts about it: panels, smoothing, downsampling)."""
    Figure = figure_class()
    columns = max(int(WIDTH_IN * dpi * (RIGHT - LEFT)), 100)
    x_lo, x_hi = _step_range(panels)
    rows = _pack_lane(marks, x_lo, x_hi, columns)
    lane_rows = max((r for r, _ in rows), default=-1) + 1
    lane_h = LANE_ROW_IN * lane_rows + 0.15 if lane_rows else 0.0
    heights = [2.4 if p.key == "loss" else 1.6 for p in panels]
    top_in, bottom_in = 0.95, 0.8
    fig_h = top_in + bottom_in + lane_h + sum(heights) + 0.35 * len(panels)
    fig = Figure(figsize=(WIDTH_IN, fig_h), dpi=dpi)
    ratios = ([lane_h] if lane_rows else []) + heights
    axes = fig.subplots(
        len(ratios), 1, sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": ratios, "hspace": 0.35 if len(ratios) > 1 else 0.0},
    )[:, 0]
    fig.subplots_adjust(left=LEFT, right=RIGHT, top=1 - top_in / fig_h, bottom=bottom_in / fig_h)
    fig.suptitle(title, x=LEFT, ha="left", fontsize=12, fontweight="bold", y=1 - 0.12 / fig_h, va="top")
    if subtitle:
        fig.text(LEFT, 1 - 0.42 / fig_h, subtitle, fontsize=8, color="#555555", va="top")

    facts: dict = {"panels": [p.key for p in panels], "downsampled": False, "smoothing": None}
    if lane_rows:
        _draw_lane(axes[0], rows, lane_rows)
    for ax, panel in zip(axes[1 if lane_rows else 0:], panels, strict=True):
        _draw_panel(ax, panel, columns, facts)
        _shade(ax, marks, x_lo, x_hi)
    pad = 0.01 * (x_hi - x_lo) if x_hi > x_lo else 0.5  # markers on the last step are drawn whole
    axes[-1].set_xlim(x_lo, x_hi + pad)
    axes[-1].set_xlabel("step", fontsize=9)
    axes[-1].xaxis.set_major_formatter(_thousands())
    fig.text(LEFT, 0.12 / fig_h, _footer(facts), fontsize=7.5, color="#555555", va="bottom")

    from matplotlib import rc_context

    buf = io.BytesIO()
    # SVG text as <text>, not glyph paths: a third of the size, and searchable and selectable.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "traintriage"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    return buf.getvalue(), facts


def _metadata(fmt: str) -> dict:
    # Reproducible files: no creation date (so the committed demo PNG only changes when the plot does).
    if fmt == "svg":
        return {"Date": None}
    return {"Software": "traintriage (matplotlib)"}


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _step_range(panels: list[Panel]) -> tuple[float, float]:
    lo = min(float(line.series.steps[0]) for p in panels for line in p.lines)
    hi = max(float(line.series.steps[-1]) for p in panels for line in p.lines)
    return lo, hi


# ------------------------------------------------------------------------------------------------
# The issue lane
# ------------------------------------------------------------------------------------------------

CHAR_PX = 6.2  # width of one label character at the lane's font size, in pixels at 100 dpi


def _pack_lane(marks: list[Mark], x_lo: float, x_hi: float, columns: int) -> list[tuple[int, tuple]]:
    """Assign each mark a row so that no two labels (or bars) overlap: greedy, first row that fits."""
    span = max(x_hi - x_lo, 1.0)
    per_px = span / columns
    rows_end: list[float] = []
    placed = []
    for m in marks:
        start = x_lo if m.start is None else float(m.start)
        end = x_hi if m.end is None else float(max(m.end, start))
        label_w = (len(m.label) + 1) * CHAR_PX * per_px
        right_aligned = start + label_w > x_hi
        occupied = (min(start, end - label_w), end) if right_aligned else (start, max(end, start + label_w))
        for row, last in enumerate(rows_end):
            if occupied[0] > last + 4 * per_px:
                rows_end[row] = occupied[1]
                break
        else:
            row = len(rows_end)
            rows_end.append(occupied[1])
        placed.append((row, (m, start, end, right_aligned)))
    return placed


def _draw_lane(ax, rows, n_rows: int) -> None:
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", length=0)
    ax.set_title("issues (triage rank, codes)", loc="left", fontsize=9, pad=3)
    for row, (m, start, end, right_aligned) in rows:
        colour = SEVERITY_COLOURS.get(m.severity, "#7f7f7f")
        width = max(end - start, 0.0)
        ax.barh(row, width if width > 0 else 1e-9, left=start, height=0.55, color=colour, alpha=0.35,
                edgecolor=colour, linewidth=1.2)
        if width == 0:
            ax.plot([start], [row], marker="|", color=colour, markersize=9)
        x, ha = (end, "right") if right_aligned else (start, "left")
        ax.text(x, row, f" {m.label} ", va="center", ha=ha, fontsize=8, color="#222222", clip_on=False)


def _shade(ax, marks: list[Mark], x_lo: float, x_hi: float) -> None:
    span = max(x_hi - x_lo, 1.0)
    for m in marks:
        if m.start is None:
            continue
        end = m.start if m.end is None else m.end
        colour = SEVERITY_COLOURS.get(m.severity, "#7f7f7f")
        if end - m.start > SHADE_MAX_FRACTION * span:
            continue
        if end == m.start:
            ax.axvline(m.start, color=colour, alpha=0.35, linewidth=1.0, zorder=0)
        else:
            ax.axvspan(m.start, end, color=colour, alpha=0.10, linewidth=0, zorder=0)


# ------------------------------------------------------------------------------------------------
# Data panels
# ------------------------------------------------------------------------------------------------


def _draw_panel(ax, panel: Panel, columns: int, facts: dict) -> None:
    ax.set_title(panel.title, loc="left", fontsize=9, pad=3)
    ax.tick_params(labelsize=8)
    ax.grid(True, which="major", alpha=0.25, linewidth=0.6)
    drawn: list[np.ndarray] = []
    bad_steps: list[np.ndarray] = []
    for i, line in enumerate(panel.lines):
        colour = f"C{i % 10}"
        s = line.series
        values = s.values / panel.scale if panel.scale != 1.0 else s.values
        bad = ~np.isfinite(values)
        if bad.any():
            bad_steps.append(s.steps[bad])
        if line.kind == "points":
            x, y = envelope(s.steps, values, columns)
            ax.plot(x, y, color=colour, linewidth=1.2, marker="o" if len(x) <= 80 else None, markersize=3,
                    label=line.label)
            _mark_best(ax, s.steps, values, colour)
        elif line.kind == "smoothed" and np.isfinite(values).sum() >= SMOOTH_MIN_POINTS:
            window = max(5, len(values) // 100)
            x, y = envelope(s.steps, values, columns)
            ax.plot(x, y, color=colour, linewidth=0.8, alpha=0.35, label=f"{line.label}, raw")
            sx, sy = envelope(s.steps, moving_mean(values, window), columns)
            ax.plot(sx, sy, color=colour, linewidth=1.5, label=f"moving mean ({window} pts)")
            facts["smoothing"] = f"{s.name}: trailing moving mean over {window} points, drawn over the raw values"
        else:
            x, y = envelope(s.steps, values, columns)
            ax.plot(x, y, color=colour, linewidth=1.0, label=line.label)
        facts["downsampled"] = facts["downsampled"] or len(x) < int(np.isfinite(values).sum())
        drawn.append(y)
    if panel.hline is not None:
        value, label = panel.hline
        ax.axhline(value / panel.scale, color="#444444", linestyle="--", linewidth=1.0, label=label)
        drawn.append(np.array([value / panel.scale]))
    if bad_steps:
        steps = np.unique(np.concatenate(bad_steps))
        ax.plot(steps, np.full(len(steps), 0.97), transform=ax.get_xaxis_transform(), linestyle="none",
                marker="x", color="#d62728", markersize=6, label=f"NaN/Inf ({len(steps)} steps)")
    _scale(ax, drawn, bulk=panel.key == "lr")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False, borderaxespad=0.0)


def _mark_best(ax, steps: np.ndarray, values: np.ndarray, colour: str) -> None:
    finite = np.isfinite(values)
    if not finite.any():
        return
    i = int(np.flatnonzero(finite)[np.argmin(values[finite])])
    ax.plot([steps[i]], [values[i]], marker="*", markersize=13, color=colour, markeredgecolor="black",
            markeredgewidth=0.6, linestyle="none", label=f"best val {values[i]:.4g} @ step {int(steps[i]):,}",
            zorder=5)
    ax.axvline(steps[i], color=colour, linestyle=":", linewidth=1.0, alpha=0.8)


def _scale(ax, drawn: list[np.ndarray], bulk: bool) -> None:
    """Log y when every value is positive and they span LOG_DECADES decades or more: between the extremes
    (a loss spike, a starved component), or for ``bulk`` panels (LR) between the 10th and 90th percentiles,
    so that a schedule decaying to ~0 in its last steps does not stretch the axis over ten decades."""
    if not drawn:
        return
    y = np.concatenate(drawn)
    y = y[np.isfinite(y)]
    if not len(y) or not (y > 0).all():
        return
    lo, hi = (np.percentile(y, [10, 90]) if bulk else (y.min(), y.max()))
    if np.log10(hi / lo) >= LOG_DECADES:
        ax.set_yscale("log")


def _footer(facts: dict) -> str:
    smooth = facts["smoothing"] or "no smoothing (raw values)"
    down = "; min/max envelope per pixel column (every spike kept)" if facts["downsampled"] else ""
    return (f"smoothing: {smooth}{down}.\n"
            "Shaded: issues narrower than half the run (the lane above shows every issue). Made by traintriage plot.")
