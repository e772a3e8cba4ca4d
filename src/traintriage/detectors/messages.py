"""Findings from what a run's logs said in words, and from its fp16 loss scale.

- ``log_message``: one finding per kind of message a text log printed (:mod:`traintriage.sources.messages`),
  with its count and its first and last step; severity follows the kind, and whether the run went on after
  it (:data:`SEVERITY`).
- ``mixed_precision_overflow``: the dynamic loss scale kept falling, fell to a tiny value or hit its floor,
  read from a logged loss-scale series (role ``loss_scale``) or from the scaler's own overflow messages.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ..findings import Evidence, Finding, make_finding
from ..rules.mixed_precision_overflow.thresholds import (
    CALIBRATION_SHARE,
    FALL_FACTOR,
    FLOOR_SCALE,
    MIN_SCALE_POINTS,
    TINY_SCALE,
)
from ..signals import RunData, Series
from ..sources.messages import LogMessages, MessageGroup, benign_exit

SEVERITY = {
    "oom": ("critical", "warning"),
    "distributed": ("critical", "warning"),
    "data": ("critical", "warning"),
    "nan_detected": ("critical", "critical"),
    "numerical_warning": ("warning", "warning"),
    "traceback": ("warning", "info"),
}
"""Severity of each kind: when the log ends with it (no step line after its last message: it stopped the run),
and when the run went on. Out of memory, NCCL failures and a killed data worker stop a run; caught and
survived, they still cost steps or samples. A NaN check means the numbers are already gone, and a numerical
warning does not stop anything, so going on says nothing about either. An exception the run went on after was
handled; a traceback that ends in a stop from outside (Ctrl-C, SIGTERM) is a note either way."""
WORDS = {
    "oom": "out of memory",
    "nan_detected": "NaN/Inf detected",
    "distributed": "distributed failure (NCCL, ranks)",
    "data": "data loading failure",
    "numerical_warning": "numerical warning",
    "traceback": "exception",
}
FIXES = {
    "oom": "lower the batch size (or use gradient accumulation), enable activation checkpointing or mixed "
    "precision, and check for tensors kept across steps (a loss appended without .item())",
    "nan_detected": "run the steps before it under torch.autograd.set_detect_anomaly(True) to name the op; guard "
    "log/div/sqrt with an epsilon; lower the LR or clip gradients",
    "distributed": "find the rank that stopped first (its own log), raise the timeout only once a slow step "
    "(a checkpoint save, an uneven batch) is ruled out; set NCCL_DEBUG=INFO and TORCH_NCCL_ASYNC_ERROR_HANDLING=1",
    "data": "lower num_workers or the workers' memory (a worker killed by the OOM killer), and find the sample "
    "that fails to load; skip or repair it",
    "numerical_warning": "find the statistic computed on too few values (var/std of one element, a mean of an "
    "empty slice) or the division by zero; guard it (unbiased=False, a minimum batch size, an epsilon)",
    "traceback": "read the exception and the frame that raised it",
}


def analyze_messages(run: RunData) -> list[Finding]:
    """Every finding the run's messages and loss scale give (none for a run without either)."""
    findings: list[Finding] = []
    for said in run.messages:
        findings += log_message_findings(said)
    findings += scale_series_findings(run)
    findings += overflow_message_findings(run.messages)
    return findings


def log_message_findings(said: LogMessages) -> list[Finding]:
    """One ``log_message`` finding per kind of message in one file (overflows are not among them)."""
    out = []
    for kind, group in said.groups.items():
        if kind == "overflow":
            continue
        fatal = said.after_last_step(group)
        severity = SEVERITY[kind][0 if fatal else 1]
        if kind == "traceback" and benign_exit(group):
            severity = "info"
        out.append(_message_finding(group, severity, fatal, said.file))
    return out


def _message_finding(group: MessageGroup, severity: str, fatal: bool, file: str) -> Finding:
    words = WORDS[group.kind]
    where = _where(group)
    ended = " The run ended there: no step was printed after it." if fatal else ""
    evidence = [Evidence(metric=f"log: {group.kind}", step=group.first.step, value=group.count,
                         expected=f"line {group.first.line}: {group.first.text.strip()}")]
    if group.count > 1:  # the first, the last and the count say what happened; every message would be noise
        evidence.append(Evidence(metric=f"log: {group.kind}", step=group.last.step, value=group.count,
                                 expected=f"line {group.last.line}: {group.last.text.strip()}"))
    return make_finding(
        "log_message",
        severity,  # type: ignore[arg-type]
        f"{words}: {group.count} message(s) in the log{where}",
        f"The log printed {group.count} {words} message(s){where}; the first: \"{group.first.text.strip()}\"."
        + ended,
        confidence=0.9 if group.kind != "traceback" else 0.7,
        evidence=evidence,
        step_start=group.first.step,
        step_end=group.last.step,
        details={"kind": group.kind, "count": group.count, "first_text": group.first.text.strip(),
                 "first_line": group.first.line,
                 "last_line": group.last.line, "ended_run": fatal, "file": file, "fix": FIXES[group.kind],
                 **({"exceptions": group.exceptions} if group.exceptions else {})},
    )


def _where(group: MessageGroup) -> str:
    first, last = group.first.step, group.last.step
    if first is None and last is None:
        return ", before any step line"
    if first == last or first is None:
        return f" at step {last}"
    return f" from step {first} to step {last}"


# --- mixed_precision_overflow -----------------------------------------------------------------------


def scale_series_findings(run: RunData) -> list[Finding]:
    """``mixed_precision_overflow`` from the logged loss-scale series, when the run has one."""
    series = run.get(run.roles.loss_scale)
    if series is None:
        return []
    verdict = scale_verdict(series)
    return [verdict] if verdict is not None else []


def scale_verdict(series: Series) -> Finding | None:
    """The loss scale fell to a tiny value, or ends far below its peak after calibration (see thresholds)."""
    ok = np.isfinite(series.values) & (series.values >= 0)
    steps, values = series.steps[ok], series.values[ok]
    if len(values) < MIN_SCALE_POINTS or np.ptp(values) == 0:
        return None  # a constant scale (bf16's 1.0, a static scale) is no overflow
    falls = np.flatnonzero(np.diff(values) < 0) + 1
    if not len(falls):
        return None
    skipped, exact = _skipped(steps, values, falls)
    low = int(np.argmin(values))
    calibrated = max(1, math.ceil(len(values) * CALIBRATION_SHARE))
    peak_at = calibrated + int(np.argmax(values[calibrated:])) if calibrated < len(values) else 0
    peak = float(values[peak_at])
    late = float(bn.median(values[-max(1, len(values) // 10):]))
    floor_hit = values[low] <= FLOOR_SCALE
    if values[low] <= TINY_SCALE:
        start, why = int(steps[falls[0]]), f"fell to {values[low]:.3g} (<= {TINY_SCALE:g})"
    elif late > 0 and peak / late >= FALL_FACTOR and peak_at < len(values) - 1:
        start, why = int(steps[peak_at]), (f"fell from {peak:.3g} (step {int(steps[peak_at])}) to {late:.3g} "
                                           f"({peak / late:.3g}x, >= {FALL_FACTOR:g}x) after calibration")
    else:
        return None
    count = f"{skipped} skipped step(s)" if exact else f"at least {skipped} skipped step(s) (one per halving)"
    return make_finding(
        "mixed_precision_overflow",
        "critical" if floor_hit else "warning",
        f"fp16 loss scale {why.split(' (')[0]}: {count}",
        f"The dynamic loss scale ({series.name}) {why}: fp16 gradients keep overflowing and each overflow skips "
        f"an optimizer step ({count})."
        + (" At this scale every step overflows: the run no longer trains." if floor_hit else ""),
        confidence=0.85,
        series=series.name,
        step_start=start,
        step_end=int(steps[low]),
        evidence=[
            Evidence(metric=series.name, step=int(steps[0]), value=float(values[0]), expected="start of the series"),
            Evidence(metric=series.name, step=int(steps[low]), value=float(values[low]),
                     expected=f"> {TINY_SCALE:g}, and within {FALL_FACTOR:g}x of its peak after calibration"),
        ],
        details={"skipped_steps": skipped, "skipped_exact": exact, "min_scale": float(values[low]),
                 "source": "series"},
    )


def _skipped(steps: np.ndarray, values: np.ndarray, falls: np.ndarray) -> tuple[int, bool]:
    """Skipped steps: each fall is one when the scale is logged every step; else each halving is at least one."""
    if len(steps) > 1 and np.all(np.diff(steps) == 1):
        return len(falls), True
    before, after = values[falls - 1], values[falls]
    halvings = np.log2(before[after > 0] / after[after > 0])
    return round(float(halvings.sum())) + int(np.sum(after <= 0)), False


def overflow_message_findings(all_said: list[LogMessages]) -> list[Finding]:
    """``mixed_precision_overflow`` from the scaler's messages: critical when it hit its floor, a warning when
    the scale it printed fell to a tiny value, else a note with the count (overflows while the scaler
    calibrates are normal)."""
    out = []
    for said in all_said:
        group = said.groups.get("overflow")
        if group is None:
            continue
        scales = [s for _step, s in said.scales]
        low = min(scales) if scales else None
        if said.floor_reached:
            severity, why = "critical", "hit its minimum: the scaler gave up and the run stopped"
        elif low is not None and low <= TINY_SCALE:
            severity, why = "warning", f"fell to {low:.3g} (<= {TINY_SCALE:g})"
        else:
            severity = "info"
            why = f"went down to {low:.3g}" if low is not None else "was reduced"
        out.append(make_finding(
            "mixed_precision_overflow",
            severity,  # type: ignore[arg-type]
            f"{group.count} fp16 gradient overflow(s) in the log: the loss scale {why.split(':')[0]}",
            f"The loss scaler printed {group.count} overflow message(s) (each one a skipped step){_where(group)}; "
            f"the scale {why}. First: \"{group.first.text.strip()}\".",
            confidence=0.9 if severity != "info" else 0.6,
            step_start=group.first.step,
            step_end=group.last.step,
            evidence=[Evidence(metric="log: overflow", step=group.first.step, value=group.count,
                               expected=f"line {group.first.line}: {group.first.text.strip()}"),
                      Evidence(metric="log: overflow", step=group.last.step, value=low,
                               expected=f"line {group.last.line}: {group.last.text.strip()}")],
            details={"skipped_steps": group.count, "skipped_exact": True, "min_scale": low,
                     "floor_reached": said.floor_reached, "source": "messages", "file": said.file},
        ))
    return out
