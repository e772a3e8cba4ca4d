"""``--format json|text|markdown`` for the commands that have a markdown form (``triage``, ``sweep``).

``--text`` stays what it was (the readable report); ``--format markdown`` prints GitHub-flavoured
markdown (see :mod:`traintriage.report.markdown`) for ``$GITHUB_STEP_SUMMARY`` and PR comments. The
CLI prints an Outcome's ``text`` when ``args.text`` is set, so choosing markdown is setting that and
handing the markdown renderer over as the text: no change to how the CLI prints.
"""

from __future__ import annotations

import argparse


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=["json", "text", "markdown"],
        default=None,
        help="output format: json (default), text (same as --text), or markdown (GitHub-flavoured, for "
        "$GITHUB_STEP_SUMMARY and PR comments)",
    )


def wants_markdown(args: argparse.Namespace) -> bool:
    """True for ``--format markdown``; also settles ``--format text`` into ``args.text``."""
    fmt = getattr(args, "format", None)
    if fmt == "text":
        args.text = True
    if fmt == "markdown":
        args.text = True
        return True
    return False
