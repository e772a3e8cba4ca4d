"""Readable (``--text``) sweep report: the ranking table, then the failure modes and what goes with them."""

from __future__ import annotations

import textwrap

from ..findings import SEVERITY_RANK
from ..textreport import fmt_num, warnings_block
from .effects import verdict
from .models import FailureMode, SweepReport, TrialRow

PARAMS_WIDTH = 48
TOP_WIDTH = 40
WIDTH = 116


def _params(row: TrialRow, shown: list[str]) -> str:
    parts = [
        f"{k}={fmt_num(row.params[k], 3) if not isinstance(row.params[k], bool) else row.params[k]}"
        for k in shown
        if k in row.params
    ]
    text = " ".join(parts)
    return text if len(text) <= PARAMS_WIDTH else text[: PARAMS_WIDTH - 3] + "..."


def varying_params(rows: list[TrialRow]) -> list[str]:
    """Parameters whose value differs between trials (the ones worth a column), in name order."""
    names = sorted({k for r in rows for k in r.params})
    return [k for k in names if len({repr(r.params.get(k)) for r in rows}) > 1]


def _loss(value: float | None, step: int | None) -> str:
    return "-" if value is None else f"{fmt_num(value)} @{step}"


def trial_line(row: TrialRow, done: int | None = None, total: int | None = None) -> str:
    """One line per finished trial, for ``--stream --text``."""
    head = f"[{done}/{total}] " if done is not None else ""
    state = f" ({row.state})" if row.state else ""
    if row.status == "error":
        return f"{head}{row.id}{state}: ERROR {row.error}"
    health = f"{row.critical} critical, {row.warnings} warning"
    if row.top_codes:
        health += ": " + ", ".join(row.top_codes)
    losses = f"best val {_loss(row.best_val_loss, row.best_val_step)}, "
    losses += f"best train {_loss(row.best_train_loss, row.best_train_step)}"
    return f"{head}{row.id}{state}: {health}; {losses}"


def render_sweep(report: SweepReport) -> str:
    lines = [f"Sweep: {report.target}" + (f" (study {report.study})" if report.study else "")]
    lines.append(
        f"  {report.trials_total} trials: {report.trials_ok} analysed, {report.trials_unreadable} unreadable; "
        f"{report.backend}, {report.seconds:.1f} s"
    )
    lines.append(f"  ranked {report.ranked_by}")
    shown = varying_params(report.trials)
    lines.append("")
    id_w = max([5, *(len(r.id) for r in report.trials)])
    id_w = min(id_w, 40)
    has_state = any(r.state for r in report.trials)
    has_obj = any(r.objective for r in report.trials)
    header = f"{'#':>3} {'trial':<{id_w}} " + (f"{'state':<9}" if has_state else "")
    header += f"{'crit':>4} {'warn':>4}  {'top issues':<{TOP_WIDTH}} {'best val @step':<18} {'best train @step':<18} "
    header += (f"{'objective':<10} " if has_obj else "") + "params"
    lines.append(header)
    for r in report.trials:
        line = f"{r.rank or '':>3} {r.id[:id_w]:<{id_w}} " + (f"{(r.state or '-')[:8]:<9}" if has_state else "")
        if r.status == "error":
            line += f"{'-':>4} {'-':>4}  ERROR: {r.error}"
            lines.append(line)
            continue
        top = ", ".join(r.top_codes) or "-"
        line += f"{r.critical:>4} {r.warnings:>4}  {top[:TOP_WIDTH]:<{TOP_WIDTH}} "
        line += f"{_loss(r.best_val_loss, r.best_val_step):<18} "
        line += f"{_loss(r.best_train_loss, r.best_train_step):<18} "
        if has_obj:
            line += f"{', '.join(fmt_num(v) for v in (r.objective or [])) or '-':<10} "
        lines.append(line + _params(r, shown))
    lines.append("")
    if not report.failure_modes:
        lines.append("FAILURE MODES: none at warning or critical severity.")
    else:
        lines.append(f"FAILURE MODES (in {report.trials_ok} analysed trials; {report.comparisons} tests made)")
        for group in _same_trials(report.failure_modes):
            m = group[0]
            label = "/".join(g.code for g in group)
            severity = min((g.severity for g in group), key=lambda s: SEVERITY_RANK[s])
            ids = ", ".join(m.trial_ids[:8]) + (" ..." if len(m.trial_ids) > 8 else "")
            same = " (found together in the same trials)" if len(group) > 1 else ""
            lines.append(f"  {label} [{severity}]: {m.trials}/{m.of} trials ({ids}){same}")
            if m.note:
                lines.append(f"      {m.note}")
            for e in m.effects[:6]:
                text = verdict(e, label, report.comparisons)
                lines.extend(textwrap.wrap(text, WIDTH, initial_indent="      - ", subsequent_indent="        "))
    return "\n".join(lines + ([""] if report.warnings else []) + warnings_block(report.warnings))


def _same_trials(modes: list[FailureMode]) -> list[list[FailureMode]]:
    """Modes grouped when they were found in exactly the same trials: their comparisons are identical."""
    groups: dict[tuple[str, ...], list[FailureMode]] = {}
    for m in modes:
        groups.setdefault(tuple(sorted(m.trial_ids)), []).append(m)
    return list(groups.values())
