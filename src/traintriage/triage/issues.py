"""Group findings into issues: one issue per underlying event, not one per detector.

A loss spike, the gradient spike at the same steps and the NaN that follows are one event seen by
three detectors; a dead component and the imbalance it causes are one problem. Grouping is by
code family and step proximity (a few logged points), always aligned by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..findings import SEVERITY_RANK, Finding
from ..rules import ANCHOR_RANK, BY_CODE, RULES, UNRANKED, codes_in
from ..signals import loss_flavour

# Which codes anchor issues, attach to them or group by component is said by each code's rule.
LOSS_CODES = frozenset(codes_in("loss"))
"""Codes that describe the loss itself: they anchor an issue, and other findings attach to them."""
ATTACHABLE = frozenset(rule.code for rule in RULES if rule.attaches_to_loss_event)
"""Symptoms that join a loss event when they coincide with it."""
BY_COMPONENT = frozenset(rule.code for rule in RULES if rule.groups_by_component)
"""Codes whose findings on one component are one problem (a dead head and the imbalance it causes)."""


def _rank(f: Finding) -> int:
    return ANCHOR_RANK.get(f.code, UNRANKED)


@dataclass
class IssueDraft:
    """Findings that describe one problem; ``anchor`` is the one that names it."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def anchor(self) -> Finding:
        """The finding that names the issue: the most severe, then the most telling code, then one on the
        training loss over the same event seen on a validation loss, then the earliest."""
        return min(
            self.findings,
            key=lambda f: (SEVERITY_RANK[f.severity], _rank(f),
                           f.series is not None and loss_flavour(f.series) == "val", _start(f)),
        )

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(f.code for f in sorted(self.findings, key=lambda f: _rank(f))))

    @property
    def severity(self) -> str:
        return min((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)

    @property
    def step_start(self) -> int | None:
        starts = [f.step_start for f in self.findings if f.step_start is not None]
        return min(starts) if starts else None

    @property
    def step_end(self) -> int | None:
        ends = [f.step_end if f.step_end is not None else f.step_start for f in self.findings]
        ends = [e for e in ends if e is not None]
        return max(ends) if ends else None

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    def first(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)


def _start(f: Finding) -> float:
    return f.step_start if f.step_start is not None else float("inf")


def _near(a: Finding, b: Finding, tolerance: int) -> bool:
    """Step ranges overlap once widened by ``tolerance`` (findings without steps are never near)."""
    if a.step_start is None or b.step_start is None:
        return False
    a_end = a.step_end if a.step_end is not None else a.step_start
    b_end = b.step_end if b.step_end is not None else b.step_start
    return a.step_start - tolerance <= b_end and b.step_start - tolerance <= a_end


def group_findings(findings: list[Finding], tolerance: int) -> list[IssueDraft]:
    """Clusters of findings that are one problem. Info-only clusters are not issues: they stay in
    the report's ``findings`` (a healthy run's triage has no issues, only notes)."""
    drafts: list[IssueDraft] = []
    pending = sorted(findings, key=lambda f: (_rank(f), _start(f)))

    # 1. Loss events anchor issues; coinciding gradient symptoms attach to them.
    for f in [f for f in pending if f.code in LOSS_CODES]:
        home = next(
            (d for d in drafts if any(_same_event(f, g, tolerance) for g in d.findings)),
            None,
        )
        if home is None:
            drafts.append(IssueDraft([f]))
        else:
            home.findings.append(f)
    attached: set[int] = {id(f) for d in drafts for f in d.findings}

    # 2. Gradient symptoms at the same steps as a loss event join it.
    for f in pending:
        if id(f) in attached or f.code not in ATTACHABLE:
            continue
        home = next((d for d in drafts if any(_near(f, g, tolerance) for g in d.findings)), None)
        if home is not None:
            home.findings.append(f)
            attached.add(id(f))

    # 3. Component problems: dead + imbalance of the same component are one issue.
    by_component: dict[str, IssueDraft] = {}
    for f in pending:
        if id(f) in attached:
            continue
        if f.component and f.code in BY_COMPONENT:
            draft = by_component.get(f.component)
            if draft is None:
                draft = by_component[f.component] = IssueDraft([f])
                drafts.append(draft)
            else:
                draft.findings.append(f)
            attached.add(id(f))

    # 4. Everything else stands alone.
    for f in pending:
        if id(f) not in attached:
            drafts.append(IssueDraft([f]))

    return [d for d in drafts if d.severity != "info"]


def _same_event(a: Finding, b: Finding, tolerance: int) -> bool:
    """Two loss findings describe one event (NaN after a divergence, a spike inside one) when their rules say
    so and they lie within the tolerance multiple the rule gives."""
    rule = BY_CODE.get(a.code)
    widen = rule.same_event.get(b.code) if rule is not None else None
    return widen is not None and _near(a, b, widen * tolerance)
