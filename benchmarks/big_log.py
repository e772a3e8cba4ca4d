"""Memory and time on a 1 GB event file: does reading it need only a small multiple of its numbers?

Not a test: run it by hand, ``.venv/bin/python benchmarks/big_log.py`` (20M ``simple_value`` scalars,
50 tags x 400k steps, about 1.05 GB; writing it once takes about 10 minutes on 2 cores). The file is
written by TensorBoard's own TFRecord writer (:func:`read_speed.write_events`, no torch), in parts on
every core that are then joined: a TFRecord file is a sequence of self-contained records, so the
joined file is byte for byte what one writer would have written (each part's ``file_version`` record
but the first is dropped).

Each measurement runs in a fresh process (peak RSS is ``ru_maxrss`` of the child), median of
``--repeats``:

* ``baseline``: Python with traintriage's readers imported, nothing read (subtracted from the others'
  peak RSS to compare them with the payload);
* ``read``: ``traintriage.api.load`` of the run, every CRC checked;
* ``analysis``: ``analyze_loss`` + ``analyze_gradnorm``, cold;
* ``tbparse`` (only with ``--tbparse``; about 13 minutes and 8 GB here): the obvious alternative's read.

The *scalar payload* is what the numbers need as compact arrays: 24 bytes per scalar (int64 step,
float64 value, float64 wall time). Issue #2 asks that a 1 GB log need no more than a small multiple of it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import struct
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from traintriage.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read_speed  # the data writer and the child-process runner are shared

BYTES_PER_SCALAR = 24  # int64 step + float64 value + float64 wall time


def _dataset(tags: int, steps: int) -> Path:
    return read_speed.DATA / f"big_simple_{tags}x{steps}"


def _write_part(args: tuple[Path, int, int, int, int]) -> Path:
    path, tags, start, stop, shape = args
    path.unlink(missing_ok=True)
    read_speed.write_events(path, "simple", tags, start, stop, shape)
    return path


def _first_record_bytes(path: Path) -> int:
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
    return 8 + 4 + length + 4


def generate(tags: int, steps: int, workers: int) -> Path:
    """The big run (written once; ``DONE`` marks a complete one)."""
    out = _dataset(tags, steps)
    if (out / "DONE").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    bounds = [steps * i // workers for i in range(workers + 1)]
    parts = [(out / f"part{i}.tmp", tags, a, b, steps) for i, (a, b) in enumerate(itertools.pairwise(bounds))]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        paths = list(pool.map(_write_part, parts))
    target = out / "events.out.tfevents.1700000000.bench.1.0"
    with open(target, "wb") as joined:
        for i, p in enumerate(paths):
            with open(p, "rb") as f:
                if i:  # every part starts with its own file_version record: keep only the first
                    f.seek(_first_record_bytes(p))
                while chunk := f.read(64 << 20):
                    joined.write(chunk)
            p.unlink()
    (out / "DONE").write_text("ok\n")
    print(f"wrote {target.stat().st_size:,} bytes in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


# ----------------------------------------------------------------------------------------------
# Measurements (each in a child process)
# ----------------------------------------------------------------------------------------------


def task_baseline(run_dir: Path) -> dict:
    """Python with traintriage's readers imported and nothing read: what every row above is measured from."""
    from traintriage.sources import load_readers

    t0 = time.perf_counter()
    load_readers()
    return {"seconds": time.perf_counter() - t0, "count": 0}


def task_read(run_dir: Path) -> dict:
    from traintriage import api

    t0 = time.perf_counter()
    count = sum(len(s) for s in api.load(run_dir, sandbox=Sandbox.unrestricted()).series.values())
    return {"seconds": time.perf_counter() - t0, "count": count}


def task_analysis(run_dir: Path) -> dict:
    from traintriage import api

    t0 = time.perf_counter()
    loss = api.analyze_loss(run_dir, sandbox=Sandbox.unrestricted())
    grad = api.analyze_gradnorm(run_dir, sandbox=Sandbox.unrestricted())
    seconds = time.perf_counter() - t0
    count = sum(len(s) for s in api.load(run_dir, sandbox=Sandbox.unrestricted()).series.values())
    return {"seconds": seconds, "count": count, "findings": len(loss.findings) + len(grad.findings)}


def task_tbparse(run_dir: Path) -> dict:
    t0 = time.perf_counter()
    count = read_speed.read_tbparse(run_dir)
    return {"seconds": time.perf_counter() - t0, "count": count}


TASKS = {"baseline": task_baseline, "read": task_read, "analysis": task_analysis, "tbparse": task_tbparse}


def _child(task: str, run_dir: Path) -> None:
    result = TASKS[task](run_dir)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--steps", type=int, default=400_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tbparse", action="store_true", help="also time tbparse's read once (slow: minutes, GBs)")
    ap.add_argument("--child", nargs=2, metavar=("TASK", "RUN_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    run = generate(args.tags, args.steps, os.cpu_count() or 1)
    size = read_speed._event_file(run).stat().st_size
    print(f"big log: {run} ({size / 1e9:.2f} GB), started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    results = {}
    for task in ("baseline", "read", "analysis", *(["tbparse"] if args.tbparse else [])):
        cmd = [sys.executable, __file__, "--child", task, str(run)]
        repeats = 1 if task == "tbparse" else args.repeats
        results[task] = read_speed.median_of_children(cmd, repeats, ("seconds", "rss_mb"))
    count = results["read"]["count"]
    payload_mb = count * BYTES_PER_SCALAR / 2**20
    base_mb = results.pop("baseline")["rss_mb"]
    labels = {"read": "traintriage read (CRCs checked)",
              "analysis": "traintriage analyze_loss + analyze_gradnorm, cold", "tbparse": "tbparse read (1 run)"}
    print(f"\n{count:,} scalars in a {size / 2**20:,.0f} MiB file; scalar payload {payload_mb:,.0f} MiB "
          f"({BYTES_PER_SCALAR} B/scalar); Python with traintriage's readers imported: {base_mb:.0f} MiB\n")
    tbparse = results.get("tbparse")
    print("| measurement | seconds | vs tbparse read | scalars/s | peak RSS MiB | above the imports / payload |")
    print("|---|---:|---:|---:|---:|---:|")
    for task, r in results.items():
        speedup = f"{tbparse['seconds'] / r['seconds']:.1f}x" if tbparse else "-"
        print(f"| {labels[task]} | {r['seconds']:.2f} | {speedup} | {r['count'] / r['seconds']:,.0f} | "
              f"{r['rss_mb']:,.0f} | {(r['rss_mb'] - base_mb) / payload_mb:.2f}x |")


if __name__ == "__main__":
    main()
