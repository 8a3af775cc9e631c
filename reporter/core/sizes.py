"""Byte sizes as people type and read them: `50GB`, `1.5 GiB`, `500MB`, `0`.

Decimal units (kB, MB, GB, TB, PB: powers of 1000, as disks and cloud bills count) and binary
ones (KiB, MiB, GiB, TiB, PiB: powers of 1024), case-insensitive; a bare number is bytes.
`format_size` shows sizes in decimal units, so `metrics.total_gb` and what `du` prints agree.
"""

from __future__ import annotations

import re

from reporter.core.errors import InvalidArgumentError

DECIMAL = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15}
BINARY = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}
_PATTERN = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)", re.IGNORECASE)
VALID_FORMS = (
    "a number and an optional unit: B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, "
    "TiB, PiB (powers of 1024), e.g. 50GB, 1.5GiB, 500MB, 0"
)


def parse_size(text: str) -> int:
    """Return a size such as "50GB" or "1.5 GiB" in bytes; InvalidArgumentError naming the
    valid forms for anything else."""
    match = _PATTERN.fullmatch(str(text).strip())
    unit = (match.group("unit") or "b").lower() if match else ""
    factor = DECIMAL.get(unit) or BINARY.get(unit)
    if match is None or factor is None:
        raise InvalidArgumentError(f"Invalid size {text!r}: use {VALID_FORMS}")
    return round(float(match.group("number")) * factor)


def format_size(nbytes: float) -> str:
    """Return a size for people, in decimal units: "950 B", "12.3 kB", "1.25 GB"."""
    value = float(nbytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
