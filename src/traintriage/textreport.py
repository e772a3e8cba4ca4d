"""Readable (``--text``) rendering shared by every command: run header, findings, warnings.

JSON is for agents; this is for a person at a terminal. Keep it plain (no colour codes), and put
the most important thing first.
"""

from __future__ import annotations

from collections.abc import Iterable

from .findings import Finding, sort_findings
from .signals import RunInfo

_MARK = {"critical": "CRITICAL", "warning": "WARNING ", "info": "info    "}


def fmt_num(value: float | str | int | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e12):
        return f"{int(value):,}" if abs(value) >= 1000 else str(int(value))
    return f"{value:.{digits}g}"


def run_header(info: RunInfo, *, show_series: bool = False) -> list[str]:
    lines = [f"Run: {info.path}", f"  read as {info.source}; {info.resolution}"]
    steps = f"steps {info.first_step}..{info.last_step}" if info.first_step is not None else "no steps"
    lines.append(f"  {info.files_total} file(s), {len(info.series)} series, {steps}")
    roles = info.roles
    parts = [f"train_loss={roles.train_loss}" if roles.train_loss else "train_loss=(none)"]
    if roles.val_loss:
        parts.append("val_loss=" + ",".join(roles.val_loss))
    for name in ("lr", "grad_total", "grad_preclip", "grad_postclip", "clip_threshold", "stage", "epoch"):
        value = getattr(roles, name)
        if value:
            parts.append(f"{name}={value}")
    if roles.grad_components:
        parts.append(
            f"grad_components={len(roles.grad_components)} ({', '.join(list(roles.grad_components)[:6])}"
            + (", ..." if len(roles.grad_components) > 6 else "")
            + ")"
        )
    if roles.memory:
        parts.append("memory=" + ",".join(roles.memory))
    if roles.collapse_metric:
        parts.append("collapse_metric=" + ",".join(roles.collapse_metric))
    lines.append("  roles: " + "; ".join(parts))
    if show_series:
        for s in info.series:
            lines.append(f"    {s.name:<40} {s.role or '':<28} {s.points:>7} pts  steps {s.first_step}..{s.last_step}")
    return lines


def findings_block(findings: Iterable[Finding], *, with_evidence: bool = True) -> list[str]:
    findings = sort_findings(list(findings))
    if not findings:
        return ["No findings."]
    lines = []
    for f in findings:
        where = ""
        if f.step_start is not None:
            where = f" @ step {f.step_start}" + (f"-{f.step_end}" if f.step_end not in (None, f.step_start) else "")
        subject = f.component or f.series
        lines.append(f"{_MARK[f.severity]} [{f.code}] {f.title}{where}" + (f" ({subject})" if subject else ""))
        lines.append(f"           {f.message}")
        if with_evidence:
            for ev in f.evidence[:4]:
                at = f" @ {ev.step}" if ev.step is not None else ""
                exp = f"  (expected {ev.expected})" if ev.expected else ""
                lines.append(f"           - {ev.metric}{at} = {fmt_num(ev.value)}{exp}")
    return lines


def warnings_block(warnings: Iterable[str]) -> list[str]:
    warnings = list(warnings)
    if not warnings:
        return []
    shown = warnings[:12]
    lines = ["Warnings:"] + [f"  - {w}" for w in shown]
    if len(warnings) > len(shown):
        lines.append(f"  ... and {len(warnings) - len(shown)} more (see JSON output)")
    return lines
