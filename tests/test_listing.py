"""`tracker-report experiments` and `tracker-report runs`: the CLI (in process), on runs
logged with known names, params, metrics and times; output parsed, not grepped."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.core.errors import InvalidFilterError
from reporter.core.secrets import MASK, SecretWarning
from reporter.query import filter as run_filter
from tests.cli import CliResult, run_cli

T0 = 1_704_164_645_000  # 2024-01-02 03:04:05 UTC
HOUR = 3_600_000


def cli(*args: str, cwd: str | None = None, **env: str) -> CliResult:
    """Run `tracker-report ARGS` in this process."""
    return run_cli(*args, cwd=cwd, **env)


def ok(*args: str, **kwargs: Any) -> str:
    """Run the CLI, require exit 0 and a quiet stderr, return stdout."""
    proc = cli(*args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def log_run(
    client: reporter.Client,
    exp_id: str,
    name: str,
    start: int,
    end: int | None,
    params: dict[str, Any],
    metrics: dict[str, list[float]],
    status: str = "FINISHED",
) -> str:
    """Log one run: params, metric histories (step i), then end it unless `end` is None."""
    run_id = client.create_run(exp_id, start_time=start, run_name=name).info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for key, values in metrics.items():
        for step, value in enumerate(values):
            client.log_metric(run_id, key, value, timestamp=start + step, step=step)
    if end is not None:
        client.set_terminated(run_id, status=status, end_time=end)
    return run_id


@pytest.fixture
def logged(store_uri: str) -> dict[str, str]:
    """Two active experiments (four active runs, one deleted) and a deleted experiment."""
    client = reporter.Client(store_uri)
    churn = client.create_experiment("churn")
    forecast = client.create_experiment("forecast")
    old = client.create_experiment("old")
    ids = {"churn": churn, "forecast": forecast, "old": old}
    ids["alpha"] = log_run(
        client, churn, "alpha", T0, T0 + 65_000, {"depth": 3, "lr": 0.1}, {"rmse": [0.9, 0.5]}
    )
    ids["beta"] = log_run(
        client,
        churn,
        "beta",
        T0 + HOUR,
        T0 + 2 * HOUR + 180_000,
        {"depth": 5, "lr": 0.01},
        {"rmse": [0.25]},
        status="FAILED",
    )
    ids["gamma"] = log_run(client, churn, "gamma", T0 + 2 * HOUR, None, {"depth": 8}, {})
    ids["zeta"] = log_run(client, churn, "zeta", T0 + 9 * HOUR, T0 + 9 * HOUR, {}, {"rmse": [9]})
    client.delete_run(ids["zeta"])
    ids["delta"] = log_run(
        client, forecast, "delta", T0 + 3 * HOUR, T0 + 3 * HOUR + 4_200, {}, {"mae": [1.5]}
    )
    ids["omega"] = log_run(client, old, "omega", T0, T0 + 1000, {}, {})
    client.delete_experiment(old)
    client.flush()
    return ids


def expected_default(ids: dict[str, str]) -> list[dict[str, Any]]:
    """The default JSON records of every active run, newest first."""
    blank = {"params.depth": None, "params.lr": None, "metrics.mae": None, "metrics.rmse": None}
    return [
        {
            **blank,
            "run_id": ids["delta"],
            "run_name": "delta",
            "status": "FINISHED",
            "start_time": "2024-01-02 06:04:05",
            "duration": "4.2s",
            "metrics.mae": 1.5,
        },
        {
            **blank,
            "run_id": ids["gamma"],
            "run_name": "gamma",
            "status": "RUNNING",
            "start_time": "2024-01-02 05:04:05",
            "duration": None,
            "params.depth": "8",
        },
        {
            **blank,
            "run_id": ids["beta"],
            "run_name": "beta",
            "status": "FAILED",
            "start_time": "2024-01-02 04:04:05",
            "duration": "1h 03m",
            "params.depth": "5",
            "params.lr": "0.01",
            "metrics.rmse": 0.25,
        },
        {
            **blank,
            "run_id": ids["alpha"],
            "run_name": "alpha",
            "status": "FINISHED",
            "start_time": "2024-01-02 03:04:05",
            "duration": "1m 05s",
            "params.depth": "3",
            "params.lr": "0.1",
            "metrics.rmse": 0.5,
        },
    ]


DEFAULT_HEADER = [
    "run_id",
    "run_name",
    "status",
    "start_time",
    "duration",
    "params.depth",
    "params.lr",
    "metrics.mae",
    "metrics.rmse",
]


# runs: formats -----------------------------------------------------------------------------
def test_runs_json_lists_every_active_run_with_params_and_latest_metrics(
    logged: dict[str, str],
) -> None:
    records = json.loads(ok("runs", "--format", "json"))
    assert records == expected_default(logged)
    assert [list(r) for r in records] == [DEFAULT_HEADER] * 4  # column order, not only values


def test_runs_csv_has_a_header_and_the_same_values(logged: dict[str, str], store_uri: str) -> None:
    text = ok("runs", "--store", store_uri, "--format", "csv")
    assert next(csv.reader(io.StringIO(text))) == DEFAULT_HEADER
    assert list(csv.DictReader(io.StringIO(text))) == [
        {key: "" if value is None else str(value) for key, value in record.items()}
        for record in expected_default(logged)
    ]


def test_runs_table_is_aligned_and_shows_the_values(logged: dict[str, str]) -> None:
    text = ok("runs", "--columns", "run_name,status,duration,params.depth,metrics.rmse")
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 5
    assert len({len(line) for line in lines}) == 1, lines  # every line the same width
    header = lines[0].split()
    assert header == ["run_name", "status", "duration", "params.depth", "metrics.rmse"]
    rows = [line.split() for line in lines[1:]]
    # the columns are right-aligned: each header ends where its values end
    ends = [lines[0].index(name) + len(name) for name in header]
    for line in lines[1:]:
        for end in ends:
            assert line[end - 1] != " " and (end == len(line) or line[end] == " "), (line, end)
    assert rows == [
        ["delta", "FINISHED", "4.2s", "-", "-"],
        ["gamma", "RUNNING", "-", "8", "-"],
        ["beta", "FAILED", "1h", "03m", "5", "0.25"],
        ["alpha", "FINISHED", "1m", "05s", "3", "0.50"],
    ]


def test_table_escapes_control_characters_and_stays_aligned(store_uri: str) -> None:
    client = reporter.Client(store_uri)
    exp = client.create_experiment("x")
    evil = "two\nlines \x1b[31mred\u202eevil"
    log_run(client, exp, evil, T0, T0 + 1000, {"note": "a\tb"}, {})
    log_run(client, exp, "plain", T0 + 1, T0 + 1000, {"note": "ok"}, {})
    client.flush()
    table = ok("runs", "--columns", "run_name,params.note")
    assert "\x1b" not in table and "\u202e" not in table and "\t" not in table
    lines = table.rstrip("\n").split("\n")
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1, lines
    assert "two\\nlines \\u001b[31mred\\u202eevil" in lines[2]
    assert "a\\tb" in lines[2]
    records = json.loads(ok("runs", "--columns", "run_name,params.note", "--format", "json"))
    assert records[1] == {"run_name": evil, "params.note": "a\tb"}  # JSON keeps the raw text


# runs: selection behaves like search_runs ---------------------------------------------------
@pytest.mark.parametrize(
    ("filter_string", "order_by", "max_results"),
    [
        ("", [], 100),
        ("metrics.rmse < 0.6", [], 100),
        ("params.depth = '3' OR params.depth = '8'", ["params.depth DESC"], 100),
        ("", ["metrics.rmse ASC"], 100),
        ("", ["metrics.rmse DESC", "attributes.run_name ASC"], 3),
        ("status != 'FAILED' and run_name LIKE '%a'", ["start_time ASC"], 2),
        ("metrics.rmse > 5", [], 100),
    ],
)
def test_runs_select_like_search_runs(
    logged: dict[str, str],
    store_uri: str,
    filter_string: str,
    order_by: list[str],
    max_results: int,
) -> None:
    args = ["runs", "--format", "json", "--max-results", str(max_results)]
    args += ["--columns", "run_id,run_name,metrics.rmse,experiment"]
    if filter_string:
        args += ["--filter", filter_string]
    for clause in order_by:
        args += ["--order-by", clause]
    records = json.loads(ok(*args))
    client = reporter.Client(store_uri)
    expected = client.search_runs(
        [logged["churn"], logged["forecast"]],
        filter_string,
        max_results=max_results,
        order_by=order_by,
    )
    names = {logged["churn"]: "churn", logged["forecast"]: "forecast"}
    assert records == [
        {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "metrics.rmse": run.data.metrics.get("rmse"),
            "experiment": names[run.info.experiment_id],
        }
        for run in expected
    ]


def test_columns_accept_entity_aliases_and_any_attribute(logged: dict[str, str]) -> None:
    text = ok(
        "runs",
        "--columns",
        " run_name , metric.rmse,param.lr,attributes.end_time,experiment_id,tags.mlflow.runName",
        "--filter",
        "run_name = 'beta'",
        "--format",
        "csv",
    )
    assert list(csv.DictReader(io.StringIO(text))) == [
        {
            "run_name": "beta",
            "metrics.rmse": "0.25",
            "params.lr": "0.01",
            "end_time": "2024-01-02 05:07:05",
            "experiment_id": logged["churn"],
            "tags.mlflow.runName": "beta",
        }
    ]


def test_experiment_option_by_name_or_id_repeatable(logged: dict[str, str]) -> None:
    def names(*args: str) -> list[str]:
        out = ok("runs", "--columns", "run_name", "--format", "json", *args)
        return [r["run_name"] for r in json.loads(out)]

    assert names("--experiment", "forecast") == ["delta"]
    assert names("--experiment", logged["forecast"]) == ["delta"]
    assert names("--experiment", "churn") == ["gamma", "beta", "alpha"]
    assert names("--experiment", "forecast", "--experiment", "churn") == [
        "delta",
        "gamma",
        "beta",
        "alpha",
    ]
    assert names("--experiment", "old") == ["omega"]  # a deleted one when named


def test_max_results_cuts_and_says_so_on_stderr(logged: dict[str, str]) -> None:
    proc = cli("runs", "--max-results", "2", "--format", "csv", "--columns", "run_name")
    assert proc.returncode == 0, proc.stderr
    assert list(csv.reader(io.StringIO(proc.stdout))) == [["run_name"], ["delta"], ["gamma"]]
    assert "only the first 2 are shown" in proc.stderr
    proc = cli("runs", "--max-results", "4", "--format", "csv", "--columns", "run_name")
    assert proc.returncode == 0 and proc.stderr == ""


def test_empty_result_in_each_format(logged: dict[str, str]) -> None:
    none = ["runs", "--filter", "metrics.rmse > 100"]
    assert ok(*none) == "No runs match.\n"
    assert ok(*none, "--format", "json") == "[]\n"
    rows = list(csv.reader(io.StringIO(ok(*none, "--format", "csv"))))
    assert rows == [["run_id", "run_name", "status", "start_time", "duration"]]
    rows = list(csv.reader(io.StringIO(ok(*none, "--format", "csv", "--columns", "run_name"))))
    assert rows == [["run_name"]]


# errors ----------------------------------------------------------------------------------------
def test_bad_filter_is_a_usage_error_with_the_parser_message(logged: dict[str, str]) -> None:
    bad = "metrics.rmse < 0.5 and"
    with pytest.raises(InvalidFilterError) as parsed:
        run_filter.parse_filter(bad)
    proc = cli("runs", "--filter", bad)
    assert proc.returncode == 2
    assert "--filter" in proc.stderr
    assert str(parsed.value).splitlines()[0] in proc.stderr  # "... at position N: ..."
    assert "position" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_bad_order_by_and_options_are_usage_errors(logged: dict[str, str]) -> None:
    for args in (
        ["--order-by", "metrics.rmse SIDEWAYS"],
        ["--order-by", "nosuchattr ASC"],
        ["--format", "xml"],
        ["--max-results", "0"],
        ["--columns", "nosuchattr"],
        ["--columns", ","],
    ):
        proc = cli("runs", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = cli("runs", "--order-by", "metrics.rmse SIDEWAYS")
    assert "--order-by" in proc.stderr and "position 13" in proc.stderr


def test_unknown_experiment_exits_1_naming_the_valid_ones(logged: dict[str, str]) -> None:
    proc = cli("runs", "--experiment", "chrun")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: No experiment 'chrun'")
    assert "'churn'" in proc.stderr and "'forecast'" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_column_key_exits_1_naming_the_known_keys(logged: dict[str, str]) -> None:
    proc = cli("runs", "--columns", "run_name,metrics.rsme")
    assert proc.returncode == 1
    assert "metrics.rsme" in proc.stderr and "metrics.rmse" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("command", ["runs", "experiments"])
def test_missing_store_exits_1_with_a_hint_and_creates_nothing(
    command: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-store-here"
    proc = cli(command, "--store", str(missing))
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: No tracker-report store at")
    assert "--store" in proc.stderr and "Traceback" not in proc.stderr
    assert not missing.exists()


def test_listing_writes_nothing_to_the_store(logged: dict[str, str], store_uri: str) -> None:
    def files() -> dict[str, int]:
        """Every file and folder; a file's mtime. The fixture's still-open run refreshes its
        heartbeat (this process's doing, after 10 s on a slow machine): not compared."""
        root = Path(store_uri)
        return {
            str(p.relative_to(root)): p.stat().st_mtime_ns if p.is_file() else 0
            for p in root.rglob("*")
            if p.name != "heartbeat"
        }

    before = files()
    ok("experiments", "--all")
    ok("runs")
    assert files() == before  # no Default experiment, no cache file


def test_store_comes_from_the_config_file_like_build(
    logged: dict[str, str], store_uri: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "tracker-report.toml").write_text(f"store = {json.dumps(store_uri)}\n")
    out = ok(
        "runs",
        "--experiment",
        "forecast",
        "--format",
        "json",
        cwd=str(project),
        TRACKER_TRACKING_URI=str(tmp_path / "elsewhere"),
    )
    assert [r["run_name"] for r in json.loads(out)] == ["delta"]


# experiments -----------------------------------------------------------------------------------
def test_experiments_json_counts_active_runs_and_last_activity(logged: dict[str, str]) -> None:
    records = json.loads(ok("experiments", "--format", "json"))
    assert records == [
        # gamma (RUNNING) started at 05:04; beta ended at 05:07; deleted zeta (12:04) not counted
        {"id": logged["churn"], "name": "churn", "runs": 3, "last_activity": "2024-01-02 05:07"},
        {
            "id": logged["forecast"],
            "name": "forecast",
            "runs": 1,
            "last_activity": "2024-01-02 06:04",
        },
    ]


def test_experiments_all_adds_deleted_ones_with_their_stage(logged: dict[str, str]) -> None:
    text = ok("experiments", "--all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["name"], r["runs"], r["lifecycle_stage"]) for r in rows] == [
        ("churn", "3", "active"),
        ("forecast", "1", "active"),
        ("old", "1", "deleted"),
    ]
    assert rows[2]["last_activity"] == "2024-01-02 03:04"


def test_experiments_table_is_aligned(logged: dict[str, str]) -> None:
    lines = ok("experiments").rstrip("\n").split("\n")
    assert [line.split() for line in lines] == [
        ["id", "name", "runs", "last_activity"],
        [logged["churn"], "churn", "3", "2024-01-02", "05:07"],
        [logged["forecast"], "forecast", "1", "2024-01-02", "06:04"],
    ]
    assert len({len(line) for line in lines}) == 1


def test_experiment_without_runs_and_empty_store(store_uri: str) -> None:
    client = reporter.Client(store_uri)
    exp = client.create_experiment("fresh")
    changed = client.get_experiment(exp).last_update_time
    assert changed is not None
    records = json.loads(ok("experiments", "--format", "json"))
    when = dt.datetime.fromtimestamp(changed / 1000, tz=dt.timezone.utc)
    assert records == [
        {"id": exp, "name": "fresh", "runs": 0, "last_activity": when.strftime("%Y-%m-%d %H:%M")}
    ]
    assert ok("runs") == "No runs match.\n"
    assert ok("runs", "--columns", "metrics.rmse", "--format", "json") == "[]\n"
    client.delete_experiment(exp)
    assert ok("experiments") == "No active experiments.\n"
    assert ok("experiments", "--format", "json") == "[]\n"


def test_secrets_are_masked_as_in_the_site(store_uri: str, tmp_path: Path) -> None:
    client = reporter.Client(store_uri)
    exp = client.create_experiment("x")
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        log_run(client, exp, "r", T0, T0 + 1, {"api_key": "hunter22", "note": f"t={token}"}, {})
    client.flush()
    proc = cli("runs", "--format", "json", "--columns", "run_name,params.api_key,params.note")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        {"run_name": "r", "params.api_key": MASK, "params.note": f"t={MASK}"}
    ]
    assert "hunter22" not in proc.stdout and token not in proc.stdout
    assert "api_key" in proc.stderr and "note" in proc.stderr  # which keys, not the values
    assert "hunter22" not in proc.stderr and token not in proc.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "tracker-report.toml").write_text("mask_secrets = false\n")
    shown = json.loads(
        ok("runs", "--format", "json", "--columns", "params.api_key", cwd=str(project))
    )
    assert shown == [{"params.api_key": "hunter22"}]
