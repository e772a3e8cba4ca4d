"""``--diagnose``: likely causes and the first fix for each finding, read from its evidence.

The text is each code's rule's (:class:`traintriage.rules.base.Diagnosis`): causes ordered by how
often they are the answer in practice, and a first fix that is the cheapest change testing the first
cause, specialised by the finding's own evidence. The full discussion lives in the reference pages
(``traintriage explain CODE``).
"""

from __future__ import annotations

from ...findings import Finding
from ...rules import BY_CODE


def annotate(finding: Finding) -> Finding:
    """Add ``details['causes']`` and ``details['first_fix']``, specialised by the finding's evidence."""
    diagnosis = BY_CODE[finding.code].diagnosis
    causes, fix = (list(diagnosis.causes), diagnosis.first_fix) if diagnosis is not None else ([], "")
    if diagnosis is not None and diagnosis.specialise is not None:
        causes, fix = diagnosis.specialise(finding, causes, fix)
    finding.details = {**finding.details, "causes": causes, "first_fix": fix}
    return finding
