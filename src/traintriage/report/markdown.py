"""GitHub-flavoured markdown for ``--format markdown``: what a CI job appends to ``$GITHUB_STEP_SUMMARY``
or posts as a PR comment. Short by design: a status line, the top issues with their first evidence,
the plan, the validation checks, and a compact series table with sparklines; the rest is folded into
``<details>`` so the page stays readable.
"""

from __future__ import annotations

from ..textreport import fmt_num

ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
TOP = 3


def _cell(text: object) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _where(issue) -> str:
    if issue.step_start is None:
        return ""
    end = f"–{issue.step_end}" if issue.step_end not in (None, issue.step_start) else ""
    return f" (steps {issue.step_start}{end})"


def triage_markdown(report, rows=None) -> str:
    """``report``: a TriageReport; ``rows``: :func:`..series.series_rows` of the run (optional)."""
    run = report.run
    crit = sum(i.severity == "critical" for i in report.issues)
    warn = sum(i.severity == "warning" for i in report.issues)
    status = "🔴 critical issues" if crit else "🟠 warnings" if warn else "🟢 healthy"
    out = [
        f"## traintriage: {status}",
        "",
        f"`{_cell(run.path)}` · {run.source} · steps {run.first_step}–{run.last_step} · "
        f"{len(report.issues)} issue(s): {crit} critical, {warn} warning",
        "",
    ]
    if report.issues:
        out += ["### Top issues", ""]
        for issue in report.issues[:TOP]:
            rc = issue.root_cause
            out.append(f"{issue.rank}. {ICON.get(issue.severity, '')} **{issue.title}**{_where(issue)} "
                       f"— `{'`, `'.join(issue.codes)}`")
            for ev in issue.evidence[:2]:
                at = f" @ {ev.step}" if ev.step is not None else ""
                exp = f" (expected {ev.expected})" if ev.expected else ""
                out.append(f"   - {ev.metric}{at} = {fmt_num(ev.value)}{exp}")
            out.append(f"   - root cause: **{rc.category}** (confidence {rc.confidence:.2f}): {rc.explanation}")
        out.append("")
    if report.remediation:
        out += ["### Plan (smallest safe change first)", ""]
        out += [f"{s.order}. {s.change} — addresses #{', #'.join(map(str, s.addresses))}; risk {s.risk}"
                for s in report.remediation]
        out.append("")
    if report.validation:
        out += ["### Validation (next run)", ""]
        out += [f"- [ ] `{_cell(c.metric)}`: {c.expectation}" for c in report.validation]
        out.append("")
    if rows:
        out += series_table(rows)
    rest = report.issues[TOP:]
    if rest or report.warnings:
        out += ["<details><summary>Other issues and read warnings</summary>", ""]
        out += [f"- #{i.rank} {ICON.get(i.severity, '')} {i.title} (`{'`, `'.join(i.codes)}`)" for i in rest]
        out += [f"- ⚠️ {w}" for w in report.warnings]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def series_table(rows) -> list[str]:
    out = ["### Series", "", "| role | series | points | first | last | min | max | trend |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        trend = f"`{r.spark}`" + (" (log)" if r.log else "")
        cells = [r.role, f"`{_cell(r.name)}`", r.points, r.first, r.last, r.low, r.high, trend]
        out.append("| " + " | ".join(map(str, cells)) + " |")
    return [*out, ""]


def sweep_markdown(report) -> str:
    """A SweepReport as markdown: the ranking (first 20 trials), then the failure modes and their verdicts."""
    bad = sum(1 for t in report.trials if t.critical)
    status = f"🔴 {bad} trial(s) with critical issues" if bad else "🟢 no critical issues"
    out = [
        f"## traintriage sweep: {status}",
        "",
        f"`{_cell(report.target)}` · {report.trials_ok} of {report.trials_total} trials analysed"
        + (f", {report.trials_unreadable} unreadable" if report.trials_unreadable else "")
        + f" · ranked by {report.ranked_by}",
        "",
        "| # | trial | state | crit | warn | top issues | best val @step | params |",
        "|---:|---|---|---:|---:|---|---|---|",
    ]
    for t in report.trials[:20]:
        best = "-" if t.best_val_loss is None else f"{fmt_num(t.best_val_loss)} @{t.best_val_step}"
        top = ", ".join(t.top_codes) or ("error: " + (t.error or "")[:60] if t.status == "error" else "-")
        params = " ".join(f"{k}={fmt_num(v, 3) if isinstance(v, float) else v}" for k, v in list(t.params.items())[:4])
        out.append(f"| {t.rank or ''} | `{_cell(t.id)}` | {t.state or t.status} | {t.critical} | {t.warnings} | "
                   f"{_cell(top)} | {best} | {_cell(params)} |")
    if len(report.trials) > 20:
        out.append(f"\n_{len(report.trials) - 20} more trials in the JSON report._")
    out.append("")
    modes = [m for m in report.failure_modes if m.recurring]
    if modes:
        out += ["### Failure modes", ""]
        for m in modes:
            out.append(f"- {ICON.get(m.severity, '')} **{m.code}**: {m.trials}/{m.of} trials "
                       f"({', '.join(m.trial_ids[:8])}{'…' if len(m.trial_ids) > 8 else ''})")
            out += [f"  - {e.verdict}" for e in m.effects[:3]]
        out.append("")
    if report.warnings:
        out += ["<details><summary>Read warnings</summary>", ""] + [f"- {w}" for w in report.warnings]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"
