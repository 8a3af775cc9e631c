"""Numbers as people read them, the same in every page (themes/default/static/numbers.js is the
page scripts' twin of this module; tests hold the two to the same outputs).

* `human(x)`: one value on its own: thousands separators, 4 significant digits, SI suffixes only
  from a million up (`1.23M`, 3 significant digits), exponent notation only below 0.001
  (`1.2e-5`) and from 1e18 up.
* `column_decimals(values)` and `fixed(x, decimals)`: a column of values with one number of
  decimals, chosen so its typical value shows 4 significant digits (from a million up, SI
  with 3 significant digits, zeros kept: `42.0M`, `43.2M`).
* `exact_decimals(values)`: for a column of values people typed (params: `0.0001`, `0.01`),
  the fewest decimals that show each one exactly (at most 6), so a column reads `0.0001`,
  `0.0100` rather than padded to 4 significant digits.
* `delta(x)`: a signed difference with 3 significant digits (`+0.631`, `-0.00694`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"))  # largest first
MAX_DECIMALS = 6


def _special(value: Any) -> str | None:
    """Return the text of a missing, NaN or infinite value; None for an ordinary number."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return None


def _si(number: float, digits: int, trim: bool = True) -> str | None:
    """Return `number` with an SI suffix and `digits` significant digits when it is a million
    or more in magnitude (None from 999.95e15 up); trailing zeros dropped unless not `trim`
    (a column keeps them: 42.0M under 43.2M)."""
    for scale, suffix in reversed(SI):
        scaled = number / scale
        text = _grouped(scaled, _decimals_for(scaled, digits))
        if abs(float(text.replace(",", ""))) < 1000:
            return (_trim(text) if trim else text) + suffix
    return None  # rounds to 1000P or more: exponent notation


def _decimals_for(number: float, digits: int) -> int:
    """Decimals that show `digits` significant digits of `number` (0 for large numbers)."""
    if number == 0:
        return 0
    magnitude = math.floor(math.log10(abs(number)))
    return max(0, min(MAX_DECIMALS, digits - 1 - magnitude))


def _trim(text: str) -> str:
    """Drop trailing zeros after a decimal point (and the point itself)."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def human(value: Any, digits: int = 4) -> str:
    """Return one value as people read it (see the module docstring)."""
    special = _special(value)
    if special is not None:
        return special
    number = float(value)
    if number == 0:
        return "0"
    if abs(number) < 1e-3 or abs(number) >= 1e18:
        return _exponent(number, digits)
    if abs(number) >= 1e6:
        return _si(number, 3) or _exponent(number, digits)
    return _trim(_grouped(number, _decimals_for(number, digits)))


def _exponent(number: float, digits: int) -> str:
    """Return `number` in exponent notation with `digits` significant digits: '1.2e-5'."""
    rounded = Context(prec=digits, rounding=ROUND_HALF_UP).plus(Decimal(number))
    mantissa, exponent = f"{rounded:.{digits - 1}e}".split("e")
    return f"{_trim(mantissa)}e{int(exponent)}"


def _grouped(number: float, decimals: int) -> str:
    """Return `number` with `decimals` decimals and thousands separators, rounded half away
    from zero on its exact binary value (as JavaScript's toFixed, so both sides agree)."""
    rounded = Decimal(number).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,f}"
    return f"-{text}" if number < 0 else text


def column_decimals(values: Iterable[Any]) -> int:
    """Return the decimals a column of values is shown with: enough for its median magnitude to
    show 4 significant digits, none for a column of whole numbers, at most 6."""
    numbers = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            numbers.append(number)
    if not numbers or all(n == int(n) for n in numbers):
        return 0
    nonzero = sorted(abs(n) for n in numbers if n != 0)
    if not nonzero:
        return 0
    median = nonzero[len(nonzero) // 2]
    return _decimals_for(median, 4)


def exact_decimals(values: Iterable[Any]) -> int:
    """Return the fewest decimals (at most 6) that show every value of a column exactly: the
    decimals of its shortest round-trip text (repr, as JavaScript's String)."""
    most = 0
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            continue
        mantissa, _, exponent = repr(abs(number)).partition("e")
        places = len(mantissa.partition(".")[2].rstrip("0")) - int(exponent or 0)
        most = max(most, places)
    return min(MAX_DECIMALS, most)


def fixed(value: Any, decimals: int) -> str:
    """Return a value of a column with `decimals` decimals and thousands separators (SI from a
    million up, 3 significant digits kept: 42.0M; exponent notation for a non-zero value too
    small to show)."""
    special = _special(value)
    if special is not None:
        return special
    number = float(value)
    if abs(number) >= 1e18:
        return human(number)
    if abs(number) >= 1e6:
        return _si(number, 3, trim=False) or human(number)
    text = _grouped(number, decimals)
    if number != 0 and float(text.replace(",", "")) == 0:
        return human(number, 3)
    return text


def delta(value: Any) -> str:
    """Return a signed difference with 3 significant digits ('+0.631', '-0.00694', '0')."""
    special = _special(value)
    if special is not None:
        return special
    number = float(value)
    if number == 0:
        return "0"
    text = human(number, 3)
    return text if text.startswith("-") else f"+{text}"
