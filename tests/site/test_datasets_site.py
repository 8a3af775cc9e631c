"""The datasets section of run pages, and the `datasets.*` filter on the experiment page:
the page model first, then the parsed HTML, then filter.js in Chromium against Python."""

from __future__ import annotations

import html.parser
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pytest

import reporter as mlflow
import reporter.data
from reporter.core.errors import InvalidFilterError
from reporter.query import filter as rf
from reporter.site.build import build
from reporter.tracking.inputs import log_input
from reporter.view.config import BuildConfig
from tests.site.conftest import EVIL
from tests.site.test_site_model import make, page
from tests.test_datasets import DATASET_CASES, DATASET_ROWS, INVALID_DATASET_FILTERS

FILTER_JS = Path(__file__).resolve().parents[2] / "themes" / "default" / "static" / "filter.js"
FRAME = pd.DataFrame({"x": [1.5, 2.5, None], "label": ["a", "b", "a"]})


@pytest.fixture
def data_store(store_uri: str) -> dict[str, str]:
    """Three runs: two used the training data, one an array; one used none; one logged
    names that would break HTML and a path under a home folder."""
    mlflow.set_experiment("datasets")
    train = reporter.data.from_pandas(FRAME, source="/home/ana/data/train.csv", name="train")
    ids = {"store": store_uri, "digest": train.digest}
    with mlflow.start_run(run_name="first") as run:
        log_input(train, context="training", tags={"split": "80/20"})
        log_input(reporter.data.from_pandas(FRAME.head(1), name="holdout"), context="eval")
    ids["first"] = run.info.run_id
    with mlflow.start_run(run_name="second") as run:
        log_input(train, context="training")
    ids["second"] = run.info.run_id
    with mlflow.start_run(run_name="none") as run:
        pass
    ids["none"] = run.info.run_id
    evil = reporter.data.from_pandas(pd.DataFrame({EVIL: [1]}), source=f"s3://b/{EVIL}", name=EVIL)
    with mlflow.start_run(run_name="evil") as run:
        log_input(evil, context=EVIL, tags={EVIL: EVIL})
    ids["evil"] = run.info.run_id
    return ids


# the page model -------------------------------------------------------------------------------
def test_a_run_page_lists_the_datasets_its_run_used(data_store):
    site = make(data_store["store"])
    shown = page(site, f"runs/{data_store['first']}/index.html").context.datasets
    assert [(d.name, d.context, d.source_type, d.rows) for d in shown] == [
        ("train", "training", "local", "3"),
        ("holdout", "eval", "code", "1"),  # made by code: the source names the script
    ]
    assert shown[0].source == "/home/ana/data/train.csv" and shown[1].source
    train = shown[0]
    assert train.digest == data_store["digest"] and train.tags == [("split", "80/20")]
    assert [(c.name, c.type, c.required) for c in train.schema] == [
        ("x", "double", "no"),
        ("label", "string", "yes"),
    ]
    assert (train.schema_total, train.schema_unit) == (2, "column")
    assert train.profile == [("num_rows", "3"), ("num_elements", "6")]
    assert json.loads(train.source_json) == {"uri": "/home/ana/data/train.csv"}
    path, _, fragment = train.same_data.partition("#")
    assert path == "experiments/datasets/index.html"
    assert unquote(fragment) == f"filter=datasets.digest = '{train.digest}'"
    assert page(site, f"runs/{data_store['none']}/index.html").context.datasets == []


def test_the_filter_data_of_the_experiment_page_holds_each_runs_datasets(data_store):
    site = make(data_store["store"])
    (runs_js,) = [f for f in site.files if f.path == "experiments/datasets/runs.js"]
    assert runs_js.data is not None
    payload = json.loads(runs_js.data.decode().split(" = ", 1)[1].rstrip(";\n"))
    used = {run["name"]: run.get("datasets") for run in payload["runs"]}
    assert used["first"] == [
        ["train", data_store["digest"], "training"],
        ["holdout", used["first"][1][1], "eval"],
    ]
    assert used["none"] is None and used["second"] == [["train", data_store["digest"], "training"]]


def test_a_public_site_hides_paths_and_users_in_sources(data_store):
    site = make(data_store["store"], hide_paths=True, hide_users=True)
    first = page(site, f"runs/{data_store['first']}/index.html").context.datasets
    assert first[0].source == "train.csv"
    code = json.loads(first[1].source_json)["tags"]
    assert "mlflow.user" not in code and code["mlflow.source.type"] == "LOCAL"


# the HTML ---------------------------------------------------------------------------------------
class Section(html.parser.HTMLParser):
    """Collect the datasets section of a page: its table cells, links, and any script tag."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.cells: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and "datasets" in (found.get("class") or ""):
            self.inside = 1
        elif self.inside and tag == "section":
            self.inside += 1
        if not self.inside:
            return
        if tag == "script":
            self.scripts += 1
        if tag == "a":
            self.links.append(found.get("href") or "")
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if self.inside and tag == "section":
            self.inside -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_run_page_shows_datasets_escaped_and_linked(data_store, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=data_store["store"], out=str(out)))
    section = Section()
    section.feed((out / "runs" / data_store["evil"] / "index.html").read_text())
    assert section.scripts == 0  # every logged string is text, not markup
    assert EVIL in section.cells and f"s3 s3://b/{EVIL}" in section.cells
    assert section.cells.count(EVIL) >= 3  # name, context, the input tag's key and value
    first = Section()
    first.feed((out / "runs" / data_store["first"] / "index.html").read_text())
    assert first.cells[:5] == [
        "train",
        data_store["digest"],
        "training",
        "local /home/ana/data/train.csv",
        "3",
    ]
    assert unquote(first.links[0]) == (
        f"../../experiments/datasets/index.html#filter=datasets.digest = '{data_store['digest']}'"
    )
    none = Section()
    none.feed((out / "runs" / data_store["none"] / "index.html").read_text())
    assert none.cells == [] and none.links == []


# filter.js in Chromium ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def js(browser: Any) -> Any:
    """A blank page with filter.js loaded."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_content("<html><body></body></html>")
    tab.add_script_tag(path=str(FILTER_JS))
    yield tab
    context.close()


BATCH = """([texts, rows]) => texts.map(text => {
  const TF = window.TrackerFilter;
  try {
    const node = TF.parse(text);
    return {ids: rows.filter(r => TF.matches(node, r)).map(r => r.run_id)};
  } catch (e) {
    return {error: {message: e.message, position: e.position}};
  }
})"""


def test_filter_js_answers_dataset_filters_as_python(js):
    rows = [{k: list(v) if isinstance(v, tuple) else v for k, v in r.items()} for r in DATASET_ROWS]
    texts = [text for text, _ in DATASET_CASES] + [t for t, _, _ in INVALID_DATASET_FILTERS]
    answers = js.evaluate(BATCH, [texts, rows])
    for text, answer in zip(texts, answers):
        try:
            node = rf.parse_filter(text)
        except InvalidFilterError as bad:
            assert answer == {"error": {"message": str(bad), "position": bad.position}}, text
            continue
        assert node is not None
        assert answer == {"ids": [r["run_id"] for r in DATASET_ROWS if rf.matches(node, r)]}, text
    assert [a["ids"] for a in answers[: len(DATASET_CASES)]] == [e for _, e in DATASET_CASES]
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_order_by(["datasets.name"])
    order = js.evaluate(
        "c => { try { TrackerFilter.parseOrderBy(c); } catch (e) { return e.message; } }",
        ["datasets.name"],
    )
    assert order == str(err.value)


def test_the_digest_link_opens_the_runs_that_used_the_same_data(data_store, tmp_path, page):
    out = tmp_path / "site"
    build(BuildConfig(store=data_store["store"], out=str(out)))
    tab, recorder = page
    tab.goto((out / "runs" / data_store["first"] / "index.html").as_uri())
    tab.click("section.datasets a >> nth=0")
    tab.wait_for_selector("table.runs[data-ready=true]")
    names = tab.locator("table.runs tbody tr:visible td:nth-child(2)").all_inner_texts()
    assert sorted(n.strip() for n in names) == ["first", "second"]
    assert tab.input_value(".table-filter") == f"datasets.digest = '{data_store['digest']}'"
    assert recorder.errors == []
