"""themes/default/static/numbers.js against reporter/view/numbers.py, its reference: the same
text for the same number, in headless Chromium, over edge cases and a seeded batch of values of
every magnitude (ties at .5 included, where JavaScript's and Python's default rounding differ)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reporter.view import numbers
from tests.site.browser import launch

NUMBERS_JS = Path(__file__).resolve().parents[2] / "themes" / "default" / "static" / "numbers.js"

EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.5,
    -2.5,
    1234.5,
    999_999.5,
    999_950_000.0,
    1e6,
    1e-3,
    9.9995e-4,
    0.0012345,
    0.63143456,
    -0.00693773,
    1e18,
    9.9999e17,
    1.7976931348623157e308,
    5e-324,
    123456789012.0,
    0.125,
    0.375,
    1e15 * 999.95,
]


def sample(count: int, seed: int) -> list[float]:
    """Values of every magnitude from 1e-12 to 1e21, both signs, some exact halves."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        value = 10 ** rng.uniform(-12, 21) * rng.choice([1, -1])
        if rng.random() < 0.2:
            value = round(value * 2) / 2 + 0.5  # an exact tie at the last kept digit
        out.append(value)
    return out


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with launch() as browser:
        context = browser.new_context()
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.set_content("<!doctype html><title>numbers</title>")
        tab.add_script_tag(path=str(NUMBERS_JS))
        yield tab
        assert errors == []
        context.close()


def test_js_formats_every_number_as_python_does(page: Any) -> None:
    values = EDGES + sample(3000, seed=16)
    js = page.evaluate(
        """(values) => values.map(v => {
          const N = window.TrackerNumbers;
          return [N.human(v), N.delta(v), [0, 1, 2, 3, 4, 6].map(d => N.fixed(v, d))];
        })""",
        values,
    )
    py = [
        [numbers.human(v), numbers.delta(v), [numbers.fixed(v, d) for d in (0, 1, 2, 3, 4, 6)]]
        for v in values
    ]
    mismatches = [(v, j, p) for v, j, p in zip(values, js, py, strict=True) if j != p]
    assert mismatches == []


def test_js_chooses_a_columns_decimals_as_python_does(page: Any) -> None:
    rng = random.Random(7)
    columns = [sample(rng.randint(1, 30), seed=i) for i in range(300)]
    columns += [[1.0, 2.0, 3.0], [0.0, 0.0], [0.81, 0.79, 0.812], [120.5, 99.1, 7.25]]
    js = page.evaluate("(cols) => cols.map(c => window.TrackerNumbers.columnDecimals(c))", columns)
    assert js == [numbers.column_decimals(c) for c in columns]


def test_js_chooses_typed_decimals_as_python_does(page: Any) -> None:
    rng = random.Random(11)
    columns: list[list[Any]] = [sample(rng.randint(1, 10), seed=100 + i) for i in range(200)]
    columns += [[round(v, rng.randint(0, 8)) for v in sample(5, seed=i)] for i in range(200)]
    columns += [["0.0001", "0.01"], ["0.9", "0.95"], ["120", "1e3"], [1e-5, 1e-7, 1.5e20], []]
    js = page.evaluate("(cols) => cols.map(c => window.TrackerNumbers.exactDecimals(c))", columns)
    assert js == [numbers.exact_decimals(c) for c in columns]


def test_special_values_read_the_same(page: Any) -> None:
    js = page.evaluate(
        """() => [NaN, Infinity, -Infinity, null].map(v => window.TrackerNumbers.human(v))"""
    )
    assert js == [numbers.human(v) for v in (float("nan"), float("inf"), float("-inf"), None)]
