"""Durations as people type them: `30d`, `12h`, `90m`, `45s`, `2w`, `1d12h`, `1.5d`.

The grammar is MLflow's `mlflow gc --older-than` (`#d#h#m#s`, decimal numbers allowed) plus
weeks (`w`) first; `0` alone means no time at all. Units are in descending order, each at most
once; a bare number without a unit is refused (is `30` thirty days or thirty seconds?).
Used by `tracker-report gc --older-than` and `du --older-than`, and by retention policies.
"""

from __future__ import annotations

import re

from reporter.core.errors import InvalidArgumentError

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

UNITS_MS = {"w": WEEK_MS, "d": DAY_MS, "h": HOUR_MS, "m": MINUTE_MS, "s": SECOND_MS}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PATTERN = re.compile(
    "".join(rf"(?:(?P<{unit}>{_NUMBER}){unit})?" for unit in UNITS_MS), re.IGNORECASE
)
VALID_FORMS = (
    "a number and a unit, w (weeks), d (days), h (hours), m (minutes) or s (seconds), units "
    "combined largest first: 30d, 12h, 90m, 45s, 2w, 1d12h, 1.5d; or 0 for no minimum age"
)


def parse_duration(text: str) -> int:
    """Return a duration such as "30d" or "1d12h" in milliseconds; InvalidArgumentError
    naming the valid forms for anything else."""
    cleaned = str(text).strip().replace(" ", "")
    if cleaned == "0":
        return 0
    match = _PATTERN.fullmatch(cleaned) if cleaned else None
    if match is None or not any(match.groupdict().values()):
        raise InvalidArgumentError(f"Invalid duration {text!r}: use {VALID_FORMS}")
    total = sum(
        float(value) * UNITS_MS[unit]
        for unit, value in match.groupdict().items()
        if value is not None
    )
    return round(total)


def format_duration(ms: float) -> str:
    """Return a duration in milliseconds as its largest whole units, e.g. "30d", "1d12h"."""
    left = max(0, round(ms))
    if left == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        count, left = divmod(left, UNITS_MS[unit])
        if count:
            out.append(f"{count}{unit}")
    if left and not out:
        return f"{left}ms"
    return "".join(out)
