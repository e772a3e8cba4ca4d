"""Trend detectors: ``divergence`` (the loss climbs for a sustained stretch) and ``plateau`` (it stops
improving for a long stretch).

Both look at block medians of the log loss: splitting the run into ~20 blocks and taking each block's
median removes minibatch noise and isolated spikes while keeping the shape, and the block-median
noise (point noise / sqrt(block size)) tells how small a change is still meaningful for THIS run.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.divergence.thresholds import (
    DIVERGENCE_CRITICAL_RATIO,
    DIVERGENCE_MIN_FRACTION,
    DIVERGENCE_MIN_RATIO,
    DIVERGENCE_MIN_TAU,
    DIVERGENCE_Z,
    MIN_POINTS_DIVERGENCE,
    SHORT_BLOWUP,
    SHORT_MIN_POINTS,
    WARMUP_EXCUSE_RATIO,
)
from ...rules.plateau.thresholds import (
    CHANCE_MIN_EVALS,
    CHANCE_TOLERANCE,
    DECAYED_LR,
    FLAT_MAX_TAU,
    MIN_POINTS_PLATEAU,
    NEVER_LEARNED,
    PLATEAU_BAND,
    PLATEAU_MIN_FRACTION,
    PLATEAU_Z,
    SLOW_CONVERGENCE_MIN_POINTS,
    STILL_IMPROVING_MIN_POINTS,
    STILL_IMPROVING_TAU,
    WASTED_FRACTION,
)
from .robust import block_medians, diff_noise, kendall_tau
from .schedule import Schedule


def _blocks(n: int) -> int:
    return int(min(20, max(4, n // 5)))


def _block_sigma(y: np.ndarray, n_blocks: int) -> float:
    # the median of m noisy points has ~1.25 sigma / sqrt(m)
    return 1.25 * diff_noise(y) / math.sqrt(max(1.0, y.size / n_blocks))


def _show(v: float, log: bool) -> float:
    return math.exp(v) if log else v


def detect_divergence(
    name: str,
    steps: np.ndarray,
    y: np.ndarray,
    *,
    log: bool = True,
    schedule: Schedule | None = None,
    transitions: list[int] | None = None,
) -> list[Finding]:
    """``divergence``: after its best level the loss climbs, as a trend, for a sustained stretch.

    Thresholds: block medians (~20 blocks) after the best block rise with Kendall tau >=
    ``DIVERGENCE_MIN_TAU``; the median of the last two blocks exceeds the best block by
    ``max(log DIVERGENCE_MIN_RATIO, DIVERGENCE_Z x block sigma)``; the stretch from the best block to the
    end covers >= ``DIVERGENCE_MIN_FRACTION`` of the run. Schedule: a rise that ends inside the LR warmup
    must reach ``WARMUP_EXCUSE_RATIO`` x; a rise that starts at a curriculum transition is left to
    ``curriculum_regression``. A loss that never fell (rose from the start) counts too: it grows without bound.
    """
    n = y.size
    if n < MIN_POINTS_DIVERGENCE:
        return _short_blowup(name, steps, y) if log else []
    nb = _blocks(n)
    meds, starts = block_medians(y, nb)
    nb = meds.size
    sig = _block_sigma(y, nb)
    best = int(np.argmin(meds[:-1])) if nb > 2 else 0
    rise_blocks = meds[best:]
    if rise_blocks.size < 3:
        return []
    late = float(bn.median(meds[-2:]))
    rise = late - meds[best]
    floor = math.log(DIVERGENCE_MIN_RATIO) if log else 0.5 * float(np.ptp(meds))
    limit = max(floor, DIVERGENCE_Z * sig)
    tau = kendall_tau(rise_blocks)
    turn_i = int(starts[best]) if best > 0 else 0
    frac = (steps[-1] - steps[turn_i]) / max(1, steps[-1] - steps[0])
    if rise <= limit or tau < DIVERGENCE_MIN_TAU or frac < DIVERGENCE_MIN_FRACTION:
        return []
    # the turn: the lowest point of the rolling level inside the best block and the next one
    end_best = int(starts[best + 1]) if best + 1 < nb else n
    seg = y[turn_i:end_best]
    turn_i += int(np.argmin(seg)) if seg.size else 0
    turn_step = int(steps[turn_i])
    ratio = math.exp(rise) if log else None
    notes = []
    details: dict = {"turn_step": turn_step, "rise_ratio": ratio, "kendall_tau": round(tau, 3)}
    evidence = [
        Evidence(
            metric=name, step=turn_step, value=json_number(_show(meds[best], log)), expected="best level (block median)"
        ),
        Evidence(
            metric=name,
            step=int(steps[-1]),
            value=json_number(_show(late, log)),
            expected=f"< {_show(meds[best] + limit, log):.4g} (max({DIVERGENCE_MIN_RATIO:g}x, {DIVERGENCE_Z:g} "
            f"block-noise sigmas) above the best level)",
        ),
    ]
    if schedule is not None and schedule.known:
        if schedule.in_warmup(int(steps[-1])) and (ratio or 0) < WARMUP_EXCUSE_RATIO:
            return []
        lr0, lr1 = schedule.lr_at(turn_step), schedule.lr_at(int(steps[-1]))
        if lr0 and lr1:
            evidence.append(
                Evidence(
                    metric=schedule.name or "lr",
                    step=int(steps[-1]),
                    value=lr1,
                    expected=f"LR at the turn (step {turn_step}) was {lr0:.3g}",
                )
            )
            if lr1 > 1.5 * lr0:
                notes.append(f"The LR rose {lr1 / lr0:.3g}x over the same stretch ({lr0:.3g} -> {lr1:.3g}).")
                details["lr_ratio"] = lr1 / lr0
    for t in transitions or []:
        if abs(t - turn_step) <= max(1, (steps[-1] - steps[0]) // nb):
            return []
    never_fell = best == 0
    msg = (
        f"{name} {'grows from the start' if never_fell else f'fell to {_show(meds[best], log):.4g}, then climbs'}"
        f" from step {turn_step} to {_show(late, log):.4g} at the end"
        + (f" ({ratio:.3g}x)" if ratio else "")
        + f", steadily (Kendall tau {tau:.2f} over {rise_blocks.size} blocks). "
        + " ".join(notes)
    ).strip()
    conf = min(0.97, 0.55 + 0.2 * min(1.0, (rise - limit) / max(limit, 1e-9)) + 0.25 * (tau - DIVERGENCE_MIN_TAU) / 0.6)
    return [
        make_finding(
            "divergence",
            "critical" if (ratio or 0) >= DIVERGENCE_CRITICAL_RATIO else "warning",
            f"{name} diverges from step {turn_step}",
            msg,
            confidence=conf,
            series=name,
            step_start=turn_step,
            step_end=int(steps[-1]),
            evidence=evidence,
            details=details,
        )
    ]


def _short_blowup(name: str, steps: np.ndarray, y: np.ndarray) -> list[Finding]:
    n = y.size
    if n < SHORT_MIN_POINTS:
        return []
    best = int(np.argmin(y[:-1]))
    after = y[best:]
    rise = float(bn.median(y[-2:]) - y[best])
    tau = kendall_tau(after)
    if best > n // 2 or rise < SHORT_BLOWUP or tau < DIVERGENCE_MIN_TAU:
        return []
    turn, lo, hi = int(steps[best]), math.exp(float(y[best])), math.exp(float(bn.median(y[-2:])))
    return [
        make_finding(
            "divergence",
            "critical",
            f"{name} blows up from step {turn}",
            f"{name} goes from {lo:.4g} at step {turn} to {hi:.4g} at the end ({hi / lo:.3g}x) over {after.size} "
            f"logged points, climbing (Kendall tau {tau:.2f}): the run is diverging. The log has only "
            f"{n} points, so its trend is judged on them alone.",
            confidence=min(0.9, 0.5 + 0.05 * n),
            series=name,
            step_start=turn,
            step_end=int(steps[-1]),
            evidence=[
                Evidence(metric=name, step=turn, value=json_number(lo), expected="best level"),
                Evidence(metric=name, step=int(steps[-1]), value=json_number(hi),
                         expected=f"< {lo * math.exp(SHORT_BLOWUP):.4g} ({math.exp(SHORT_BLOWUP):g}x the best; "
                         f"{n} points logged)"),
            ],
            details={"turn_step": turn, "rise_ratio": hi / lo, "points": n, "kind": "short_blowup"},
        )
    ]


def chance_level(level: float, first: float) -> int | None:
    """The class count C whose ln C is within ``CHANCE_TOLERANCE`` of ``level``, or None.

    Candidates are 2, 3, 4, 5, 10, 100, 1000 and the C implied by the first loss (an untrained
    classifier starts at ~ln C). Only a few: between ln 5 and ln 1000 some ln C lies near every value.
    """
    cands = {2, 3, 4, 5, 10, 100, 1000}
    if 0.6 < first < math.log(1e6):  # an untrained classifier over at most a million classes
        cands.add(round(math.exp(first)))
    for c in sorted(cands):
        if c >= 2 and abs(level - math.log(c)) <= CHANCE_TOLERANCE * math.log(c):
            return c
    return None


def detect_plateau(
    name: str,
    steps: np.ndarray,
    y: np.ndarray,
    *,
    log: bool = True,
    schedule: Schedule | None = None,
) -> list[Finding]:
    """``plateau``: over a long trailing stretch the loss makes no progress beyond its own noise.

    Thresholds: the trailing stretch of block medians whose range stays within ``max(PLATEAU_BAND,
    PLATEAU_Z x block sigma)`` and shows no trend (|Kendall tau| < 0.5 when it is longer than 4 blocks)
    covers >= ``PLATEAU_MIN_FRACTION`` of the run. Severity from the evidence: a warning when the run
    never learned (less than 20 % reduction before the plateau), or when the flat stretch covers at least
    ``WASTED_FRACTION`` of the run (wasted compute, after progress or not); a run of >= 50 points whose first
    and last block medians differ by less than 20 % (either way) is a plateau over its whole length even
    when a tiny slope is significant (slow convergence), unless its block medians still fall consistently
    (Kendall tau <= ``STILL_IMPROVING_TAU``);
    otherwise (converged after real progress) it is info, and nothing at all when the LR had decayed below
    ``DECAYED_LR`` of its peak (the schedule asks for the flattening). A level at the chance loss ln C
    explains a plateau of a run that never learned; after real progress, landing near some ln C is a
    coincidence more often than not (a detection loss at 0.69 is no 2-class problem), so it decides nothing.
    """
    n = y.size
    if n < MIN_POINTS_PLATEAU:
        return []
    nb = _blocks(n)
    meds, starts = block_medians(y, nb)
    nb = meds.size
    sig = _block_sigma(y, nb)
    band = max(PLATEAU_BAND, PLATEAU_Z * sig) if log else max(PLATEAU_Z * sig, 0.05 * float(np.ptp(meds)) or 1e-12)
    k = nb - 1
    while k > 0:
        seg = meds[k - 1 :]
        if np.ptp(seg) > band or (seg.size > 4 and abs(kendall_tau(seg)) >= FLAT_MAX_TAU):
            break
        k -= 1
    start_i = int(starts[k])
    if y.size - start_i >= STILL_IMPROVING_MIN_POINTS and kendall_tau(y[start_i:]) <= STILL_IMPROVING_TAU:
        return []  # few blocks hide a trend the points show: a short log falling at every step is no plateau
    frac = (steps[-1] - steps[start_i]) / max(1, steps[-1] - steps[0])
    overall = float(meds[0] - meds[-1])
    ramping = schedule is not None and (schedule.ramp or schedule.in_warmup(int(steps[n // 2])))
    improving = kendall_tau(meds) <= STILL_IMPROVING_TAU
    slow = log and n >= SLOW_CONVERGENCE_MIN_POINTS and -NEVER_LEARNED < overall < NEVER_LEARNED
    if slow and not ramping and not improving:
        # slow convergence: a slope may be significant, but the whole run gained < 20 %
        k, start_i, frac = 0, 0, 1.0
    if frac < PLATEAU_MIN_FRACTION or nb - k < 2:
        return []
    level = float(bn.median(y[start_i:]))
    first_level = float(meds[0]) if k > 0 else float(bn.median(y[: max(3, n // 20)]))
    progress = first_level - float(bn.median(meds[k:]))
    chance = chance_level(math.exp(level), math.exp(first_level)) if log else None
    never_learned = progress < NEVER_LEARNED
    wasted = log and not never_learned and frac >= WASTED_FRACTION
    decayed = None
    if schedule is not None and schedule.known:
        decayed = schedule.decayed_fraction(int(steps[start_i]))
    if not (never_learned or wasted):
        if decayed is not None and decayed < DECAYED_LR:
            return []
        severity = "info"
    else:
        severity = "warning"
    lv = _show(level, log)
    why = []
    if chance:
        why.append(
            f"{lv:.4g} is the chance-level loss ln {chance} = {math.log(chance):.4g} of a {chance}-class problem"
        )
    if never_learned:
        why.append(
            f"the loss had fallen only {100 * (1 - math.exp(-progress)) if log else progress:.3g}"
            f"{'%' if log else ''} before it"
        )
    if wasted:
        why.append(f"{frac:.0%} of the run's compute bought no progress: it could have stopped at step "
                   f"{int(steps[start_i])}")
    msg = (
        f"{name} stays at {lv:.4g} (within {math.exp(band) if log else band:.3g}{'x' if log else ''}) from step "
        f"{int(steps[start_i])} to the end ({frac:.0%} of the run)"
        + (": " + "; ".join(why) + "." if why else ", after real progress before it: converged, or stalled.")
    )
    evidence = [
        Evidence(
            metric=name,
            step=int(steps[start_i]),
            value=json_number(_show(meds[k], log)),
            expected="start of the flat stretch (block median)",
        ),
        Evidence(
            metric=name,
            step=int(steps[-1]),
            value=json_number(_show(meds[-1], log)),
            expected=f"below {_show(meds[k] - band, log):.4g} if still improving (flat band max("
            f"{math.exp(PLATEAU_BAND) if log else 0:.3g}x, {PLATEAU_Z:g} block-noise sigmas))",
        ),
    ]
    if chance:
        evidence.append(Evidence(metric=name, value=lv, expected=f"well below ln {chance} = {math.log(chance):.4g}"))
    if decayed is not None:
        evidence.append(
            Evidence(
                metric=schedule.name or "lr",
                step=int(steps[start_i]),
                value=schedule.lr_at(int(steps[start_i])),
                expected=f"{decayed:.0%} of the peak LR {schedule.peak:.3g}",
            )
        )
    conf = 0.5 + 0.3 * min(1.0, frac) + (0.15 if chance else 0.0) + (0.1 if never_learned else 0.0)
    return [
        make_finding(
            "plateau",
            severity,
            f"{name} flat for {frac:.0%} of the run" + (f" at chance level ln {chance}" if chance else ""),
            msg,
            confidence=conf if severity != "info" else min(conf, 0.6),
            series=name,
            step_start=int(steps[start_i]),
            step_end=int(steps[-1]),
            evidence=evidence,
            details={
                "level": lv,
                "fraction": round(float(frac), 3),
                "progress_before": (1 - math.exp(-progress)) if log else progress,
                "chance_classes": chance,
                "never_learned": bool(never_learned),
                "wasted_compute": bool(wasted),
            },
        )
    ]


def detect_chance_validation(name: str, steps: np.ndarray, values: np.ndarray) -> list[Finding]:
    """``plateau``: a validation loss at the chance level ln C (within ``CHANCE_TOLERANCE``) at every one of
    >= ``CHANCE_MIN_EVALS`` evaluations: on held-out data the model predicts the uniform distribution over C
    classes from start to end, whatever its training loss does. (Landing at some ln C at the end is too
    often a coincidence to mean anything; sitting there at every evaluation is not.)"""
    v = values[np.isfinite(values)]
    if v.size < CHANCE_MIN_EVALS or np.any(v <= 0):
        return []
    c = chance_level(float(bn.median(v)), float(v[0]))
    if c is None or np.any(np.abs(v - math.log(c)) > CHANCE_TOLERANCE * math.log(c)):
        return []
    s = steps[np.isfinite(values)]
    return [
        make_finding(
            "plateau",
            "warning",
            f"{name} at the chance level ln {c} = {math.log(c):.4g} at every evaluation",
            f"{name} stays between {v.min():.4g} and {v.max():.4g} over all {v.size} evaluations (steps {int(s[0])}-"
            f"{int(s[-1])}): the chance-level loss ln {c} of a {c}-class problem, the loss of predicting the uniform "
            "distribution. On held-out data the model never learned anything: check the labels (shuffled, "
            "mismatched to the inputs), the LR (far too low, or so high the model collapsed to uniform) and that "
            "the validation set comes from the training distribution.",
            confidence=min(0.9, 0.6 + 0.03 * v.size),
            series=name,
            step_start=int(s[0]),
            step_end=int(s[-1]),
            evidence=[
                Evidence(metric=name, step=int(s[-1]), value=json_number(float(v[-1])),
                         expected=f"well below ln {c} = {math.log(c):.4g} after {v.size} evaluations"),
            ],
            details={"chance_classes": c, "evaluations": int(v.size), "kind": "validation_at_chance"},
        )
    ]
