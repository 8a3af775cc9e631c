"""themes/default/static/filter.js against reporter/store/filter.py, its reference.

Every FILTER_CASES and INVALID_FILTER_CASES entry of tests/test_filter.py runs in headless
Chromium: the same matching run ids in the same order, and for bad filters the same position,
the same text and the same message, caret lines included. Each page.evaluate runs a whole batch,
and every JavaScript answer is compared with what Python answers for the same input (not only
with the recorded expectation), plus a seeded batch of generated filters and rows.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from reporter.core.errors import InvalidFilterError
from reporter.query import filter as rf
from tests import test_filter as cases
from tests.site.browser import launch
from tests.test_filter import (
    FILTER_CASES,
    FILTER_RUNS,
    INVALID_FILTER_CASES,
    ORDER_BY_CLAUSES,
)

FILTER_JS = Path(__file__).resolve().parents[2] / "themes" / "default" / "static" / "filter.js"

# r3 logged metrics.rmse = NaN. Rows sent as JSON with that NaN turned into null make it an
# absent value, so exactly the cases that tell a logged NaN from an absent value change: IS NULL
# now holds for r3 and IS NOT NULL no longer does. Python answers the same for the same rows (it
# is checked below); only the recorded expectation, written for a logged NaN, differs.
NAN_DEPENDENT = {"metrics.rmse IS NULL", "metrics.rmse IS NOT NULL"}

# One batch: parse each text; on success the node and, per row set, the ids filterRows keeps
# (and the ids matches() keeps, which must agree); on failure the FilterError's fields.
RUN_BATCH = """([texts, rowSets]) => texts.map(text => {
  const TF = window.TrackerFilter;
  try {
    const node = TF.parse(text);
    const ids = rowSets.map(rows => TF.filterRows(rows, text).map(r => r.run_id));
    const viaMatches = rowSets.map(rows =>
      rows.filter(r => TF.matches(node, r)).map(r => r.run_id));
    if (JSON.stringify(ids) !== JSON.stringify(viaMatches)) return {crash: 'filterRows != matches'};
    return {node, ids};
  } catch (e) {
    if (!(e instanceof TF.FilterError && e instanceof Error)) return {crash: String(e.stack || e)};
    return {error: {message: e.message, position: e.position, text: e.text}};
  }
})"""

ORDER_BATCH = """(batches) => batches.map(clauses => {
  const TF = window.TrackerFilter;
  try {
    return {order: TF.parseOrderBy(clauses)};
  } catch (e) {
    if (!(e instanceof TF.FilterError)) return {crash: String(e && e.stack || e)};
    return {error: {message: e.message, position: e.position, text: e.text}};
  }
})"""


# --- the Python side ----------------------------------------------------------------------
def node_json(node: rf.Node | None) -> Any:
    """A parsed filter as the JavaScript represents it."""
    if node is None:
        return None
    if isinstance(node, rf.Comparison):
        value = list(node.value) if isinstance(node.value, tuple) else node.value
        return {
            "type": "comparison",
            "entity": node.entity,
            "key": node.key,
            "op": node.op,
            "value": value,
            "position": node.position,
            "column": node.column,
        }
    kind = "and" if isinstance(node, rf.And) else "or"
    return {"type": kind, "children": [node_json(c) for c in node.children]}


def error_json(err: InvalidFilterError) -> dict[str, Any]:
    """The fields a FilterError must repeat."""
    return {"message": str(err), "position": err.position, "text": err.text}


def python_batch(
    texts: Sequence[str | None], row_sets: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """What RUN_BATCH must answer, computed with the reference implementation."""
    out: list[dict[str, Any]] = []
    for text in texts:
        try:
            node = rf.parse_filter(text)
        except InvalidFilterError as err:
            out.append({"error": error_json(err)})
            continue
        ids = [
            [r["run_id"] for r in rows if node is None or rf.matches(node, r)] for rows in row_sets
        ]
        out.append({"node": node_json(node), "ids": ids})
    return out


def python_order(batches: list[Any]) -> list[dict[str, Any]]:
    """What ORDER_BATCH must answer."""
    out: list[dict[str, Any]] = []
    for clauses in batches:
        try:
            out.append({"order": [list(pair) for pair in rf.parse_order_by(clauses)]})
        except InvalidFilterError as err:
            out.append({"error": error_json(err)})
    return out


def without_nan(rows: list[dict[str, Any]], spelling: Any) -> list[dict[str, Any]]:
    """Rows with every float NaN replaced (None: absent; "NaN": a string float() reads)."""
    return [
        {k: spelling if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in rows
    ]


def as_json(rows: list[dict[str, Any]]) -> Any:
    """The rows as a page would read them from an inline JSON block."""
    return json.loads(json.dumps(rows, allow_nan=False))


def compare(js: list[dict[str, Any]], py: list[dict[str, Any]], texts: list[Any]) -> None:
    """Assert the batches agree, naming the first few texts that do not."""
    crashes = [(t, j["crash"]) for t, j in zip(texts, js) if "crash" in j]
    assert not crashes
    wrong = [(t, j, p) for t, j, p in zip(texts, js, py) if j != p]
    assert len(js) == len(py) == len(texts)
    assert not wrong, "\n\n".join(f"{t!r}\n  js: {j}\n  py: {p}" for t, j, p in wrong[:5])


# --- the browser ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as chromium:
        yield chromium


PAGE_ERRORS: list[str] = []  # uncaught exceptions and console errors of the shared page


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    """A blank page with filter.js loaded (its errors land in PAGE_ERRORS)."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.on("pageerror", lambda exc: PAGE_ERRORS.append(str(exc)))

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                PAGE_ERRORS.append(msg.text)

        tab.on("console", on_console)
        tab.set_content("<html><body></body></html>")
        tab.add_script_tag(path=str(FILTER_JS))
        yield tab
    finally:
        context.close()


# --- FILTER_CASES ---------------------------------------------------------------------------
def test_filter_cases_with_nan_as_json_null(page):
    rows = as_json(without_nan(FILTER_RUNS, None))
    texts = [text for text, _ in FILTER_CASES]
    js = page.evaluate(RUN_BATCH, [texts, [rows]])
    compare(js, python_batch(texts, [rows]), texts)
    differs = {t for (t, expected), j in zip(FILTER_CASES, js) if j["ids"][0] != expected}
    assert differs == NAN_DEPENDENT
    for text, expected in FILTER_CASES:
        if text in NAN_DEPENDENT:  # r3's NaN read as absent: IS NULL gains r3, IS NOT NULL loses it
            flip = [r for r in cases.ALL if (r in expected) != (r == "r3")]
            assert js[texts.index(text)]["ids"][0] == flip


def test_filter_cases_keep_a_logged_nan(page):
    """A NaN the page still has (Playwright passes NaN), or spelled "NaN" in JSON, is a logged
    NaN: every case gives exactly its recorded run ids."""
    native = FILTER_RUNS  # Playwright serialises float NaN as a JavaScript NaN
    spelled = as_json(without_nan(FILTER_RUNS, "NaN"))
    texts = [text for text, _ in FILTER_CASES]
    js = page.evaluate(RUN_BATCH, [texts, [native, spelled]])
    compare(js, python_batch(texts, [native, spelled]), texts)
    for (text, expected), answer in zip(FILTER_CASES, js):
        assert answer["ids"] == [expected, expected], text


# --- INVALID_FILTER_CASES -------------------------------------------------------------------
def test_invalid_filter_cases(page):
    texts = [text for text, _, _ in INVALID_FILTER_CASES]
    js = page.evaluate(RUN_BATCH, [texts, []])
    compare(js, python_batch(texts, []), texts)
    for (text, position, fragment), answer in zip(INVALID_FILTER_CASES, js):
        error = answer["error"]
        assert error["position"] == position and error["text"] == text
        assert error["message"].startswith(f"Invalid filter at position {position}: ")
        assert fragment in error["message"]
        assert error["message"].splitlines()[-1] == "  " + " " * position + "^"


# --- more texts: parse trees, quoting, numbers, Unicode, JavaScript's own pitfalls ----------
EXTRA_TEXTS = [
    # parse trees and values (test_parse_tree_precedence_and_shape and friends)
    "params.a = '1' OR params.b = '1' AND params.c = '1'",
    "(params.a = '1' OR params.b = '1') AND params.c = '1'",
    "params.a = '1' and params.b = '1' AND params.c = '1'",
    "metrics.`my metric` >= -1.5e2",
    """params."it""s" IN ('a''b', "c\\"d", 'e\\\\f')""",
    "tags.reporter.git.commit IS NOT NULL",
    "attr.created > 5",
    "params.a NOT ILIKE 'x' AND tags.b IS NOT NULL OR params.c IN ('1')",
    "params.a not ilike 'x' and tags.b is not null or params.c in ('1')",
    "metrics.rmse < 1\tfoo",
    "params.p = 'a\nb' AND",
    "\u00a0params.depth\u2003=\u3000'8'\u0085",
    None,
    " \n",
    # aliases, quoted keys, bare attributes
    "attributes.`Run Name` = 'beta'",
    "run.\"run name\" LIKE 'b%'",
    "attributes.'run_uuid' = 'r1'",
    "Created > 2500",
    "created > 2500",
    "run_uuid = 'r1'",
    "CREATED > 2500",
    "parent_run_id IS NULL",
    "metrics.`a``b` = 1",
    "metrics.`a\\`b` = 1",
    "metrics.`` = 1",
    "metrics.'' = 1",
    "params.x.y.z = 'a' OR tags.a.b.c IS NULL",
    "metrics.a.`b` = 1",
    "metrics.a.b`c = 1",
    "ATTRIBUTES.status = 'FAILED'",
    "Tag.team = 'vision'",
    "tags.team=\"vision\"OR(params.depth='4')",
    # numbers
    "metrics.rmse = +.5",
    "metrics.rmse > 1.",
    "metrics.rmse > -.5e-1",
    "metrics.rmse < 1e999",
    "metrics.rmse > -1E+999",
    "metrics.rmse = 1e",
    "metrics.rmse = 1e+",
    "metrics.rmse = 1_0",
    "metrics.rmse = -",
    "metrics.rmse = -x",
    "metrics.rmse = .",
    "metrics.rmse = ..5",
    "metrics.rmse = +-1",
    "metrics.rmse = 0x10",
    "metrics.rmse = 00.300",
    "metrics.rmse < \u0661.\u0665",
    "metrics.rmse < \u0661\u066b\u0665",
    "attributes.start_time >= \u0663\u0660\u0660\u0660",
    "metrics.rmse < \u00b2",
    "metrics.rmse < 1\u00b2",
    "metrics.rmse < 1\u0e51",
    # keywords and odd characters
    "tags.team \u0131s null",
    "tags.team \u0130S NULL",
    "tags.team is \ufb00",
    "params.depth \u0131n ('8')",
    "params.depth NOT \u0131lIKE '8'",
    "params.p = 'x' \u200b",
    "params.p = 'x' \x00",
    "params.p = 'x' \x7f",
    "params.p = 'x' \U0001f600",
    "params.\U0001f600 = 'x' AND foo",
    "tags.\u043a\u043b\u044e\u0447 = '\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435' OR x",
    "\u00e9t\u00e9.x = 'a'",
    "_x.y = 'a'",
    "x1.y = 'a'",
    "\u0661x.y = 'a'",
    "\u2167.y = 'a'",
    "metrics.rmse ~ 1",
    "metrics.rmse = @",
    "metrics.rmse = '\u00ff\u0100\U00010000'",
    "params.p = 'a' AND 'it''s'",
    'params.p = \'a\' AND "say ""hi"""',
    "params.p = 'a' AND \"\\\\\"",
    "params.p = 'a' AND '\t\n\r\x1b\x85\u2028\ud7ff\ue000'",
    "params.p = 'a' AND 'caf\u00e9 \u00a0 \u00ad \u0378 \U000e0001'",
    "params.p IN ('a',)",
    "params.p IN ('a'",
    "params.p IN",
    "params.p NOT",
    "params.p NOT = 'a'",
    "params.p IS",
    "params.p IS NOT",
    "params.p = 'a' AND (params.q = 'b' OR (params.r = 'c'))",
    "params.p = 'a' AND (params.q = 'b' OR (params.r = 'c')",
    "NOT",
    "(",
    ")",
    "a.b",
    ".",
    "`",
    "'",
    '"',
    "metrics.",
    "metrics.=1",
    "metrics.rmse",
    # keys that are Object.prototype members
    "constructor = 'x'",
    "__proto__ = 'x'",
    "toString.x = 'x'",
    "__proto__.x = 'x'",
    "attributes.constructor = 'x'",
    "attributes.__proto__ = 'x'",
    "attributes.hasOwnProperty = 'x'",
    "params.constructor = 'x' OR params.__proto__ IS NULL",
    "tags.valueOf IS NOT NULL",
    # values read from rows of other types (EXTRA_ROWS)
    "attributes.start_time > 5",
    "attributes.start_time = 10",
    "attributes.start_time < 2",
    "attributes.start_time >= 12",
    "attributes.start_time IS NULL",
    "attributes.status = '3'",
    "attributes.status IN ('True', '0.5', '1e+16', '-2', 'nan', 'inf')",
    "attributes.status LIKE '1%'",
    "metrics.m > 0",
    "metrics.m IS NOT NULL",
    "metrics.m != 1",
    "params.p IS NULL",
    "tags.t ILIKE 's'",
    "tags.t ILIKE 'S'",
    "tags.t ILIKE '\u017f'",
    "tags.t ILIKE 'i'",
    "tags.t ILIKE '\u0130'",
    "tags.t ILIKE '\u0131'",
    "tags.t ILIKE 'k'",
    "tags.t ILIKE '\u00df'",
    "tags.t ILIKE '\u1e9e'",
    "tags.t ILIKE '\u03c3'",
    "tags.t ILIKE '\u00b5'",
    "tags.t ILIKE '\u1fb3'",
    "tags.t LIKE '_'",
    "tags.t LIKE '__'",
    "tags.t LIKE '%\n%'",
    "tags.t ILIKE '%\U0001f600'",
    "tags.t NOT ILIKE '%s%'",
    "tags.t LIKE '%%_%%'",
]

EXTRA_ROWS: list[dict[str, Any]] = [
    {"run_id": "x1", "start_time": "12", "status": 3, "metrics.m": "NaN", "tags.t": "\u017f"},
    {"run_id": "x2", "start_time": " 1_0 ", "status": True, "metrics.m": "inf", "tags.t": "S"},
    {"run_id": "x3", "start_time": "\u0661\u0662", "status": 0.5, "metrics.m": -1, "tags.t": "i"},
    {"run_id": "x4", "start_time": "inf", "status": 1e16, "metrics.m": "1e3", "tags.t": "\u0130"},
    {"run_id": "x5", "start_time": True, "status": -2, "metrics.m": " 2 ", "tags.t": "\u0131"},
    {"run_id": "x6", "start_time": "abc", "status": "nan", "metrics.m": "x", "tags.t": "\u212a"},
    {"run_id": "x7", "start_time": "1__0", "status": 1.5e-7, "metrics.m": False, "tags.t": "ss"},
    {"run_id": "x8", "start_time": "\u00b2", "status": 123.25, "metrics.m": 1, "tags.t": "\u1e9e"},
    {"run_id": "x9", "start_time": 7.5, "status": "inf", "metrics.m": "-0", "tags.t": "\u00df"},
    {"run_id": "x10", "start_time": "1e", "status": 0, "tags.t": "\u03c2", "params.p": ""},
    {"run_id": "x11", "start_time": "\u20001.5", "status": "x", "tags.t": "\u03bc"},
    {"run_id": "x12", "start_time": "+nan", "status": 1e-5, "tags.t": "\u1fbc"},
    {"run_id": "x13", "start_time": "-Infinity", "tags.t": "a\nb"},
    {"run_id": "x14", "start_time": "1.e2", "tags.t": "x\U0001f600"},
    {"run_id": "x15", "start_time": "._1", "tags.t": "\U0001f600"},
    {"run_id": "x16", "tags.t": "k"},
    {"run_id": "x17", "tags.t": "K"},
    {"run_id": "x18", "tags.t": "I"},
    {"run_id": "x19", "tags.t": "\u00b5"},
    {"run_id": "x20", "tags.t": "\u1fb3"},
]


def test_extra_texts_and_rows(page):
    row_sets = [as_json(EXTRA_ROWS), FILTER_RUNS]
    js = page.evaluate(RUN_BATCH, [EXTRA_TEXTS, row_sets])
    compare(js, python_batch(EXTRA_TEXTS, row_sets), EXTRA_TEXTS)


def test_non_string_filters(page):
    got = page.evaluate(
        """() => [3, 1.5, true, [], {}].map(v => {
             try { TrackerFilter.parse(v); return null; }
             catch (e) { return [e instanceof TrackerFilter.FilterError, e.message, e.position]; }
           })"""
    )
    names = ["int", "float", "bool", "list", "dict"]
    assert got == [[True, f"filter_string must be a string, got {n}", None] for n in names]
    value: object
    for value in (3, 1.5, True, [], {}):
        with pytest.raises(InvalidFilterError, match="must be a string") as err:
            rf.parse_filter(value)  # type: ignore[arg-type]
        assert err.value.position is None


def test_filter_rows_without_a_filter(page):
    got = page.evaluate(
        """rows => [null, undefined, '', ' \\n'].map(t =>
             TrackerFilter.filterRows(rows, t).map(r => r.run_id))
             .concat([[TrackerFilter.matches(null, rows[0])]])""",
        as_json(without_nan(FILTER_RUNS, None)),
    )
    assert got == [cases.ALL] * 4 + [[True]]


# --- generated filters and rows ---------------------------------------------------------------
GARBAGE = [
    *"metrics.pa_ AND OR()'\"`=<>!-1e.%,IS NULL",
    "\u017f",
    "\u0131",
    "\u0130",
    "\u0661",
    "\u00b2",
    "\U0001f600",
    "\u200b",
    "\u00a0",
    "\t",
    "\\",
    "tags.",
    "params.",
    "attr.",
    " LIKE ",
    " IN ",
    " NOT ",
]
TEXTS = [
    "a",
    "b",
    "ab",
    "A",
    "%",
    "a_b",
    "a.b",
    "it's",
    'q"t',
    "(x)*",
    "\\",
    "\u017f",
    "S",
    "\u00df",
]
NUMERIC_KEYS = ["metrics.a", "metrics.`b c`", "metrics.absent", "attributes.start_time"]
STRING_KEYS = ['params."p"', "tags.t.u", "tags.absent", "attributes.status", "run_id"]


def quote(value: str, style: str) -> str:
    """A string literal in one of the accepted styles."""
    return cases.quote(value, style)


def random_comparison(rng: random.Random) -> str:
    """A comparison that parses (the grammar of tests/test_filter.py's `comparisons`)."""
    numeric = rng.random() < 0.5
    key = rng.choice(NUMERIC_KEYS if numeric else STRING_KEYS)
    op = rng.choice(list(rf.NUMERIC_OPS if numeric else rf.STRING_OPS) + list(rf.NULL_OPS))
    op = rng.choice([op, op.lower()])
    if op.upper().endswith("NULL"):
        return f"{key} {op}"
    if numeric:
        return f"{key} {op} {rng.choice(['0', '1', '-1.5', '2e0', '.5', '3'])}"
    style = rng.choice(["single", "double", "backslash"])
    if op.upper().endswith("IN"):
        items = [rng.choice(TEXTS) for _ in range(rng.randint(1, 3))]
        return f"{key} {op} ({', '.join(quote(i, style) for i in items)})"
    return f"{key} {op} {quote(rng.choice([*TEXTS, 'a%', '%b', '_', 'A%', 's%']), style)}"


def random_filter(rng: random.Random, depth: int = 0) -> str:
    """Comparisons joined by AND/OR, with or without parentheses."""
    if depth > 2 or rng.random() < 0.5:
        return random_comparison(rng)
    joiner = rng.choice([" AND ", " OR ", " and ", " or "])
    text = joiner.join(random_filter(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    return f"({text})" if rng.random() < 0.5 else text


def random_row(rng: random.Random, i: int) -> dict[str, Any]:
    """A row like tests/test_filter.py's ROWS: absent, null, NaN and odd values."""
    choices: dict[str, list[Any]] = {
        "metrics.a": [None, math.nan, -5.0, 0.0, 0.5, 1.0, 3.0, "NaN"],
        "metrics.b c": [None, "<missing>", 0.0, -1.0, math.inf],
        "params.p": [None, "<missing>", *TEXTS],
        "tags.t.u": [None, "", "a", "b_", "%", "a.b", "'", "*", "ab%", "S", "\u017f"],
        "status": [None, "FINISHED", "FAILED", "finished"],
        "start_time": [None, 0, 1, 2, 3, "3"],
    }
    row: dict[str, Any] = {"run_id": f"g{i}"}
    for key, values in choices.items():
        value = rng.choice(values)
        if value != "<missing>":
            row[key] = value
    return row


def test_generated_filters_agree_with_python(page):
    rng = random.Random(20240611)
    texts = [random_filter(rng) for _ in range(400)]
    texts += ["".join(rng.choice(GARBAGE) for _ in range(rng.randint(0, 14))) for _ in range(1200)]
    rows = [random_row(rng, i) for i in range(40)]  # NaN passed as NaN
    js = page.evaluate(RUN_BATCH, [texts, [rows]])
    compare(js, python_batch(texts, [rows]), texts)
    parsed = sum(1 for answer in js if "ids" in answer)
    assert parsed >= 400 and len(js) - parsed >= 500  # both paths well exercised


# --- order_by -------------------------------------------------------------------------------
def _parametrized(test: Any) -> list[Any]:
    """The argument values of a test's @pytest.mark.parametrize, to stay in step with it."""
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return list(mark.args[1])


# test_parse_order_by's clauses (ORDER_BY_CLAUSES), then more (some invalid)
MORE_ORDER_BY_CLAUSES = [
    "Created",
    "attributes.`Run Name` aSc",
    "params.x.y\tDESC",
    "metrics.\u0130 ASC",
    "tags.team \u0131s",
    "metrics.rmse ASC DESC",
    "metrics.rmse, params.depth",
    "metrics.rmse DESC\u00a0",
]


def test_order_by(page):
    invalid = _parametrized(cases.test_invalid_order_by)
    batches: list[Any] = [None, [], ORDER_BY_CLAUSES]
    batches += [["metrics.rmse", clause] for clause, _, _ in invalid]
    batches += [[clause] for clause in ORDER_BY_CLAUSES + MORE_ORDER_BY_CLAUSES]
    batches += [clauses for clauses, _ in _parametrized(cases.test_sort_frame)]
    batches += [["metrics.rmse", 3], [None], "", "ab"]
    js = page.evaluate(ORDER_BATCH, batches)
    compare(js, python_order(batches), batches)
    assert js[:2] == [{"order": []}, {"order": []}]
    assert js[2]["order"] == [
        ["metrics.rmse", True],
        ["metrics.rmse", False],
        ["start_time", False],
        ["params.a b", True],
        ["tags.reporter.git.commit", True],
        ["start_time", True],
        ["start_time", False],
        ["metrics.val loss", True],
        ["run_id", False],
    ]
    for (clause, position, fragment), answer in zip(invalid, js[3:]):
        error = answer["error"]
        assert error["message"].startswith(f"Invalid order_by clause at position {position}: ")
        assert fragment in error["message"]
        assert error["position"] == position and error["text"] == clause


# --- the page -------------------------------------------------------------------------------
def test_loads_from_file_url_without_errors(browser, page, tmp_path):
    html = tmp_path / "index.html"
    html.write_text(
        f'<!doctype html><html><body><script src="{FILTER_JS.as_uri()}"></script></body></html>',
        encoding="utf-8",
    )
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("request", lambda req: requests.append(req.url))
        tab.goto(html.as_uri())
        keys = tab.evaluate("() => Object.keys(window.TrackerFilter).sort()")
        assert keys == [
            "FilterError",
            "columnFor",
            "filterRows",
            "matches",
            "parse",
            "parseOrderBy",
        ]
        ids = tab.evaluate(
            "rows => TrackerFilter.filterRows(rows, \"params.depth = '8'\").map(r => r.run_id)",
            FILTER_RUNS,
        )
        assert ids == ["r1", "r3", "r5"]
        assert not errors
        assert requests == [html.as_uri(), FILTER_JS.as_uri()]
    finally:
        context.close()
    assert not PAGE_ERRORS
