"""reporter/view/numbers.py: numbers as people read them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.view import numbers


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (100, "100"),
        (120, "120"),
        (60.0, "60"),
        (0.5, "0.5"),
        (0.63143456, "0.6314"),
        (0.0012346, "0.001235"),
        (12.3456, "12.35"),
        (1234.5678, "1,235"),
        (999_999, "999,999"),
        (1_234_567, "1.23M"),
        (-2_500_000_000, "-2.5G"),
        (0.000123, "1.23e-4"),
        (2.5, "2.5"),
        (float("nan"), "NaN"),
        (float("inf"), "∞"),
        (None, ""),
    ],
)
def test_human(value: float | None, shown: str) -> None:
    assert numbers.human(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.631434, "+0.631"), (-0.00693773, "-0.00694"), (0.0, "0"), (1234.5, "+1,235")],
)
def test_delta_has_three_significant_digits(value: float, shown: str) -> None:
    assert numbers.delta(value) == shown


def test_a_column_has_one_number_of_decimals() -> None:
    values = [0.8123456, 0.79, 0.8, 12.5]
    decimals = numbers.column_decimals(values)
    shown = [numbers.fixed(v, decimals) for v in values]
    assert shown == ["0.8123", "0.7900", "0.8000", "12.5000"]
    assert numbers.column_decimals([1, 2, 300]) == 0
    assert numbers.fixed(1234567.0, 4) == "1.23M"
    assert numbers.fixed(0.00001, 2) == "1e-5"  # never a misleading 0.00
    # from a million up a column keeps 3 significant digits, zeros too: 42.0M under 43.2M
    assert [numbers.fixed(v, 1) for v in (42e6, 43.2e6, -5e6)] == ["42.0M", "43.2M", "-5.00M"]
    assert numbers.human(42e6) == "42M"  # a lone value drops them


def test_typed_values_show_exactly_with_one_number_of_decimals() -> None:
    # params as people typed them: the fewest decimals that show each exactly, at most 6
    alphas = ["0.0001", "0.01", "0.001"]
    decimals = numbers.exact_decimals(alphas)
    assert [numbers.fixed(v, decimals) for v in alphas] == ["0.0001", "0.0100", "0.0010"]
    assert numbers.exact_decimals(["0.9", "0.95"]) == 2
    assert numbers.exact_decimals(["120", "64", "1e3"]) == 0
    assert numbers.exact_decimals([1e-5, "abc", None, "nan", float("inf")]) == 5
    assert numbers.exact_decimals([0.1 + 0.2]) == 6  # at most 6
    assert numbers.exact_decimals([1.5e20]) == 0


@settings(deadline=None)
@given(
    st.floats(min_value=1e-3, max_value=999_999.0)
    | st.floats(min_value=-999_999.0, max_value=-1e-3)
)
def test_no_exponent_between_a_thousandth_and_a_million(value: float) -> None:
    text = numbers.human(value)
    assert "e" not in text and "M" not in text
    # 4 significant digits (or all the integer digits): the text reads back close to the value
    assert math.isclose(float(text.replace(",", "")), value, rel_tol=1e-3)


@settings(deadline=None)
@given(st.floats(min_value=-1e300, max_value=1e300))
def test_human_reads_back_close_to_the_value(value: float) -> None:
    text = numbers.human(value)
    scale = {"M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
    body, factor = (text[:-1], scale[text[-1]]) if text[-1] in scale else (text, 1.0)
    assert math.isclose(float(body.replace(",", "")) * factor, value, rel_tol=6e-3, abs_tol=0)
