"""Many runs: listing and analysing 200 small runs serially and in a process pool (both CPUs).

Not a test: run it by hand, e.g. ``.venv/bin/python benchmarks/many_runs.py`` (200 runs of 300-700
steps x 8 tags, written once into ``benchmarks/_data/many_runs_<n>/`` with TensorBoard's own writer)
or ``--runs 40`` for a quick try. Each measurement runs in a fresh subprocess (imports and a cold
event cache included, as a CLI call pays them) and the median of ``--repeats`` is printed:

* listing: ``list_runs(root, workers=1)`` against ``workers=0`` (one process per CPU), the path that
  ``traintriage runs ROOT`` takes (``--stream`` prints each run as it is read);
* analysing: ``api.correlate`` on every run, one after the other against a ``ProcessPoolExecutor``
  with one worker per CPU consuming results as they complete (``as_completed``), as a batch triage
  of a sweep would. "first result" is when the first run's answer was available.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from traintriage.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import read_speed  # noqa: E402  (the event writer is shared)

TAGS = 8  # Loss/train, Loss/val, lr, gradnorm/total, gradnorm/Block00, metrics/m00, gradnorm/Block01, metrics/m01


def generate(runs: int) -> Path:
    """``runs`` run directories in 4 experiments, 300..700 steps each (skipped when they exist)."""
    root = read_speed.DATA / f"many_runs_{runs}"
    if (root / "DONE").exists():
        return root
    for i in range(runs):
        run_dir = root / f"exp{i % 4}" / f"run_{i:03d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        for old in run_dir.glob("events.out.tfevents.*"):
            old.unlink()
        steps = 300 + 100 * (i % 5)
        path = run_dir / f"events.out.tfevents.{1700000000 + i}.bench.1.0"
        read_speed.write_events(path, "simple", TAGS, 0, steps, steps)
    (root / "DONE").write_text("ok\n")
    return root


def _correlate_one(run_dir: str) -> tuple[str, int]:
    from traintriage import api

    report = api.correlate(run_dir, sandbox=Sandbox.unrestricted())
    return run_dir, len(report.issues)


def task(name: str, root: Path) -> dict:
    from traintriage.sources.catalog import iter_listings, plan_runs

    t0 = time.perf_counter()
    done: list[float] = []  # when each result arrived
    jobs, _, _ = plan_runs([root])
    if name in ("list_serial", "list_parallel"):
        for _ in iter_listings(jobs, workers=1 if name == "list_serial" else 0):
            done.append(time.perf_counter() - t0)
    elif name == "analyse_serial":
        for job in jobs:
            _correlate_one(str(job.run_dir))
            done.append(time.perf_counter() - t0)
    else:
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for fut in as_completed([pool.submit(_correlate_one, str(job.run_dir)) for job in jobs]):
                fut.result()
                done.append(time.perf_counter() - t0)
    return {"seconds": time.perf_counter() - t0, "first": done[0], "count": len(done)}


TASKS = ["list_serial", "list_parallel", "analyse_serial", "analyse_parallel"]


def _measure(name: str, root: Path, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--root", str(root)]
    return read_speed.median_of_children(cmd, repeats, ("seconds", "first"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(task(args.child, args.root)))
        return
    t0 = time.perf_counter()
    root = generate(args.runs)
    print(f"# {args.runs} runs under {root} (ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    load_before = os.getloadavg()
    res = {}
    for name in TASKS:
        res[name] = _measure(name, root, args.repeats)
        print(f"#   {name}: {res[name]['seconds']:.2f} s", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    print(
        f"\n{args.runs} runs ({TAGS} tags x 300-700 steps each), median of {args.repeats}, fresh process each, "
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after\n"
    )
    print("| task | serial s | parallel s | speed-up | runs/s parallel | first result serial / parallel s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, s, p in [
        ("list runs (`list_runs`)", res["list_serial"], res["list_parallel"]),
        ("analyse every run (`api.correlate`)", res["analyse_serial"], res["analyse_parallel"]),
    ]:
        print(
            f"| {label} | {s['seconds']:.2f} | {p['seconds']:.2f} | {s['seconds'] / p['seconds']:.2f}x | "
            f"{p['count'] / p['seconds']:.1f} | {s['first']:.2f} / {p['first']:.2f} |"
        )


if __name__ == "__main__":
    main()
