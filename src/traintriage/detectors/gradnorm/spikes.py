"""``gradient_spike``: sudden, short jumps of a gradient norm far above its local level.

A point is a spike when log10(norm) is at least ``SPIKE_Z`` (6) robust sigmas above the median of the
previous ``WINDOW`` (25) points *and* at least ``SPIKE_RATIO`` (5x) above it. The z-score adapts to how
noisy the norm is (small batches are noisy, and gradient norms are heavy-tailed), the ratio keeps a
very smooth series from flagging a 20% blip. The sigma has a floor of 0.05 decades for the same reason.
Spike points at most ``SPIKE_EVENT_MAX_GAP`` (2) points apart form one event, as in ``loss_spike``.

Spikes are reported mainly so that ``correlate`` can tie loss spikes to optimizer instability, so they
are ``info``; an event is a ``warning`` when huge: >= 100x the local level AND >= 3x the 95th percentile
of the whole run (a 300x blip on a norm that had decayed to 1e-6 while memorising a tiny dataset is
still below what the run saw early on, so it is not a blow-up). Whether the level came back (the
median of the next ``WINDOW`` points within 3x of the pre-event level) is reported; a level that does
not come back is a regime shift (see the statistics), not by itself a reason to warn.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.gradient_spike.thresholds import (
    HUGE_RATIO,
    HUGE_VS_RUN_P95,
    NO_RECOVERY_RATIO,
    SIGMA_FLOOR,
    SPIKE_RATIO,
    SPIKE_Z,
    WINDOW,
)
from ...rules.loss_spike.thresholds import SPIKE_EVENT_MAX_GAP
from ..robust_stats import MAD_TO_SIGMA, group_spike_points, rolling_median
from .stats import safe_log10

MAX_EVENTS = 10


def spike_events(steps: np.ndarray, values: np.ndarray, logv: np.ndarray | None = None) -> list[dict]:
    """Spike events: ``{start, end, peak_step, peak, baseline, ratio, z, recovered, after}``.

    ``logv``: ``safe_log10(values)`` when the caller already has it.
    """
    logv = safe_log10(values) if logv is None else logv
    n = logv.size
    if np.isfinite(logv).sum() < 20:
        return []
    base = rolling_median(logv, WINDOW, trailing=True)
    with np.errstate(all="ignore"):
        ratio_log = logv - base
    high = ratio_log >= np.log10(SPIKE_RATIO)
    high[: min(5, n)] = False  # no history yet
    if not high.any():  # nothing clears the ratio: the z-score (a second rolling median) cannot matter
        return []
    spread = MAD_TO_SIGMA * rolling_median(np.abs(ratio_log), WINDOW, trailing=True)
    spread = np.maximum(np.where(np.isfinite(spread), spread, SIGMA_FLOOR), SIGMA_FLOOR)
    with np.errstate(all="ignore"):
        z = ratio_log / spread
    hit = high & np.isfinite(z) & (z >= SPIKE_Z)
    idx = np.flatnonzero(hit)
    if idx.size == 0:
        return []
    groups = group_spike_points(idx, SPIKE_EVENT_MAX_GAP)
    events = []
    for g in groups:
        s, e = g[0], g[-1]
        peak_i = g[int(np.argmax(logv[g]))]
        baseline = base[s]
        after = logv[e + 1 : e + 1 + WINDOW]
        after = after[np.isfinite(after)]
        after_med = float(bn.median(after)) if after.size >= 3 else float("nan")
        recovered = bool(np.isfinite(after_med) and after_med - baseline < np.log10(NO_RECOVERY_RATIO))
        events.append(
            {
                "start": int(steps[s]),
                "end": int(steps[e]),
                "peak_step": int(steps[peak_i]),
                "peak": float(values[peak_i]),
                "baseline": float(10**baseline),
                "ratio": float(10 ** (logv[peak_i] - baseline)),
                "z": float(z[peak_i]),
                "recovered": recovered if np.isfinite(after_med) else None,
                "after": float(10**after_med) if np.isfinite(after_med) else None,
            }
        )
    return events


def detect_spikes(name: str, steps: np.ndarray, values: np.ndarray, component: str | None = None) -> list[Finding]:
    events = spike_events(steps, values)
    finite = values[np.isfinite(values)]
    run_p95 = float(np.percentile(finite, 95)) if finite.size else float("nan")
    findings = []
    for ev in sorted(events, key=lambda e: -e["ratio"])[:MAX_EVENTS]:
        huge = ev["ratio"] >= HUGE_RATIO and ev["peak"] >= HUGE_VS_RUN_P95 * run_p95
        severity = "warning" if huge else "info"
        rec = {True: "recovered", False: "did NOT recover", None: "recovery unknown (run ends)"}[ev["recovered"]]
        findings.append(
            make_finding(
                "gradient_spike",
                severity,
                f"gradient norm spike {ev['ratio']:.3g}x the local level ({rec})",
                f"The gradient norm of {component or name} jumped to {ev['peak']:.3g} at step {ev['peak_step']}, "
                f"{ev['ratio']:.3g}x the median {ev['baseline']:.3g} of the previous {WINDOW} points "
                f"(robust z {ev['z']:.1f}); it {rec}. Usually a bad batch, an LR bump, or the optimizer "
                "stepping off a sharp region; check the loss at the same steps.",
                confidence=min(0.95, 0.55 + 0.1 * np.log10(ev["ratio"]) + 0.02 * min(ev["z"], 15)),
                evidence=[
                    Evidence(
                        metric=name,
                        step=ev["peak_step"],
                        value=json_number(ev["peak"]),
                        expected=f"< {SPIKE_RATIO * ev['baseline']:.3g} ({SPIKE_RATIO:g}x local median "
                        f"{ev['baseline']:.3g})",
                    )
                ],
                series=name,
                component=component,
                step_start=ev["start"],
                step_end=ev["end"],
                details={
                    "recovered": ev["recovered"],
                    "ratio": round(ev["ratio"], 3),
                    "robust_z": round(ev["z"], 2),
                    "level_after": json_number(ev["after"]),
                },
            )
        )
    return findings
