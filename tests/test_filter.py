"""The search_runs filter grammar: the same cases will run against the page's JavaScript."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.errors import InvalidFilterError
from reporter.store import filter as rf

NAN = float("nan")
# Plain data, so a browser test can load the same runs and cases as JSON.
FILTER_RUNS: list[dict[str, object]] = [
    {
        "run_id": "r1",
        "run_name": "alpha",
        "status": "FINISHED",
        "start_time": 1000,
        "metrics.rmse": 0.3,
        "metrics.val loss": 1.5,
        "params.depth": "8",
        "params.lr": "0.1",
        "tags.team": "forecast",
        "tags.reporter.git.commit": "abc123",
    },
    {
        "run_id": "r2",
        "run_name": "beta",
        "status": "FAILED",
        "start_time": 2000,
        "metrics.rmse": 0.7,
        "params.depth": "4",
        "params.lr": "0.01",
        "tags.team": "Forecast",
    },
    {
        "run_id": "r3",
        "run_name": "gamma_1",
        "status": "FINISHED",
        "start_time": 3000,
        "metrics.rmse": NAN,
        "params.depth": "8",
        "tags.team": "vision",
    },
    {
        "run_id": "r4",
        "run_name": "delta.x",
        "status": "RUNNING",
        "start_time": 4000,
        "params.depth": "16",
        "params.lr": "0.1",
        "tags.reporter.git.commit": "def456",
    },
    {
        "run_id": "r5",
        "run_name": "gamma%2",
        "status": "KILLED",
        "start_time": 5000,
        "metrics.rmse": -1e-3,
        "metrics.val loss": 0.5,
        "params.depth": "8",
    },
]

FILTER_CASES: list[tuple[str, list[str]]] = [
    ("", ["r1", "r2", "r3", "r4", "r5"]),
    ("metrics.rmse < 0.5", ["r1", "r5"]),
    ("metrics.rmse >= 0.3", ["r1", "r2"]),
    ("metrics.rmse != 0.3", ["r2", "r5"]),
    ("metric.rmse = -0.001", ["r5"]),
    ("metrics.rmse > -1e-2 AND metrics.rmse < 1E0", ["r1", "r2", "r5"]),
    ("params.depth = '8'", ["r1", "r3", "r5"]),
    ("param.depth != '8'", ["r2", "r4"]),
    ("metrics.rmse < 0.5 and params.depth = '8'", ["r1", "r5"]),
    ("params.depth = '4' OR params.depth = '16'", ["r2", "r4"]),
    ("params.depth = '4' OR params.depth = '8' AND metrics.rmse < 0.5", ["r1", "r2", "r5"]),
    ("(params.depth = '4' OR params.depth = '8') AND metrics.rmse < 0.5", ["r1", "r5"]),
    ("params.depth IN ('4', '16')", ["r2", "r4"]),
    ("params.depth NOT IN ('4', '16')", ["r1", "r3", "r5"]),
    ("tags.team LIKE 'fore%'", ["r1"]),
    ("tags.team ILIKE 'FORE%'", ["r1", "r2"]),
    ("tags.team NOT LIKE 'fore%'", ["r2", "r3"]),
    ("attributes.run_name LIKE 'gamma_1'", ["r3"]),
    ("attributes.run_name LIKE 'gamma_%'", ["r3", "r5"]),
    ("attributes.run_name LIKE 'delta.x'", ["r4"]),
    ("attributes.run_name LIKE 'delta_x'", ["r4"]),
    ("run.run_name = 'gamma%2'", ["r5"]),
    ("tags.reporter.git.commit = 'abc123'", ["r1"]),
    ("metrics.`val loss` > 1", ["r1"]),
    ('metrics."val loss" <= 1', ["r5"]),
    ("attributes.status = 'FINISHED'", ["r1", "r3"]),
    ("attr.status IN ('FAILED', 'KILLED')", ["r2", "r5"]),
    ("attributes.start_time >= 3000", ["r3", "r4", "r5"]),
    ("attributes.created < 2500", ["r1", "r2"]),
    ("attributes.run_id IN ('r1', 'r4')", ["r1", "r4"]),
    ("tags.team IS NULL", ["r4", "r5"]),
    ("metrics.rmse IS NOT NULL", ["r1", "r2", "r5"]),
    ("metrics.missing < 1", []),
    ("metrics.missing IS NULL", ["r1", "r2", "r3", "r4", "r5"]),
    ("params.lr = '0.1' and tags.team = 'forecast' or attributes.status = 'KILLED'", ["r1", "r5"]),
    ("PARAMS.depth = '8' And Metrics.rmse < 0.5 oR tags.team = 'vision'", ["r1", "r3", "r5"]),
    ("tags.team = 'it''s'", []),
    ("((params.depth = '8'))", ["r1", "r3", "r5"]),
]

INVALID_FILTER_CASES: list[tuple[str, int, str]] = [
    ("metrics.rmse <", 14, "expects a number"),
    ("metrics.rmse < 'x'", 15, "expects a number"),
    ("params.depth = 8", 15, "expects a quoted string"),
    ("params.depth < '8'", 13, "does not support <"),
    ("rmse < 1", 0, "expected an identifier"),
    ("foo.rmse < 1", 0, "unknown entity 'foo'"),
    ("attributes.colour = 'x'", 0, "unknown attribute 'colour'"),
    ("metrics.rmse ~ 1", 13, "unexpected character"),
    ("metrics.rmse foo 1", 13, "expected a comparator"),
    ("metrics.rmse < 1 and", 20, "expected an identifier"),
    ("metrics.rmse < 1 params.depth = '8'", 17, "expected AND, OR"),
    ("(metrics.rmse < 1", 17, "expected ')'"),
    ("params.depth = 'unterminated", 15, "unterminated string"),
    ("params.depth IN '8'", 16, "'(' to start a list"),
    ("params.depth IN ('8' '4')", 21, "expected ',' or ')'"),
    ("tags.x IS 'a'", 10, "NULL or NOT NULL"),
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame.from_records(FILTER_RUNS)


@pytest.mark.parametrize(("text", "expected"), FILTER_CASES)
def test_filter_cases(frame, text, expected):
    assert list(rf.filter_frame(frame, text)["run_id"]) == expected
    node = rf.parse_filter(text)
    assert [r["run_id"] for r in FILTER_RUNS if node is None or rf.matches(node, r)] == expected


@pytest.mark.parametrize(("text", "position", "fragment"), INVALID_FILTER_CASES)
def test_invalid_filters_name_position_and_expectation(text, position, fragment):
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_filter(text)
    assert err.value.position == position
    assert f"position {position}" in str(err.value) and fragment in str(err.value)
    assert err.value.text == text


def test_nan_metric_matches_no_comparison_but_is_not_null(frame):
    assert "r3" not in set(rf.filter_frame(frame, "metrics.rmse != 0")["run_id"])
    # a logged NaN reads like a missing value in a filter (as in SQL)
    assert "r3" in set(rf.filter_frame(frame, "metrics.rmse IS NULL")["run_id"])


def test_order_by_parsing_and_sorting(frame):
    assert rf.parse_order_by(
        ["metrics.rmse", "attributes.start_time DESC", "params.`a b` asc"]
    ) == [("metrics.rmse", True), ("start_time", False), ("params.a b", True)]
    ordered = rf.sort_frame(frame, ["metrics.rmse ASC"])
    assert list(ordered["run_id"]) == ["r5", "r1", "r2", "r4", "r3"]  # missing last, then newest
    ordered = rf.sort_frame(frame, ["metrics.rmse DESC"])
    assert list(ordered["run_id"]) == ["r2", "r1", "r5", "r4", "r3"]
    ordered = rf.sort_frame(frame, ["params.depth DESC", "attributes.run_name"])
    assert list(ordered["run_id"]) == ["r1", "r5", "r3", "r2", "r4"]  # '%' sorts before '_'
    assert list(rf.sort_frame(frame, None)["run_id"]) == ["r5", "r4", "r3", "r2", "r1"]
    for bad, fragment in [("metrics.rmse UP", "ASC, DESC"), ("rmse", "identifier")]:
        with pytest.raises(InvalidFilterError, match=fragment):
            rf.parse_order_by([bad])


# property: the vectorised evaluation agrees with the row-wise reference ---------------------
KEYS = ["metrics.a", "metrics.b", "params.p", "tags.t"]
values = {
    "metrics.a": st.one_of(st.none(), st.just(NAN), st.floats(-5, 5, allow_nan=False)),
    "metrics.b": st.one_of(st.none(), st.sampled_from([0.0, 1.0, -1.0, math.inf])),
    "params.p": st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "A", "%", "a_b"])),
    "tags.t": st.one_of(st.none(), st.text(alphabet="ab_%.", max_size=3)),
}
rows = st.fixed_dictionaries({k: v for k, v in values.items()})


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(KEYS))
    if key.startswith("metrics."):
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL"]))
        if op.startswith("IS"):
            return f"{key} {op}"
        return f"{key} {op} {draw(st.sampled_from(['0', '1', '-1.5', '2e0']))}"
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "IN", "NOT IN", "IS NULL"]))
    if op == "IS NULL":
        return f"{key} {op}"
    if op.endswith("IN"):
        items = draw(st.lists(st.sampled_from(["a", "b", "A"]), min_size=1, max_size=3))
        return f"{key} {op} ({', '.join(repr(i) for i in items)})"
    return f"{key} {op} '{draw(st.sampled_from(['a', 'a%', '_', '%b', 'A', '%']))}'"


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(comparisons())
    joiner = draw(st.sampled_from([" AND ", " OR "]))
    parts = draw(st.lists(filters(depth + 1), min_size=2, max_size=3))
    return "(" + joiner.join(parts) + ")"


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, min_size=1, max_size=8), filters())
def test_evaluate_agrees_with_matches(records, text):
    frame = pd.DataFrame.from_records(records)
    frame["run_id"] = [f"r{i}" for i in range(len(records))]
    node = rf.parse_filter(text)
    assert node is not None
    vector = list(rf.evaluate(node, frame))
    reference = [rf.matches(node, {k: v for k, v in r.items() if v is not None}) for r in records]
    assert vector == reference
