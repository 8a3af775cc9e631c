"""The index, run, compare and report pages as data: numbers people read (one number of
decimals per metric, deltas with 3 significant digits), counts in the singular or plural, and
the MLmodel preview with every key of the file. The browser half is test_pages_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import reporter as mlflow
from reporter.site import render, theme
from reporter.site.build import build
from reporter.site.pages import report_blocks
from reporter.site.pages.run import ModelPreview, artifact_tree
from reporter.view import numbers, text
from reporter.view.config import BuildConfig
from tests.site.test_site_model import make, page

HOSTILE = "<script>window.__pwned=1</script>"
MLMODEL: dict[str, Any] = {  # what MLflow 3 writes, and a key of someone's own
    "artifact_path": "model",
    "flavors": {
        "python_function": {
            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.sklearn",
            "model_path": "model.pkl",
            "predict_fn": "predict",
            "python_version": "3.11.7",
        },
        "sklearn": {
            "code": None,
            "estimator_class": "sklearn.ensemble._forest.RandomForestRegressor",
            "pickled_model": "model.pkl",
            "serialization_format": "cloudpickle",
            "sklearn_version": "1.5.2",
        },
    },
    "mlflow_version": "3.1.0",
    "model_id": "m-0123",
    "model_size_bytes": 123456,
    "model_uuid": "m-0123",
    "run_id": "abc",
    "saved_input_example_info": {
        "artifact_path": "input_example.json",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
    },
    "signature": {
        "inputs": '[{"type": "double", "name": "age", "required": true}, '
        '{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]',
        "params": None,
    },
    "utc_time_created": "2025-01-15 10:00:00.000000",
    "metadata": {"owner": "data team"},
    "custom_notes": HOSTILE,
}
COLUMNS = (
    ",".join(("status", "params.alpha", "params.a_really_long_parameter_name_for_the_optimizer"))
    + ",metrics.f1,metrics.rmse,metrics.rows_seen,metrics.latency_ms"
)
REPORT = f"""---
title: Sweep
---
The best f1 is {{{{< metric experiment="sweep" run="run-3" key="f1" >}}}}.

{{{{< runs experiment="sweep" order_by="metrics.f1 DESC" limit="8"
    columns="{COLUMNS}" >}}}}

{{{{< compare experiment="sweep" runs="run-1,run-2,run-3" >}}}}
"""


@pytest.fixture
def sweep(store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Eight runs with awkward magnitudes (0.000123, 120, 1,234,567), typed params, a loss
    history, a child run, an MLmodel folder as run artifacts, and a report in ./reports."""
    mlflow.set_experiment("sweep")
    ids: dict[str, str] = {}
    for i in range(1, 9):
        with mlflow.start_run(run_name=f"run-{i}") as run:
            mlflow.log_params(
                {
                    "alpha": ("0.0001", "0.01", "0.001")[i % 3],
                    "penalty": ("l1", "l2", "elasticnet")[i % 3],
                    "a_really_long_parameter_name_for_the_optimizer": 0.9 if i % 2 else 0.95,
                }
            )
            for epoch in range(5):
                mlflow.log_metric("loss", 1.0 / (epoch + 1) + i / 7000, step=epoch)
            mlflow.log_metric("f1", 0.8 + i / 31.7 + 0.00012345)
            mlflow.log_metric("rmse", 0.000123 * i + i / 1e7)
            mlflow.log_metric("rows_seen", 1_234_567 * i + 0.5)
            mlflow.log_metric("latency_ms", 120 + i * 3.14159)
            if i == 1:
                mlflow.log_text(yaml.safe_dump(MLMODEL), "model/MLmodel")
                with mlflow.start_run(run_name="seed-0", nested=True):
                    mlflow.log_metric("f1", 0.5)
        ids[f"run-{i}"] = run.info.run_id
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/sweep.md").write_text(REPORT)
    return ids


def decimals(shown: str) -> int | None:
    """Return the decimals of a plain number as shown ('0.9100' -> 4), None for SI, exponent
    notation or a dash."""
    if not re.fullmatch(r"-?[\d,]+(\.\d+)?", shown):
        return None
    return len(shown.partition(".")[2])


def test_counts_read_in_the_singular_or_plural():
    assert text.counted(1, "report") == "1 report"
    assert text.counted(0, "report") == "0 reports"
    assert text.counted(2, "experiment") == "2 experiments"
    assert text.counted(1234, "run") == "1,234 runs"
    assert text.counted(1, "entry", "entries") == "1 entry"
    assert text.counted(3, "entry", "entries") == "3 entries"
    env = render.make_environment(theme.resolve_theme("default"))
    shown = env.from_string('{{ 1 | count("report") }}; {{ [1, 2] | length | count("column") }}')
    assert shown.render() == "1 report; 2 columns"


def test_the_index_counts_in_the_singular(sweep, store_uri, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out), primary_metric={"sweep": "f1"}))
    index = (out / "index.html").read_text()
    assert '<p class="lead">1 report, 1 experiment, 9 runs.</p>' in index
    f1 = max(0.8 + i / 31.7 + 0.00012345 for i in range(1, 9))
    assert f"<strong>{numbers.human(f1)}</strong>" in index  # the best value, as people read it


def test_report_tables_have_one_number_of_decimals_per_column(sweep, store_uri):
    site = make(store_uri)
    report = page(site, "reports/sweep.html").context
    runs = next(p for p in report.parts if isinstance(p, report_blocks.RunsBlock))
    cells = {col.key: [row[2][i - 1] for row in runs.rows] for i, col in enumerate(runs.columns)}
    assert cells["params.alpha"][:3] == ["0.0010", "0.0100", "0.0001"]  # typed: shown exactly
    assert set(cells["params.a_really_long_parameter_name_for_the_optimizer"]) == {"0.90", "0.95"}
    for key in ("metrics.f1", "metrics.rmse", "metrics.latency_ms"):
        assert len({decimals(c) for c in cells[key]}) == 1, (key, cells[key])
    assert cells["metrics.f1"][0] == "1.0525"  # 4 significant digits for the typical value
    assert cells["metrics.rows_seen"][:2] == ["9.88M", "8.64M"]  # SI, 3 significant digits
    compare = next(p for p in report.parts if isinstance(p, report_blocks.CompareBlock))
    rows = {label: (values, differs, numeric) for label, values, differs, numeric in compare.rows}
    assert rows["rmse (metric)"] == (["0.000123", "0.000246", "0.000369"], True, True)
    assert rows["alpha"] == (["0.0100", "0.0010", "0.0001"], True, True)
    assert rows["penalty"] == (["l2", "elasticnet", "l1"], True, False)  # text as logged
    inline = str(next(p for p in report.parts if "best f1" in str(p)))
    assert "The best f1 is 0.8948." in inline  # a lone value: numbers.human


def test_run_page_metrics_share_decimals_per_metric(sweep, store_uri):
    site = make(store_uri)
    run = page(site, f"runs/{sweep['run-1']}/index.html").context
    stats = {m.key: (m.last, m.min, m.max, m.steps) for m in run.metrics}
    assert stats["loss"] == ("0.2001", "0.2001", "1.0001", 5)  # one scale: one set of decimals
    assert stats["rows_seen"] == ("1.23M", "1.23M", "1.23M", 1)
    assert stats["latency_ms"] == ("123.1", "123.1", "123.1", 1)  # one value: as it reads alone


def test_the_mlmodel_preview_shows_every_top_level_key(sweep, store_uri, tmp_path):
    raw = yaml.safe_dump(MLMODEL).encode()
    files = [("model/MLmodel", len(raw)), ("model/model.pkl", 10)]
    nodes, _ = artifact_tree(
        "r", files, BuildConfig(), lambda run, path: raw, lambda run, path: f"a/{path}"
    )
    folder = nodes[0]
    assert folder.preview == "model" and isinstance(folder.content, ModelPreview)
    preview = folder.content
    assert preview.estimator == "sklearn.ensemble._forest.RandomForestRegressor"
    keys = [e.key for e in preview.entries]
    assert sorted(keys) == sorted(MLMODEL)
    assert keys[:3] == ["flavors", "signature", "saved_input_example_info"]  # then file order
    entry = {e.key: e for e in preview.entries}
    assert [name for name, _ in entry["flavors"].groups] == ["python_function", "sklearn"]
    assert ("env.virtualenv", "python_env.yaml") in entry["flavors"].groups[0][1]
    assert ("code", "–") in entry["flavors"].groups[1][1]
    assert entry["signature"].groups == [
        ("Inputs", [("age", "double"), ("", "tensor float64 (-1, 3)")]),
        ("Outputs", [("", "tensor float64 (-1)")]),
        ("Params", [("", "–")]),
    ]
    assert entry["model_size_bytes"].text == "120.6 KB"
    assert entry["saved_input_example_info"].label == "Input example"
    assert ("type", "dataframe") in entry["saved_input_example_info"].rows
    assert entry["custom_notes"].text == HOSTILE  # a key of one's own, as text
    mlmodel = next(n for n in folder.children if n.name == "MLmodel")
    assert mlmodel.preview == "text" and "flavors:" in mlmodel.content  # the file as it is
    # the built page lists every key, readably labelled, and escapes what it shows
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    html = (out / f"runs/{sweep['run-1']}/index.html").read_text()
    shown = re.findall(r'<dt data-key="([^"]+)">([^<]+)</dt>', html)
    assert sorted(k for k, _ in shown) == sorted(MLMODEL)
    assert ("utc_time_created", "Created (UTC)") in shown and ("flavors", "Flavors") in shown
    assert HOSTILE not in html and "&lt;script&gt;window.__pwned=1" in html


def test_runs_js_keeps_full_precision_for_the_compare_page(sweep, store_uri):
    site = make(store_uri)
    runs_js = next(f for f in site.files if f.path == "experiments/sweep/runs.js")
    assert runs_js.data is not None
    payload = json.loads(runs_js.data.decode().split("=", 1)[1].rstrip().rstrip(";"))
    f1 = {r["name"]: r["metrics"]["f1"] for r in payload["runs"]}
    assert f1["run-1"] == 0.8 + 1 / 31.7 + 0.00012345  # the page script formats, not the data
