"""`tracker-report archive` and `restore`: which runs they take (age, filter, the [retention]
policy and its keep rule), what they print, and their errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reporter
import reporter as mlflow
from reporter.core import clock
from reporter.core.durations import DAY_MS
from reporter.store.archiving import TAG_ARCHIVE_LOCATION
from tests.cli import run_cli


def log(name: str, *, keep: bool = False, days_ago: float = 0) -> str:
    """A finished run that ended `days_ago` days ago (MlflowClient's create_run and
    set_terminated take the times)."""
    client = reporter.Client()
    exp_id = mlflow.set_experiment("churn").experiment_id
    end = int(clock.now_ms() - days_ago * DAY_MS)
    run = client.create_run(exp_id, start_time=end - 60_000, run_name=name)
    run_id = run.info.run_id
    client.log_param(run_id, "model", name)
    client.log_metric(run_id, "rmse", 0.5)
    client.log_text(run_id, "x", "a.txt")
    if keep:
        client.set_tag(run_id, "keep", "true")
    client.set_terminated(run_id, end_time=end)
    return run_id


def archived(client: reporter.Client, run_id: str) -> bool:
    client.store.clear_cache()
    return TAG_ARCHIVE_LOCATION in client.get_run(run_id).data.tags


def test_older_than_takes_runs_that_ended_that_long_ago(store_uri, client, tmp_path):
    old = log("old", days_ago=200)
    young = log("young", days_ago=170)
    cold = str(tmp_path / "cold")

    dry = run_cli(
        "archive", "--store", store_uri, "--to", cold, "--older-than", "180d", "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert "Would archive 1 run" in dry.stdout and old in dry.stdout and young not in dry.stdout
    assert not archived(client, old) and not Path(cold).exists()

    done = run_cli(
        "archive", "--store", store_uri, "--to", cold, "--older-than", "180d", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [m["run_id"] for m in report["moved"]] == [old] and report["freed_bytes"] > 0
    assert archived(client, old) and not archived(client, young)

    again = run_cli("archive", "--store", store_uri, "--to", cold, "--older-than", "180d")
    assert again.returncode == 0 and "Archived 0 runs" in again.stdout
    assert "1 selected runs were archived already" in again.stderr


def test_the_policy_archives_by_age_into_its_store_and_never_what_keep_selects(
    store_uri, client, tmp_path
):
    plain, kept = log("plain", days_ago=31), log("kept", keep=True, days_ago=31)
    cold = tmp_path / "cold"
    (tmp_path / "tracker-report.toml").write_text(
        f'store = "{store_uri}"\n[retention]\narchive_after = "30d"\n'
        f'keep = "tags.keep = \'true\'"\narchive_to = "{cold.as_posix()}"\n'
    )
    recent = log("recent", days_ago=29)

    result = run_cli("archive", "--policy", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "1 matching runs kept by the keep rule" in result.stderr
    assert archived(client, plain) and not archived(client, kept)
    assert not archived(client, recent)
    # the keep rule holds without --policy too, whenever it is configured
    by_filter = run_cli(
        "archive", "--to", str(cold), "--filter", "params.model = 'kept'", cwd=tmp_path
    )
    assert by_filter.returncode == 0 and not archived(client, kept)


def test_restore_by_ids_and_by_a_filter_over_the_archive(store_uri, client, tmp_path):
    ids = [log("a"), log("b"), log("c")]
    cold = str(tmp_path / "cold")
    assert (
        run_cli(
            "archive", "--store", store_uri, "--to", cold, "--filter", "metrics.rmse > 0"
        ).returncode
        == 0
    )
    assert all(archived(client, r) for r in ids)

    one = run_cli("restore", ids[0], "--store", store_uri, "--from", cold)
    assert one.returncode == 0, one.stderr
    assert "Restored 1 run" in one.stdout
    two = run_cli(
        "restore", "--filter", "params.model != 'a'", "--store", store_uri, "--from", cold
    )
    assert two.returncode == 0, two.stderr
    assert "Restored 2 runs" in two.stdout
    assert not any(archived(client, r) for r in ids)
    assert client.store.list_artifacts(ids[1]) == [("a.txt", 1)]
    # restoring what is here already is no error; a run the archive lacks is
    assert run_cli("restore", ids[0], "--store", store_uri, "--from", cold).returncode == 0
    missing = run_cli("restore", "0" * 32, "--store", store_uri, "--from", cold)
    assert missing.returncode == 1 and "no such run in the archive" in missing.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["archive", "--older-than", "1d"], 2, "--to"),
        (["archive", "--to", "X"], 2, "Choose which runs"),
        (["archive", "--to", "X", "--older-than", "soon"], 1, "30d"),
        (["archive", "--policy"], 1, "[retention]"),
        (["archive", "--to", "X", "--filter", "params.a >>> 1"], 1, "filter"),
        (["restore", "--from", "X"], 2, "run ids or --filter"),
        (["restore", "abc", "--filter", "x", "--from", "X"], 2, "one of the two"),
        (["archive", "--to", "http://127.0.0.1:9/", "--older-than", "1d"], 1, "archive"),
    ],
)
def test_bad_requests_say_what_is_valid_without_a_traceback(
    store_uri, client, args, code, says, tmp_path
):
    log("a")
    cold = str(tmp_path / "cold")
    result = run_cli(*[cold if a == "X" else a for a in args], "--store", store_uri, cwd=tmp_path)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_retention_table_is_named(store_uri, tmp_path):
    (tmp_path / "tracker-report.toml").write_text('[retention]\narchive_after = "forever"\n')
    result = run_cli("archive", "--policy", "--store", store_uri, cwd=tmp_path)
    assert result.returncode == 1 and "archive_after in [retention]" in result.stderr
    (tmp_path / "tracker-report.toml").write_text('[retention]\nkeep_forever = "x"\n')
    result = run_cli("archive", "--policy", "--store", store_uri, cwd=tmp_path)
    assert result.returncode == 1 and "valid: archive_after, keep, archive_to" in result.stderr


def test_the_usage_log_run_is_never_archived(store_uri, client, tmp_path, monkeypatch):
    old = log("old", days_ago=400)
    logged = run_cli("du", "--store", store_uri, "--log")
    assert logged.returncode == 0, logged.stderr
    now = clock.now_ms()
    monkeypatch.setattr(clock, "now_ms", lambda: now + 365 * DAY_MS)  # a year of du --log on
    result = run_cli(
        "archive",
        "--store",
        store_uri,
        "--to",
        str(tmp_path / "cold"),
        "--older-than",
        "30d",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert [m["run_id"] for m in json.loads(result.stdout)["moved"]] == [old]
    refused = run_cli("du", "--store", store_uri, "--log", "--experiment", "churn")
    assert refused.returncode == 2 and "--log records the whole store" in refused.stderr
