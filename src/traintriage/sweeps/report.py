"""Assemble a sweep's rows into its report: the ranking, the recurring failure modes, their correlates.

Ranking (rank 1 = the healthiest trial, the one to keep): trials that could be analysed first, then
by the number of critical issues, then warning issues, then by the best loss. The loss is the best
validation loss when any trial logged one (trials without it go after those with it, since losses
of different splits do not compare), else the best training loss. A loss-only ranking would put a
trial whose loss collapsed to a leak (``zero_loss``) or that stopped early at a low loss above a
healthy one; health first avoids recommending a broken run.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..findings import SEVERITY_RANK
from .effects import MIN_TEST_N, param_effects, strength, verdict
from .jobs import SweepPlan
from .models import FailureMode, SweepReport, TrialRow

MAX_IDS = 50
MAX_EFFECTS = 12


def rank_rows(rows: Iterable[TrialRow]) -> tuple[list[TrialRow], str]:
    """The rows ordered healthiest first, with ``rank`` set, and the sort key in words."""
    rows = list(rows)
    use_val = any(r.best_val_loss is not None for r in rows if r.status == "ok")
    metric = "best validation loss" if use_val else "best training loss"

    def key(row: TrialRow) -> tuple:
        loss = row.best_val_loss if use_val else row.best_train_loss
        return (row.status != "ok", row.critical, row.warnings, loss is None, loss if loss is not None else 0.0, row.id)

    ranked = sorted(rows, key=key)
    for i, row in enumerate(ranked, start=1):
        row.rank = i
    how = (
        f"healthiest first: analysed trials before unreadable ones, then fewest critical issues, fewest warning "
        f"issues, lowest {metric}" + (" (trials without one after those with one)" if use_val else "")
    )
    return ranked, how


def failure_modes(rows: list[TrialRow]) -> tuple[list[FailureMode], int]:
    """Finding codes across the analysed trials, most common first, with the hyperparameters compared for
    each recurring one; and the number of numeric comparisons made (for the multiple-testing note)."""
    ok = [r for r in rows if r.status == "ok"]
    counts: dict[str, list[TrialRow]] = {}
    for row in ok:
        for code in row.codes:
            counts.setdefault(code, []).append(row)
    modes = []
    for code, having in counts.items():
        worst = min((r.codes[code] for r in having), key=lambda s: SEVERITY_RANK[s])
        mode = FailureMode(
            code=code,
            severity=worst,
            trials=len(having),
            of=len(ok),
            trial_ids=[r.id for r in having[:MAX_IDS]],
            recurring=len(having) >= 2,
        )
        if not mode.recurring:
            mode.note = "found in one trial only: nothing to compare."
        elif len(having) == len(ok):
            mode.note = "found in every analysed trial: no trial without it to compare with."
        else:
            mode.effects = sorted(param_effects(ok, code), key=lambda e: (-strength(e), e.param))
            if not mode.effects:
                mode.note = "no hyperparameter varies across these trials (none were read, or all are equal)."
        modes.append(mode)
    modes.sort(key=lambda m: (-m.trials, SEVERITY_RANK[m.severity], m.code))
    # Counted before trimming (every test made counts against chance), once per distinct split of the
    # trials: modes found in exactly the same trials (nan_inf and divergence, often) are one test, not two.
    comparisons = len(
        {
            (tuple(sorted(m.trial_ids)), e.param)
            for m in modes
            for e in m.effects
            if e.p_value is not None and min(e.n_with, e.n_without) >= MIN_TEST_N
        }
    )
    for m in modes:
        m.effects = m.effects[:MAX_EFFECTS]
        for e in m.effects:
            e.verdict = verdict(e, m.code, comparisons)
    return modes, comparisons


def build_report(plan: SweepPlan, rows: Iterable[TrialRow], *, backend: str, seconds: float) -> SweepReport:
    ranked, how = rank_rows(rows)
    modes, comparisons = failure_modes(ranked)
    ok = sum(1 for r in ranked if r.status == "ok")
    return SweepReport(
        target=plan.target,
        kind=plan.kind,
        study=plan.study,
        directions=plan.directions,
        backend=backend,
        trials_total=len(ranked),
        trials_ok=ok,
        trials_unreadable=len(ranked) - ok,
        ranked_by=how,
        trials=ranked,
        failure_modes=modes,
        comparisons=comparisons,
        warnings=plan.warnings,
        truncated=plan.truncated,
        seconds=round(seconds, 3),
    )
