"""``analyze_loss``: run every loss detector on one series of a run and assemble the report.

The orchestration is where schedule awareness and precedence live: the detectors see the finite
prefix of the loss (after a NaN nothing is meaningful), the LR schedule, the transitions; a loss
stuck at one value or at zero is not also called a plateau; too few points yield a warning saying so,
never a guess.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...findings import Evidence, Finding, json_number, sort_findings
from ...signals import RunData, Series, is_loss_name
from .curriculum import MAX_EPOCH_TRANSITIONS, detect_curriculum_regression, transitions_from
from .diagnosis import annotate
from .numeric import detect_nan_inf, detect_stuck_loss, detect_zero_loss
from .oscillation import MIN_POINTS as OSC_MIN
from .oscillation import detect_oscillation
from .overfitting import detect_overfitting
from .report import LossReport, LossStatistics, ScheduleSummary, ValidationSummary
from .robust import log_space
from .schedule import Schedule, read_schedule
from .spike import MIN_POINTS as SPIKE_MIN
from .spike import detect_loss_spikes
from .statistics import levels, phases
from .trend import MIN_POINTS_PLATEAU, detect_divergence, detect_plateau


def _finite_prefix(s: Series) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(s.values)
    cut = int(np.argmax(bad)) if bad.any() else len(s)
    return s.steps[:cut], s.values[:cut]


def _pick_series(run: RunData, series: str | None) -> str:
    if series is not None:
        run.require(series)
        return series
    if run.roles.train_loss is None:
        names = sorted(run.series)
        raise InputError(
            f"no training-loss series found in {run.path}.",
            hint="Series in this run: "
            + ", ".join(names[:60])
            + (" ..." if len(names) > 60 else "")
            + ". Name the loss with --role train_loss=SERIES (MCP: roles={'train_loss': SERIES}) or analyse any "
            "series with --series SERIES.",
        )
    return run.roles.train_loss


def _lr_schedule(run: RunData) -> Schedule:
    lr = run.get(run.roles.lr)
    return read_schedule(run.roles.lr, lr.steps, lr.values) if lr is not None else Schedule()


def _transitions(run: RunData, user: list[int] | None, warnings: list[str]) -> list[tuple[int, str]]:
    out = [(int(t), "user") for t in user or []]
    stage = run.get(run.roles.stage)
    if stage is not None:
        out += [(t, "stage") for t in transitions_from(stage.steps, stage.values)]
    epoch = run.get(run.roles.epoch)
    if epoch is not None:
        ts = transitions_from(epoch.steps, epoch.values)
        if len(ts) <= MAX_EPOCH_TRANSITIONS:
            out += [(t, "epoch") for t in ts]
        else:
            warnings.append(f"{len(ts)} epoch boundaries: too many to test each as a transition; not checked.")
    return out


def _standalone_spikes(spikes: list[Finding], divergence: list[Finding], *, blew_up: bool) -> list[Finding]:
    """Spikes that are events of their own: an unrecovered jump inside a divergence, or on the way to a
    NaN/Inf, is that divergence or blow-up (already reported), not a separate spike."""
    out = []
    for f in spikes:
        if not f.details.get("recovered"):
            inside = any(
                d.step_start is not None and f.step_start is not None and f.step_start >= d.step_start
                for d in divergence
            )
            if inside or blew_up:
                continue
        out.append(f)
    return out


def _other_losses(run: RunData, name: str) -> list[str]:
    """Loss series besides the analysed one and the validation losses (which are checked on their own)."""
    return [n for n in sorted(run.series) if n != name and n not in run.roles.val_loss and is_loss_name(n)]


def _val_level(run: RunData, name: str) -> float | None:
    """Final level of the first validation series (median of its last points), for zero_loss's memorization test."""
    for vname in run.roles.val_loss:
        vs = run.get(vname)
        if vname != name and vs is not None:
            _, vv = _finite_prefix(vs)
            if vv.size:
                return float(np.median(vv[-3:]))
    return None


def _add_lr_evidence(f: Finding, schedule: Schedule) -> None:
    if not schedule.known or f.step_start is None:
        return
    lr = schedule.lr_at(f.step_start)
    if lr is not None and not any(e.metric == schedule.name for e in f.evidence):
        f.evidence.append(
            Evidence(
                metric=schedule.name or "lr",
                step=f.step_start,
                value=json_number(lr),
                expected="LR in effect (context)",
            )
        )


def analyze_loss(
    run: RunData,
    *,
    series: str | None = None,
    transitions: list[int] | None = None,
    diagnose: bool = False,
) -> LossReport:
    """Critique the loss curve of ``run`` (``series`` or the inferred training loss).

    Raises :class:`InputError` (listing the series that exist) when there is no loss to analyse.
    """
    name = _pick_series(run, series)
    s = run.series[name]
    warnings = list(run.warnings)
    findings: list[Finding] = []
    schedule = _lr_schedule(run)

    findings += detect_nan_inf(name, s.steps, s.values)
    for other in _other_losses(run, name):  # a NaN in any loss the run logs (a component, a per-step loss
        findings += detect_nan_inf(other, run.series[other].steps, run.series[other].values)  # not chosen)
    steps, v = _finite_prefix(s)
    y, log = log_space(v)
    if v.size and not log:
        warnings.append(f"{name} has values <= 0: judged on differences, not ratios (thresholds use its own spread).")
    n = v.size
    if n < MIN_POINTS_PLATEAU:
        warnings.append(
            f"{name} has only {n} finite point(s) before any NaN/Inf: too few for trend verdicts "
            f"(divergence/plateau need >= {MIN_POINTS_PLATEAU})."
        )
    elif n < max(SPIKE_MIN, OSC_MIN):
        warnings.append(
            f"{name} has only {n} finite points: too few for spike (>= {SPIKE_MIN}) and oscillation "
            f"(>= {OSC_MIN}) verdicts; those were not checked."
        )

    zero = detect_zero_loss(name, steps, v, reference=_val_level(run, name))
    stuck = detect_stuck_loss(name, steps, v)
    findings += zero + stuck
    spikes = detect_loss_spikes(name, steps, y, log=log, schedule=schedule)
    trans = _transitions(run, transitions, warnings)
    divergence = detect_divergence(name, steps, y, log=log, schedule=schedule, transitions=[t for t, _ in trans])
    findings += divergence + _standalone_spikes(spikes, divergence, blew_up=v.size < len(s))
    if not zero:
        for p in detect_plateau(name, steps, y, log=log, schedule=schedule):
            covered = any(
                f.step_start is not None
                and f.step_start <= (p.step_start or 0) + 0.1 * (steps[-1] - steps[0])
                and f.details.get("share", 0) >= 0.3
                for f in stuck
            )
            if not covered:
                findings.append(p)
        zero = [z for z in zero if z.severity != "info"]
    if not stuck:
        oscillation = detect_oscillation(name, steps, y, log=log)
        findings += oscillation
        if oscillation:  # a bouncing loss makes no progress by definition: not also a plateau
            findings = [f for f in findings if f.code != "plateau"]
    by_source: dict[str, list[int]] = {}
    for t, src in trans:
        by_source.setdefault(src, []).append(t)
    for src, ts in by_source.items():
        findings += detect_curriculum_regression(name, steps, y, ts, log=log, source=src)

    val_summaries = []
    for vname in run.roles.val_loss:
        if vname == name or vname not in run.series:
            continue
        vs = run.series[vname]
        findings += detect_nan_inf(vname, vs.steps, vs.values)
        vsteps, vv = _finite_prefix(vs)
        findings += detect_zero_loss(vname, vsteps, vv, role="validation")
        both_log = log and vv.size > 0 and bool(np.all(vv > 0))
        vy = np.log(vv) if both_log else vv
        ty = y if both_log else v
        if vv.size and n:
            findings += detect_overfitting(vname, vsteps, vy, name, steps, ty, log=both_log)
        if vv.size < 4 and vv.size:
            warnings.append(f"{vname} has only {vv.size} finite point(s): too few for an overfitting verdict.")
        b = int(np.argmin(vv)) if vv.size else None
        val_summaries.append(
            ValidationSummary(
                series=vname,
                points=len(vs),
                best_step=int(vsteps[b]) if b is not None else None,
                best_value=float(vv[b]) if b is not None else None,
                final_value=json_number(vs.values[-1]) if len(vs) else None,
            )
        )

    for f in findings:
        if f.code in ("stuck_loss", "plateau", "divergence", "oscillation"):
            _add_lr_evidence(f, schedule)
    if diagnose:
        findings = [annotate(f) for f in findings]

    lv = levels(steps, y, log) if n else {}
    stats = LossStatistics(
        series=name,
        points=len(s),
        finite_points=int(np.isfinite(s.values).sum()),
        first_step=int(s.steps[0]) if len(s) else None,
        last_step=int(s.steps[-1]) if len(s) else None,
        last_value=json_number(s.values[-1]) if len(s) else None,
        log_space=log,
        phases=phases(steps, y, log, schedule) if n else [],
        validation=val_summaries,
        schedule=_schedule_summary(schedule),
        **{
            k: lv.get(k)
            for k in (
                "initial",
                "final",
                "best",
                "best_step",
                "reduction_pct",
                "convergence_rate_per_1k",
                "recent_rate_per_1k",
                "noise_level",
            )
        },
    )
    return LossReport(
        run=run.info(), warnings=warnings, series=name, findings=sort_findings(findings), statistics=stats
    )


def _schedule_summary(schedule: Schedule) -> ScheduleSummary | None:
    if not schedule.known:
        return None
    final = float(schedule.values[-1])
    return ScheduleSummary(
        series=schedule.name or "lr",
        peak=schedule.peak,
        warmup_end_step=schedule.warmup_end,
        final_fraction_of_peak=final / schedule.peak if schedule.peak else None,
        lr_increases=[b.step for b in schedule.bumps][:50],
        ramp=schedule.ramp,
    )
