"""Archive and restore under kill -9 and races: a process killed before any one of its writes
or deletes leaves every run readable in the store (whole, or as an archived summary whose
archive copy is complete), a rerun finishes the job, and writers logging meanwhile lose
nothing. On a folder and on S3 (moto)."""

from __future__ import annotations

import subprocess
from typing import Any

import pandas as pd
import pyarrow as pa

import reporter
import reporter as mlflow
from reporter.store.archiving import TAG_ARCHIVE_LOCATION
from reporter.store.parquet import archive, reader
from tests.conftest import PYTHON, python_env, store_fs
from tests.test_archive import archive_uri as archive_uri
from tests.test_archive import artifacts_of, events_of, full_state, log_runs

STORE_KINDS = ("local", "s3")

# Runs `tracker-report ARGS` and SIGKILLs itself just before its Nth write or delete of a
# store file (every change of the store or the archive goes through these StoreFS methods).
KILLED_CLI = """
import os, signal, sys
from reporter.store.parquet.fs import StoreFS
limit = int(sys.argv[1])
done = 0

def counted(method):
    def step(*args, **kwargs):
        global done
        if done >= limit:
            os.kill(os.getpid(), signal.SIGKILL)
        done += 1
        return method(*args, **kwargs)
    return step

for name in ("write_atomic", "delete", "put_file"):
    setattr(StoreFS, name, counted(getattr(StoreFS, name)))
from reporter.commands.main import run
code = run(sys.argv[2:])
sys.exit(code)
"""


def cli_killed_at(limit: int, *args: str) -> int:
    """Run the command, killed before its `limit`-th change; return its exit code."""
    proc = subprocess.run(
        [PYTHON, "-c", KILLED_CLI, str(limit), *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, -9), proc.stderr
    return proc.returncode


Baseline = dict[str, tuple[pa.Table, dict[str, str], tuple[Any, ...]]]


def check_every_run_readable(
    client: reporter.Client, archive_uri: str, baseline: Baseline
) -> dict[str, str]:
    """Each run reads whole (exactly as before) or as an archived summary whose archive copy
    is complete; return {run_id: "whole" | "archived"}."""
    client.store.clear_cache()
    found = {}
    for run_id, (events, files, state) in baseline.items():
        run = client.get_run(run_id)
        if TAG_ARCHIVE_LOCATION in run.data.tags:
            assert run.data.params == state[4] and run.data.metrics == state[5]
            cold = reporter.Client(archive_uri)
            assert events_of(cold, run_id).equals(events)
            assert artifacts_of(cold, run_id) == files
            found[run_id] = "archived"
        else:
            assert events_of(client, run_id).equals(events)
            assert artifacts_of(client, run_id) == files
            assert full_state(client, run_id) == state
            found[run_id] = "whole"
    return found


def test_kill_at_every_step_of_archive_and_restore_loses_no_run(store_uri, archive_uri, client):
    ids = log_runs(1)
    client.compact()
    ids += log_runs(1)
    other = log_runs(1, experiment="other", artifacts=False)
    baseline = {
        r: (events_of(client, r), artifacts_of(client, r), full_state(client, r))
        for r in ids + other
    }
    archive_args = [
        "archive",
        "--store",
        store_uri,
        "--to",
        archive_uri,
        "--experiment",
        "churn",
        "--filter",
        "params.lr = '0.1'",
    ]
    restore_args = ["restore", *ids, "--store", store_uri, "--from", archive_uri]
    stride = 1 if store_uri.startswith("/") else 3  # S3 runs every third kill point
    limit, finished = 0, {"archive": False, "restore": False}
    while not all(finished.values()):
        for name, args in (("archive", archive_args), ("restore", restore_args)):
            if cli_killed_at(limit, *args) == 0:
                finished[name] = True
            seen = check_every_run_readable(client, archive_uri, baseline)
            assert all(seen[r] == "whole" for r in other)
            assert cli_killed_at(10**9, *args) == 0  # the rerun finishes the job
            seen = check_every_run_readable(client, archive_uri, baseline)
            want = "archived" if name == "archive" else "whole"
            assert all(seen[r] == want for r in ids), (name, limit, seen)
            if name == "archive":  # nothing of theirs left in the store
                fs = store_fs(client)
                exp_id = client.get_run(ids[0]).info.experiment_id
                assert not {p.split("/")[0] for p in archive.held_parts(fs, exp_id)} & set(ids)
                assert all(client.store.list_artifacts(r) == [] for r in ids)
        limit += stride
    assert limit > 10  # the loop went through the steps, not around them


WRITER = """
import sys
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("churn")
for r in range(int(sys.argv[2])):
    with mlflow.start_run(run_name=f"w{r}"):
        mlflow.log_param("lr", "0.2")
        for step in range(20):
            mlflow.log_metric("m", r * 100 + step, step=step)
print("done")
"""


def test_two_racing_archive_passes_and_a_writer_lose_nothing(store_uri, archive_uri, client):
    ids = log_runs(4)
    client.compact()
    ids += log_runs(2)
    baseline = {
        r: (events_of(client, r), artifacts_of(client, r), full_state(client, r)) for r in ids
    }
    args = [
        "-c",
        "from reporter.commands.main import main; main()",
        "archive",
        "--store",
        store_uri,
        "--to",
        archive_uri,
        "--filter",
        "params.lr = '0.1'",
    ]
    writer = subprocess.Popen(
        [PYTHON, "-c", WRITER, store_uri, "15"],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    racers = [
        subprocess.Popen(
            [PYTHON, *args],
            env=python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in [*racers, writer]:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    seen = check_every_run_readable(client, archive_uri, baseline)
    assert set(seen.values()) == {"archived"}
    for run_id in ids:  # one summary read once, however many passes published it
        assert len(client.get_metric_history(run_id, "rmse")) == 1
    written = mlflow.search_runs(experiment_names=["churn"], filter_string="params.lr = '0.2'")
    assert isinstance(written, pd.DataFrame)
    assert len(written) == 15
    for run_id in written["run_id"]:
        assert [m.value for m in client.get_metric_history(run_id, "m")] == [
            float(int(client.get_run(run_id).info.run_name[1:]) * 100 + s) for s in range(20)
        ]
    fs = store_fs(client)
    exp_id = client.get_run(ids[0]).info.experiment_id
    assert not {p.split("/")[0] for p in archive.held_parts(fs, exp_id)} & set(ids)
    assert len(reader.list_archived(fs, exp_id)) in (1, 2)
