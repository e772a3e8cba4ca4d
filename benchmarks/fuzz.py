"""Long fuzzing run of every reader: many more cases than the test suite, with per-reader outcome counts.

Usage::

    .venv/bin/python benchmarks/fuzz.py                      # ~20 s per reader, all readers
    .venv/bin/python benchmarks/fuzz.py --seconds 60 --deep  # + full analyses (correlate) on run formats
    .venv/bin/python benchmarks/fuzz.py --targets csv jsonl --seed 3

For each reader (the targets in ``tests/fuzzkit.py``) it runs, in order: every hand-made hostile
input (absurd length fields, 100k-deep nesting, huge numbers, invalid UTF-8, shared and cyclic
pickles), a truncation of every seed at every offset near its ends and at a stride in between,
random bytes (bare, and behind a real file's first bytes), then random mutations of the seeds
(bit flips, boundary integers over length fields, inserted tokens, deletions, duplications) until
the reader's time budget is spent. Every case goes through the reader's own entry points and the
``traintriage.api`` function that reads it.

A case must end in a result or a TraintriageError with a message and a hint; anything else is a
crash, as is a case running past ``--time-limit`` seconds. The address space is capped
(``--mem-limit``), so a reader allocating what a length field claims fails loudly. Prints the
counts per reader and every distinct crash; exit status 1 when there is any crash.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzkit
from fuzzkit import CRASH, ERROR, RESULT, TARGETS, Tally, random_ops, run_case, truncations


def fuzz_target(target: fuzzkit.Target, workdir: Path, seconds: float, rng: random.Random, *,
                time_limit: float, deep: bool, cuts: int, hostile_only: bool = False) -> Tally:
    tally = Tally()
    seeds = target.seeds()

    def case(data: bytes, what: str) -> None:
        run_case(target, data, workdir, what, tally, time_limit=time_limit, deep=deep)

    for name, data in target.hostile():
        case(data, f"hostile: {name}")
    if hostile_only:
        return tally
    for i, seed in enumerate(seeds):
        for cut in truncations(seed, len(seed) // cuts):
            case(seed[:cut], f"seed {i} cut at {cut} of {len(seed)}")
    for size in (0, 1, 7, 8, 12, 16, 64, 4096, 1 << 16):
        case(rng.randbytes(size), f"{size} random bytes")
    for i, seed in enumerate(seeds):
        case(seed[:16] + rng.randbytes(4096), f"seed {i}'s first 16 bytes + 4096 random")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        i = rng.randrange(len(seeds))
        ops = random_ops(rng, target.text)
        case(fuzzkit.apply_ops(seeds[i], ops), f"seed {i} mutated by {_short(ops)}")
    return tally


def _short(ops: list[tuple]) -> str:
    return repr([tuple(o[:2]) + tuple(x if not isinstance(x, bytes) or len(x) < 24 else x[:12] + b"..."
                                      for x in o[2:]) for o in ops])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="random mutations per reader, in seconds "
                        "(after the hostile inputs, truncations and random bytes, which always run)")
    parser.add_argument("--targets", nargs="*", help="reader names (default: all): " +
                        ", ".join(t.name for t in TARGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds before a case counts as a hang")
    parser.add_argument("--mem-limit", type=float, default=6.0, help="address-space cap, GiB")
    parser.add_argument("--cuts", type=int, default=300, help="truncations per seed between its first and last "
                        "64 bytes (each of which is cut at)")
    parser.add_argument("--hostile-only", action="store_true", help="only the hand-made hostile inputs")
    parser.add_argument("--deep", action="store_true", help="also run the full triage (api.correlate) on run formats")
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args(argv)

    cap = int(args.mem_limit * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    targets = [t for t in TARGETS if not args.targets or t.name in args.targets]
    unknown = set(args.targets or []) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")

    rng = random.Random(args.seed)
    tallies: dict[str, Tally] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="traintriage-fuzz-") as tmp:
        for target in targets:
            t0 = time.monotonic()
            tally = fuzz_target(target, Path(tmp), args.seconds, rng, time_limit=args.time_limit, deep=args.deep,
                                cuts=args.cuts, hostile_only=args.hostile_only)
            tallies[target.name] = tally
            c = tally.calls
            print(f"{target.name:<22} {tally.cases:>7} cases {sum(c.values()):>7} calls: {c[RESULT]:>6} results "
                  f"{c[ERROR]:>6} clear errors {c[CRASH]:>4} crashes  ({time.monotonic() - t0:.0f} s; peak RSS "
                  f"+{tally.peak_growth_mb:.0f} MB in: {tally.peak_case[:90]})", flush=True)
    total_cases = sum(t.cases for t in tallies.values())
    totals = {k: sum(t.calls[k] for t in tallies.values()) for k in (RESULT, ERROR, CRASH)}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<22} {total_cases:>7} cases {sum(totals.values()):>7} calls: {totals[RESULT]:>6} results "
          f"{totals[ERROR]:>6} clear errors {totals[CRASH]:>4} crashes  ({time.monotonic() - started:.0f} s, "
          f"peak RSS {peak_mb:.0f} MB, address space capped at {args.mem_limit:g} GiB)")
    for tally in tallies.values():
        for crash in tally.crashes:
            print(f"\nCRASH {crash}")
    if args.json:
        args.json.write_text(json.dumps({
            "seed": args.seed, "seconds_per_target": args.seconds, "deep": args.deep,
            "elapsed_s": round(time.monotonic() - started, 1), "peak_rss_mb": round(peak_mb),
            "targets": {n: {"cases": t.cases, **t.calls} for n, t in tallies.items()},
            "total": {"cases": total_cases, **totals},
        }, indent=2) + "\n")
    return 1 if totals[CRASH] else 0


if __name__ == "__main__":
    sys.exit(main())
