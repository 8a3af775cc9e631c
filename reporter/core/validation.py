"""Checks on user input, each failing with a message that names the key and what is valid."""

from __future__ import annotations

import numbers
import posixpath
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from reporter.core.errors import InvalidArgumentError, ParamConflictError

if TYPE_CHECKING:
    from reporter.core.entities import Param


def metric_value(key: str, value: Any) -> float:
    """Return a metric value as float: ints, floats, bools and numpy scalars; else TypeError."""
    if type(value) is float:
        return value
    if isinstance(value, (int, float, numbers.Real)):
        return float(value)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", 1) == 0 and dtype.kind in "biuf":
        return float(value)
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise TypeError(
        f"Metric {key!r}: value must be a number (int, float, bool or a numpy scalar), "
        f"got {type(value).__name__} {shown}"
    )


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def metric_step(key: str, step: Any, what: str = "step") -> int:
    """Return a step (or timestamp) as int; TypeError if not an integer, error if not int64."""
    if type(step) is not int:
        if isinstance(step, numbers.Integral) or (
            getattr(step, "dtype", None) is not None and step.dtype.kind in "iu"
        ):
            step = int(step)
        else:
            raise TypeError(
                f"Metric {key!r}: {what} must be an integer, got {type(step).__name__} {step!r}"
            )
    if not INT64_MIN <= step <= INT64_MAX:
        raise InvalidArgumentError(
            f"Metric {key!r}: {what} {step} is outside the 64-bit integer range the store keeps"
        )
    return int(step)


# run times are milliseconds since 1970 that pandas can hold as times (years 1677 to 2262)
RUN_TIME_LIMIT = 9_223_372_036_854  # ms: the range of a 64-bit count of nanoseconds


def run_time(what: str, value: Any) -> int:
    """Return a run's start or end time (ms since 1970) as int; a clear error for anything
    that is not an integer between the years 1677 and 2262 (a search shows run times as
    dates, and one impossible time would break every search of its experiment)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(
            f"Run {what} must be an integer (milliseconds since 1970), got {value!r}"
        )
    if not -RUN_TIME_LIMIT <= int(value) <= RUN_TIME_LIMIT:
        raise InvalidArgumentError(
            f"Run {what} {value} is not a time: run times are milliseconds since 1970, "
            "between the years 1677 and 2262"
        )
    return int(value)


def text(kind: str, value: str) -> str:
    """Return value if it can be stored as UTF-8 (no lone surrogates), else raise."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{kind} {value[:60]!r} cannot be stored as UTF-8 ({exc.reason} at position "
            f"{exc.start})"
        ) from None
    return value


def key_name(kind: str, key: Any) -> str:
    """Return a param/metric/tag key; it must be a non-empty string."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"{kind} key must be a non-empty string, got {key!r}")
    if any(ord(c) < 32 for c in key):
        raise InvalidArgumentError(f"{kind} key {key!r} contains control characters")
    return text(f"{kind} key", key)


NAME_MAX = 255  # bytes in one file or folder name (most file systems)
TMP_PREFIX = ".tmp-"  # the store's unfinished writes (reporter/store/parquet/fs.py)


def artifact_path(path: str | None, what: str = "artifact_path") -> str:
    """Return a normalised relative artifact path; refuse absolute paths and '..'."""
    if path is None or path == "":
        return ""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(path).__name__}")
    if "\x00" in path:
        raise InvalidArgumentError(
            f"{what} {path!r} contains a NUL character, which no file name can hold"
        )
    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidArgumentError(
            f"{what} {path!r} is absolute; artifact paths are relative to the run's artifact "
            "folder, e.g. 'plots' or 'model/weights.bin'"
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
            raise InvalidArgumentError(
                f"{what} {path!r} has a name of more than {NAME_MAX} bytes, which no file "
                "system holds"
            )
        if part.startswith(TMP_PREFIX):
            raise InvalidArgumentError(
                f"{what} {path!r}: names starting with {TMP_PREFIX!r} are reserved for "
                "unfinished writes (readers skip them); rename the file"
            )
    if ".." in parts:
        raise InvalidArgumentError(
            f"{what} {path!r} contains '..'; artifact paths must stay inside the run's "
            "artifact folder"
        )
    return posixpath.join(*parts) if parts else ""


RUN_ID_MAX = 64


def check_run_id(run_id: str) -> None:
    """Raise InvalidArgumentError unless a run id can name files: ASCII letters, digits, '_'."""
    if (
        not isinstance(run_id, str)
        or not 0 < len(run_id) <= RUN_ID_MAX
        or not run_id.isascii()
        or not run_id.replace("_", "").isalnum()
    ):
        raise InvalidArgumentError(
            f"Run id {run_id!r} cannot be stored: use 1 to {RUN_ID_MAX} ASCII letters, "
            "digits and '_'"
        )


def new_params(
    known: MutableMapping[str, str], params: Iterable[Param], run_id: str
) -> dict[str, str]:
    """Return the params not logged to a run yet, and add them to `known` (the run's params).

    Logging a param again with its value changes nothing; with another value it is a
    ParamConflictError (MLflow's rule: params are immutable)."""
    fresh: dict[str, str] = {}
    for p in params:
        old = known.get(p.key, fresh.get(p.key))
        if old is not None and old != p.value:
            raise ParamConflictError(
                f"Param {p.key!r} of run {run_id} was already logged as {old!r}; "
                f"cannot change it to {p.value!r}. Params are immutable: log a new key, "
                "or start a new run."
            )
        if old is None:
            fresh[p.key] = p.value
    known.update(fresh)
    return fresh
