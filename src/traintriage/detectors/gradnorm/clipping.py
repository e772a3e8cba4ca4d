"""``heavy_clipping``: gradient clipping active on a large share of steps.

Clipping is a safety net: it should catch the odd bad batch, not rescale every update. When it is
active on most steps, the effective learning rate is ``lr * threshold / norm`` (the clip silently
becomes an LR schedule) and the update direction of the largest components wins over the rest.

Which steps were clipped, in order of preference:

1. pre- and post-clip norms both logged (EpiForecaster: ``GradNorm/Total_PreClip`` and
   ``GradNorm/Clipped_Total``): clipped where ``post < pre * (1 - CLIP_EPS)``; the threshold is then
   estimated as the median post-clip norm on clipped steps.
2. a threshold (passed by the user, or logged, e.g. ``max_grad_norm``) and a pre-clip norm (the pre-clip
   series, else the total: ``clip_grad_norm_`` and HF Trainer return/log the norm *before* clipping):
   clipped where ``pre > threshold * (1 + CLIP_EPS)``.

The clip factor is ``pre / threshold`` on clipped steps. Thresholds: clipped on >= 50% of steps ->
warning; >= 90% with a median factor >= 5 -> critical; 20-50% -> info. A few % is the net working.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.heavy_clipping.thresholds import CLIP_EPS, CRITICAL_FACTOR, CRITICAL_SHARE, HEAVY_SHARE, INFO_SHARE
from .models import ClippingStats
from .stats import align


def clipping_stats(
    pre_name: str,
    pre_steps: np.ndarray,
    pre: np.ndarray,
    *,
    post: tuple[str, np.ndarray, np.ndarray] | None = None,
    threshold: float | None = None,
    threshold_series: tuple[str, np.ndarray, np.ndarray] | None = None,
    threshold_source: str = "argument",
) -> ClippingStats | None:
    """Clipping statistics from pre/post norms, or from a pre-clip norm and a threshold (None if neither)."""
    if post is not None and threshold is None:
        steps, mat = align([pre_steps, post[1]], [pre, post[2]])
        p, q = mat[0], mat[1]
        ok = np.isfinite(p) & np.isfinite(q) & (p > 0)
        steps, p, q = steps[ok], p[ok], q[ok]
        if steps.size == 0:
            return None
        clipped = q < p * (1 - CLIP_EPS)
        thr = float(bn.median(q[clipped])) if clipped.any() else None
        factors = p[clipped] / q[clipped] if clipped.any() else np.zeros(0)
        method, thr_src, post_name = "pre_post", "estimated", post[0]
    else:
        if threshold_series is not None and threshold is None:
            steps, mat = align([pre_steps, threshold_series[1]], [pre, threshold_series[2]])
            p, t = mat[0], mat[1]
            thr_src = threshold_series[0]
        elif threshold is not None:
            steps, p, t = pre_steps, pre, np.full(pre.shape, float(threshold))
        else:
            return None
        ok = np.isfinite(p) & np.isfinite(t) & (t > 0)
        steps, p, t = steps[ok], p[ok], t[ok]
        if steps.size == 0:
            return None
        clipped = p > t * (1 + CLIP_EPS)
        factors = p[clipped] / t[clipped]
        thr = float(bn.median(t))
        method, post_name = "threshold", None
        if threshold is not None:
            thr_src = threshold_source
    return ClippingStats(
        method=method,
        pre_series=pre_name,
        post_series=post_name,
        threshold=json_number(thr),
        threshold_source=thr_src,
        steps=int(steps.size),
        clipped_steps=int(clipped.sum()),
        clipped_percent=round(float(100 * clipped.mean()), 2),
        factor_median=json_number(bn.median(factors)) if factors.size else None,
        factor_p95=json_number(np.percentile(factors, 95)) if factors.size else None,
        factor_max=json_number(factors.max()) if factors.size else None,
        first_clipped_step=int(steps[np.argmax(clipped)]) if clipped.any() else None,
    )


def detect_heavy_clipping(stats: ClippingStats) -> Finding | None:
    share = stats.clipped_percent / 100.0
    if share < INFO_SHARE or stats.steps < 5:
        return None
    fmed = stats.factor_median if isinstance(stats.factor_median, float) else float("nan")
    if share >= CRITICAL_SHARE and fmed >= CRITICAL_FACTOR:
        severity = "critical"
    elif share >= HEAVY_SHARE:
        severity = "warning"
    else:
        severity = "info"
    thr = stats.threshold
    thr_txt = f"{thr:.3g}" if isinstance(thr, float) else str(thr)
    return make_finding(
        "heavy_clipping",
        severity,
        f"clipping active on {stats.clipped_percent:.0f}% of steps (median factor {fmed:.3g}x)",
        f"Gradient clipping (threshold {thr_txt}, {stats.threshold_source}) rescaled the gradient on "
        f"{stats.clipped_steps} of {stats.steps} steps; on those, the pre-clip norm was a median {fmed:.3g}x "
        f"(p95 {stats.factor_p95 if stats.factor_p95 is None else format(stats.factor_p95, '.3g')}x) the "
        "threshold. The clip is acting as a hidden LR reduction rather than a safety net. Typical causes: "
        "a threshold copied from a model with a different gradient scale, or an LR so high every step is "
        "too large.",
        confidence=min(0.95, 0.5 + 0.5 * share),
        evidence=[
            Evidence(
                metric=stats.pre_series,
                value=stats.clipped_percent,
                expected=f"< {100 * HEAVY_SHARE:g}% of steps clipped",
            ),
            Evidence(metric="clip factor (pre / threshold), median", value=stats.factor_median),
            Evidence(metric="clip factor, p95", value=stats.factor_p95),
            Evidence(metric="clip threshold", value=stats.threshold, expected=stats.threshold_source),
        ],
        series=stats.pre_series,
        step_start=stats.first_clipped_step,
        details={"method": stats.method, "clipped_percent": stats.clipped_percent},
    )
