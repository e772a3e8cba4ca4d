"""``exploding_gradients``, ``vanishing_gradients`` and ``nan_inf`` (for gradient norms).

Two kinds of evidence, both in decades (log10) so they are scale-free:

* **Over time** (any norm series): the median of the last 10% of the run against the median of the
  first 25% (a quarter, not the first few points, so a zero-initialised head whose upstream gradient
  starts near zero is not mistaken for growth). Growth >= ``GROWTH_DECADES`` (2, i.e. 100x) is a
  warning, >= 3 decades critical. A healthy run's norm drifts up late by 2-10x (LR decay, sharper
  minima); that stays below 100x. A non-finite norm is always critical (``nan_inf`` and
  ``exploding_gradients``: an Inf/NaN gradient means the update was garbage or skipped).
* **Along depth** (a numbered layer stack of >= 3 layers): per step, log10 of the median norm of
  the front quarter of the layers (nearest the input) minus that of the back quarter. Backprop
  multiplies by each layer's Jacobian, so a stack whose Jacobians are consistently > 1 (large init)
  has front >> back, and one whose Jacobians are < 1 (saturating sigmoids/tanh) has front << back.
  >= 2 decades (100x) with the per-layer medians ordered monotonically along depth (Spearman
  |rho| >= 0.6) is a finding; >= 3 decades is critical. Residual networks keep front and back within
  a few x, so two decades does not fire on them.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.exploding_gradients.thresholds import GROWTH_CRITICAL_DECADES, GROWTH_DECADES
from ...rules.vanishing_gradients.thresholds import DEPTH_CRITICAL_DECADES, DEPTH_DECADES, DEPTH_MIN_RHO
from ..rank import spearman
from ..windows import column_nanmedians
from .stats import safe_log10, window_median

EARLY = (0.0, 0.25)
LATE = (0.9, 1.0)


def detect_non_finite(name: str, steps: np.ndarray, values: np.ndarray, component: str | None) -> list[Finding]:
    """``nan_inf`` + ``exploding_gradients`` at the first non-finite gradient norm of a series."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return []
    i = int(np.argmax(bad))
    first = int(steps[i])
    count = int(bad.sum())
    kind = "NaN" if np.isnan(values[i]) else "Inf"
    finite_before = values[:i][np.isfinite(values[:i])]
    before = float(bn.median(finite_before[-10:])) if finite_before.size else None
    evidence = [Evidence(metric=name, step=first, value=json_number(values[i]), expected="finite")]
    if before is not None:
        evidence.append(Evidence(metric=f"{name} (median of the 10 points before)", value=json_number(before)))
    where = f"component {component!r}" if component else name
    nan_msg = (
        f"The gradient norm of {where} became {kind} at step {first} ({count} of {values.size} points non-finite). "
        "The optimizer step at that point used (or skipped, with a GradScaler) a garbage gradient."
    )
    return [
        make_finding(
            "nan_inf",
            "critical",
            f"{kind} gradient norm at step {first}",
            nan_msg,
            confidence=0.98,
            evidence=evidence,
            series=name,
            component=component,
            step_start=first,
            step_end=int(steps[-1]),
            details={"non_finite_points": count},
        ),
        make_finding(
            "exploding_gradients",
            "critical",
            f"gradient norm overflowed ({kind}) at step {first}",
            f"The gradient norm of {where} is non-finite from step {first}: the gradient exploded past what "
            "the number format holds (or a NaN entered the graph). Check the steps just before for growth.",
            confidence=0.9 if kind == "Inf" else 0.75,
            evidence=evidence,
            series=name,
            component=component,
            step_start=first,
            step_end=int(steps[-1]),
            details={"non_finite_points": count, "kind": kind},
        ),
    ]


def growth_decades(values: np.ndarray) -> tuple[float, float, float]:
    """(late - early) median log10 norm, with the early and late medians (decades)."""
    return log_growth(safe_log10(values))


def log_growth(logv: np.ndarray) -> tuple[float, float, float]:
    """:func:`growth_decades` of norms whose log10 is already taken (``safe_log10``)."""
    early = window_median(logv, *EARLY)
    late = window_median(logv, *LATE)
    return late - early, early, late


def detect_growth(name: str, steps: np.ndarray, values: np.ndarray, component: str | None) -> Finding | None:
    """Gradient norm grown by orders of magnitude between the start and the end of the run."""
    finite = np.isfinite(values)
    if finite.sum() < 20:
        return None
    v, st = values[finite], steps[finite]
    growth, early, late = growth_decades(v)
    if not np.isfinite(growth) or growth < GROWTH_DECADES:
        return None
    logv = safe_log10(v)
    # First step it began: the first point that stays above the early level + 1 decade from there on.
    above = logv > early + 1.0
    began = int(st[np.argmax(above)]) if above.any() else int(st[0])
    for j in range(above.size):
        if above[j] and np.mean(above[j:]) >= 0.8:
            began = int(st[j])
            break
    severity = "critical" if growth >= GROWTH_CRITICAL_DECADES else "warning"
    where = f"component {component!r}" if component else name
    return make_finding(
        "exploding_gradients",
        severity,
        f"gradient norm grew {10**growth:.3g}x over the run",
        f"The gradient norm of {where} rose from a median of {10**early:.3g} (first quarter of the run) to "
        f"{10**late:.3g} (last tenth), {growth:.1f} orders of magnitude, from about step {began}. Typical "
        "causes: an LR too high for the loss landscape, missing/weak normalisation, a growing residual stream, "
        "or a loss scale that grows without bound.",
        confidence=min(0.95, 0.5 + 0.15 * growth),
        evidence=[
            Evidence(metric=name, step=int(st[0]), value=json_number(10**early), expected="early median"),
            Evidence(
                metric=name,
                step=int(st[-1]),
                value=json_number(10**late),
                expected=f"< {10**(early + GROWTH_DECADES):.3g} ({10**GROWTH_DECADES:g}x the early median)",
            ),
        ],
        series=name,
        component=component,
        step_start=began,
        step_end=int(st[-1]),
        details={"growth_decades": round(growth, 3)},
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or np.ptp(y) == 0:
        return 0.0
    rho = spearman(x, y)
    return float(rho) if np.isfinite(rho) else 0.0


def depth_profile(names: list[str], steps: np.ndarray, mat: np.ndarray) -> dict | None:
    """Front-vs-back statistics of one ordered layer stack (rows of ``mat`` in depth order).

    Returns ``{"front_minus_back": decades, "rho": spearman(layer index, median log norm), ...}``.
    """
    k = mat.shape[0]
    if k < 3 or steps.size < 5:
        return None
    logm = safe_log10(mat)
    q = max(1, k // 4)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            front = column_nanmedians(logm[:q])
            back = column_nanmedians(logm[-q:])
            per_layer = bn.nanmedian(logm, axis=1)
    diff = front - back
    diff = diff[np.isfinite(diff)]
    if diff.size < 5:
        return None
    ok = np.isfinite(per_layer)
    rho = _spearman(np.arange(k)[ok], per_layer[ok]) if ok.sum() >= 3 else 0.0
    return {
        "layers": names,
        "front": names[:q],
        "back": names[-q:],
        "front_minus_back_decades": float(bn.median(diff)),
        "rho": rho,
        "per_layer_median": [json_number(10**v) if np.isfinite(v) else None for v in per_layer],
    }


def detect_depth(profile: dict, steps: np.ndarray) -> Finding | None:
    """Front layers orders of magnitude above (exploding) or below (vanishing) the back layers."""
    d = profile["front_minus_back_decades"]
    rho = profile["rho"]
    if abs(d) < DEPTH_DECADES:
        return None
    # The ordering has to agree: norms falling toward the input (rho > 0) for vanishing,
    # rising toward the input (rho < 0) for exploding.
    if (d < 0 and rho < DEPTH_MIN_RHO) or (d > 0 and rho > -DEPTH_MIN_RHO):
        return None
    severity = "critical" if abs(d) >= DEPTH_CRITICAL_DECADES else "warning"
    front, back = profile["front"], profile["back"]
    per_layer = profile["per_layer_median"]
    f_med, b_med = per_layer[0], per_layer[-1]
    evidence = [
        Evidence(metric=f"grad norm {profile['layers'][0]} (median)", value=f_med),
        Evidence(
            metric=f"grad norm {profile['layers'][-1]} (median)",
            value=b_med,
        ),
        Evidence(
            metric="log10(front / back) (median over steps)",
            value=round(d, 2),
            expected=f"|value| < {DEPTH_DECADES:g} (front and back within {10**DEPTH_DECADES:g}x)",
        ),
        Evidence(metric="spearman(layer index, log norm)", value=round(rho, 2)),
    ]
    stack = f"{profile['layers'][0]} .. {profile['layers'][-1]} ({len(profile['layers'])} layers)"
    details = {
        "front_minus_back_decades": round(d, 3),
        "spearman_rho": round(rho, 3),
        "front": front,
        "back": back,
        "per_layer_median": per_layer,
    }
    if d < 0:
        return make_finding(
            "vanishing_gradients",
            severity,
            f"front layers get {10**-d:.3g}x less gradient than back layers",
            f"Along the stack {stack}, the gradient norm shrinks steadily toward the input: the front layers "
            f"get about {10**-d:.3g}x less than the back layers, so they barely train. Typical causes: "
            "saturating activations (sigmoid/tanh) in a deep plain stack, no residual connections or "
            "normalisation, too-small init.",
            confidence=min(0.95, 0.45 + 0.12 * abs(d) + 0.2 * abs(rho)),
            evidence=evidence,
            step_start=int(steps[0]),
            step_end=int(steps[-1]),
            details=details,
        )
    return make_finding(
        "exploding_gradients",
        severity,
        f"front layers get {10**d:.3g}x more gradient than back layers",
        f"Along the stack {stack}, the gradient norm grows steadily toward the input: the front layers get "
        f"about {10**d:.3g}x more than the back layers, the signature of layer Jacobians above 1 compounding "
        "with depth. Typical causes: too-large init (gain/std), no normalisation, no residual scaling.",
        confidence=min(0.95, 0.45 + 0.12 * abs(d) + 0.2 * abs(rho)),
        evidence=evidence,
        step_start=int(steps[0]),
        step_end=int(steps[-1]),
        details=details,
    )
