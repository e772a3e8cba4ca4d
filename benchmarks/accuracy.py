"""Accuracy of traintriage on the labelled corpus: per-code recall, false alarms, a confusion table.

Why: a detector is only as good as its record on runs whose truth is known. Every run in
``benchmarks/corpus/runs`` was trained with one injected fault (or none), and ``labels.json`` says which
codes a correct diagnosis must report (``must``) and must not report (``must_not``; all of them for a
healthy run). The target is 100% recall and 0 false alarms; below it this script exits 1.

It calls the library API (``traintriage.api``): ``analyze_loss``, ``analyze_gradnorm``, ``profile_memory``
and ``correlate``, each ``f(target: str, **kw)`` returning a model with ``.findings`` (``correlate`` also
``.issues[].root_cause.category``). A function that does not exist yet is reported "not available" and
the others still run. With ``--mcp`` it also starts ``traintriage serve --root <corpus>`` over stdio and
calls the ``correlate`` tool on every run, scored like a fifth tool.

    .venv/bin/python benchmarks/accuracy.py                 # all runs, library API, then the wild corpus
    .venv/bin/python benchmarks/accuracy.py --case NAME     # one run (repeatable)
    .venv/bin/python benchmarks/accuracy.py --mcp --json report.json
    .venv/bin/python benchmarks/accuracy.py --wild-only --peers   # the wild corpus, with the peer tools

The wild corpus (``benchmarks/wild``: real logs written by other people, fetched by ``pull.py``) is scored
beside it, per format: cases read, cases right, false alarms on healthy runs, for traintriage and, with
``--peers``, for runmedic, losslint and trainspotter (``benchmarks/wild/peers.py``, each installed on
demand into its own venv, run on its native input where it reads it, else on a converted CSV). Targets:
the synthetic corpus at 100 % with no false alarm; the wild corpus at >= 95 % right, no false alarm on a
healthy run, every file read.

A ``must`` code counts as found at any severity (``--recall-severity warning`` to be stricter); a
``must_not`` code counts as a false alarm only at warning or critical (info notes are allowed).
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
LABELS = CORPUS / "labels.json"
RUNS = CORPUS / "runs"

TOOLS = ("analyze_loss", "analyze_gradnorm", "profile_memory", "profile_step", "correlate")
TIME_CODES = ("slow_steps", "stall", "input_bound")
"""Codes read from the clock and from profiler traces: the synthetic corpus's healthy runs forbid the first two
(``labels.json``), and the timing fixtures below are labelled with them."""
TIMING = HERE.parent / "tests" / "fixtures" / "timing"
TIME_LABELS: list[dict[str, Any]] = [
    # Real torch CPU runs and profiler traces (tests/fixtures/timing/generate_timing_fixtures.py).
    {"case": "timing/slow_pipeline", "path": TIMING / "slow_pipeline", "healthy": False, "must": ["slow_steps"],
     "must_not": ["stall", "input_bound"], "root_cause": "pipeline"},
    {"case": "timing/stall_blocking", "path": TIMING / "stall_blocking", "healthy": False, "must": ["stall"],
     "must_not": ["slow_steps"], "root_cause": "pipeline"},
    {"case": "timing/restart", "path": TIMING / "restart", "healthy": False, "must": ["stall"],
     "must_not": ["slow_steps"], "root_cause": "pipeline"},
    {"case": "timing/healthy_eval_pauses", "path": TIMING / "healthy_eval_pauses", "healthy": True, "must": [],
     "must_not": list(TIME_CODES), "root_cause": None},
    {"case": "timing/input_bound.pt.trace", "path": TIMING / "input_bound.pt.trace.json.gz", "healthy": False,
     "must": ["input_bound"], "must_not": [], "root_cause": None},
    {"case": "timing/compute_bound.pt.trace", "path": TIMING / "compute_bound.pt.trace.json.gz", "healthy": True,
     "must": [], "must_not": ["input_bound"], "root_cause": None},
]
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
ALARM = ("critical", "warning")
ABBREV = {  # column headers of the confusion table: short and unique
    "nan_inf": "nan", "divergence": "diverg", "loss_spike": "lspike", "plateau": "platea",
    "stuck_loss": "stuck", "oscillation": "oscill", "overfitting": "overfi", "zero_loss": "zero",
    "exploding_gradients": "explod", "vanishing_gradients": "vanish", "dead_component": "dead",
    "gradient_imbalance": "imbal", "heavy_clipping": "clip", "gradient_spike": "gspike",
    "curriculum_regression": "curric", "memory_leak": "mleak", "memory_pressure": "mpress",
    "architecture_imbalance": "arch", "slow_steps": "slow", "stall": "stall", "input_bound": "inbnd",
    "mixed_precision_overflow": "fp16ov", "log_message": "logmsg",
    "metric_collapse": "mcolla", "hyperparameter_risk": "hprisk",
}


@dataclass
class ToolResult:
    """What one tool said about one run: codes with their worst severity, or why it said nothing."""

    status: str  # "ok" | "not available" | "error"
    codes: dict[str, str] = field(default_factory=dict)  # code -> worst severity
    error: str | None = None
    root_cause: str | None = None  # correlate only: category of the top issue
    seconds: float = 0.0


BEYOND_THE_LOSS_AREAS = ("metrics", "time", "messages", "config")
"""Areas of the codes added after the corpus was labelled: a healthy run must not raise any of them at warning
or worse either (info notes, such as a hyperparameter risk the run never paid for, are allowed)."""


def beyond_the_loss_codes() -> list[str]:
    """The registered codes of :data:`BEYOND_THE_LOSS_AREAS` (none when the package cannot be imported)."""
    try:
        from traintriage.rules import RULES
    except Exception:
        return []
    return [rule.code for rule in RULES if rule.area in BEYOND_THE_LOSS_AREAS]


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    """The synthetic corpus's labels, then the timing fixtures' (:data:`TIME_LABELS`, present in a checkout); a
    healthy run also forbids every code of :data:`BEYOND_THE_LOSS_AREAS`."""
    runs = json.loads(path.read_text())["runs"]
    runs += [dict(label) for label in TIME_LABELS if Path(label["path"]).exists()]
    extra = beyond_the_loss_codes()
    for label in runs:
        if label["healthy"]:
            label["must_not"] = list(label["must_not"]) + [c for c in extra if c not in label["must_not"]]
    return runs


def worst(codes: dict[str, str], code: str, severity: str) -> None:
    """Keep the most severe report of a code."""
    if code not in codes or SEVERITY_RANK[severity] < SEVERITY_RANK[codes[code]]:
        codes[code] = severity


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def codes_of(report: Any) -> dict[str, str]:
    """Finding codes of a result (pydantic model or the JSON dict the MCP tool returns)."""
    out: dict[str, str] = {}
    for f in _field(report, "findings") or []:
        worst(out, str(_field(f, "code")), str(_field(f, "severity")))
    return out


def top_root_cause(report: Any) -> str | None:
    issues = _field(report, "issues") or []
    if not issues:
        return None
    cause = _field(issues[0], "root_cause")
    return None if cause is None else _field(cause, "category")


def call_kwargs(fn: Any, label: dict[str, Any]) -> dict[str, Any]:
    """The label's ``tool_kwargs`` (e.g. a stated memory capacity) that this function accepts, and the
    sandbox the API requires: the corpus and timing-fixture directories, as ``traintriage serve --root`` would
    confine them."""
    from traintriage.sandbox import Sandbox

    wanted = {"sandbox": Sandbox.of([RUNS, TIMING]), **(label.get("tool_kwargs") or {})}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in wanted.items() if takes_any or k in params}


def run_api_tool(api: Any, name: str, label: dict[str, Any]) -> ToolResult:
    fn = getattr(api, name, None) if api is not None else None
    if fn is None:
        return ToolResult("not available")
    t0 = time.perf_counter()
    try:
        report = fn(str(label.get("path") or RUNS / label["case"]), **call_kwargs(fn, label))
    except Exception as exc:  # a crash on a corpus run is a result to report, not a reason to stop
        if type(exc).__name__ == "InputError":  # nothing for this tool in the run (no grad series, ...)
            return ToolResult("no input", error=str(exc).splitlines()[0][:200], seconds=time.perf_counter() - t0)
        return ToolResult("error", error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
                          seconds=time.perf_counter() - t0)
    return ToolResult("ok", codes_of(report), root_cause=top_root_cause(report) if name == "correlate" else None,
                      seconds=time.perf_counter() - t0)


def run_mcp(labels: list[dict[str, Any]]) -> dict[str, ToolResult]:
    """Start ``traintriage serve --root RUNS`` over stdio and call its ``correlate`` tool on every run."""
    import anyio
    from mcp import Client, StdioServerParameters

    sibling = Path(sys.executable).with_name("traintriage")  # the install this interpreter imports from
    exe = str(sibling) if sibling.exists() else shutil.which("traintriage") or "traintriage"
    params = StdioServerParameters(command=exe, args=["serve", "--root", str(RUNS), "--root", str(TIMING)])
    results: dict[str, ToolResult] = {}

    async def main() -> None:
        async with Client(params) as client:
            for label in labels:
                t0 = time.perf_counter()
                args = {"run": str(label.get("path") or RUNS / label["case"])}
                args.update({k: str(v) for k, v in (label.get("tool_kwargs") or {}).items()})
                try:
                    res = await client.call_tool("correlate", args)
                except Exception as exc:
                    results[label["case"]] = ToolResult("error", error=f"{type(exc).__name__}: {exc}"[:200])
                    continue
                body = res.structured_content
                if res.is_error or body is None:
                    text = " ".join(getattr(c, "text", "") for c in res.content)[:200]
                    results[label["case"]] = ToolResult("error", error=text or "no structured content")
                    continue
                body = body.get("result", body) if "findings" not in body else body
                results[label["case"]] = ToolResult("ok", codes_of(body), root_cause=top_root_cause(body),
                                                    seconds=time.perf_counter() - t0)

    try:
        anyio.run(main)
    except Exception as exc:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # show the cause, not the task group
            exc = exc.exceptions[0]
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        for label in labels:
            results.setdefault(label["case"], ToolResult("error", error=f"server: {msg}"))
    return results


# ----------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------


def found_codes(results: dict[str, ToolResult], min_severity: str) -> dict[str, str]:
    """Union over tools: each code at its worst severity, kept if at least ``min_severity``."""
    out: dict[str, str] = {}
    for r in results.values():
        for code, sev in r.codes.items():
            if SEVERITY_RANK[sev] <= SEVERITY_RANK[min_severity]:
                worst(out, code, sev)
    return out


def score(labels: list[dict[str, Any]], per_run: dict[str, dict[str, ToolResult]], recall_severity: str):
    """Recall per must-code, false alarms (must_not at warning+) per run, root-cause agreement."""
    recall: dict[str, list[bool]] = {}
    alarms: dict[str, list[str]] = {}
    missed: dict[str, list[str]] = {}
    causes: dict[str, tuple[str | None, str | None]] = {}
    for label in labels:
        case = label["case"]
        results = per_run[case]
        found = found_codes(results, recall_severity)
        alarm_found = found_codes(results, "warning")
        for code in label["must"]:
            recall.setdefault(code, []).append(code in found)
            if code not in found:
                missed.setdefault(case, []).append(code)
        alarms[case] = sorted(c for c in label["must_not"] if c in alarm_found)
        corr = results.get("mcp:correlate") or results.get("correlate")
        if label["root_cause"] and corr is not None and corr.status == "ok":
            causes[case] = (label["root_cause"], corr.root_cause)
    return recall, alarms, missed, causes


def confusion_table(labels: list[dict[str, Any]], per_run: dict[str, dict[str, ToolResult]]) -> str:
    """Rows: runs. Columns: codes. ``M`` must+found, ``m!`` must+missed, ``X`` must_not found at warning+,
    ``x`` must_not found as info (allowed), ``·`` found, neither required nor forbidden."""
    all_codes = sorted({c for lab in labels for c in lab["must"]} |
                       {c for r in per_run.values() for t in r.values() for c in t.codes})
    abbrev = {c: ABBREV.get(c, c[:6]) for c in all_codes}
    width = max(len(lab["case"]) for lab in labels) + 1
    lines = [" " * width + " ".join(f"{abbrev[c]:>6s}" for c in all_codes)]
    for lab in labels:
        found = found_codes(per_run[lab["case"]], "info")
        cells = []
        for c in all_codes:
            if c in lab["must"]:
                cell = "M" if c in found else "m!"
            elif c in found and c in lab["must_not"]:
                cell = "X" if found[c] in ALARM else "x"
            elif c in found:
                cell = "·"
            else:
                cell = ""
            cells.append(f"{cell:>6s}")
        lines.append(f"{lab['case']:<{width}s}" + " ".join(cells))
    lines.append("legend: M must+found, m! must+MISSED, X forbidden found (warning+), x forbidden as info, · other")
    lines.append("codes:  " + ", ".join(f"{abbrev[c]}={c}" for c in all_codes))
    return "\n".join(lines)


def report(labels, per_run, tool_names, recall_severity) -> tuple[str, bool, dict[str, Any]]:
    recall, alarms, missed, causes = score(labels, per_run, recall_severity)
    out: list[str] = []
    out.append("tools:")
    for name in tool_names:
        statuses = [per_run[lab["case"]][name].status for lab in labels]
        errs = [(lab["case"], per_run[lab["case"]][name].error) for lab in labels
                if per_run[lab["case"]][name].status == "error"]
        secs = sum(per_run[lab["case"]][name].seconds for lab in labels)
        if all(s == "not available" for s in statuses):
            out.append(f"  {name:18s} not available")
        else:
            out.append(f"  {name:18s} ok on {statuses.count('ok')}/{len(labels)} runs, {secs:.1f}s"
                       + (f", no input on {statuses.count('no input')}" if "no input" in statuses else "")
                       + (f", {len(errs)} errors (first: {errs[0][0]}: {errs[0][1]})" if errs else ""))
    out.append(f"\nper-code recall (found at >= {recall_severity}):")
    total_hits = total_must = 0
    for code in sorted(recall):
        hits = recall[code]
        total_hits += sum(hits)
        total_must += len(hits)
        out.append(f"  {code:24s} {sum(hits)}/{len(hits)}  {100.0 * sum(hits) / len(hits):5.1f}%")
    healthy = [lab for lab in labels if lab["healthy"]]
    fa_healthy = sum(len(alarms[lab["case"]]) for lab in healthy)
    fa_faulty = sum(len(alarms[lab["case"]]) for lab in labels if not lab["healthy"])
    out.append("\nfalse alarms (forbidden codes at warning or critical):")
    for lab in labels:
        if alarms[lab["case"]] or lab["healthy"]:
            kind = "healthy" if lab["healthy"] else "faulty "
            out.append(f"  {kind} {lab['case']:34s} {len(alarms[lab['case']])}  {', '.join(alarms[lab['case']])}")
    if missed:
        out.append("\nmissed:")
        out.extend(f"  {case:34s} {', '.join(codes)}" for case, codes in missed.items())
    if causes:
        agree = sum(1 for want, got in causes.values() if want == got)
        out.append(f"\nroot cause of top issue (informational): {agree}/{len(causes)} agree with the label")
        out.extend(f"  {case:34s} label={want:14s} got={got}" for case, (want, got) in causes.items() if want != got)
    out.append("\nconfusion table:\n" + confusion_table(labels, per_run))
    overall = total_hits / total_must if total_must else 0.0
    ok = total_must > 0 and total_hits == total_must and fa_healthy == 0 and fa_faulty == 0
    out.append(f"\nrecall {total_hits}/{total_must} ({100 * overall:.1f}%), false alarms: "
               f"{fa_healthy} on {len(healthy)} healthy runs ({fa_healthy / max(1, len(healthy)):.2f}/run), "
               f"{fa_faulty} on faulty runs. target: 100% recall, 0 false alarms -> {'PASS' if ok else 'FAIL'}")
    summary = {
        "recall": {c: [sum(h), len(h)] for c, h in recall.items()}, "missed": missed, "false_alarms": alarms,
        "root_causes": causes, "pass": ok,
        "runs": {case: {tool: {"status": r.status, "codes": r.codes, "error": r.error, "root_cause": r.root_cause}
                        for tool, r in res.items()} for case, res in per_run.items()},
    }
    return "\n".join(out), ok, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", help="only this run (repeatable)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--mcp", action="store_true", help="also call the correlate tool through `traintriage serve`")
    parser.add_argument("--recall-severity", choices=("info", "warning", "critical"), default="info")
    parser.add_argument("--json", type=Path, help="also write the per-run results as JSON here")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of tool errors")
    parser.add_argument("--no-wild", action="store_true", help="skip the wild corpus")
    parser.add_argument("--wild-only", action="store_true", help="only the wild corpus")
    parser.add_argument("--peers", action="store_true", help="also score runmedic, losslint and trainspotter on "
                        "the wild corpus (installed on demand into benchmarks/_venvs)")
    args = parser.parse_args(argv)
    if args.wild_only:
        return 0 if wild(args.peers) else 1

    labels = load_labels()
    if args.case:
        unknown = set(args.case) - {lab["case"] for lab in labels}
        if unknown:
            print(f"unknown case(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        labels = [lab for lab in labels if lab["case"] in args.case]
    tool_names = [t for t in args.tools.split(",") if t]
    try:
        from traintriage import api
    except Exception:  # the API module itself may not exist yet: every tool is then "not available"
        if args.verbose:
            traceback.print_exc()
        api = None

    per_run: dict[str, dict[str, ToolResult]] = {}
    for label in labels:
        per_run[label["case"]] = {name: run_api_tool(api, name, label) for name in tool_names}
    if args.mcp:
        tool_names.append("mcp:correlate")
        for case, result in run_mcp(labels).items():
            per_run[case]["mcp:correlate"] = result

    text, ok, summary = report(labels, per_run, tool_names, args.recall_severity)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not args.no_wild and not args.case:
        print()
        ok = wild(args.peers) and ok
    return 0 if ok else 1


WILD_TARGET = 0.95


def wild(peers: bool) -> bool:
    """Score the wild corpus (and the peers with ``peers``); True when its targets are met or its files absent."""
    sys.path.insert(0, str(HERE / "wild"))
    import score
    from corpus import load_cases

    cases = load_cases()
    present = [c for c in cases if c.target_path() is not None]
    print(f"WILD CORPUS: {len(cases)} cases from {len({c.repo.split()[0] for c in cases})} repositories in "
          f"{len({c.format for c in cases})} formats; files present for {len(present)}")
    if not present:
        print("  no files: run `python benchmarks/wild/pull.py` (needs network) to fetch them")
        return True
    results, seconds = score.timed(lambda: score.traintriage_results(present))
    tools = {"traintriage": results}
    if peers:
        import peers as peer_tools

        for peer, by_case in peer_tools.run_peers(present).items():
            tools[peer] = {cid: (r.codes, r.error) for cid, r in by_case.items()}
        print("peers: " + ", ".join(f"{k} {v}" for k, v in peer_tools.peer_versions().items()))
    text, summary = score.table(present, tools)
    print(text)
    if peers:
        from corpus import synthetic_cases

        synthetic = synthetic_cases()
        on_synthetic = {"traintriage": score.traintriage_results(synthetic)}
        for peer, by_case in peer_tools.run_peers(synthetic).items():
            on_synthetic[peer] = {cid: (r.codes, r.error) for cid, r in by_case.items()}
        print("\nthe synthetic corpus, judged by the same rule (its must codes at warning or worse, no must_not):")
        print(score.table(synthetic, on_synthetic)[0])
    print(f"(traintriage: {seconds:.1f} s for {len(present)} cases; FA = healthy cases with a forbidden code at "
          "warning or worse)")
    wrong = score.misses(present, results)
    if wrong:
        print("traintriage's misses:")
        print("\n".join(wrong))
    total = summary["all"]["traintriage"]
    ok = (total["right"] >= WILD_TARGET * total["cases"] and total["false_alarms"] == 0
          and total["read"] == total["cases"])
    print(f"wild: {total['right']}/{total['cases']} right ({100 * total['right'] / total['cases']:.1f}%), "
          f"{total['false_alarms']} false alarms on {total['healthy']} healthy runs, {total['read']}/{total['cases']} "
          f"read. target: >= {WILD_TARGET:.0%} right, 0 false alarms, every file read -> {'PASS' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
