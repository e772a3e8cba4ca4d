"""A small mutation pass over the detectors and the triage: does a test fail when the code is wrong?

Each mutant changes one thing in one module: a comparison flipped (``<`` to ``<=``, ``>`` to ``>=`` and
back), or a numeric constant at module level (a threshold) scaled by 1.5 (0 becomes 1). The package is
copied to a scratch directory per run, the mutant written there, and the chosen tests run against it with
``-x``. A mutant no test kills is a *survivor*: either the behaviour it changes is untested, or the
change does not matter (a ``<`` vs ``<=`` on a float rarely does). The report lists survivors by module
and line so they can be read and judged, not counted.

    python benchmarks/mutation.py --modules detectors/loss/numeric.py triage/issues.py --sample 40

Standard library only; runs pytest in a subprocess per mutant (seconds each), so sample on big modules.
The tests are run from the checkout: do not edit them while a pass runs.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "traintriage"
DEFAULT_TESTS = [
    "tests/test_loss_detectors.py",
    "tests/test_gradnorm.py",
    "tests/test_triage.py",
    "tests/test_rules.py",
    "tests/test_corpus_labels.py",
    "tests/test_loss_adapters.py",
]
FLIP = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    col: int
    end_col: int
    before: str
    after: str

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        row = lines[self.line - 1]
        assert row[self.col:self.end_col] == self.before, (self, row)
        lines[self.line - 1] = row[: self.col] + self.after + row[self.end_col :]
        return "".join(lines)


def mutants_of(module: str, package: Path = PACKAGE) -> list[Mutant]:
    """Comparison flips anywhere, and module-level numeric constants scaled (read from ``package``)."""
    text = (package / module).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    out: list[Mutant] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                symbol = FLIP.get(type(op))
                if symbol is None or left.end_lineno != right.lineno:
                    left = right
                    continue
                row = lines[left.end_lineno - 1]
                gap = row[left.end_col_offset : right.col_offset]
                old = gap.strip()
                if old in ("<", "<=", ">", ">="):
                    start = left.end_col_offset + gap.index(old)
                    out.append(Mutant(module, left.end_lineno, start, start + len(old), old, symbol))
                left = right
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
            node.target if isinstance(node, ast.AnnAssign) else None)
        value = getattr(node, "value", None)
        if not (isinstance(target, ast.Name) and target.id.isupper() and isinstance(value, ast.Constant)):
            continue
        if isinstance(value.value, bool) or not isinstance(value.value, int | float):
            continue
        old = lines[value.lineno - 1][value.col_offset : value.end_col_offset]
        new = value.value * 1.5 if value.value else 1
        new = int(new) if isinstance(value.value, int) and float(new).is_integer() else new
        if new == value.value:
            new = value.value + 1
        out.append(Mutant(module, value.lineno, value.col_offset, value.end_col_offset, old, repr(new)))
    return out


def run_tests(src: Path, tests: list[str], timeout: float) -> bool:
    """True when the tests pass (the mutant survives)."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=ROOT, env=env, capture_output=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False  # a mutant that hangs the tests is caught
    return proc.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", nargs="+", required=True, help="paths under src/traintriage/")
    ap.add_argument("--tests", nargs="+", default=DEFAULT_TESTS)
    ap.add_argument("--sample", type=int, default=0, help="at most this many mutants per module (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="tt-mutants-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(PACKAGE, src / "traintriage", ignore=shutil.ignore_patterns("__pycache__"))
        t0 = time.perf_counter()
        if not run_tests(src, args.tests, args.timeout):
            sys.exit("the tests fail on the unmutated copy: fix them first")
        baseline = time.perf_counter() - t0
        print(f"baseline: tests pass in {baseline:.1f} s")
        survivors: list[Mutant] = []
        total = 0
        for module in args.modules:
            mutants = mutants_of(module, src / "traintriage")  # the copy: the checkout may change meanwhile
            if args.sample and len(mutants) > args.sample:
                mutants = rng.sample(mutants, args.sample)
            path = src / "traintriage" / module
            original = path.read_text(encoding="utf-8")
            killed = 0
            for m in mutants:
                path.write_text(m.apply(original), encoding="utf-8")
                survived = run_tests(src, args.tests, max(args.timeout, 3 * baseline))
                total += 1
                if survived:
                    survivors.append(m)
                    print(f"  SURVIVED {m.module}:{m.line}: {m.before} -> {m.after}", flush=True)
                else:
                    killed += 1
            path.write_text(original, encoding="utf-8")
            print(f"{module}: {killed}/{len(mutants)} killed", flush=True)
        print(f"\n{total - len(survivors)}/{total} mutants killed; {len(survivors)} survived")


if __name__ == "__main__":
    main()
