"""``traintriage explain [CODE]``: the reference page of a finding code (or the list of codes)."""

from __future__ import annotations

import argparse

from ..record import Record
from . import Outcome


class Explanation(Record):
    code: str | None
    page: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="print the reference page of a finding code (no CODE: list them)")
    p.add_argument("code", nargs="?", metavar="CODE")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown page")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..errors import InputError
    from ..findings import CODES, reference_page

    if args.code is None:
        page = "\n".join(f"{c.code:<24} {c.meaning}" for c in CODES.values())
    else:
        try:
            page = reference_page(args.code)
        except KeyError:
            raise InputError(f"unknown finding code {args.code!r}.", hint="Known codes: " + ", ".join(CODES)) from None
    model = Explanation(code=args.code, page=page)
    # The page is meant for reading: markdown by default, JSON on request.
    args.text = not args.json
    return Outcome(model, text=lambda: page)
