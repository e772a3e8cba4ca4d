"""Coverage-guided fuzzing of one reader with atheris (libFuzzer for Python). Optional: needs ``atheris``.

``benchmarks/fuzz.py`` mutates blindly; this lets libFuzzer steer the mutations by which lines of
traintriage they reach. Same targets, same rule (``tests/fuzzkit.py``): every input ends in a result
or a TraintriageError with a message and a hint; any other exception is a crash, which libFuzzer
reports with the input that caused it (saved as ``crash-<sha1>`` in the working directory)::

    python -m venv /tmp/atheris && /tmp/atheris/bin/pip install atheris -e .
    /tmp/atheris/bin/python benchmarks/fuzz_atheris.py csv -max_total_time=60 -timeout=30
    /tmp/atheris/bin/python benchmarks/fuzz_atheris.py --list

The seed corpus is the reader's committed fixtures (written to a temporary directory unless a corpus
directory is passed); every other argument goes to libFuzzer (``-runs``, ``-max_total_time``,
``-timeout``, ``-rss_limit_mb``, ``-max_len``...). Hangs are libFuzzer's ``-timeout``; memory is its
``-rss_limit_mb`` (2048 by default).
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import atheris

with atheris.instrument_imports(include=["traintriage"]):
    import fuzzkit

    # Readers are imported lazily by the entry points: import them here, inside the instrumentation.
    for _module in ("traintriage.api", "traintriage.sources", "traintriage.sources.eventfile",
                    "traintriage.sources.csvlog", "traintriage.sources.jsonl", "traintriage.sources.textlog",
                    "traintriage.sources.trainer_state", "traintriage.sources.mlflow_store",
                    "traintriage.sources.tensorboard", "traintriage.safe_pickle", "traintriage.checkpoints",
                    "traintriage.memory", "traintriage.memory.trace", "traintriage.memory.snapshot",
                    "traintriage.describe"):
        importlib.import_module(_module)


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] in ("--list", "-h", "--help"):
        print(__doc__)
        print("readers:", ", ".join(repr(t.name) for t in fuzzkit.TARGETS))
        return
    target = fuzzkit.TARGETS_BY_NAME.get(args[0])
    if target is None:
        sys.exit(f"unknown reader {args[0]!r}; one of: {', '.join(t.name for t in fuzzkit.TARGETS)}")
    libfuzzer_args = args[1:]
    work = Path(tempfile.mkdtemp(prefix="traintriage-atheris-"))
    if not any(not a.startswith("-") for a in libfuzzer_args):  # no corpus directory given: the seeds
        corpus = work / "corpus"
        corpus.mkdir()
        seeds = target.seeds()
        for i, seed in enumerate(seeds):
            (corpus / f"seed{i}").write_bytes(seed)
        libfuzzer_args.append(str(corpus))
        if not any(a.startswith("-max_len=") for a in libfuzzer_args):
            libfuzzer_args.append(f"-max_len={max(len(s) for s in seeds) + 4096}")

    def one_input(data: bytes) -> None:
        case_dir = work / "case"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir()
        arg = target.place(case_dir, data)
        for name, fn in target.entries:
            try:
                fuzzkit.check_result(fn(arg))
            except Exception as exc:  # the rule decides what is a crash
                problem = fuzzkit.crash_reason(exc)
                if problem:
                    raise AssertionError(f"[{target.name}] {name}: {problem}") from exc
            finally:
                fuzzkit.clear_caches()

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
