"""Which hyperparameters go with a failure mode: trials with the mode compared to trials without it.

A sweep usually has a handful to a few dozen trials, so the comparison is built to be honest at
small n rather than impressive:

- numeric parameters: Cliff's delta (the rank-based effect size: how often a value from a trial with
  the mode exceeds one from a trial without, minus the reverse; -1..1, insensitive to scale, so a
  log-spaced learning rate needs no transform), the medians of both groups, a two-sided Mann-Whitney
  U p-value (exact for small samples without ties), and the single cut that best separates the groups
  (by balanced accuracy, so a rare mode is not "explained" by predicting its absence everywhere);
- categorical parameters (strings, booleans): the mode's rate for each value, with counts; no test.

Every verdict states n. Below 3 trials on either side nothing is tested. A p-value is reported
uncorrected, and the verdict says whether it survives a Bonferroni correction for every comparison
made in the sweep: with ten parameters and three modes, one p < 0.05 is expected by chance alone.
An association in a search is also not a cause: the sampler chose the values, often not
independently (TPE concentrates where earlier trials did well).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import bottleneck as bn
import numpy as np

from ..textreport import fmt_num
from .models import CategoryRate, ParamEffect, Split, TrialRow

MIN_TEST_N = 3
SMALL_EFFECT = 0.33
LARGE_EFFECT = 0.474
"""Cliff's delta below 0.33 is negligible or small, from 0.474 large (Romano et al., 2006): a direction is
only claimed from a medium effect up."""
MAX_CATEGORIES = 12
ALPHA = 0.05


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def cliffs_delta(with_mode: np.ndarray, without: np.ndarray) -> float:
    """P(x > y) - P(x < y) for x from trials with the mode, y from those without."""
    diff = with_mode[:, None] - without[None, :]
    return float(np.sign(diff).mean())


def mann_whitney_p(with_mode: np.ndarray, without: np.ndarray) -> float | None:
    """Two-sided Mann-Whitney U p-value (exact for small samples without ties; see
    :func:`~traintriage.detectors.rank.mann_whitney_u_p`, which gives scipy's answer without scipy)."""
    from ..detectors.rank import mann_whitney_u_p

    if np.ptp(np.concatenate([with_mode, without])) == 0:
        return 1.0
    p = mann_whitney_u_p(with_mode, without)
    return p if math.isfinite(p) else None


def best_split(param: str, values: np.ndarray, has_mode: np.ndarray) -> Split | None:
    """The threshold on observed values that best separates trials with the mode (balanced accuracy)."""
    levels = np.unique(values)
    if len(levels) < 2:
        return None
    pos, neg = int(has_mode.sum()), int((~has_mode).sum())
    best: tuple[float, int, bool] | None = None  # (score, cut index, mode on the high side)
    for k in range(1, len(levels)):
        high = values >= levels[k]
        tpr_hi = (high & has_mode).sum() / pos
        tnr_hi = (~high & ~has_mode).sum() / neg
        for mode_high, score in ((True, (tpr_hi + tnr_hi) / 2), (False, ((1 - tpr_hi) + (1 - tnr_hi)) / 2)):
            if best is None or score > best[0] + 1e-12:
                best = (float(score), k, mode_high)
    score, k, mode_high = best  # type: ignore[misc]
    side = values >= levels[k] if mode_high else values <= levels[k - 1]
    value, other = (levels[k], levels[k - 1]) if mode_high else (levels[k - 1], levels[k])
    return Split(
        rule=f"{param} {'>=' if mode_high else '<='} {fmt_num(float(value))}",
        value=float(value),
        other_side=float(other),
        inside=f"{int((side & has_mode).sum())}/{int(side.sum())}",
        outside=f"{int((~side & has_mode).sum())}/{int((~side).sum())}",
        balanced_accuracy=round(score, 3),
    )


def numeric_effect(param: str, values: np.ndarray, has_mode: np.ndarray) -> ParamEffect:
    with_mode, without = values[has_mode], values[~has_mode]
    return ParamEffect(
        param=param,
        kind="numeric",
        n_with=len(with_mode),
        n_without=len(without),
        median_with=float(bn.median(with_mode)),
        median_without=float(bn.median(without)),
        effect_size=round(cliffs_delta(with_mode, without), 3),
        p_value=mann_whitney_p(with_mode, without),
        split=best_split(param, values, has_mode),
        verdict="",
    )


def categorical_effect(param: str, values: list[str], has_mode: np.ndarray) -> ParamEffect:
    rates = []
    for value in sorted(set(values)):
        idx = np.array([v == value for v in values])
        n, k = int(idx.sum()), int((idx & has_mode).sum())
        rates.append(CategoryRate(value=value, with_mode=k, trials=n, rate=round(k / n, 3)))
    rates.sort(key=lambda r: (-r.rate, -r.trials, r.value))
    return ParamEffect(
        param=param,
        kind="categorical",
        n_with=int(has_mode.sum()),
        n_without=int((~has_mode).sum()),
        rates=rates,
        verdict="",
    )


def param_effects(rows: Sequence[TrialRow], code: str) -> list[ParamEffect]:
    """Every hyperparameter that varies across ``rows`` (analysed trials), compared with vs without ``code``."""
    names = sorted({name for row in rows for name in row.params})
    effects = []
    for name in names:
        present = [(row.params[name], code in row.codes) for row in rows if row.params.get(name) is not None]
        if not present:
            continue
        flags = np.array([m for _, m in present], dtype=bool)
        if flags.all() or not flags.any():
            continue
        raw = [v for v, _ in present]
        if all(_is_number(v) for v in raw):
            values = np.array(raw, dtype=float)
            if np.ptp(values) > 0:
                effects.append(numeric_effect(name, values, flags))
            continue
        labels = [str(v) for v in raw]
        distinct = len(set(labels))
        if 2 <= distinct <= MAX_CATEGORIES and distinct < len(labels):  # all distinct: an id, not a setting
            effects.append(categorical_effect(name, labels, flags))
    return effects


def strength(effect: ParamEffect) -> float:
    """For ordering: |Cliff's delta|, or the spread of rates across a categorical's values."""
    if effect.kind == "numeric":
        return abs(effect.effect_size or 0.0)
    rates = [r.rate for r in effect.rates]
    return max(rates) - min(rates) if rates else 0.0


def verdict(effect: ParamEffect, code: str, comparisons: int) -> str:
    """What the numbers support, in plain words, with n, and no significance that is not there."""
    n = f"n={effect.n_with} with {code}, {effect.n_without} without"
    if effect.kind == "categorical":
        rates = ", ".join(f"{r.value}: {r.with_mode}/{r.trials}" for r in effect.rates)
        return f"{code} by {effect.param}: {rates} ({n}); rates only, no test."
    d = effect.effect_size or 0.0
    medians = f"median {fmt_num(effect.median_with)} vs {fmt_num(effect.median_without)}"
    if abs(d) < SMALL_EFFECT:
        head = f"{effect.param}: no clear difference ({medians}; Cliff's delta {d:+.2f}; {n})"
    else:
        direction = "higher" if d > 0 else "lower"
        size = "large" if abs(d) >= LARGE_EFFECT else "medium"
        head = (
            f"{effect.param} is {direction} in trials with {code} ({size} effect: Cliff's delta {d:+.2f}; "
            f"{medians}; {n})"
        )
    if effect.split is not None and abs(d) >= SMALL_EFFECT:
        s = effect.split
        head += f"; best cut {s.rule}: {code} in {s.inside} trials there vs {s.outside} elsewhere"
    if min(effect.n_with, effect.n_without) < MIN_TEST_N:
        return head + f". Too few trials to test (fewer than {MIN_TEST_N} on one side): descriptive only."
    p = effect.p_value
    if p is None:
        return head + ". No test possible."
    if p * max(comparisons, 1) < ALPHA:
        return head + f". Mann-Whitney p={p:.2g}; holds after Bonferroni correction for {comparisons} comparisons."
    if p < ALPHA:
        return (
            head + f". Mann-Whitney p={p:.2g} uncorrected, not significant after correcting for {comparisons} "
            "comparisons: a lead to check, not a finding."
        )
    return head + f". Mann-Whitney p={p:.2g}: consistent with chance."
