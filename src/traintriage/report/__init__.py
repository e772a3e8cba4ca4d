"""Reports for people and CI around the triage: markdown for ``$GITHUB_STEP_SUMMARY`` and PR comments
(:mod:`.markdown`), a self-contained HTML page (:mod:`.html`), and the unicode sparklines both use, and
the ``--text`` report too (:mod:`.sparkline`, :mod:`.series`).

These render models the analyses already made (TriageReport, SweepReport) plus the run's series; they
compute nothing about the run themselves.
"""
