"""The search_runs filter grammar; the same cases will run against the page's JavaScript.

FILTER_RUNS, FILTER_CASES and INVALID_FILTER_CASES are plain data (the one float NaN aside:
r3 logged metrics.rmse = NaN, which JSON has to spell some other way).
"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.core.errors import InvalidFilterError
from reporter.query import filter as rf

NAN = float("nan")


def _run(
    run_id: str,
    exp: str,
    name: str,
    status: str,
    start: Any,
    end: Any,
    user: str,
    stage: str = "active",
    /,
    **data: Any,
) -> dict[str, Any]:
    """One row of MLflow's search_runs frame, as plain data."""
    return {
        "run_id": run_id,
        "experiment_id": exp,
        "run_name": name,
        "status": status,
        "start_time": start,
        "end_time": end,
        "user_id": user,
        "artifact_uri": f"file:///store/{exp}/{run_id}/artifacts",
        "lifecycle_stage": stage,
        **data,
    }


# fmt: off
FILTER_RUNS: list[dict[str, Any]] = [
    _run("r1", "1", "alpha", "FINISHED", 1000, 1500, "ana", **{
        "metrics.rmse": 0.3, "metrics.val loss": 1.5,
        "params.depth": "8", "params.lr": "0.1",
        "tags.team": "forecast", "tags.reporter.git.commit": "abc123"}),
    _run("r2", "1", "beta", "FAILED", 2000, 2100, "bo", **{
        "metrics.rmse": 0.7,
        "params.depth": "4", "params.lr": "0.01",
        "tags.team": "Forecast"}),
    _run("r3", "1", "gamma_1", "FINISHED", 3000, 3900, "ana", **{
        "metrics.rmse": NAN,
        "params.depth": "8",
        "tags.team": "vision", "tags.note": "50% off (v2.0)?"}),
    _run("r4", "2", "delta.x", "RUNNING", 4000, None, "bo", **{
        "params.depth": "16", "params.lr": "0.1", "params.lr rate": "1e-3",
        "tags.reporter.git.commit": "def456"}),
    _run("r5", "2", "gamma%2", "KILLED", 5000, 5001, "cy", "deleted", **{
        "metrics.rmse": -0.001, "metrics.val loss": 0.5,
        "params.depth": "8",
        "tags.team": "it's"}),
    _run("r6", "2", "Epsilon", "SCHEDULED", None, None, "ana", **{
        "metrics.rmse": 2.0, "metrics.acc": 1.0,
        "params.depth": "08",
        "tags.team": "FORECAST", "tags.note": "a.b*c"}),
]
ALL = ["r1", "r2", "r3", "r4", "r5", "r6"]

FILTER_CASES: list[tuple[str, list[str]]] = [
    # no filter
    ("", ALL),
    ("   ", ALL),
    # metrics: numbers only; absent and logged NaN match no comparison
    ("metrics.rmse < 0.5", ["r1", "r5"]),
    ("metrics.rmse >= 0.3", ["r1", "r2", "r6"]),
    ("metrics.rmse != 0.3", ["r2", "r5", "r6"]),
    ("metric.rmse = -0.001", ["r5"]),
    ("metrics.rmse = -1e-3", ["r5"]),
    ("metrics.rmse <= .3", ["r1", "r5"]),
    ("metrics.rmse = 2", ["r6"]),
    ("metrics.rmse == 0.7", ["r2"]),
    ("metrics.rmse > -1e-2 AND metrics.rmse < 1E0", ["r1", "r2", "r5"]),
    ("metrics.rmse>0.5", ["r2", "r6"]),
    ("metrics.acc = 1", ["r6"]),
    ("metrics.rmse < 1 OR metrics.acc >= 1", ["r1", "r2", "r5", "r6"]),
    # params: strings
    ("params.depth = '8'", ["r1", "r3", "r5"]),
    ('params.depth = "8"', ["r1", "r3", "r5"]),
    ("param.depth != '8'", ["r2", "r4", "r6"]),
    ("params.depth <> '8'", ["r2", "r4", "r6"]),
    ("params.depth = '08'", ["r6"]),
    ("params.lr = '0.1'", ["r1", "r4"]),
    ("params.lr != '0.1'", ["r2"]),
    ("params.depth='8'AND metrics.rmse<-0.0001", ["r5"]),
    # AND binds tighter than OR; parentheses
    ("metrics.rmse < 0.5 and params.depth = '8'", ["r1", "r5"]),
    ("params.depth = '4' OR params.depth = '16'", ["r2", "r4"]),
    ("params.depth = '4' OR params.depth = '8' AND metrics.rmse < 0.5", ["r1", "r2", "r5"]),
    ("(params.depth = '4' OR params.depth = '8') AND metrics.rmse < 0.5", ["r1", "r5"]),
    ("metrics.rmse < 0.5 AND params.depth = '8' OR params.depth = '4'", ["r1", "r2", "r5"]),
    ("metrics.rmse < 0.5 AND (params.depth = '8' OR params.depth = '4')", ["r1", "r5"]),
    ("((params.depth = '8'))", ["r1", "r3", "r5"]),
    ("(metrics.rmse > 0.5 OR metrics.rmse < 0) AND "
     "(attributes.status = 'KILLED' OR attributes.status = 'FAILED')", ["r2", "r5"]),
    ("params.lr = '0.1' and tags.team = 'forecast' or attributes.status = 'KILLED'",
     ["r1", "r5"]),
    ("params.depth = '4'\n  OR\tparams.depth = '16'", ["r2", "r4"]),
    # IN / NOT IN
    ("params.depth IN ('4', '16')", ["r2", "r4"]),
    ("params.depth NOT IN ('4', '16')", ["r1", "r3", "r5", "r6"]),
    ("params.depth in ('8')", ["r1", "r3", "r5"]),
    ("params.lr NOT IN ('0.1')", ["r2"]),
    ("attributes.run_id IN ('r1', 'r4')", ["r1", "r4"]),
    ("attr.status IN ('FAILED', 'KILLED')", ["r2", "r5"]),
    # LIKE / ILIKE: % and _ are wildcards, everything else literal
    ("tags.team LIKE 'fore%'", ["r1"]),
    ("tags.team ILIKE 'FORE%'", ["r1", "r2", "r6"]),
    ("tags.team NOT LIKE 'fore%'", ["r2", "r3", "r5", "r6"]),
    ("tags.team NOT ILIKE 'fore%'", ["r3", "r5"]),
    ("tags.team LIKE '%e%'", ["r1", "r2"]),
    ("tags.team LIKE 'visio_'", ["r3"]),
    ("tags.team LIKE 'vision_'", []),
    ("attributes.run_name LIKE 'gamma_1'", ["r3"]),
    ("attributes.run_name LIKE 'gamma_%'", ["r3", "r5"]),
    ("attributes.run_name LIKE 'delta.x'", ["r4"]),
    ("attributes.run_name LIKE 'delta_x'", ["r4"]),
    ("attributes.run_name LIKE 'delt.*'", []),
    ("attributes.run_name ILIKE 'EPS%'", ["r6"]),
    ("tags.note LIKE '%(v2.0)?'", ["r3"]),
    ("tags.note LIKE 'a.b*c'", ["r6"]),
    ("tags.note LIKE 'a_b*c'", ["r6"]),
    ("tags.note LIKE 'a.b.c'", []),
    ("attributes.artifact_uri LIKE '%/r1/%'", ["r1"]),
    # quotes inside strings
    ("tags.team LIKE 'it''s'", ["r5"]),
    ("tags.team = 'it\\'s'", ["r5"]),
    ('tags.team = "it\'s"', ["r5"]),
    # attributes, aliases, bare attribute names (as MLflow)
    ("run.run_name = 'gamma%2'", ["r5"]),
    ("run_name = 'beta'", ["r2"]),
    ("attributes.status = 'FINISHED'", ["r1", "r3"]),
    ("attribute.status != 'FINISHED'", ["r2", "r4", "r5", "r6"]),
    ("attributes.start_time >= 3000", ["r3", "r4", "r5"]),
    ("attributes.created < 2500", ["r1", "r2"]),
    ("attributes.end_time > 2000", ["r2", "r3", "r5"]),
    ("attributes.run_uuid = 'r2'", ["r2"]),
    ("attributes.user_id = 'ana'", ["r1", "r3", "r6"]),
    ("attributes.experiment_id = '2'", ["r4", "r5", "r6"]),
    ("attributes.lifecycle_stage = 'deleted'", ["r5"]),
    # keys with dots, quoted keys
    ("tags.reporter.git.commit = 'abc123'", ["r1"]),
    ("tags.reporter.git.commit LIKE '%'", ["r1", "r4"]),
    ("tags.`reporter.git.commit` = 'def456'", ["r4"]),
    ("metrics.`val loss` > 1", ["r1"]),
    ('metrics."val loss" <= 1', ["r5"]),
    ("params.`lr rate` = '1e-3'", ["r4"]),
    ('params."lr rate" IS NOT NULL', ["r4"]),
    # IS NULL; a logged NaN is a value, an absent metric is not
    ("tags.team IS NULL", ["r4"]),
    ("tags.team IS NOT NULL", ["r1", "r2", "r3", "r5", "r6"]),
    ("metrics.rmse IS NULL", ["r4"]),
    ("metrics.rmse IS NOT NULL", ["r1", "r2", "r3", "r5", "r6"]),
    ("attributes.end_time IS NULL", ["r4", "r6"]),
    ("attributes.start_time IS NULL", ["r6"]),
    # a column no run has
    ("metrics.missing < 1", []),
    ("metrics.missing IS NULL", ALL),
    ("metrics.missing IS NOT NULL", []),
    ("tags.missing != 'x'", []),
    # keywords and entity names in any case
    ("PARAMS.depth = '8' And Metrics.rmse < 0.5 oR tags.team = 'vision'", ["r1", "r3", "r5"]),
    ("params.depth like '1%' OR params.depth Is Null", ["r4"]),
    ("params.depth not in ('8') and tags.team is not null", ["r2", "r6"]),
]

INVALID_FILTER_CASES: list[tuple[str, int, str]] = [
    # nesting that would exhaust the stack: a clear error at the 101st parenthesis
    ("(" * 1000 + "metrics.x > 0" + ")" * 1000, 100, "nested more than 100 deep"),
    # wrong value type
    ("metrics.rmse <", 14, "metrics.rmse expects a number, got end of text"),
    ("metrics.rmse < 'x'", 15, "metrics.rmse expects a number, got string 'x'"),
    ("params.depth = 8", 15, "params.depth expects a quoted string such as '8', got number 8"),
    ("attributes.start_time = 'x'", 24, "expects a number"),
    ("attributes.status = 1", 20, "expects a quoted string"),
    # comparator not valid for the type
    ("params.depth < '8'", 13, "params.depth does not support <; valid: =, !=, LIKE"),
    ("tags.team >= 'a'", 10, "does not support >="),
    ("attributes.status < 'a'", 18, "does not support <"),
    ("metrics.rmse LIKE '1%'", 13, "metrics.rmse does not support LIKE; valid: =, !=, <"),
    ("metrics.rmse IN ('1')", 13, "does not support IN"),
    ("attributes.start_time NOT IN ('1')", 22, "does not support NOT IN"),
    # identifiers
    ("rmse < 1", 0, "expected an identifier such as metrics.rmse"),
    ("foo.rmse < 1", 0, "unknown entity 'foo'; valid: metrics, params, tags, attributes"),
    ("attributes.colour = 'x'", 11, "unknown attribute 'colour'; valid: run_id, run_name"),
    ("metrics. < 1", 8, "expected a key after 'metrics.'"),
    ("metrics.`val loss > 1", 8, "unterminated `-quoted text"),
    ("`val loss` > 1", 0, "backtick-quoted key must follow its entity"),
    ("NOT params.depth = '8'", 0, "expected an identifier"),
    # comparators
    ("metrics.rmse foo 1", 13,
     "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN, "
     "IS NULL), got 'foo'"),
    ("params.depth NOT = '8'", 13, "expected a comparator"),
    ("metrics.rmse ~ 1", 13, "unexpected character '~'"),
    ("metrics.rmse = !1", 15, "unexpected character '!'"),
    ("tags.x IS 'a'", 10, "expected NULL or NOT NULL, got string 'a'"),
    ("tags.x IS NOT 'a'", 14, "expected NULL, got string 'a'"),
    # values
    ("metrics.rmse < 1.2.3", 15, "malformed number"),
    ("metrics.rmse < 1x", 15, "malformed number"),
    ("params.depth = 'unterminated", 15, "unterminated '-quoted text"),
    ("params.depth IN '8'", 16, "expected '(' to start a list of quoted strings"),
    ("params.depth IN ('8' '4')", 21, "expected ',' or ')', got string '4'"),
    ("params.depth IN ()", 17, "expected a quoted string, got ')'"),
    ("params.depth IN (8)", 17, "expected a quoted string, got number 8"),
    # boolean structure
    ("metrics.rmse < 1 and", 20, "expected an identifier"),
    ("metrics.rmse < 1 OR", 19, "got end of text"),
    ("params.depth = '8' AND OR params.lr = '1'", 23, "expected an identifier"),
    ("metrics.rmse < 1 params.depth = '8'", 17, "expected AND, OR or the end of the filter"),
    ("(metrics.rmse < 1", 17, "expected AND, OR or ')', got end of text"),
    ("metrics.rmse < 1)", 16, "expected AND, OR or the end of the filter, got ')'"),
    ("()", 1, "expected an identifier"),
]
# fmt: on


def nullable_floats(values: list[Any], dtype: str) -> Any:
    """A float column where None is <NA> (absent) and NaN stays NaN (a logged NaN)."""
    if dtype == "double[pyarrow]":
        return pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.float64()))
    data = np.array([NAN if v is None else v for v in values], dtype="float64")
    return pd.arrays.FloatingArray(data, np.array([v is None for v in values]))


def make_frame(records: list[dict[str, Any]], metric_dtype: str = "Float64") -> pd.DataFrame:
    """Build a search_runs frame whose metric columns keep absent and NaN apart."""
    frame = pd.DataFrame.from_records(records)
    for col in frame.columns:
        if col.startswith("metrics."):
            frame[col] = nullable_floats([r.get(col) for r in records], metric_dtype)
    return frame


@pytest.fixture(scope="module", params=["Float64", "double[pyarrow]"])
def frame(request: pytest.FixtureRequest) -> pd.DataFrame:
    return make_frame(FILTER_RUNS, request.param)


def test_cases_are_plain_data():
    assert len(FILTER_RUNS) == 6 and len({r["run_id"] for r in FILTER_RUNS}) == 6
    for text, expected in FILTER_CASES:
        assert isinstance(text, str) and expected == [r for r in ALL if r in expected]
    assert len({text for text, _ in FILTER_CASES}) == len(FILTER_CASES)


@pytest.mark.parametrize(("text", "expected"), FILTER_CASES)
def test_filter_cases(frame, text, expected):
    assert list(rf.filter_frame(frame, text)["run_id"]) == expected
    node = rf.parse_filter(text)
    assert [r["run_id"] for r in FILTER_RUNS if node is None or rf.matches(node, r)] == expected


@pytest.mark.parametrize(("text", "position", "fragment"), INVALID_FILTER_CASES)
def test_invalid_filters_name_position_and_expectation(text, position, fragment):
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_filter(text)
    message = str(err.value)
    assert message.startswith(f"Invalid filter at position {position}: ")
    assert fragment in message
    assert err.value.position == position and err.value.text == text


def test_error_message_shows_text_and_caret():
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_filter("metrics.rmse < 1\tfoo")
    lines = str(err.value).splitlines()
    assert lines[1:] == ["  metrics.rmse < 1 foo", "                   ^"]
    assert lines[2].index("^") - 2 == err.value.position == 17


def test_parse_tree_precedence_and_shape():
    text = "params.a = '1' OR params.b = '1' AND params.c = '1'"
    a, b, c = (
        rf.Comparison("params", k, "=", "1", pos) for k, pos in [("a", 0), ("b", 18), ("c", 37)]
    )
    assert rf.parse_filter(text) == rf.Or((a, rf.And((b, c))))
    paren = "(params.a = '1' OR params.b = '1') AND params.c = '1'"
    node = rf.parse_filter(paren)
    assert isinstance(node, rf.And) and isinstance(node.children[0], rf.Or)
    flat = rf.parse_filter("params.a = '1' and params.b = '1' AND params.c = '1'")
    assert isinstance(flat, rf.And) and len(flat.children) == 3


def test_parsed_values_and_keys():
    node = rf.parse_filter("metrics.`my metric` >= -1.5e2")
    assert node == rf.Comparison("metrics", "my metric", ">=", -150.0, 0)
    node = rf.parse_filter("""params."it""s" IN ('a''b', "c\\"d", 'e\\\\f')""")
    assert node == rf.Comparison("params", 'it"s', "IN", ("a'b", 'c"d', "e\\f"), 0)
    node = rf.parse_filter("tags.reporter.git.commit IS NOT NULL")
    assert node == rf.Comparison("tags", "reporter.git.commit", "IS NOT NULL", None, 0)
    node = rf.parse_filter("attr.created > 5")
    assert node == rf.Comparison("attributes", "start_time", ">", 5.0, 0)
    assert node.column == "start_time"


def test_keywords_are_case_insensitive():
    upper = rf.parse_filter("params.a NOT ILIKE 'x' AND tags.b IS NOT NULL OR params.c IN ('1')")
    lower = rf.parse_filter("params.a not ilike 'x' and tags.b is not null or params.c in ('1')")
    assert upper == lower


def test_none_blank_and_non_string():
    assert rf.parse_filter(None) is None and rf.parse_filter(" \n") is None
    with pytest.raises(InvalidFilterError, match="must be a string"):
        rf.parse_filter(3)  # type: ignore[arg-type]
    frame = make_frame(FILTER_RUNS)
    assert rf.evaluate(None, frame).tolist() == [True] * 6
    assert rf.filter_frame(frame, None)["run_id"].tolist() == ALL


def test_column_for():
    assert rf.column_for("metrics", "rmse") == "metrics.rmse"
    assert rf.column_for("metric", "val loss") == "metrics.val loss"
    assert rf.column_for("tags", "reporter.git.commit") == "tags.reporter.git.commit"
    assert rf.column_for("attributes", "status") == "status"
    assert rf.column_for("run", "run_uuid") == "run_id"
    with pytest.raises(InvalidFilterError, match="Unknown entity 'foo'"):
        rf.column_for("foo", "x")


def test_evaluate_keeps_the_frame_index(frame):
    shuffled = frame.iloc[::-1].set_axis([10, 20, 30, 40, 50, 60])
    mask = rf.evaluate(rf.parse_filter("params.depth = '8'"), shuffled)
    assert mask.dtype == bool and list(mask.index) == [10, 20, 30, 40, 50, 60]
    assert list(shuffled[mask]["run_id"]) == ["r5", "r3", "r1"]
    assert rf.filter_frame(frame.iloc[:0], "params.depth = '8'").empty


def test_plain_float64_frame_cannot_tell_logged_nan_from_absent():
    frame = pd.DataFrame.from_records(FILTER_RUNS)  # metrics.* become float64, NaN for both
    assert frame["metrics.rmse"].dtype == "float64"
    assert list(rf.filter_frame(frame, "metrics.rmse IS NULL")["run_id"]) == ["r3", "r4"]
    assert list(rf.filter_frame(frame, "metrics.rmse != 0.3")["run_id"]) == ["r2", "r5", "r6"]


def test_matches_on_rows():
    node = rf.parse_filter("metrics.m IS NOT NULL")
    assert node is not None
    assert rf.matches(node, {"metrics.m": NAN})  # a logged NaN
    assert not rf.matches(node, {"metrics.m": None}) and not rf.matches(node, {})
    assert not rf.matches(node, {"metrics.m": pd.NA})
    neq = rf.parse_filter("metrics.m != 1")
    assert neq is not None and not rf.matches(neq, {"metrics.m": NAN})
    tag = rf.parse_filter("tags.t IS NULL")
    assert tag is not None and rf.matches(tag, {"tags.t": NAN}) and rf.matches(tag, {})
    assert isinstance(neq, rf.Comparison) and neq.matches({"metrics.m": 2.0})


def test_import_does_not_load_pandas():
    code = "import sys, reporter.query.filter; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# order_by ------------------------------------------------------------------------------------
# order_by clauses of every form (the page's port runs them too: tests/site/test_filter_js.py)
ORDER_BY_CLAUSES = [
    "metrics.rmse",
    "metrics.rmse DESC",
    "attributes.start_time desc",
    "params.`a b` asc",
    "tags.reporter.git.commit",
    "start_time ASC",
    "attr.created DESC",
    'metric."val loss"',
    "  run.run_uuid   Desc ",
]


def test_parse_order_by():
    assert rf.parse_order_by(None) == [] and rf.parse_order_by([]) == []
    assert rf.parse_order_by(ORDER_BY_CLAUSES) == [
        ("metrics.rmse", True),
        ("metrics.rmse", False),
        ("start_time", False),
        ("params.a b", True),
        ("tags.reporter.git.commit", True),
        ("start_time", True),
        ("start_time", False),
        ("metrics.val loss", True),
        ("run_id", False),
    ]


@pytest.mark.parametrize(
    ("clause", "position", "fragment"),
    [
        ("metrics.rmse UP", 13, "expected ASC, DESC or the end of the clause, got 'UP'"),
        ("metrics.rmse DESC extra", 18, "expected ASC, DESC or the end of the clause"),
        ("rmse", 0, "expected an identifier"),
        ("", 0, "expected an identifier"),
        ("attributes.colour", 11, "unknown attribute 'colour'"),
        ("foo.bar DESC", 0, "unknown entity 'foo'"),
        ("metrics.my metric", 11, "got 'metric'"),
    ],
)
def test_invalid_order_by(clause, position, fragment):
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_order_by(["metrics.rmse", clause])
    assert str(err.value).startswith(f"Invalid order_by clause at position {position}: ")
    assert fragment in str(err.value)
    assert err.value.position == position and err.value.text == clause


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        (None, ["r5", "r4", "r3", "r2", "r1", "r6"]),  # start_time DESC, missing last
        (["metrics.rmse ASC"], ["r5", "r1", "r2", "r6", "r4", "r3"]),  # NaN, absent last
        (["metrics.rmse DESC"], ["r6", "r2", "r1", "r5", "r4", "r3"]),
        (["params.depth DESC", "attributes.run_name"], ["r1", "r5", "r3", "r2", "r4", "r6"]),
        (["params.depth DESC"], ["r5", "r3", "r1", "r2", "r4", "r6"]),  # ties: newest first
        (["tags.team"], ["r6", "r2", "r1", "r5", "r3", "r4"]),
        (["tags.team DESC"], ["r3", "r5", "r1", "r2", "r6", "r4"]),
        (["attributes.status"], ["r2", "r3", "r1", "r5", "r4", "r6"]),
        (["attributes.end_time DESC"], ["r5", "r3", "r2", "r1", "r4", "r6"]),
        (["metrics.missing DESC"], ["r5", "r4", "r3", "r2", "r1", "r6"]),
        (["attributes.start_time"], ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ],
)
def test_sort_frame(frame, clauses, expected):
    ordered = rf.sort_frame(frame, clauses)
    assert list(ordered["run_id"]) == expected
    assert list(ordered.columns) == list(frame.columns)
    plain = pd.DataFrame.from_records(FILTER_RUNS)  # float64 metrics, object strings
    assert list(rf.sort_frame(plain, clauses)["run_id"]) == expected


def test_sort_frame_numbers_numerically_strings_lexicographically():
    frame = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "start_time": [1.0, 1.0, 1.0, 1.0],
            "metrics.m": [10.0, 9.0, 100.0, NAN],
            "params.p": ["10", "9", "100", None],
        },
        index=[7, 5, 3, 1],
    )
    by_metric = rf.sort_frame(frame, ["metrics.m"])
    assert list(by_metric["run_id"]) == ["b", "a", "c", "d"]
    assert list(by_metric.index) == [5, 7, 3, 1]
    assert list(rf.sort_frame(frame, ["params.p"])["run_id"]) == ["a", "c", "b", "d"]
    assert list(rf.sort_frame(frame, ["params.p DESC"])["run_id"]) == ["b", "c", "a", "d"]
    assert rf.sort_frame(frame.iloc[:0], ["metrics.m"]).empty


# properties ----------------------------------------------------------------------------------
TEXTS = ["a", "b", "ab", "A", "%", "a_b", "a.b", "it's", 'q"t', "(x)*", "\\"]
MISSING = object()  # the row has no such key at all
ROW_VALUES = {
    "metrics.a": st.one_of(st.none(), st.just(NAN), st.floats(-5, 5, allow_nan=False)),
    "metrics.b c": st.one_of(st.none(), st.just(MISSING), st.sampled_from([0.0, -1.0, math.inf])),
    "params.p": st.one_of(st.none(), st.just(MISSING), st.sampled_from(TEXTS)),
    "tags.t.u": st.one_of(st.none(), st.text(alphabet="ab_%.'*", max_size=3)),
    "status": st.one_of(st.none(), st.sampled_from(["FINISHED", "FAILED", "finished"])),
    "start_time": st.one_of(st.none(), st.integers(0, 3)),
}
ROWS = st.fixed_dictionaries(ROW_VALUES).map(
    lambda row: {k: v for k, v in row.items() if v is not MISSING}
)
NUMERIC_KEYS = ["metrics.a", "metrics.`b c`", "metrics.absent", "attributes.start_time"]
STRING_KEYS = ['params."p"', "tags.t.u", "tags.absent", "attributes.status", "run_id"]


def quote(value: str, style: str) -> str:
    """Quote a string literal in one of the accepted styles (a backslash escapes itself)."""
    value = value.replace("\\", "\\\\")
    if style == "double":
        return '"' + value.replace('"', '""') + '"'
    if style == "backslash":
        return "'" + value.replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    """A random comparison that parses."""
    numeric = draw(st.booleans())
    key = draw(st.sampled_from(NUMERIC_KEYS if numeric else STRING_KEYS))
    ops = list(rf.NUMERIC_OPS if numeric else rf.STRING_OPS) + list(rf.NULL_OPS)
    op = draw(st.sampled_from(ops))
    op = draw(st.sampled_from([op, op.lower()]))
    if op.upper().endswith("NULL"):
        return f"{key} {op}"
    if numeric:
        return f"{key} {op} {draw(st.sampled_from(['0', '1', '-1.5', '2e0', '.5', '3']))}"
    style = draw(st.sampled_from(["single", "double", "backslash"]))
    if op.upper().endswith("IN"):
        items = draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3))
        return f"{key} {op} ({', '.join(quote(i, style) for i in items)})"
    return f"{key} {op} {quote(draw(st.sampled_from([*TEXTS, 'a%', '%b', '_', 'A%'])), style)}"


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> str:
    """A random filter of comparisons joined by AND/OR, with or without parentheses."""
    if depth > 2 or draw(st.booleans()):
        return draw(comparisons())
    joiner = draw(st.sampled_from([" AND ", " OR ", " and ", " or "]))
    parts = draw(st.lists(filters(depth + 1), min_size=2, max_size=3))
    text = joiner.join(parts)
    return f"({text})" if draw(st.booleans()) else text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ROWS, min_size=1, max_size=8),
    filters(),
    st.sampled_from(["Float64", "double[pyarrow]"]),
)
def test_evaluate_agrees_with_matches(records, text, metric_dtype):
    records = [{**r, "run_id": f"r{i}"} for i, r in enumerate(records)]
    frame = make_frame(records, metric_dtype)
    node = rf.parse_filter(text)
    assert node is not None
    assert list(rf.evaluate(node, frame)) == [rf.matches(node, r) for r in records]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("metrics.pa_ AND OR()'\"`=<>!-1e.%,IS NULL")))
       | st.text(max_size=30))  # fmt: skip
def test_parser_fails_only_with_invalid_filter_error(text):
    try:
        rf.parse_filter(text)
    except InvalidFilterError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
        assert err.text == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.sampled_from(["single", "double", "backslash"]))
def test_string_literals_round_trip(value, style):
    node = rf.parse_filter(f"params.p = {quote(value, style)}")
    assert isinstance(node, rf.Comparison) and node.value == value


@given(st.text(max_size=20).filter(lambda s: "%" not in s and "_" not in s))
def test_like_without_wildcards_is_equality(value):
    assert rf.like_pattern(value).matches(value)
    assert not rf.like_pattern(value).matches(value + "x")
    assert rf.like_pattern("%" + value + "%").matches("<" + value + ">")


def test_a_hundred_nested_parentheses_still_parse():
    node = rf.parse_filter("(" * 100 + "metrics.x > 0" + ")" * 100)
    assert isinstance(node, rf.Comparison)


def _like_by_regex(pattern: str, text: str, ignore_case: bool) -> bool:
    """SQL LIKE as a backtracking regex: the reference the linear matcher must agree with."""
    import re

    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(parts), text, flags) is not None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab%_", max_size=8), st.text(alphabet="abAB", max_size=10), st.booleans())
def test_like_agrees_with_the_regex_reference(pattern, text, ignore_case):
    expected = _like_by_regex(pattern, text.lower() if ignore_case else text, ignore_case)
    assert rf.like_pattern(pattern, ignore_case).matches(text) == expected


def test_like_with_many_wildcards_cannot_blow_up():
    """'%a%a...%b' against long runs of 'a': a backtracking regex takes exponential time (8x per
    %); the segment matcher answers at once. Run in a thread so a regression fails, not hangs."""
    import threading

    pattern = "%a" * 12 + "%b"
    texts = ["a" * n for n in range(2000, 2020)] + ["a" * 2000 + "b"]
    got: list[list[bool]] = []
    worker = threading.Thread(
        target=lambda: got.append([rf.like_pattern(pattern).matches(t) for t in texts]),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=120)
    assert got == [[False] * 20 + [True]]
