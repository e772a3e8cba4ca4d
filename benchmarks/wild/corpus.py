"""The wild corpus (see README.md): load its cases, find their files, and judge a tool's answer on each.

Shared by ``benchmarks/accuracy.py --wild`` (traintriage and the peer tools side by side) and by
``tests/test_wild_corpus.py`` (every case whose files are present is a test). Standard library only, so
a peer tool's venv can import it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
FILE_DIRS = (HERE / "files", HERE.parents[2] / "shared" / "wild" / "files")
"""Where a case's files may lie: pulled here by ``pull.py``, or placed in the project's shared folder."""

ALARM = ("critical", "warning")


@dataclass(frozen=True)
class Case:
    id: str
    format: str
    repo: str
    commit: str
    license: str
    files: list[dict]
    target: str
    healthy: bool
    expect: list[str]
    expect_any: list[list[str]]
    forbid: list[str]
    note: str
    source: str = ""
    location: str = ""  # a run outside the wild corpus (the synthetic corpus's), read where it lies

    @classmethod
    def from_json(cls, data: dict) -> Case:
        any_of = data.get("expect_any") or []
        if any_of and all(isinstance(c, str) for c in any_of):  # one list of alternatives, written flat
            any_of = [any_of]
        return cls(
            id=data["id"], format=data["format"], repo=data["repo"], commit=data.get("commit", ""),
            license=data.get("license", ""), files=data["files"], target=data["target"],
            healthy=bool(data["healthy"]), expect=list(data.get("expect") or []), expect_any=any_of,
            forbid=list(data.get("forbid") or []), note=data.get("note", ""), source=data.get("source", ""),
        )

    def folder(self) -> Path | None:
        """The folder holding all of this case's files, or None when they have not been pulled."""
        if self.location:
            return Path(self.location)
        for base in FILE_DIRS:
            folder = base / self.id
            if all((folder / f["name"]).is_file() for f in self.files):
                return folder
        return None

    def target_path(self) -> Path | None:
        folder = self.folder()
        return None if folder is None else (folder if self.target in (".", "") else folder / self.target)

    def bad_files(self) -> list[str]:
        """Files whose sha256 differs from the one recorded (a changed or damaged copy)."""
        folder = self.folder()
        if folder is None:
            return [f["name"] for f in self.files]
        return [f["name"] for f in self.files
                if hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() != f["sha256"]]


def load_cases(cases_dir: Path = CASES) -> list[Case]:
    return [Case.from_json(json.loads(p.read_text())) for p in sorted(cases_dir.glob("*.json"))]


def synthetic_cases(corpus: Path = HERE.parent / "corpus") -> list[Case]:
    """The synthetic corpus's runs as cases, so that the peers are judged on them by the same rule: its
    ``must`` codes are expected at warning or worse, its ``must_not`` codes are forbidden."""
    labels = json.loads((corpus / "labels.json").read_text())["runs"]
    return [
        Case(id=f"synthetic/{r['case']}", format="synthetic", repo="synthetic", commit="", license="",
             files=[], target=".", healthy=bool(r["healthy"]), expect=list(r["must"]), expect_any=[],
             forbid=list(r["must_not"]), note="", location=str(corpus / "runs" / r["case"]))
        for r in labels
    ]


@dataclass
class Verdict:
    """A tool's answer on one case: read or not, and if read, what it missed and what it raised wrongly."""

    read: bool
    error: str = ""
    missing: list[str] = field(default_factory=list)  # expected codes not reported at warning or worse
    missing_any: list[list[str]] = field(default_factory=list)  # expect_any lists with none reported
    alarms: list[str] = field(default_factory=list)  # forbidden codes reported at warning or worse

    @property
    def right(self) -> bool:
        return self.read and not self.missing and not self.missing_any and not self.alarms


def judge(case: Case, codes: dict[str, str] | None, error: str = "") -> Verdict:
    """``codes``: finding code -> its worst severity as the tool reported it; None when the tool could not
    read the case (``error`` says why)."""
    if codes is None:
        return Verdict(read=False, error=error)
    raised = {c for c, sev in codes.items() if sev in ALARM}
    forbid = list(case.forbid) + ([c for c in beyond_the_loss_codes() if c not in case.forbid] if case.healthy else [])
    return Verdict(
        read=True,
        missing=[c for c in case.expect if c not in raised],
        missing_any=[alts for alts in case.expect_any if not raised & set(alts)],
        alarms=[c for c in forbid if c in raised],
    )


def beyond_the_loss_codes() -> list[str]:
    """Codes added after the cases were labelled (metrics, wall time, messages, configuration): a healthy case
    must not raise them at warning or worse either."""
    try:
        from traintriage.rules import RULES
    except Exception:
        return []
    return [rule.code for rule in RULES if rule.area in ("metrics", "time", "messages", "config")]
