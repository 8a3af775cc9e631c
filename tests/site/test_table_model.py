"""The runs table as data: its columns (primary metric first, tags hidden), its default order
(the primary metric, best first, or the `sort` setting), parents with their children folded
and aggregated, the best value of each metric column, its number formats, and the filter
example built from the page's own metric and params."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.core.errors import InvalidArgumentError
from reporter.entities import Metric, Param, RunTag
from reporter.query import filter as run_filter
from reporter.site import contract, model, table
from reporter.site.build import build_time
from reporter.view import loader, numbers
from reporter.view.config import BuildConfig, load_config

T0 = 1_700_000_000_000
PENALTIES = ("l1", "l2", "elasticnet")
RATES = ("constant", "adaptive")
LONG_PARAMS = [f"optimizer_setting_number_{i}_with_a_long_name" for i in range(6)]


def make_sweep(store: str) -> dict[str, Any]:
    """Log a sweep that provokes the table's defects; return the ids of interest.

    * 12 flat runs over penalty x learning_rate x alpha (text and numeric params, max_depth
      missing on some, six long-named params that make the table wide), a user tag `team`;
      f1 (the primary metric: logged first) on all but one, a final rmse, latency_ms, tokens
      (thousands) and train_rows (millions), a loss with history;
    * config-a: logs no f1 itself; its seeds 0.95, 0.96, 0.97 make it the best configuration
      (mean 0.96), though no flat run and no seed of it is the best single value;
    * config-b: logs f1 0.905 itself; its seeds log 0.99, 0.98, 0.97 (seed-0 is the best single
      run of all, never the best configuration);
    * a logged model of the first flat run, with a long name and a metric (the page's models
      table, whose cells broke mid-word on a phone).
    """
    client = reporter.Client(store)
    exp = client.create_experiment("sweep")
    ids: dict[str, Any] = {"store": store, "flat": []}
    at = T0

    def run(
        name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        parent: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        nonlocal at
        at += 1000
        made = client.create_run(exp, start_time=at, run_name=name, parent_run_id=parent)
        run_id = made.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, at + 10 + i, 0) for i, (k, v) in enumerate(metrics.items())],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        )
        client.set_terminated(run_id, end_time=at + 500)
        return run_id

    i = 0
    for penalty in PENALTIES:
        for rate in RATES:
            for alpha in (0.0001, 0.01):
                i += 1
                params: dict[str, Any] = {"penalty": penalty, "learning_rate": rate, "alpha": alpha}
                if i % 5:
                    params["max_depth"] = i % 4 + 2
                params.update({p: 0.9 + i / 100 for p in LONG_PARAMS})
                metrics = {} if i == 7 else {"f1": 0.8 + i / 100}  # run 7: no f1
                metrics.update(
                    rmse=0.000123 * i,
                    latency_ms=120 + i * 3.7,
                    tokens=1234.5 * i,
                    train_rows=1_234_567 + i,
                )
                run_id = run(
                    f"mlp-{penalty}-{rate}-a{alpha}",
                    params,
                    metrics,
                    tags={"team": "vision" if i % 2 else "tabular"},
                )
                client.log_batch(
                    run_id, metrics=[Metric("loss", 1 / (s + 1), at + 100 + s, s) for s in range(5)]
                )
                ids["flat"].append(run_id)
    ids["config-a"] = run("config-a", {"penalty": "l2", "learning_rate": "adaptive"}, {})
    ids["a-seeds"] = [
        run(
            f"seed-{s}",
            {"seed": s},
            {"f1": 0.95 + s / 100, "rmse": 0.0002 + s / 10000},
            parent=ids["config-a"],
        )
        for s in range(3)
    ]
    ids["config-b"] = run("config-b", {"penalty": "l1", "learning_rate": "constant"}, {"f1": 0.905})
    ids["b-seeds"] = [
        run(f"seed-{s}", {"seed": s}, {"f1": 0.99 - s / 100}, parent=ids["config-b"])
        for s in range(3)
    ]
    log_model(store, ids["flat"][0])
    return ids


def log_model(store: str, run_id: str) -> None:
    """Log a small scikit-learn model from a run, with a metric."""
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0])
    reporter.set_tracking_uri(store)
    with reporter.start_run(run_id=run_id):
        info = reporter.sklearn.log_model(model, name="mlp_classifier_with_the_best_settings")
        reporter.log_metric("rmse", 0.000123, model_id=info.model_id)


def make(store: str, **settings: Any) -> contract.Site:
    """Build the site model of a store without writing anything."""
    config = BuildConfig(store=store, max_points=200, **settings)
    snap = loader.load(loader.open_store(store), config)
    info = contract.SiteInfo("T", "0", build_time(), None)
    return model.make_site(snap, config, info, lambda r, p: None, lambda r, p: f"file:///{p}")


def experiment(site: contract.Site) -> contract.ExperimentPageContext:
    page = next(p for p in site.pages if p.info.path == "experiments/sweep/index.html")
    assert isinstance(page.context, contract.ExperimentPageContext)
    return page.context


def table_rows(site: contract.Site) -> list[list[Any]]:
    """The rows of the sweep's table.js."""
    file = next(f for f in site.files if f.path == "experiments/sweep/table.js")
    assert file.data is not None
    text = file.data.decode()
    prefix = "window.TRACKER_TABLE = "
    assert text.startswith(prefix)
    return list(json.loads(text[len(prefix) : -2])["rows"])


@pytest.fixture
def sweep(tmp_path: Path) -> dict[str, Any]:
    return make_sweep(str(tmp_path / "sweep-store"))


def test_columns_lead_with_the_primary_metric_then_metrics_params_attributes_tags(sweep):
    exp = experiment(make(sweep["store"]))
    keys = [c.key for c in exp.columns]
    assert exp.primary_metric == "f1"
    metrics = [
        "metrics.latency_ms",
        "metrics.loss",
        "metrics.rmse",
        "metrics.tokens",
        "metrics.train_rows",
    ]
    params = sorted(
        [
            "params.alpha",
            "params.learning_rate",
            "params.max_depth",
            "params.penalty",
            "params.seed",
        ]
        + [f"params.{p}" for p in LONG_PARAMS]
    )
    assert keys == [
        "name",
        "metrics.f1",
        *metrics,
        *params,
        "status",
        "start",
        "duration",
        "user",
        "commit",
        "tags.team",
    ]
    by_key = {c.key: c for c in exp.columns}
    assert by_key["tags.team"].hidden and by_key["tags.team"].group == "tags"
    assert not any(c.hidden for c in exp.columns if c.group != "tags")
    assert not any(k.startswith("tags.mlflow") for k in keys)  # system tags are no columns
    # the table is ordered by the primary metric, best (highest f1) first
    assert [(c.key, c.sort) for c in exp.columns if c.sort] == [("metrics.f1", "descending")]
    assert by_key["metrics.f1"].better == "max"
    assert by_key["metrics.rmse"].better == "min" and by_key["metrics.latency_ms"].better == "min"
    assert all(c.better == "" for c in exp.columns if c.group != "metrics")


def test_default_order_is_the_best_configuration_first_with_children_folded(sweep):
    site = make(sweep["store"])
    exp = experiment(site)
    rows = table_rows(site)
    tops = [r for r in rows if r[2] == 0]
    # table.js: every top-level row first, then the children grouped by parent
    assert rows[: len(tops)] == tops
    assert exp.total_rows == len(rows) == 12 + 8
    # the top-level rows by f1 (own, else the children's mean), best first; missing last
    client = reporter.Client(sweep["store"])
    f1 = {}
    for run_id in sweep["flat"] + [sweep["config-b"]]:
        value = client.get_run(run_id).data.metrics.get("f1")
        if value is not None:
            f1[run_id] = value
    f1[sweep["config-a"]] = statistics.fmean([0.95, 0.96, 0.97])
    missing = [r for r in sweep["flat"] if r not in f1]
    expected = sorted(f1, key=lambda r: -f1[r]) + missing
    assert [r[0] for r in tops] == expected
    assert tops[0][0] == sweep["config-a"]  # not config-b's seed-0 (0.99), the best single run
    # the page's HTML holds the top-level rows only; children are folded
    assert [r.run_id for r in exp.rows if r.depth == 0] == expected
    by_id = {r.run_id: r for r in exp.rows}
    assert by_id[sweep["config-a"]].children == 3 and by_id[sweep["flat"][0]].children == 0
    # children follow, ordered the same way under their parent, with their depth and parent
    children = [r for r in rows if r[2] == 1]
    assert [r[0] for r in children if r[1] == sweep["config-b"]] == sweep["b-seeds"]  # .99 .98
    assert [r[0] for r in children if r[1] == sweep["config-a"]] == sweep["a-seeds"][::-1]


def test_a_parent_without_the_metric_shows_its_childrens_mean_and_spread(sweep):
    site = make(sweep["store"])
    exp = experiment(site)
    at = [c.key for c in exp.columns].index("metrics.f1")
    parent = next(r for r in exp.rows if r.run_id == sweep["config-a"])
    cell = parent.cells[at]
    mean = statistics.fmean([0.95, 0.96, 0.97])
    spread = statistics.stdev([0.95, 0.96, 0.97])
    assert (
        cell.text == f"{numbers.fixed(mean, 4)} ± {numbers.fixed(spread, 4)}" == "0.9600 ± 0.0100"
    )
    assert cell.note == "mean ± standard deviation of 3 child runs"
    assert float(cell.sort) == pytest.approx(mean)
    js = next(r for r in table_rows(site) if r[0] == sweep["config-a"])[3][at]
    assert js == [
        "0.9600 ± 0.0100",
        pytest.approx(mean),
        "mean ± standard deviation of 3 child runs",
    ]
    # a parent that logged the metric shows its own value
    own = next(r for r in exp.rows if r.run_id == sweep["config-b"]).cells[at]
    assert (own.text, own.note) == ("0.9050", "")
    # config-a's seeds logged rmse, config-a did not: aggregated too
    rmse = [c.key for c in exp.columns].index("metrics.rmse")
    assert parent.cells[rmse].text.count("±") == 1


def test_the_best_value_of_each_metric_column_is_marked_among_configurations(sweep):
    site = make(sweep["store"])
    exp = experiment(site)
    for at, col in enumerate(exp.columns):
        marked = [r.run_id for r in exp.rows if r.cells[at].best]
        if not col.better:
            assert marked == [], col.key
            continue
        tops = [r for r in exp.rows if r.depth == 0 and r.cells[at].sort != ""]
        values = {r.run_id: float(r.cells[at].sort) for r in tops}
        best = min(values.values()) if col.better == "min" else max(values.values())
        assert marked == [r for r, v in values.items() if v == best], col.key
    f1 = [c.key for c in exp.columns].index("metrics.f1")
    assert [r.run_id for r in exp.rows if r.cells[f1].best] == [sweep["config-a"]]


def test_numbers_have_one_number_of_decimals_per_column_and_separators(sweep):
    exp = experiment(make(sweep["store"]))
    keys = [c.key for c in exp.columns]
    flat = [r for r in exp.rows if r.run_id in sweep["flat"]]

    def shown(key: str) -> list[str]:
        return [r.cells[keys.index(key)].text for r in flat if r.cells[keys.index(key)].text]

    def decimals(text: str) -> int:
        return len(text.split(".")[1]) if "." in text else 0

    for key in ("metrics.f1", "metrics.latency_ms", "metrics.rmse", "metrics.tokens"):
        assert len({decimals(t) for t in shown(key)}) == 1, (key, shown(key))
    assert {"1,235", "14,814"} <= set(shown("metrics.tokens"))  # thousands: no decimals
    assert set(shown("metrics.train_rows")) == {"1.23M"}  # SI only from a million up
    assert "0.000123" in shown("metrics.rmse")  # no exponent between 1e-3 and 1e6
    assert not any("e" in t for k in keys if k.startswith("metrics.") for t in shown(k))
    assert "0.0001" in shown("params.alpha")  # params as logged


@pytest.mark.parametrize(
    ("setting", "key", "direction"),
    [
        ("start_time DESC", "start", "descending"),
        ("metrics.rmse", "metrics.rmse", "ascending"),  # no direction: best first
        ("params.alpha DESC", "params.alpha", "descending"),
        ("attributes.run_name", "name", "ascending"),
        ("metrics.auc DESC", "metrics.f1", "descending"),  # no such column here: the default
    ],
)
def test_the_sort_setting_orders_the_table(sweep, setting, key, direction):
    site = make(sweep["store"], sort=setting)
    exp = experiment(site)
    assert [(c.key, c.sort) for c in exp.columns if c.sort] == [(key, direction)]
    tops = [r for r in table_rows(site) if r[2] == 0]
    if setting == "start_time DESC":  # the old order: newest first
        client = reporter.Client(sweep["store"])
        starts = {r[0]: client.get_run(r[0]).info.start_time or 0 for r in tops}
        assert [r[0] for r in tops] == sorted(starts, key=lambda r: -starts[r])


def test_the_sort_setting_is_checked_when_the_config_is_read(tmp_path):
    (tmp_path / "tracker-report.toml").write_text('sort = "end_time DESC"\n')
    with pytest.raises(InvalidArgumentError) as err:
        load_config({}, cwd=str(tmp_path))
    assert "sort = 'end_time DESC'" in str(err.value) and "metrics.<key>" in str(err.value)
    (tmp_path / "tracker-report.toml").write_text('sort = "metrics.rmse upwards"\n')
    with pytest.raises(InvalidArgumentError, match="expected ASC, DESC"):
        load_config({}, cwd=str(tmp_path))
    (tmp_path / "tracker-report.toml").write_text('sort = "metrics.rmse ASC"\n')
    assert load_config({}, cwd=str(tmp_path)).table_sort() == ("metrics.rmse", True)


def test_the_filter_example_names_the_pages_metric_and_a_param_it_logged(sweep):
    exp = experiment(make(sweep["store"]))
    example = exp.filter_example
    assert example.startswith("metrics.f1 > ")
    assert "metrics.rmse" not in example
    param, value = example.split(" and ")[1].split(" = ")
    assert param in {f"params.{k}" for k in ("penalty", "learning_rate")}  # text, few values
    run_filter.parse_filter(example)  # the grammar reads it
    client = reporter.Client(sweep["store"])
    exp_id = client.get_experiment_by_name("sweep").experiment_id  # type: ignore[union-attr]
    assert client.search_runs([exp_id], example)  # and some run matches it
    assert value.strip("'") in {str(v) for v in PENALTIES + RATES}


def test_a_page_without_metrics_or_params_still_has_a_valid_example(tmp_path):
    client = reporter.Client(str(tmp_path / "bare"))
    exp = client.create_experiment("sweep")
    client.create_run(exp, run_name="only")
    example = experiment(make(str(tmp_path / "bare"))).filter_example
    run_filter.parse_filter(example)
    assert example == "status = 'FINISHED'"


def test_table_columns_keep_working_for_callers_without_a_primary_metric(sweep):
    """Report blocks call table_columns(frame) and run_cell(record, column)."""
    snap = loader.load(loader.open_store(sweep["store"]), BuildConfig(store=sweep["store"]))
    data = snap.experiments[0]
    columns = table.table_columns(data.runs)
    assert columns[0].key == "name" and columns[1].group == "metrics"
    record = next(
        {str(k): v for k, v in r.items()}
        for r in data.runs.to_dict("records")
        if r["metrics.tokens"] > 0
    )
    tokens = next(c for c in columns if c.key == "metrics.tokens")
    assert table.run_cell(record, tokens).text == numbers.human(record["metrics.tokens"])


def test_the_index_names_the_best_configuration_not_a_replicate(sweep):
    site = make(sweep["store"])
    index = next(p for p in site.pages if p.info.path == "index.html").context
    (summary,) = index.experiments
    assert summary.best_run is not None
    assert summary.best_run.label == "config-a"  # not config-b's seed-0 (0.99)
    assert summary.best_value == "0.96 ± 0.01 (mean of 3 runs)"
