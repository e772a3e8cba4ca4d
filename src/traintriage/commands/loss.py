"""``traintriage loss RUN`` (alias ``loss-curve-critic``): critique the loss curve of a run."""

from __future__ import annotations

import argparse

from . import Outcome, add_run_arguments
from .plot import add_plot_argument, plot_if_asked


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loss",
        help="critique a loss curve: NaN/Inf, spikes, divergence, plateaus, stuck loss, oscillation, "
        "overfitting, zero loss, curriculum regressions",
    )
    add_run_arguments(p)
    p.add_argument("--series", metavar="TAG", default=None, help="analyse this series instead of the training loss")
    p.add_argument(
        "--transition",
        action="append",
        type=int,
        default=[],
        metavar="STEP",
        help="a curriculum / data-stage transition step to check for regressions (repeatable)",
    )
    p.add_argument("--diagnose", action="store_true", help="add likely causes and the first fix to each finding")
    add_plot_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, analyze_loss

    report = analyze_loss(
        args.run,
        sandbox=Sandbox.unrestricted(),  # the user's own command: whatever they can read
        trial=args.trial,
        roles=args.role,
        series=args.series,
        transitions=args.transition,
        diagnose=args.diagnose,
    )
    plot_if_asked(args)
    return Outcome(report, text=lambda: render(report), findings=report.findings)


def render(report) -> str:
    from ..textreport import findings_block, fmt_num, run_header, warnings_block

    st = report.statistics
    lines = run_header(report.run)
    lines += ["", f"Loss curve: {report.series} ({st.points} points, steps {st.first_step}..{st.last_step})"]
    if st.initial is not None:
        lines.append(
            f"  initial {fmt_num(st.initial)} -> final {fmt_num(st.final)} (best {fmt_num(st.best)} @ step "
            f"{st.best_step}); reduction {fmt_num(st.reduction_pct, 3)} %"
        )
        rate = fmt_num(st.convergence_rate_per_1k, 3)
        recent = fmt_num(st.recent_rate_per_1k, 3)
        noise = f"{100 * st.noise_level:.3g} % relative" if st.log_space and st.noise_level is not None else "-"
        lines.append(f"  ln(loss) falls {rate} per 1k steps overall, {recent} recently; point noise {noise}")
    if st.phases:
        lines.append("  phases: " + ", ".join(f"{p.kind} {p.step_start}-{p.step_end}" for p in st.phases))
    if st.schedule is not None:
        sc = st.schedule
        bits = [f"peak {fmt_num(sc.peak, 3)}"]
        if sc.warmup_end_step is not None:
            bits.append(f"warmup to step {sc.warmup_end_step}")
        if sc.final_fraction_of_peak is not None:
            bits.append(f"ends at {sc.final_fraction_of_peak:.0%} of peak")
        if sc.lr_increases:
            bits.append("increases at " + ", ".join(map(str, sc.lr_increases[:5])))
        if sc.ramp:
            bits.append("rises over most of the run")
        lines.append(f"  LR ({sc.series}): " + "; ".join(bits))
    for v in st.validation:
        lines.append(
            f"  validation {v.series}: best {fmt_num(v.best_value)} @ step {v.best_step}, "
            f"final {fmt_num(v.final_value)}"
        )
    lines += ["", *findings_block(report.findings)]
    for f in report.findings:
        if "first_fix" in f.details:
            lines.append(f"  [{f.code}] likely: {'; '.join(f.details.get('causes', [])[:2])}")
            lines.append(f"  [{f.code}] first fix: {f.details['first_fix']}")
    warn = warnings_block(report.warnings)
    if warn:
        lines += ["", *warn]
    return "\n".join(lines)
