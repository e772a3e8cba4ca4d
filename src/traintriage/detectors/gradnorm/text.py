"""The ``--text`` rendering of a :class:`GradNormReport`: findings first, then the component table."""

from __future__ import annotations

from ...textreport import findings_block, fmt_num, run_header, warnings_block
from .report import GradNormReport

_MARKS = {
    "dead": "DEAD",
    "starved": "starved",
    "dominant": "DOMINANT",
    "non_finite": "NaN/Inf",
    "vanishing": "vanishing",
    "exploding": "EXPLODING",
}


def render(report: GradNormReport) -> str:
    lines = run_header(report.run)
    lines += ["", *findings_block(report.findings), ""]
    if report.components:
        lines.append(
            f"  {'component':<28} {'median':>10} {'p95':>10} {'min':>10} {'max':>10} {'share':>7} "
            f"{'dead%':>6} {'spikes':>6} {'growth':>7}  status"
        )
        for c in report.components:
            share = f"{100 * c.share_median:.1f}%" if c.share_median is not None else "-"
            growth = f"{c.growth_decades:+.1f}" if c.growth_decades is not None else "-"
            mark = _MARKS.get(c.status, "")
            lines.append(
                f"  {c.name[:28]:<28} {fmt_num(c.median, 3):>10} {fmt_num(c.p95, 3):>10} {fmt_num(c.min, 3):>10} "
                f"{fmt_num(c.max, 3):>10} {share:>7} {c.dead_percent:>6.1f} {c.spikes:>6} {growth:>7}  {mark}"
            )
        lines.append("  (share: median of c^2 / sum c^2; growth: decades, last tenth vs first quarter)")
    if report.total is not None:
        t = report.total
        lines.append(
            f"  total: {t.name}  median {fmt_num(t.median, 3)}  p95 {fmt_num(t.p95, 3)}  max {fmt_num(t.max, 3)}  "
            f"growth {fmt_num(t.growth_decades, 2)} decades  spikes {t.spikes}"
        )
        if t.effective_update_median is not None:
            lines.append(f"  effective update (norm x lr): median {fmt_num(t.effective_update_median, 3)}")
    for st in report.layer_stacks:
        lines.append(
            f"  layer stack {st.layers[0]}..{st.layers[-1]} ({len(st.layers)}): front-back "
            f"{st.front_minus_back_decades:+.2f} decades, spearman {st.spearman_rho:+.2f}"
        )
    if report.clipping is not None:
        c = report.clipping
        lines.append(
            f"  clipping: {c.clipped_percent:.1f}% of {c.steps} steps, threshold {fmt_num(c.threshold, 3)} "
            f"({c.threshold_source}), factor median {fmt_num(c.factor_median, 3)} p95 {fmt_num(c.factor_p95, 3)}"
        )
    if report.loss_correlation is not None:
        lc = report.loss_correlation
        lines.append(
            f"  loss vs log norm: spearman {fmt_num(lc.spearman, 3)} (detrended {fmt_num(lc.spearman_detrended, 3)}, "
            f"best lag {lc.best_lag}; {lc.points} points, {lc.alignment})"
        )
    lines += ["", *warnings_block(report.warnings)]
    return "\n".join(lines)
