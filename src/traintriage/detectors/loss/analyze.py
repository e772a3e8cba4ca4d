"""``analyze_loss``: run every loss detector on one series of a run and assemble the report.

The orchestration is where schedule awareness and precedence live: the detectors see the finite
prefix of the loss (after a NaN nothing is meaningful), the LR schedule, the transitions; a loss
stuck at one value or at zero is not also called a plateau; too few points yield a warning saying so,
never a guess.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from ...errors import InputError
from ...findings import Evidence, Finding, json_number, sort_findings
from ...rules.curriculum_regression.thresholds import MAX_EPOCH_TRANSITIONS
from ...rules.plateau.thresholds import VAL_STILL_IMPROVING
from ...signals import RunData, Series, earlier_run_of, infer_roles, is_loss_name
from .curriculum import detect_curriculum_regression, transitions_from
from .diagnosis import annotate
from .numeric import detect_nan_inf, detect_stuck_loss, detect_zero_loss, detect_zero_parts
from .oscillation import MIN_POINTS as OSC_MIN
from .oscillation import detect_oscillation, detect_validation_oscillation
from .overfitting import detect_overfitting
from .report import LossReport, LossStatistics, ScheduleSummary, ValidationSummary
from .robust import kendall_tau, log_space
from .schedule import Schedule, read_schedule
from .spike import MIN_POINTS as SPIKE_MIN
from .spike import detect_loss_spikes
from .statistics import levels, phases
from .task_metrics import detect_task_not_learned, primary_metric, weigh_overfitting
from .trend import MIN_POINTS_PLATEAU, detect_chance_validation, detect_divergence, detect_plateau


def _finite_validation(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """A validation loss's finite points: all of them when it is finite again after a NaN/Inf (a value the
    evaluation could not compute, while training went on: nan_inf reports it), else the prefix before it."""
    ok = np.isfinite(s.values)
    bad = np.flatnonzero(~ok)
    if bad.size and not ok[bad[-1] :].any():
        return _finite_prefix(s)
    return s.steps[ok], s.values[ok]


def _finite_prefix(s: Series) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(s.values)
    cut = int(np.argmax(bad)) if bad.any() else len(s)
    return s.steps[:cut], s.values[:cut]


def _finite_points(run: RunData, name: str | None) -> int:
    s = run.get(name)
    return 0 if s is None else int(np.isfinite(s.values).sum())


def _pick_series(run: RunData, series: str | None) -> tuple[str, str | None]:
    """The loss to analyse and, when it is not the training loss, why: a run that logged no training loss,
    or one only at a few evaluations, is judged on the validation loss it logged many times."""
    if series is not None:
        run.require(series)
        return series, None
    train = run.roles.train_loss
    val = max(run.roles.val_loss, key=lambda v: _finite_points(run, v), default=None)
    if val is not None and train is None:
        return val, (f"no training loss was logged; the validation loss {val} is analysed instead (its trend, "
                     "spikes and plateaus; overfitting needs both).")
    n_train, n_val = _finite_points(run, train), _finite_points(run, val)
    if val is not None and n_train < MIN_POINTS_PLATEAU <= n_val and n_val >= 2 * n_train:
        return val, (f"the training loss {train} has only {n_train} finite points; the "
                     f"validation loss {val} ({n_val} points) is analysed instead.")
    if train is None:
        names = sorted(run.series)
        raise InputError(
            f"no training-loss series found in {run.path}.",
            hint="Series in this run: "
            + ", ".join(names[:60])
            + (" ..." if len(names) > 60 else "")
            + ". Name the loss with --role train_loss=SERIES (MCP: roles={'train_loss': SERIES}) or analyse any "
            "series with --series SERIES.",
        )
    return train, None


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


def _earlier_runs(run: RunData) -> list[Finding]:
    """A stuck or zero training loss in an earlier run of the same file (``earlier-run-<k>/``): the last run is
    the one analysed, but a log that shows a broken attempt before it shows a problem. (NaN in any loss series,
    these included, is checked with the other losses.)"""
    by_run: dict[int, dict[str, str]] = {}
    for full in run.series:
        parsed = earlier_run_of(full)
        if parsed is not None:
            by_run.setdefault(parsed[0], {})[parsed[1]] = full
    findings: list[Finding] = []
    for k, names in sorted(by_run.items()):
        roles = infer_roles(names, sizes={rest: len(run.series[full]) for rest, full in names.items()})
        if roles.train_loss is None:
            continue
        full = names[roles.train_loss]
        steps, v = _finite_prefix(run.series[full])
        ref = _final_level(run.get(names.get(roles.val_loss[0]))) if roles.val_loss else None
        for f in detect_stuck_loss(full, steps, v) + detect_zero_loss(full, steps, v, reference=ref):
            findings.append(f.model_copy(update={
                "title": f"{f.title} (an earlier run in the same file: run {k} of {len(by_run) + 1})",
                "message": f"In an earlier run logged in the same file (run {k} of {len(by_run) + 1}; the last run is "
                f"the one analysed): {f.message}",
            }))
    return findings


def _other_losses(run: RunData, name: str) -> list[str]:
    """Loss series besides the analysed one and the validation losses (which are checked on their own)."""
    return [n for n in sorted(run.series) if n != name and n not in run.roles.val_loss and is_loss_name(n)]


def _val_gain(run: RunData, name: str, start: int | None) -> float | None:
    """How much the first validation loss fell from ``start`` to the end, when it fell as a trend (Kendall tau
    <= -0.5 over >= 4 evaluations) by >= :data:`VAL_STILL_IMPROVING`; else None."""
    for vname in run.roles.val_loss:
        vs = run.get(vname)
        if vname == name or vs is None or start is None:
            continue
        keep = (vs.steps >= start) & np.isfinite(vs.values) & (vs.values > 0)
        vv = vs.values[keep]
        if vv.size < 4:
            return None
        third = max(1, vv.size // 3)
        gain = 1.0 - float(bn.median(vv[-third:])) / float(bn.median(vv[:third]))
        return gain if gain >= VAL_STILL_IMPROVING and kendall_tau(np.log(vv)) <= -0.5 else None
    return None


def _final_level(s: Series | None) -> float | None:
    """A validation loss's final level (median of its last finite points), for zero_loss's memorization test."""
    vv = _finite_prefix(s)[1] if s is not None else np.empty(0)
    return float(bn.median(vv[-3:])) if vv.size else None


def _val_level(run: RunData, name: str) -> float | None:
    """The final level of the first validation series with one, besides ``name``."""
    for vname in run.roles.val_loss:
        if vname != name and (level := _final_level(run.get(vname))) is not None:
            return level
    return None


def _explained(f: Finding, causes: list[Finding]) -> Finding:
    """A finding that ``causes`` already explain becomes a note pointing at them."""
    if not causes:
        return f
    return f.model_copy(update={
        "severity": "info", "confidence": min(f.confidence, 0.6),
        "message": f"{f.message} Explained by: {causes[0].title}.",
    })


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
    name, picked = _pick_series(run, series)
    s = run.series[name]
    warnings = list(run.warnings) + ([picked] if picked else [])
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
    findings += zero + stuck + _earlier_runs(run)
    spikes = detect_loss_spikes(name, steps, y, log=log, schedule=schedule)
    trans = _transitions(run, transitions, warnings)
    divergence = detect_divergence(name, steps, y, log=log, schedule=schedule, transitions=[t for t, _ in trans])
    findings += divergence + _standalone_spikes(spikes, divergence, blew_up=v.size < len(s))
    if not zero:
        for p in detect_plateau(name, steps, y, log=log, schedule=schedule):
            if v.size < len(s) and p.severity != "info":  # flat, then a blow-up: context for the NaN
                p = p.model_copy(update={"severity": "info", "confidence": min(p.confidence, 0.6)})
            elif p.details.get("wasted_compute") and (gain := _val_gain(run, name, p.step_start)) is not None:
                p = p.model_copy(update={  # the compute still bought generalisation
                    "severity": "info", "confidence": min(p.confidence, 0.6),
                    "message": p.message + f" The validation loss still improved {gain:.1%} over it, so it was not "
                    "wasted: a slow finish, not a stall.",
                })
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

    metric = primary_metric(run.series)
    val_summaries = []
    for vname in run.roles.val_loss:
        if vname == name or vname not in run.series:
            continue
        vs = run.series[vname]
        findings += detect_nan_inf(vname, vs.steps, vs.values)
        vsteps, vv = _finite_validation(vs)
        findings += detect_zero_loss(vname, vsteps, vv, role="validation")
        vy_own, vlog = log_space(vv)  # a validation loss that jumps and comes back: the model was knocked off
        findings += detect_loss_spikes(vname, vsteps, vy_own, log=vlog, schedule=schedule)  # (evaluated whole)
        both_log = log and vv.size > 0 and bool(np.all(vv > 0))
        vy = np.log(vv) if both_log else vv
        ty = y if both_log else v
        swinging = detect_validation_oscillation(vname, vsteps, vy_own) if vlog else []
        findings += swinging
        if swinging:  # a validation loss thrown around by the updates has no trend to judge overfitting by
            findings = [f for f in findings if not (f.code == "plateau" and f.series == name)]
        elif vv.size and n:
            findings += [weigh_overfitting(f, metric)
                         for f in detect_overfitting(vname, vsteps, vy, name, steps, ty, log=both_log)]
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

    no_targets = detect_zero_parts(run.series)
    findings += no_targets
    findings += [_explained(f, no_targets) for f in detect_task_not_learned(metric)]
    if run.roles.val_loss and run.roles.val_loss[0] != name and not any(
            f.code == "plateau" and f.severity != "info" for f in findings):
        vs = run.series[run.roles.val_loss[0]]
        findings += detect_chance_validation(vs.name, vs.steps, vs.values)
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
