"""``dead_component`` and ``gradient_imbalance``: components judged against their siblings.

Both are relative judgements. An absolute gradient-norm scale means nothing across models (a
LayerNorm group's norm is naturally 10-100x below its attention block's), so a component is compared,
step by step, with the median of the *other* components at the same step.

Thresholds and why:

* dead: the norm is exactly zero, or below ``DEAD_REL_FLOOR`` (1e-7) times the group's typical norm
  (float32 round-off territory: no update of that size moves a weight), on at least ``DEAD_SHARE``
  (50%) of the steps -> warning, ``DEAD_CRITICAL_SHARE`` (90%) -> critical. A component that *became*
  dead and stayed so for the last ``DEAD_TAIL_SHARE`` (20%) of the run is reported too (it died).
* imbalance: the median over steps of log10(norm / siblings' median) is <= -2.5 (the component gets
  ~1/300 of its siblings' gradient: a branch that barely contributes) or >= +3 (it takes nearly all of
  the norm; squared share >= 99.9% with three components). Natural spreads between healthy modules
  (biases, norms, embeddings, heads) stay within about two decades, so the starved side keeps half a
  decade of margin (a branch behind a 1e-3 gain lands near -2.6) and the dominant side a full one.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.dead_component.thresholds import (
    DEAD_ABS_FLOOR,
    DEAD_CRITICAL_SHARE,
    DEAD_REL_FLOOR,
    DEAD_SHARE,
    DEAD_TAIL_MIN_POINTS,
    DEAD_TAIL_SHARE,
)
from ...rules.gradient_imbalance.thresholds import IMBALANCE_CRITICAL_DECADES, IMBALANCE_DECADES, STARVED_DECADES
from ..windows import column_nanmedians


def sibling_reference(mat: np.ndarray) -> np.ndarray:
    """For each component (row) and step (column), the typical norm of the group it is judged against.

    Two components: the other one. Three or more: the median of all of them (self included). The
    median of *all* keeps one huge component from making its siblings look starved (with three
    components, the median of "the other two" would be half the huge one); the middle component
    is the group's typical level. With a single component the result is NaN (no relative judgement).

    Treat the result as read-only: with two components it is a view of ``mat``, and with three or more
    every row is the same, so it is one row broadcast over all of them rather than a copy per
    component (a 1 GB log has matrices of ~80 MB).
    """
    k = mat.shape[0]
    if k < 2:
        return np.broadcast_to(np.nan, mat.shape)
    finite = np.isfinite(mat)
    clean = mat if finite.all() else np.where(finite, mat, np.nan)
    if k == 2:
        return clean[::-1]
    return np.broadcast_to(column_nanmedians(clean), mat.shape)


def dead_mask(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Steps where a norm is zero or below the floor relative to its reference (NaN reference: zero only)."""
    floor = np.where(np.isfinite(reference), np.maximum(DEAD_ABS_FLOOR, DEAD_REL_FLOOR * reference), DEAD_ABS_FLOOR)
    return np.isfinite(values) & (values <= floor)


def dead_tail_start(mask: np.ndarray) -> int | None:
    """Index from which ``mask`` stays True to the end, or None."""
    if mask.size == 0 or not mask[-1]:
        return None
    not_dead = np.flatnonzero(~mask)
    return int(not_dead[-1] + 1) if not_dead.size else 0


def detect_dead(
    name: str, series: str, steps: np.ndarray, values: np.ndarray, reference: np.ndarray
) -> Finding | None:
    """A component with zero (or negligible) gradient on most steps, or for the whole end of the run."""
    if values.size < 5:
        return None
    mask = dead_mask(values, reference)
    share = float(mask.mean())
    tail = dead_tail_start(mask)
    tail_share = 0.0 if tail is None else (values.size - tail) / values.size
    if share < DEAD_SHARE and not (tail_share >= DEAD_TAIL_SHARE and values.size - (tail or 0) >= DEAD_TAIL_MIN_POINTS):
        return None
    exact_zero = float((values[mask] == 0).mean()) if mask.any() else 0.0
    severity = "critical" if share >= DEAD_CRITICAL_SHARE else "warning"
    first_dead = int(steps[np.argmax(mask)])
    evidence = [
        Evidence(
            metric=series,
            step=first_dead,
            value=json_number(values[np.argmax(mask)]),
            expected=f"> {DEAD_REL_FLOOR:g} x the median of the other components' norms",
        ),
        Evidence(metric=f"{series} (dead steps)", value=round(100 * share, 1), expected=f"< {100 * DEAD_SHARE:g}%"),
    ]
    ref_med = bn.nanmedian(reference) if np.isfinite(reference).any() else None
    if ref_med is not None:
        evidence.append(Evidence(metric="median norm of the other components", value=json_number(ref_med)))
    if share >= DEAD_SHARE:
        msg = (
            f"Component {name!r} has {'a zero' if exact_zero > 0.99 else 'a zero or negligible'} gradient norm on "
            f"{100 * share:.0f}% of {values.size} logged steps: its parameters are not being trained. "
            "Typical causes: a detached branch (.detach(), torch.no_grad, a frozen module left frozen), "
            "a branch whose output is unused or multiplied by zero, or dead ReLUs."
        )
        start = first_dead
    else:
        start = int(steps[tail])
        msg = (
            f"Component {name!r} stopped receiving gradient at step {start} and stayed dead to the end "
            f"({100 * tail_share:.0f}% of the run). Typical causes: a freeze schedule, dead ReLUs after a "
            "large update, or a gate that collapsed to zero."
        )
    return make_finding(
        "dead_component",
        severity,
        f"DEAD [{name}]: zero gradient on {100 * share:.0f}% of steps",
        msg,
        confidence=min(0.97, 0.6 + 0.4 * max(share, tail_share)),
        evidence=evidence,
        series=series,
        component=name,
        step_start=start,
        step_end=int(steps[-1]),
        details={"dead_percent": round(100 * share, 2), "exactly_zero_share": round(exact_zero, 3)},
    )


def log_ratio_to_siblings(values: np.ndarray, reference: np.ndarray) -> float:
    """Median over steps of log10(norm / siblings' median); NaN when undefined on every step."""
    with np.errstate(all="ignore"):
        r = np.log10(values / reference)
    r = r[np.isfinite(r)]
    return float(bn.median(r)) if r.size else float("nan")


def detect_imbalance(
    name: str,
    series: str,
    steps: np.ndarray,
    values: np.ndarray,
    reference: np.ndarray,
    share: np.ndarray,
    n_components: int,
    ratio: float | None = None,
) -> Finding | None:
    """A component starved (<= ~1/300 of its siblings) or dominant (>= 1e3 of them), over the run.

    ``ratio``: ``log_ratio_to_siblings(values, reference)`` when the caller already has it.
    """
    if values.size < 5 or n_components < 2:
        return None
    ratio = log_ratio_to_siblings(values, reference) if ratio is None else ratio
    if not np.isfinite(ratio):
        return None
    starved = ratio < 0
    limit = STARVED_DECADES if starved else IMBALANCE_DECADES
    if abs(ratio) < limit:
        return None
    med_share = float(bn.nanmedian(share)) if np.isfinite(share).any() else float("nan")
    severity = "critical" if abs(ratio) >= IMBALANCE_CRITICAL_DECADES else "warning"
    factor = 10 ** abs(ratio)
    if starved:
        title = f"STARVED [{name}]: gradient {factor:.3g}x below the other components"
        msg = (
            f"Component {name!r} receives a gradient norm about {factor:.3g}x smaller than the median of the "
            f"other components (squared-norm share {med_share:.2e}): it barely learns. Typical causes: its output "
            "scaled by a tiny gain (a residual/branch coefficient), a saturated gate, or a loss term with a "
            "negligible weight."
        )
    else:
        title = f"DOMINANT [{name}]: {100 * med_share:.2f}% of the squared gradient norm"
        msg = (
            f"Component {name!r} carries a gradient norm about {factor:.3g}x larger than the median of the other "
            f"components (squared-norm share {100 * med_share:.2f}%): with a global clip or a shared LR, the "
            "others effectively stop learning. Typical causes: an unnormalised input or loss term feeding "
            "this component, a large output scale, or a missing normalisation layer."
        )
    return make_finding(
        "gradient_imbalance",
        severity,
        title,
        msg,
        confidence=min(0.95, 0.55 + 0.1 * abs(ratio)),
        evidence=[
            Evidence(
                metric=series,
                value=json_number(bn.nanmedian(values)),
                expected=f"within {10**limit:.3g}x of the other components' median "
                f"{float(np.nanmedian(reference)):.3g}",
            ),
            Evidence(metric=f"{series} (log10 ratio to siblings)", value=round(ratio, 2),
                     expected=f"{'>' if starved else '<'} {'-' if starved else ''}{limit:g} decades"),
            Evidence(metric=f"{series} (squared-norm share)", value=json_number(med_share)),
        ],
        series=series,
        component=name,
        step_start=int(steps[0]),
        step_end=int(steps[-1]),
        details={"log10_ratio_to_siblings": round(ratio, 3), "kind": "starved" if starved else "dominant"},
    )
