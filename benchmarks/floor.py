"""traintriage against the machine's floor, tbparse and runmedic, side by side in one run (issue #22).

For each case, every measurement is a whole fresh process, timed from spawn to exit (what a user or an
agent waits for), best and median of ``--repeats``, the tools taking turns (``floor``, ``traintriage``,
``runmedic``, ``floor``, ...) so that a drift of the machine's speed weighs on all of them alike:

* **floor**: Python starts, imports numpy and reads every byte of the run's event files; nothing a
  reader of this file in Python can do costs less;
* **traintriage**: ``traintriage triage RUN`` (the console script; CRCs checked; JSON printed);
* **tbparse**: ``SummaryReader(RUN)`` with its scalars and tensors (a read alone, no analysis);
* **runmedic**: ``runmedic diagnose RUN`` from its own venv (``benchmarks/_venvs/runmedic``, see
  ``analysis_speed.runmedic_python``).

Cases: ``histograms`` (the ~43 MB histogram-heavy log of :mod:`histogram_log`: 6k scalars, 4.8k
histograms of 20k values, 20 images, text), ``1M-simple`` and ``1M-tensor`` (50 tags x 20k steps of
:mod:`read_speed`), ``small`` (a 1,500-step corpus run, 9k scalars). Then the server's cost per call on
the small run (in process, through :func:`traintriage.api.correlate`, what the MCP tool calls): unchanged
since the last call, and after one more step was appended to its event file.

The traintriage package's modules are byte-compiled first (``compileall``), as an installed package
is: this machine sets ``PYTHONDONTWRITEBYTECODE``, and compiling ~150 modules from source on every
start costs 0.1-0.15 s that no user pays.

    .venv/bin/python benchmarks/floor.py [--repeats 5] [--cases histograms,small] [--no-tbparse] [--baseline REV]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import analysis_speed  # noqa: E402  (runmedic's venv)
import histogram_log  # noqa: E402
import read_speed  # noqa: E402

SMALL_RUN = HERE / "corpus" / "runs" / "plateau_lr_too_low"
TARGETS = {"histograms": 2.0, "1M-simple": 2.5, "1M-tensor": 2.5}  # traintriage / floor

FLOOR = "import sys, numpy\nfor f in sys.argv[1:]:\n    open(f, 'rb').read()\n"
TBPARSE = ("import sys\nfrom tbparse import SummaryReader\nr = SummaryReader(sys.argv[1])\n"
           "print(len(r.scalars) + len(r.tensors))\n")


def _case_dir(name: str) -> Path:
    if name == "histograms":
        return histogram_log.generate()
    if name == "small":
        return SMALL_RUN
    return read_speed.generate(name.split("-")[1], 50, 20_000)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _one(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``cmd``."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, _children_cpu() - c0


def _interleaved(cmds: dict[str, list[str]], repeats: dict[str, int],
                 envs: dict[str, dict[str, str]]) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each command, run in turns (floor, traintriage, runmedic, floor, ...) rather than
    in blocks: this VM's speed drifts by 20-30% over a minute, and a drift then weighs on every tool alike. On a
    shared machine the wall time moves with the other users' load, the CPU time much less, so both are kept."""
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cmds}
    for turn in range(max(repeats.values())):
        for name, cmd in cmds.items():
            if turn < repeats[name]:
                wall, cpu = _one(cmd, envs.get(name))
                out[name][0].append(wall)
                out[name][1].append(cpu)
    return out


def _export_src(rev: str) -> Path:
    """``src/`` as of git revision ``rev``, byte-compiled, in a temporary directory (for ``--baseline``)."""
    out = Path(tempfile.mkdtemp(prefix="traintriage-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    compileall.compile_dir(str(out / "src" / "traintriage"), quiet=1)
    return out / "src"


def _server_calls(repeats: int) -> dict[str, float]:
    """Best seconds of an in-process ``correlate`` call on the small run: unchanged, and after an append."""
    from traintriage.api import Sandbox, correlate

    tmp = Path(tempfile.mkdtemp())
    sandbox = Sandbox.of([tmp])  # as the server is confined to its roots
    try:
        run = tmp / "run"
        shutil.copytree(SMALL_RUN, run)
        event_file = next(run.glob("events.out.tfevents.*"))
        correlate(run, sandbox=sandbox)  # cold: imports, read, analysis
        unchanged, changed, changed_cpu = [], [], []
        from traintriage.sources.eventfile import scan_event_file

        tags = sorted(scan_event_file(event_file).scalars)
        step = 10_000
        for _ in range(repeats):
            t0 = time.perf_counter()
            correlate(run, sandbox=sandbox)
            unchanged.append(time.perf_counter() - t0)
            _append_step(event_file, tags, step)
            step += 1
            t0, c0 = time.perf_counter(), time.process_time()
            correlate(run, sandbox=sandbox)
            changed.append(time.perf_counter() - t0)
            changed_cpu.append(time.process_time() - c0)
        return {"unchanged": min(unchanged), "changed": min(changed), "changed_cpu": min(changed_cpu),
                "unchanged_median": statistics.median(unchanged), "changed_median": statistics.median(changed)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _append_step(path: Path, tags: list[str], step: int) -> None:
    """One more step of every tag, with TensorBoard's own writer (as a live run appends)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    with open(path, "ab") as fh:
        w = RecordWriter(fh)
        for tag in tags:
            w.write(Event(wall_time=1.8e9 + step, step=step, summary=Summary(value=[
                Summary.Value(tag=tag, simple_value=0.5)])).SerializeToString())
        w.flush()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cases", default="histograms,1M-simple,1M-tensor,small")
    ap.add_argument("--no-tbparse", action="store_true", help="skip tbparse (minutes on the 1M runs)")
    ap.add_argument("--tbparse-repeats", type=int, default=1, help="tbparse runs per case (slow)")
    ap.add_argument("--baseline", metavar="REV",
                    help="also time traintriage as of git revision REV (its src/ exported to a temporary directory, "
                         "run by this venv's Python), in the same turns: a before/after measured together")
    args = ap.parse_args(argv)

    compileall.compile_dir(str(ROOT / "src" / "traintriage"), quiet=1)
    baseline = _export_src(args.baseline) if args.baseline else None
    script = Path(sys.executable).parent / "traintriage"
    rm_py, rm_note = analysis_speed.runmedic_python()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {started}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; runmedic: {rm_note}",
          file=sys.stderr, flush=True)
    rows = []
    for case in args.cases.split(","):
        run = _case_dir(case)
        files = sorted(str(p) for p in run.glob("events.out.tfevents.*"))
        size = sum(os.path.getsize(f) for f in files) / 1e6
        cmds = {"floor": [sys.executable, "-c", FLOOR, *files], "traintriage": [str(script), "triage", str(run)]}
        repeats = {"floor": args.repeats, "traintriage": args.repeats}
        if not args.no_tbparse:
            cmds["tbparse"] = [sys.executable, "-c", TBPARSE, str(run)]
            repeats["tbparse"] = args.tbparse_repeats
        if rm_py is not None:
            cmds["runmedic"] = [str(rm_py.parent / "runmedic"), "diagnose", str(run)]
            repeats["runmedic"] = args.repeats if case in ("small", "histograms") else 1
        envs = {}
        if baseline is not None:
            name = f"traintriage@{args.baseline}"
            cmds[name] = [sys.executable, "-c", "import sys\nfrom traintriage.cli import main\nsys.exit(main())",
                          "triage", str(run)]
            repeats[name], envs[name] = args.repeats, {**os.environ, "PYTHONPATH": str(baseline)}
        res = _interleaved(cmds, repeats, envs)
        floor, floor_cpu = min(res["floor"][0]), min(res["floor"][1])
        for tool, (times, cpus) in res.items():
            rows.append((case, size, tool, min(times), statistics.median(times), min(times) / floor,
                         min(cpus), min(cpus) / floor_cpu, len(times)))
            print(f"# {case}: {tool} best {min(times):.3f} s ({min(times) / floor:.2f}x floor), CPU "
                  f"{min(cpus):.3f} s ({min(cpus) / floor_cpu:.2f}x)", file=sys.stderr, flush=True)

    print(f"\nSide by side, {started}, {os.cpu_count()} CPUs, each a fresh process from spawn to exit; "
          f"best (median) of the runs shown\n")
    print("| case | MB | tool | best s | median s | best / floor | CPU s | CPU / floor's | runs |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for case, size, tool, best, med, ratio, cpu, cpu_ratio, n in rows:
        print(f"| {case} | {size:.1f} | {tool} | {best:.3f} | {med:.3f} | {ratio:.2f}x | {cpu:.3f} | "
              f"{cpu_ratio:.2f}x | {n} |")
    by = {(c, t): (b, cpu) for c, _s, t, b, _m, _r, cpu, *_ in rows}
    print()
    for case, target in TARGETS.items():
        if (case, "traintriage") in by:
            wall, cpu = (a / b for a, b in zip(by[(case, "traintriage")], by[(case, "floor")], strict=True))
            print(f"- {case}: traintriage / floor = {wall:.2f}x wall, {cpu:.2f}x CPU (target <= {target}x): "
                  f"{'met' if wall <= target else 'NOT met'}")
    if ("small", "runmedic") in by:
        wall, cpu = (a / b for a, b in zip(by[("small", "traintriage")], by[("small", "runmedic")], strict=True))
        print(f"- small: traintriage / runmedic = {wall:.2f}x wall, {cpu:.2f}x CPU (target <= 1x): "
              f"{'met' if wall <= 1 else 'NOT met'}")
    if baseline is not None:
        for case in args.cases.split(","):
            before, now = by[(case, f"traintriage@{args.baseline}")], by[(case, "traintriage")]
            print(f"- {case}: traintriage@{args.baseline} / traintriage = {before[0] / now[0]:.2f}x wall, "
                  f"{before[1] / now[1]:.2f}x CPU")
        shutil.rmtree(baseline.parent, ignore_errors=True)
    server = _server_calls(args.repeats * 4)
    print(f"- server, small run, call after one appended step: {server['changed'] * 1e3:.1f} ms best, "
          f"{server['changed_median'] * 1e3:.1f} ms median, {server['changed_cpu'] * 1e3:.1f} ms CPU best "
          "(target < 20 ms)")
    print(f"- server, small run, unchanged call: {server['unchanged'] * 1e3:.2f} ms best, "
          f"{server['unchanged_median'] * 1e3:.2f} ms median (target < 2 ms)")


if __name__ == "__main__":
    main()
