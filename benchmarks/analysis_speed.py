"""How fast traintriage's full analysis (``analyze_loss`` + ``analyze_gradnorm``) runs on 1M-scalar runs.

Not a test: run it by hand, e.g. ``.venv/bin/python benchmarks/analysis_speed.py`` (50 tags x 20k steps
per encoding, the data sets of ``read_speed.py``) or ``--steps 2000`` for a quick try. Measured, each in
a fresh subprocess (peak RSS is ``ru_maxrss`` of that child):

* ``tbparse read``: tbparse reading the run, nothing else: the baseline every ratio is taken against;
* ``analysis, cold``: both analyses in a fresh process (imports, read, roles, detectors);
* ``analysis, warm``: the same process calls them again on the unchanged run: the reports are
  remembered (``traintriage.memo``, keyed by every file's size/mtime/inode), so this is the cost of
  checking that nothing changed;
* ``analysis only``: the same, with the remembered reports dropped first: the event cache answers
  the read, and the detectors run in full (what any change to the run costs at least);
* ``analysis after +1% events``: a copy of the run is analysed, 1% more steps are appended to its
  event file with the same writer, and the analysis is timed again; the incremental read must read
  exactly the appended bytes (checked, or the child fails);
* ``cold analysis, phase by phase``: the cold analysis again, with a timer around each phase (importing
  traintriage and its readers, reading the run, ``analyze_loss``, ``analyze_gradnorm``): where the cold
  time goes;
* ``whole-run statistics``: only those statistics of ``analyze_gradnorm`` that are defined over the
  whole run (medians, percentiles, growth, regime shifts over a tenth of the run), serially: appending
  one point changes all of them, so an exact re-analysis repeats them whatever it caches; their share
  of the cold time is a floor for the +1% target;
* ``runmedic diagnose`` (a peer tool on PyPI): installed on demand into ``benchmarks/_venvs/runmedic``
  (gitignored) and timed the same way (load + roles + checks, in-process, fresh process); also on a
  few small runs of ``benchmarks/corpus/runs/``. When it cannot be installed or run, the table says so.

``--tasks phases`` (or any comma-separated subset of the task names) times only those; the targets table
needs all of tbparse, cold, warm and append.

Targets (checked and printed): cold analysis >= 30x faster than tbparse's read for simple_value and
>= 60x for tensor-encoded scalars; peak RSS < 160 MB; warm re-analysis < 50 ms; re-analysis after
+1% events < 5% of the cold time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from traintriage.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import read_speed  # noqa: E402  (the data sets and the tbparse reader are shared)

RUNMEDIC_VENV = HERE / "_venvs" / "runmedic"
CORPUS_RUNS = ["divergence_lr_ramp", "exploding_unscaled_feature", "healthy_hf_cosine", "loss_spike_lr_bump"]
APPEND_FRACTION = 0.01


# ----------------------------------------------------------------------------------------------
# Tasks (each runs in a child process and returns a dict with at least "count")
# ----------------------------------------------------------------------------------------------


def _analyse(run_dir: Path) -> dict:
    from traintriage import api
    from traintriage.errors import TraintriageError

    loss = api.analyze_loss(run_dir, sandbox=Sandbox.unrestricted())
    try:  # small corpus runs may log no gradient norms
        grad = api.analyze_gradnorm(run_dir, sandbox=Sandbox.unrestricted())
    except TraintriageError:
        grad = None
    return {"findings": len(loss.findings) + (len(grad.findings) if grad else 0),
            "components": len(grad.components) if grad else 0}


def _scalars(run_dir: Path) -> int:
    from traintriage import api

    run = api.load(run_dir, sandbox=Sandbox.unrestricted())  # cached: costs nothing after an analysis
    return sum(len(s) for s in run.series.values())


def task_tbparse(run_dir: Path, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    count = read_speed.read_tbparse(run_dir)
    return {"seconds": time.perf_counter() - t0, "count": count}


def task_cold(run_dir: Path, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    info = _analyse(run_dir)
    return {"seconds": time.perf_counter() - t0, "count": _scalars(run_dir), **info}


def task_warm(run_dir: Path, args: argparse.Namespace) -> dict:
    _analyse(run_dir)
    t0 = time.perf_counter()
    info = _analyse(run_dir)
    return {"seconds": time.perf_counter() - t0, "count": _scalars(run_dir), **info}


def task_analysis_only(run_dir: Path, args: argparse.Namespace) -> dict:
    from traintriage.memo import REPORTS

    _analyse(run_dir)
    REPORTS.clear()
    t0 = time.perf_counter()
    info = _analyse(run_dir)
    return {"seconds": time.perf_counter() - t0, "count": _scalars(run_dir), **info}


def task_append(run_dir: Path, args: argparse.Namespace) -> dict:
    """Analyse a copy, append 1% more steps with the same writer, time the re-analysis."""
    import traintriage.sources.eventcache as eventcache

    work = read_speed.DATA / f"_append_{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(run_dir, work)
    try:
        reads: list[tuple[int, int]] = []
        scan = eventcache.scan_event_file

        def recording_scan(path, start_offset=0, **kw):
            result = scan(path, start_offset, **kw)
            reads.append((start_offset, result.bytes_read))
            return result

        eventcache.scan_event_file = recording_scan
        _analyse(work)
        path = read_speed._event_file(work)
        size = path.stat().st_size
        extra = max(1, round(args.steps * APPEND_FRACTION))
        reads.clear()
        appended = read_speed.write_events(path, args.encoding, args.tags, args.steps, args.steps + extra, args.steps)
        t0 = time.perf_counter()
        info = _analyse(work)
        seconds = time.perf_counter() - t0
        if reads != [(size, appended)]:
            raise SystemExit(f"the re-read was not incremental: reads {reads}, expected [({size}, {appended})]")
        return {"seconds": seconds, "count": _scalars(work), "appended_bytes": appended,
                "appended_scalars": extra * args.tags, **info}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def task_phases(run_dir: Path, args: argparse.Namespace) -> dict:
    """The cold analysis with a timer around each phase (each phase's cost includes what it imports)."""
    marks = [time.perf_counter()]
    from traintriage import api
    from traintriage.sources import load_readers

    load_readers()  # what a first call imports: numpy, the readers, the report models
    marks.append(time.perf_counter())
    run = api.load(run_dir, sandbox=Sandbox.unrestricted())  # fills the event cache
    count = sum(len(s) for s in run.series.values())
    marks.append(time.perf_counter())
    api.analyze_loss(run_dir, sandbox=Sandbox.unrestricted())
    marks.append(time.perf_counter())
    api.analyze_gradnorm(run_dir, sandbox=Sandbox.unrestricted())
    marks.append(time.perf_counter())
    phases = dict(zip(PHASES, (b - a for a, b in itertools.pairwise(marks)), strict=True))
    return {"seconds": marks[-1] - marks[0], "count": count, **phases}


def task_whole_run_stats(run_dir: Path, args: argparse.Namespace) -> dict:
    """Only the statistics of ``analyze_gradnorm`` that are defined over the whole run, serially.

    Each component's median, 95th percentile and effective-update quantiles, its volatility (MAD of
    the differences), its growth (first quarter against last tenth) and its regime shifts (windows of
    a tenth of the run). All of them change when a single point is appended, so any re-analysis that
    must equal a cold one repeats them over every point: their cost bounds what an incremental
    analysis could save (the loss analysis has its own, not counted here).
    """
    import numpy as np

    from traintriage import api
    from traintriage.detectors.gradnorm.components import find_components
    from traintriage.detectors.gradnorm.depth import log_growth
    from traintriage.detectors.gradnorm.report import _lr_at
    from traintriage.detectors.gradnorm.stats import regime_shifts, safe_log10, volatility

    run = api.load(run_dir, sandbox=Sandbox.unrestricted())
    comps, _ = find_components(run)
    lrs = [_lr_at(run, c.steps) for c in comps]  # prefix-stable (an append only adds to it): not timed
    t0 = time.perf_counter()
    shifts = 0.0
    for c, lr in zip(comps, lrs, strict=True):
        finite = np.isfinite(c.values)
        v = c.values[finite]
        logv = safe_log10(c.values)
        np.median(v), np.percentile(v, 95)
        if lr is not None:
            eff = c.values * lr
            eff = eff[np.isfinite(eff)]
            np.median(eff), np.percentile(eff, 95)
        volatility(logv), log_growth(logv[finite])
        t1 = time.perf_counter()
        regime_shifts(c.steps, logv)  # its window is a tenth of the run: it grows with every append
        shifts += time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "regime_shifts": shifts, "count": sum(len(c.values) for c in comps),
            "components": len(comps)}


PHASES = ("import", "read", "analyze_loss", "analyze_gradnorm")

TASKS = {"tbparse": task_tbparse, "cold": task_cold, "warm": task_warm, "analysis_only": task_analysis_only,
         "append": task_append, "phases": task_phases, "whole_run_stats": task_whole_run_stats}

# Run by the runmedic venv's interpreter: runmedic's own load -> roles -> checks, as `runmedic diagnose` does.
RUNMEDIC_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from runmedic import loaders, roles
from runmedic.checks import run_checks
runs = loaders.load(sys.argv[1])
findings = sum(len(run_checks(r, roles.detect(r))) for r in runs)
seconds = time.perf_counter() - t0
count = sum(len(s) for r in runs for s in r.series.values())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "count": count, "findings": findings, "rss_mb": rss}))
"""


def _child(args: argparse.Namespace) -> None:
    result = TASKS[args.child](args.run_dir, args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _measure(cmd: list[str], repeats: int, extra_keys: tuple[str, ...] = ()) -> dict:
    """Median seconds and peak RSS (and ``extra_keys``) of ``repeats`` fresh child processes."""
    return read_speed.median_of_children(cmd, repeats, ("seconds", "rss_mb", *extra_keys), error=RuntimeError)


def _task_cmd(task: str, run_dir: Path, args: argparse.Namespace, encoding: str) -> list[str]:
    return [sys.executable, __file__, "--child", task, "--run-dir", str(run_dir), "--encoding", encoding,
            "--steps", str(args.steps), "--tags", str(args.tags)]


# ----------------------------------------------------------------------------------------------
# runmedic
# ----------------------------------------------------------------------------------------------


def runmedic_python() -> tuple[Path | None, str]:
    """The runmedic venv's interpreter, created on demand; or None and the reason it is not available."""
    py = RUNMEDIC_VENV / "bin" / "python"
    if not py.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(RUNMEDIC_VENV)], check=True,
                           capture_output=True, text=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as err:
            return None, f"could not create a venv for it: {err}"
    probe = subprocess.run([str(py), "-c", "import runmedic; print(runmedic.__version__)"],
                           capture_output=True, text=True, check=False)
    if probe.returncode:
        pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "runmedic"],
                             capture_output=True, text=True, check=False, timeout=600)
        if pip.returncode:
            return None, "not installable here: " + (pip.stderr.strip().splitlines() or ["pip failed"])[-1]
        probe = subprocess.run([str(py), "-c", "import runmedic; print(runmedic.__version__)"],
                               capture_output=True, text=True, check=False)
        if probe.returncode:
            return None, "installed but does not import: " + probe.stderr.strip()[-300:]
    return py, f"runmedic {probe.stdout.strip()}"


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--encodings", default="simple,tensor")
    ap.add_argument("--no-runmedic", action="store_true", help="skip the peer tool")
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of: " + ", ".join(TASKS))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--encoding", default="simple", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args)
        return

    tasks = [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        ap.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    full = {"tbparse", "cold", "warm", "append"} <= set(tasks)
    if args.no_runmedic or not full:
        rm_py, rm_note = None, "skipped (--no-runmedic, or not every task was asked for)"
    else:
        rm_py, rm_note = runmedic_python()
    print(f"# runmedic: {rm_note}", file=sys.stderr, flush=True)
    load_before = _load_note()

    rows, targets, phase_rows = [], [], []
    for encoding in args.encodings.split(","):
        run_dir = read_speed.generate(encoding, args.tags, args.steps)
        size_mb = read_speed._event_file(run_dir).stat().st_size / 2**20
        print(f"# {encoding}: {args.tags} tags x {args.steps} steps, {size_mb:.1f} MiB", file=sys.stderr, flush=True)
        res = {}
        for task, label in [("tbparse", "tbparse read (baseline)"), ("cold", "analysis, cold"),
                            ("warm", "analysis, warm (same process)"),
                            ("analysis_only", "analysis only (warm read, reports not remembered)"),
                            ("append", "analysis after +1% events"),
                            ("whole_run_stats", "whole-run statistics of the gradient norms, serial")]:
            if task not in tasks:
                continue
            extra = ("regime_shifts",) if task == "whole_run_stats" else ()
            res[task] = _measure(_task_cmd(task, run_dir, args, encoding), args.repeats, extra)
            r = res[task]
            print(f"#   {label}: {r['seconds']:.3f} s, {r['rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        if "phases" in tasks:
            r = _measure(_task_cmd("phases", run_dir, args, encoding), args.repeats, PHASES)
            phase_rows.append((encoding, r))
            print(f"#   cold, phase by phase: {r['seconds']:.3f} s", file=sys.stderr, flush=True)
        if rm_py is not None:
            try:
                res["runmedic"] = _measure([str(rm_py), "-c", RUNMEDIC_CHILD, str(run_dir)], args.repeats)
            except RuntimeError as err:
                rm_note = f"failed on this run: {str(err).strip().splitlines()[-1]}"
        if "tbparse" not in res:  # no baseline: the ratios below cannot be taken
            continue
        base = res["tbparse"]["seconds"]
        labels = {"tbparse": "tbparse read (baseline)", "cold": "traintriage analysis, cold",
                  "warm": "traintriage analysis, warm (report remembered)",
                  "analysis_only": "traintriage analysis only (warm read, not remembered)",
                  "append": "traintriage after +1% events",
                  "whole_run_stats": "gradnorm whole-run statistics alone (serial)",
                  "runmedic": "runmedic diagnose, cold"}
        for task, r in res.items():
            part = task == "whole_run_stats"  # a part of the analysis: no ratio against a whole read
            rows.append((encoding, labels[task], r["count"], r["seconds"], None if part else base / r["seconds"],
                         r["count"] / r["seconds"], r["rss_mb"]))
        if not full:
            continue
        need = 30 if encoding == "simple" else 60
        cold = res["cold"]
        targets += [
            (f"{encoding}: cold analysis >= {need}x faster than tbparse's read", f"{base / cold['seconds']:.1f}x",
             base / cold["seconds"] >= need),
            (f"{encoding}: peak RSS of the cold analysis < 160 MB", f"{cold['rss_mb']:.0f} MB", cold["rss_mb"] < 160),
            (f"{encoding}: warm re-analysis < 50 ms", f"{res['warm']['seconds'] * 1000:.0f} ms",
             res["warm"]["seconds"] < 0.05),
            (f"{encoding}: after +1% events < 5% of cold",
             f"{100 * res['append']['seconds'] / cold['seconds']:.1f}% "
             f"({res['append']['appended_bytes']:,} bytes read incrementally)",
             res["append"]["seconds"] < 0.05 * cold["seconds"]),
        ]
        if "whole_run_stats" in res:
            targets.append((f"{encoding}: gradnorm whole-run statistics alone / cold (a floor for any exact "
                            "re-analysis after +1%)",
                            f"{100 * res['whole_run_stats']['seconds'] / cold['seconds']:.1f}% (regime shifts "
                            f"alone {100 * res['whole_run_stats']['regime_shifts'] / cold['seconds']:.1f}%)", None))
        if "runmedic" in res:
            targets.append((f"{encoding}: runmedic's time / traintriage's cold time",
                            f"{res['runmedic']['seconds'] / cold['seconds']:.2f}x", None))

    if rows:
        print(f"\nFull analysis (analyze_loss + analyze_gradnorm), {args.tags} tags x {args.steps} steps per encoding, "
              f"median of {args.repeats}, each in a fresh process; {load_before} at start, {_load_note()} at end\n")
        print("| encoding | measurement | scalars | seconds | speed-up vs tbparse read | scalars/s | peak RSS MB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for enc, label, count, sec, ratio, rate, rss in rows:
            shown = "-" if ratio is None else f"{ratio:.1f}x"
            print(f"| {enc} | {label} | {count:,} | {sec:.3f} | {shown} | {rate:,.0f} | {rss:.0f} |")
    if targets:
        print("\n| target | measured | met |\n|---|---|---|")
        for what, measured, ok in targets:
            print(f"| {what} | {measured} | {'-' if ok is None else 'yes' if ok else 'no'} |")

    if phase_rows:
        print(f"\nWhere the cold time goes: median of {args.repeats} fresh processes per phase (each median taken on "
              "its own, so they need not add up to the total exactly)\n")
        print("| encoding | " + " | ".join(PHASES) + " | total |")
        print("|---|" + "---:|" * (len(PHASES) + 1))
        for enc, r in phase_rows:
            print(f"| {enc} | " + " | ".join(f"{r[k]:.3f}" for k in PHASES) + f" | {r['seconds']:.3f} |")

    print(f"\nrunmedic: {rm_note}")
    if rm_py is not None and not args.no_runmedic:
        _corpus_table(rm_py, args)


def _corpus_table(rm_py: Path, args: argparse.Namespace) -> None:
    corpus = HERE / "corpus" / "runs"
    print("\nSmall corpus runs (benchmarks/corpus/runs), cold, fresh process each, median of "
          f"{args.repeats}\n")
    print("| run | scalars | traintriage s | runmedic s | runmedic s / traintriage s |")
    print("|---|---:|---:|---:|---:|")
    for name in CORPUS_RUNS:
        run_dir = corpus / name
        if not run_dir.is_dir():
            print(f"| {name} | - | - | - | missing |")
            continue
        tt = _measure(_task_cmd("cold", run_dir, args, "simple"), args.repeats)
        try:
            rm = _measure([str(rm_py), "-c", RUNMEDIC_CHILD, str(run_dir)], args.repeats)
        except RuntimeError as err:
            print(f"| {name} | {tt['count']:,} | {tt['seconds']:.3f} | failed: {str(err).splitlines()[-1]} | - |")
            continue
        print(f"| {name} | {tt['count']:,} | {tt['seconds']:.3f} | {rm['seconds']:.3f} | "
              f"{rm['seconds'] / tt['seconds']:.2f}x |")


if __name__ == "__main__":
    main()
