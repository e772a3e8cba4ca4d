"""Fetch the wild corpus's log files into ``benchmarks/wild/files/<id>/`` (not committed: other people's files).

Each case names its files by repository, path, commit and sha256; a file taken from a repository is
downloaded from ``raw.githubusercontent.com`` at that commit and kept only when its sha256 matches. A log
pasted into a GitHub issue has no raw address (its ``url`` is the issue): copy the pasted text into the file
by hand, as its case's ``source`` describes, and this script checks its sha256.

    python benchmarks/wild/pull.py            # every case whose files are missing or damaged
    python benchmarks/wild/pull.py --check    # only report what is present, missing or damaged

Standard library only. Exit status 0 when every file is present and intact, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import HERE, Case, load_cases

TIMEOUT_S = 60


def _status(case: Case) -> list[str]:
    """``name: why`` for each file of the case that is missing or damaged."""
    folder = HERE / "files" / case.id
    out = []
    for f in case.files:
        path = folder / f["name"]
        if not path.is_file():
            out.append(f"{f['name']}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != f["sha256"]:
            out.append(f"{f['name']}: sha256 differs")
    return out


def _fetch(case: Case, f: dict) -> str:
    url = f.get("url", "")
    if not url.startswith("https://raw.githubusercontent.com/"):
        return f"{f['name']}: no raw address ({url or 'none'}); copy it by hand: {case.source or 'see the case'}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            data = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        return f"{f['name']}: {url}: {err}"
    if hashlib.sha256(data).hexdigest() != f["sha256"]:
        return f"{f['name']}: {url} has changed (sha256 differs); not kept"
    path = HERE / "files" / case.id / f["name"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only, download nothing")
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    args = parser.parse_args(argv)
    cases = [c for c in load_cases() if not args.case or c.id in args.case]
    problems = 0
    for case in cases:
        bad = _status(case)
        if bad and not args.check:
            wanted = {b.split(":")[0] for b in bad}
            bad = [msg for f in case.files if f["name"] in wanted and (msg := _fetch(case, f))]
        for msg in bad:
            print(f"{case.id}: {msg}")
        problems += bool(bad)
    print(f"{len(cases) - problems}/{len(cases)} cases complete", file=sys.stderr)
    return 0 if problems == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
