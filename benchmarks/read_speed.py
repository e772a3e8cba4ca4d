"""How fast traintriage reads TensorBoard scalars, against tbparse and TensorBoard's EventAccumulator.

Not a test: run it by hand, e.g. ``.venv/bin/python benchmarks/read_speed.py`` (1M scalars per
encoding: 50 tags x 20k steps) or ``--steps 2000`` for a quick try. The data sets are written once
into ``benchmarks/_data/`` (gitignored) with TensorBoard's own protos and TFRecord writer (no torch):
one with ``simple_value`` scalars, one with tensor-encoded scalars (0-d float32 ``TensorProto`` with
``scalars`` plugin metadata, as TF2/Keras write them). Tags are named as a training script names them
(``Loss/train``, ``Loss/val``, ``lr``, ``gradnorm/total``, ``gradnorm/Block<i>``, ``metrics/m<i>``) so that
the analyses infer a loss, an LR and per-component gradient norms.

Every measurement runs in a fresh subprocess, so that its peak RSS (``ru_maxrss`` of the child) is
honest and no reader benefits from another's warm caches in the same interpreter (the OS page
cache is warm for all of them alike). Medians of ``--repeats`` runs are printed as a markdown table.

Hook: add a reader to ``READERS`` (name -> function(path) returning the number of scalars read).
The full analyses on the same data sets (cold, warm, after appending events) are timed by
``benchmarks/analysis_speed.py``, which reuses :func:`generate` and :func:`write_events`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


# ----------------------------------------------------------------------------------------------
# Data sets
# ----------------------------------------------------------------------------------------------


def _dataset_dir(encoding: str, tags: int, steps: int) -> Path:
    return DATA / f"{encoding}_{tags}x{steps}_v2"


def tag_names(tags: int) -> list[str]:
    """Names a training script would log, so that roles are inferred: a train and a validation loss,
    the LR, the total gradient norm, then per-component gradient norms and other metrics in turn."""
    names = ["Loss/train", "Loss/val", "lr", "gradnorm/total"]
    for i in range(tags - len(names)):
        names.append(f"gradnorm/Block{i // 2:02d}" if i % 2 == 0 else f"metrics/m{i // 2:02d}")
    return names[:tags]


def _noise(step: int, i: int) -> float:
    """Deterministic noise in [-1, 1) for (step, tag): the same value whether written now or appended later."""
    x = math.sin(step * 12.9898 + i * 78.233) * 43758.5453
    return 2.0 * (x - math.floor(x)) - 1.0


def _value(name: str, i: int, step: int, shape: int) -> float:
    """A plausible curve per role; ``shape`` (the data set's step count) sets the time scale."""
    decay = math.exp(-step / (shape / 3))
    n = _noise(step, i)
    if name == "lr":
        warm = max(1, shape // 50)
        if step < warm:
            return 3e-4 * (step + 1) / warm
        return 3e-4 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / shape)))
    if name.startswith("Loss/"):
        return 2.5 * decay + 0.3 + (0.05 if name == "Loss/val" else 0.0) + 0.03 * n
    if name.startswith("gradnorm/"):
        scale = 10 ** (-0.25 * (i % 6))
        return scale * (0.4 + 0.6 * decay) * (1 + 0.15 * n)
    return (1.0 + i) * decay + 0.01 * n


def write_events(path: Path, encoding: str, tags: int, start: int, stop: int, shape: int) -> int:
    """Append steps ``[start, stop)`` of every tag to ``path`` with TensorBoard's own TFRecord writer
    (one event per scalar, as ``SummaryWriter.add_scalar`` writes them); a new file gets the
    ``file_version`` event first. Returns the bytes written."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.summary.writer.record_writer import RecordWriter

    names = tag_names(tags)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    t0 = 1.7e9
    before = path.stat().st_size if path.exists() else 0
    with open(path, "ab") as fh:
        writer = RecordWriter(fh)
        if before == 0:
            writer.write(Event(wall_time=t0, file_version="brain.Event:2").SerializeToString())
        for step in range(start, stop):
            wall = t0 + step * 0.05
            for i, name in enumerate(names):
                v = _value(name, i, step, shape)
                if encoding == "simple":
                    value = Summary.Value(tag=name, simple_value=v)
                else:
                    value = Summary.Value(
                        tag=name,
                        metadata=meta,
                        tensor=TensorProto(dtype=1, tensor_shape=TensorShapeProto(),
                                           tensor_content=struct.pack("<f", v)),
                    )
                writer.write(Event(wall_time=wall, step=step, summary=Summary(value=[value]))
                             .SerializeToString())
        writer.flush()
    return path.stat().st_size - before


def generate(encoding: str, tags: int, steps: int) -> Path:
    """Write one event file with ``tags`` x ``steps`` scalars (skipped when it already exists)."""
    out = _dataset_dir(encoding, tags, steps)
    done = out / "DONE"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("events.out.tfevents.*"):
        old.unlink()
    write_events(out / "events.out.tfevents.1700000000.bench.1.0", encoding, tags, 0, steps, steps)
    done.write_text("ok\n")
    return out


# ----------------------------------------------------------------------------------------------
# Readers (each runs in a child process)
# ----------------------------------------------------------------------------------------------


def _event_file(run_dir: Path) -> Path:
    return next(run_dir.glob("events.out.tfevents.*"))


def read_tbparse(run_dir: Path) -> int:
    from tbparse import SummaryReader

    reader = SummaryReader(str(run_dir))
    # .scalars silently drops tensor-encoded scalars; .tensors has them.
    return len(reader.scalars) + len(reader.tensors)


def read_accumulator(run_dir: Path) -> int:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    n = sum(len(acc.Scalars(t)) for t in tags["scalars"])
    return n + sum(len(acc.Tensors(t)) for t in tags["tensors"])


def read_traintriage(run_dir: Path) -> int:
    from traintriage.sources.eventfile import scan_event_file

    scan = scan_event_file(_event_file(run_dir), check_crc=True)
    if scan.warnings:
        raise SystemExit(f"unexpected warnings: {scan.warnings}")
    return sum(len(t) for t in scan.scalars.values())


READERS: dict[str, Callable[[Path], int]] = {
    "tbparse": read_tbparse,
    "EventAccumulator": read_accumulator,
    "traintriage": read_traintriage,
}


def _child(name: str, run_dir: Path) -> None:
    t0 = time.perf_counter()
    count = READERS[name](run_dir)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "count": count, "rss_mb": rss_mb}))


def median_of_children(
    cmd: list[str], repeats: int, median_keys: tuple[str, ...], error: type[Exception] = SystemExit
) -> dict:
    """Run ``cmd`` (a child that prints one JSON line last) ``repeats`` times, each in a fresh process
    so peak RSS is honest; return the first result with the median of ``median_keys`` over the runs.
    A failing child raises ``error`` with the tail of its stderr. Shared by every benchmark here."""
    runs = []
    for _ in range(repeats):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise error(f"{' '.join(cmd[:4])} ... failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = dict(runs[0])
    for key in median_keys:
        out[key] = statistics.median(r[key] for r in runs)
    return out


def _measure(name: str, run_dir: Path, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--run-dir", str(run_dir)]
    return median_of_children(cmd, repeats, ("seconds", "rss_mb"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--readers", default=",".join(READERS), help="comma-separated subset of: " + ", ".join(READERS))
    ap.add_argument("--encodings", default="simple,tensor")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.run_dir)
        return
    readers = [r for r in args.readers.split(",") if r]
    rows = []
    for encoding in args.encodings.split(","):
        t0 = time.perf_counter()
        run_dir = generate(encoding, args.tags, args.steps)
        size_mb = _event_file(run_dir).stat().st_size / 2**20
        print(f"# {encoding}: {args.tags} tags x {args.steps} steps, {size_mb:.1f} MiB "
              f"(ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        results = {}
        for name in readers:
            results[name] = _measure(name, run_dir, args.repeats)
            r = results[name]
            print(f"#   {name}: {r['seconds']:.2f} s, {r['count']} scalars, {r['rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
        base = results.get("tbparse")
        for name, r in results.items():
            ratio = f"{base['seconds'] / r['seconds']:.1f}x" if base else "-"
            rows.append((encoding, name, r["count"], r["seconds"], ratio, r["count"] / r["seconds"], r["rss_mb"]))
    print(f"\nRead speed, {args.tags} tags x {args.steps} steps per encoding, median of {args.repeats}, "
          f"{os.cpu_count()} CPUs, CRCs checked by traintriage\n")
    print("| encoding | reader | scalars | seconds | speed-up vs tbparse | scalars/s | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for enc, name, count, sec, ratio, rate, rss in rows:
        print(f"| {enc} | {name} | {count:,} | {sec:.2f} | {ratio} | {rate:,.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
