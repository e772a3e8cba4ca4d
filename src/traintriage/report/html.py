"""``traintriage report RUN -o report.html``: one self-contained page for people (to attach to a ticket,
archive with the run, open from a CI artifact).

Self-contained means: the plot is inline SVG, the style is one ``<style>`` block, there is no
JavaScript and no URL the browser would fetch (no fonts, no CDN), so the page renders the same offline,
from a mail attachment, or in a sandboxed artifact viewer. Everything taken from the run (paths, series
names, messages) is HTML-escaped: a run's file names are not trusted.
"""

from __future__ import annotations

import html
import re

from ..textreport import fmt_num

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1150px;
color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin-top:1.8rem;border-bottom:1px solid #d0d7de;
padding-bottom:.25rem}
.meta{color:#59636e;font-size:.9rem}.status{display:inline-block;padding:.15rem .6rem;border-radius:1rem;
font-weight:600;color:#fff}.critical{background:#d62728}.warning{background:#e8710a}.info{background:#1f77b4}
.healthy{background:#1a7f37}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{border:1px solid #d0d7de;padding:.3rem .55rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.spark{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre;letter-spacing:-.5px}
.issue{border-left:4px solid #d0d7de;padding:.2rem .9rem;margin:.8rem 0}.issue.critical{border-color:#d62728;
background:#fff5f5}.issue.warning{border-color:#e8710a;background:#fffaf2}.issue.info{border-color:#1f77b4}
.issue h3{font-size:1rem;margin:.3rem 0}.codes code{background:#eef1f4;border-radius:4px;padding:0 .3rem}
.plot svg{width:100%;height:auto}code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:2rem;color:#59636e;font-size:.8rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def inline_svg(svg: bytes) -> str:
    """matplotlib's SVG document as an element to embed: no XML declaration or DOCTYPE, no fixed size."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    head_end = text.index(">") + 1
    head = re.sub(r'\s(?:width|height)="[^"]*"', "", text[:head_end])  # the CSS sizes it to the page
    return head + text[head_end:]


def triage_html(report, rows, svg: bytes | None, plot_note: str = "") -> str:
    """``report``: TriageReport; ``rows``: series rows (:mod:`.series`); ``svg``: the plot, or None with
    ``plot_note`` saying why there is none."""
    run = report.run
    crit = sum(i.severity == "critical" for i in report.issues)
    warn = sum(i.severity == "warning" for i in report.issues)
    cls, label = (("critical", f"{crit} critical") if crit else ("warning", f"{warn} warning") if warn
                  else ("healthy", "healthy"))
    name = run.path.rstrip("/").rsplit("/", 1)[-1]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>traintriage: {_e(name)}</title><style>{STYLE}</style></head><body>",
        f'<h1>traintriage report: {_e(name)} <span class="status {cls}">{_e(label)}</span></h1>',
        f'<p class="meta"><code>{_e(run.path)}</code> · read as {_e(run.source)} · steps {_e(run.first_step)}–'
        f"{_e(run.last_step)} · {len(run.series)} series · {run.files_total} file(s) · "
        f"{len(report.issues)} issue(s)</p>",
    ]
    out.append('<h2>Curves</h2><div class="plot">')
    out.append(inline_svg(svg) if svg else f"<p>No plot: {_e(plot_note)}</p>")
    out.append("</div>")
    out += _issues(report)
    if report.remediation:
        out.append("<h2>Remediation plan (smallest safe change first)</h2><ol>")
        out += [f"<li>{_e(s.change)} <span class='meta'>— addresses #{_e(', #'.join(map(str, s.addresses)))}; "
                f"risk {_e(s.risk)}; expect: {_e(s.expected_effect)}</span></li>" for s in report.remediation]
        out.append("</ol>")
    if report.validation:
        out.append("<h2>Validation plan (next run)</h2><ul>")
        out += [f"<li><code>{_e(c.metric)}</code>: {_e(c.expectation)}</li>" for c in report.validation]
        out.append("</ul>")
    out += _context(run, rows)
    if report.warnings:
        out.append("<h2>Read warnings</h2><ul>" + "".join(f"<li>{_e(w)}</li>" for w in report.warnings) + "</ul>")
    out.append("<footer>Made by traintriage report. Self-contained: no scripts, no external resources.</footer>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _issues(report) -> list[str]:
    out = ["<h2>Issues</h2>"]
    if not report.issues:
        return [*out, "<p>No issues found: the run looks healthy on every check that its logs allow.</p>"]
    for issue in report.issues:
        where = ""
        if issue.step_start is not None:
            end = f"–{issue.step_end}" if issue.step_end not in (None, issue.step_start) else ""
            where = f" <span class='meta'>steps {issue.step_start}{end}</span>"
        codes = " ".join(f"<code>{_e(c)}</code>" for c in issue.codes)
        rc = issue.root_cause
        out.append(f'<div class="issue {_e(issue.severity)}"><h3>#{issue.rank} [{_e(issue.severity)}] '
                   f"{_e(issue.title)}{where}</h3><div class='codes'>{codes}</div><ul>")
        for ev in issue.evidence[:4]:
            at = f" @ {ev.step}" if ev.step is not None else ""
            exp = f" <span class='meta'>(expected {_e(ev.expected)})</span>" if ev.expected else ""
            out.append(f"<li><code>{_e(ev.metric)}</code>{at} = {_e(fmt_num(ev.value))}{exp}</li>")
        out.append(f"<li>root cause: <b>{_e(rc.category)}</b> (confidence {rc.confidence:.2f}): "
                   f"{_e(rc.explanation)}</li></ul></div>")
    return out


def _context(run, rows) -> list[str]:
    out = ["<h2>Run context</h2>", f"<p>{_e(run.resolution)}</p>"]
    if rows:
        out.append("<table><tr><th>role</th><th>series</th><th>points</th><th>first</th><th>last</th><th>min</th>"
                   "<th>max</th><th>trend</th></tr>")
        for r in rows:
            log = " (log)" if r.log else ""
            out.append(f"<tr><td>{_e(r.role)}</td><td><code>{_e(r.name)}</code></td><td class='num'>{r.points}</td>"
                       f"<td class='num'>{_e(r.first)}</td><td class='num'>{_e(r.last)}</td>"
                       f"<td class='num'>{_e(r.low)}</td><td class='num'>{_e(r.high)}</td>"
                       f"<td><span class='spark'>{_e(r.spark)}</span>{log}</td></tr>")
        out.append("</table>")
    out.append("<table><tr><th>series</th><th>role</th><th>points</th><th>steps</th></tr>")
    for s in run.series[:60]:
        out.append(f"<tr><td><code>{_e(s.name)}</code></td><td>{_e(s.role or '')}</td><td class='num'>{s.points}</td>"
                   f"<td>{_e(s.first_step)}–{_e(s.last_step)}</td></tr>")
    out.append("</table>")
    if len(run.series) > 60:
        out.append(f"<p class='meta'>{len(run.series) - 60} more series in the JSON report.</p>")
    files = ", ".join(f"<code>{_e(f)}</code>" for f in run.files[:20])
    out.append(f"<p class='meta'>files: {files}{' …' if run.files_total > 20 else ''}</p>")
    return out
