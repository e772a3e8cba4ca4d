"""Reading a large stdout training log: traintriage's template learner against the regex a user would write.

The obvious alternative to a tool that learns a log's line templates is the one-line regex for the one format
you know (``iter (\\d+): loss ([\\d.]+)``): it reads nothing else, but it is the floor for this log. Both run in
a fresh process on the same file, a nanoGPT-style log of ``--lines`` iteration lines with an evaluation line
every 2,000 (a restart half way, as real logs have), median of ``--repeats``.

    .venv/bin/python benchmarks/text_read_speed.py [--lines 500000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAINTRIAGE = """
import sys
from traintriage import api
data = api.load(sys.argv[1], sandbox=api.Sandbox.unrestricted())
print(len(data.series['loss']))
"""
REGEX = """
import re, sys
pattern = re.compile(r'iter (\\d+): loss ([\\d.]+|nan)')
steps, losses = [], []
with open(sys.argv[1]) as fh:
    for line in fh:
        m = pattern.search(line)
        if m:
            steps.append(int(m.group(1)))
            losses.append(float(m.group(2)))
print(len(losses))
"""


def write_log(path: Path, lines: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as fh:
        fh.write("Overriding: learning_rate = 1e-3\nnumber of parameters: 10.65M\n")
        for run, start in enumerate((0, lines // 2)):
            for i in range(start, start + lines // 2):
                step = i - start
                if step % 2000 == 0:
                    fh.write(f"step {step}: train loss {4 - step / lines:.4f}, val loss {4.1 - step / lines:.4f}\n")
                loss = 4.2 * (1 - 0.5 * step / lines) * (1 + 0.05 * rng.random()) + run * 0.01
                fh.write(f"iter {step}: loss {loss:.4f}, time {100 + 10 * rng.random():.2f}ms, "
                         f"mfu {30 + rng.random():.2f}%\n")


def measure(code: str, path: Path, repeats: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                             check=True).stdout.strip()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.log"
        write_log(path, args.lines)
        size = path.stat().st_size
        ours, n_ours = measure(TRAINTRIAGE, path, args.repeats)
        floor, n_floor = measure(REGEX, path, args.repeats)
    print(f"# {args.lines:,} iteration lines ({size / 1e6:.1f} MB), median of {args.repeats}, each in a fresh process")
    print("| reader | seconds | lines/s | loss points | vs the hand regex |")
    print("|---|---:|---:|---:|---:|")
    print(f"| hand-written regex for this one format | {floor:.2f} | {args.lines / floor:,.0f} | {n_floor} | 1.0x |")
    print(f"| traintriage (templates learned, steps, runs, roles) | {ours:.2f} | {args.lines / ours:,.0f} | {n_ours} | "
          f"{ours / floor:.1f}x slower |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
