"""Dump every report traintriage makes on every run it is tested on, one JSON line per (target, tool).

Why: a refactor that must not change a single finding (moving the robust statistics, the sandbox, the
rule modules) is checked by dumping before and after and comparing the two files byte for byte:

    .venv/bin/python benchmarks/dump_findings.py > /tmp/before.jsonl
    ... change the code ...
    .venv/bin/python benchmarks/dump_findings.py > /tmp/after.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl

Targets: every run under ``benchmarks/corpus/runs``, ``tests/fixtures``, the bundled demo and the wild
corpus (``benchmarks/wild/files``, when pulled); every single-file log under ``tests/fixtures/formats``;
every checkpoint and memory artifact under ``tests/fixtures``; the Optuna fixture study as a sweep. A target
that fails is dumped as its error message, so a changed error shows too. Each run is read in this one
process; the report cache is keyed by file state, so nothing stale can be reused.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures"
RUN_ROOTS = (
    HERE / "corpus" / "runs",
    FIXTURES,
    REPO / "src" / "traintriage" / "examples",
    HERE / "wild" / "files",
)
NOT_LOGS = {".py", ".md"}
TIMINGS = {"seconds"}  # wall-clock durations (a sweep's per-trial time): differ from run to run


def _without_timings(value):
    """The report with its wall-clock durations left out, so that two dumps compare byte for byte."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _unrestricted() -> dict:
    """The keyword that lets the library read anywhere: ``sandbox=`` where the API takes one, else none."""
    from traintriage import api

    if "sandbox" in inspect.signature(api.correlate).parameters:
        from traintriage.sandbox import Sandbox

        return {"sandbox": Sandbox.unrestricted()}
    return {}


def targets() -> list[tuple[str, Path]]:
    """(tool, path) pairs, in a fixed order."""
    from traintriage.sources.catalog import run_dirs

    out: list[tuple[str, Path]] = []
    for root in RUN_ROOTS:
        if root.is_dir():
            for run in run_dirs(root)[0]:
                out += [(tool, run) for tool in ("correlate", "analyze_loss", "analyze_gradnorm")]
    for path in sorted((FIXTURES / "formats").rglob("*")):
        if path.is_file() and path.suffix not in NOT_LOGS:
            out.append(("correlate", path))
    for path in sorted((FIXTURES / "checkpoints").iterdir()):
        if path.suffix not in NOT_LOGS | {".json"}:
            out.append(("count_parameters", path))
    for path in sorted((FIXTURES / "memory").iterdir()):
        if path.suffix not in NOT_LOGS:
            out.append(("profile_memory", path))
    out.append(("sweep", FIXTURES / "optuna_study"))
    return out


def main() -> int:
    from traintriage import api

    kw = _unrestricted()
    for tool, path in targets():
        try:
            result = _without_timings(json.loads(getattr(api, tool)(path, **kw).model_dump_json()))
            line = {"tool": tool, "target": str(path.relative_to(REPO)), "result": result}
        except Exception as exc:  # a changed error is a changed result: dump it
            line = {"tool": tool, "target": str(path.relative_to(REPO)), "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
