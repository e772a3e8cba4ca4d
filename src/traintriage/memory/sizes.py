"""Human sizes in, human sizes out: ``80GiB`` on the command line, ``1.9 GB`` in a message.

Binary units (KiB, MiB, GiB, TiB) are powers of 1024; decimal units (KB, MB, GB, TB) powers of 1000,
as the ZeRO paper and GPU spec sheets use them. A bare letter (``80G``) is binary, the convention of
``--memory`` flags in docker and slurm, because that is what people type for device memory.
"""

from __future__ import annotations

import re

from ..errors import InputError

_UNITS: dict[str, int] = {
    "": 1, "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
    "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}
_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int | float | None) -> int | None:
    """``"80GiB"`` -> 85899345920; numbers pass through as bytes; None stays None."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise InputError(f"bad size {text!r}.", hint="Write a size like 80GiB, 40GB, 24G or 1073741824.")
    if isinstance(text, int | float):
        if text <= 0:
            raise InputError(f"size must be positive, got {text}.", hint="e.g. --capacity 80GiB")
        return int(text)
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InputError(
            f"cannot read {text!r} as a size.",
            hint="Write a number with an optional unit: 80GiB, 40GB, 24G, 512MiB or plain bytes.",
        )
    value = float(match.group(1)) * _UNITS[unit]
    if value <= 0:
        raise InputError(f"size must be positive, got {text!r}.", hint="e.g. --capacity 80GiB")
    return round(value)


def format_bytes(n: float | int | None) -> str:
    """Binary units, 3 significant digits: 1.50 GiB, 267 KiB, -12.0 MiB."""
    if n is None:
        return "?"
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            if unit == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.3g} {unit}"
        value /= 1024
    return f"{sign}{value:.3g} PiB"  # pragma: no cover


# A logged memory series carries its unit in its name, if anywhere: memory/allocated_gb, rss_mib.
_NAME_UNIT_RE = re.compile(r"(?:^|[/_.\-\s(\[])(bytes|b|kb|kib|mb|mib|gb|gib|tb|tib)(?:$|[/_.\-\s)\]])", re.I)


def unit_from_name(name: str) -> int | None:
    """Bytes per unit of a logged memory series, read from its name; None when the name does not say."""
    match = _NAME_UNIT_RE.search(name)
    if not match:
        return None
    unit = match.group(1).lower()
    return 1 if unit in ("bytes", "b") else _UNITS[unit]
