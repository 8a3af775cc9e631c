"""Datasets through the tracking API and the store, on a folder and on S3: `log_input`,
`log_inputs`, `Client.log_inputs`, `run.inputs` on every Run returned, `datasets.*` searches,
and the store's promises (kill -9, racing writers, compaction) for `input` events."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap

import pandas as pd
import pytest

import reporter as mlflow
import reporter.data
from reporter.core.datasets import DATASET_CONTEXT_TAG, InputTag, make_dataset_input
from reporter.core.errors import InvalidArgumentError, InvalidFilterError, NotFoundError
from reporter.tracking.inputs import log_input, log_inputs
from tests.conftest import PYTHON, python_env

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})


def dataset(name: str, rows: int = 3) -> reporter.data.PandasDataset:
    return reporter.data.from_pandas(FRAME.head(rows), source=f"data/{name}.csv", name=name)


def names(runs: object, by_id: dict[str, str]) -> list[str]:
    assert isinstance(runs, list)
    return sorted(by_id[r.info.run_id] for r in runs)


def all_runs() -> list[mlflow.Run]:
    runs = mlflow.search_runs(output_format="list")
    assert isinstance(runs, list)
    return runs


def test_a_run_keeps_each_dataset_once_with_its_first_context_and_tags():
    train, test = dataset("train"), dataset("test", 2)
    with mlflow.start_run() as run:
        log_input(train, context="training", tags={"k": "v1"})
        log_input(train, context="eval", tags={"k": "v2"})  # kept once: the first wins
        log_input(test, context="eval")
        log_inputs([dataset("b", 1), dataset("b", 1)], ["c1", "c2"], [None, {"z": "1"}])
    used = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest, d.context) for d in used] == [
        ("train", "4cfd5140", "training"),
        ("test", "ae351d10", "eval"),
        ("b", "9ed27b0a", "c1"),
    ]
    assert used[0].tags == [InputTag("k", "v1"), InputTag(DATASET_CONTEXT_TAG, "training")]
    assert used[0].dataset == train._to_mlflow_entity()
    assert "k" not in mlflow.get_run(run.info.run_id).data.tags  # input tags are not run tags


def test_every_run_returned_has_its_inputs():
    with mlflow.start_run() as first:
        log_input(dataset("train"), context="training")
    with mlflow.start_run() as second:
        pass
    listed = {r.info.run_id: r for r in all_runs()}
    assert [d.dataset.name for d in listed[first.info.run_id].inputs.dataset_inputs] == ["train"]
    assert listed[second.info.run_id].inputs.dataset_inputs == []
    last = mlflow.last_active_run()
    assert last is not None and last.info.run_id == second.info.run_id
    with mlflow.start_run(run_id=first.info.run_id):
        last = mlflow.last_active_run()
        assert last is not None and len(last.inputs.dataset_inputs) == 1
    client = mlflow.Client()
    again = {r.info.run_id: r for r in client.search_runs([first.info.experiment_id])}
    assert len(again[first.info.run_id].inputs.dataset_inputs) == 1


def test_log_input_starts_a_run_when_none_is_active():
    log_input(dataset("train"))
    run = mlflow.active_run()
    assert run is not None
    used = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(d.dataset.name, d.tags) for d in used] == [("train", [])]


def test_the_client_logs_dataset_inputs_to_any_run():
    client = mlflow.Client()
    run = client.create_run("0")
    item = reporter.data.from_pandas(FRAME, source="s3://bucket/x.csv")
    client.log_inputs(run.info.run_id, [make_dataset_input(item, "training")])
    client.log_inputs(run.info.run_id)  # nothing to log: nothing happens
    (got,) = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert (got.dataset.source_type, got.context) == ("s3", "training")
    with pytest.raises(InvalidArgumentError, match="datasets must be a list"):
        client.log_inputs(run.info.run_id, make_dataset_input(item))  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        client.log_inputs("f" * 32, [make_dataset_input(item)])
    client.set_terminated(run.info.run_id)  # no heartbeat left to write after the test


def test_misused_arguments_are_refused_as_mlflow_refuses_them():
    with pytest.raises(InvalidArgumentError, match="`dataset` must be specified"):
        log_input(context="training")
    with pytest.raises(InvalidArgumentError, match="same length"):
        log_inputs([dataset("train")])
    with pytest.raises(InvalidArgumentError, match="only supported by Databricks"):
        log_inputs([], [], [], models=["m"])
    with pytest.raises(InvalidArgumentError, match="Expected a data set"):
        log_input("train.csv")
    assert mlflow.active_run() is None  # a refused call starts no run


def test_runs_that_used_the_same_data_are_found_by_its_digest():
    train = dataset("train")
    by_id = {}
    for name, logged in (("r1", [train, dataset("b", 2)]), ("r2", [dataset("b", 2)]), ("r3", [])):
        with mlflow.start_run(run_name=name) as run:
            for item in logged:
                log_input(item, context="training" if item is train else "eval")
        by_id[run.info.run_id] = name
    for text, expected in [
        (f"datasets.digest = '{train.digest}'", ["r1"]),
        ("datasets.name != 'train'", ["r1", "r2"]),
        ("datasets.context = 'eval' AND params.x IS NULL", ["r1", "r2"]),
        ("datasets.name IN ('nope')", []),
    ]:
        assert names(mlflow.search_runs(filter_string=text, output_format="list"), by_id) == (
            expected
        )
        frame = mlflow.search_runs(filter_string=text)
        assert isinstance(frame, pd.DataFrame)
        assert sorted(by_id[r] for r in frame["run_id"]) == expected
        assert not [c for c in frame.columns if c.startswith("datasets")]  # MLflow's columns
    with pytest.raises(InvalidFilterError, match="unknown dataset key 'source'"):
        mlflow.search_runs(filter_string="datasets.source = 'x'")


def test_inputs_keep_their_logging_order_through_compaction(store_uri):
    with mlflow.start_run() as run:  # one batch: their keys sort the other way round
        log_inputs([dataset(n) for n in "zyx"], ["c"] * 3, [None] * 3)
        log_input(dataset("w"))
    client = mlflow.Client(store_uri)
    assert sum(r.parts_merged for r in client.compact()) > 0
    client.store.clear_cache()
    used = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [d.dataset.name for d in used] == ["z", "y", "x", "w"]


KILLED_WRITER = """
import sys, time
import pandas as pd
import reporter as mlflow, reporter.data
from reporter.tracking.inputs import log_input
mlflow.start_run()
log_input(reporter.data.from_pandas(pd.DataFrame({"a": [1]}), source="x.csv", name="seen"))
mlflow.Client().flush()
print(mlflow.active_run().info.run_id, flush=True)
time.sleep(600)  # killed long before this ends
"""


def test_a_dataset_logged_before_kill_9_stays(store_uri):
    env = python_env(TRACKER_TRACKING_URI=store_uri, TRACKER_LOG_ENVIRONMENT="0")
    with subprocess.Popen(
        [PYTHON, "-c", textwrap.dedent(KILLED_WRITER)], env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    (used,) = mlflow.Client(store_uri).get_run(run_id).inputs.dataset_inputs
    assert used.dataset.name == "seen"


RACING_WRITER = """
import sys
import pandas as pd
import reporter as mlflow, reporter.data
from reporter.core.datasets import make_dataset_input
run_id, me = sys.argv[1], sys.argv[2]
frame = pd.DataFrame({"a": [1, 2]})
shared = reporter.data.from_pandas(frame, source="shared.csv", name="shared")
own = reporter.data.from_pandas(frame, source=me + ".csv", name=me)
client = mlflow.Client()
for _ in range(20):
    client.log_inputs(run_id, [make_dataset_input(shared, me), make_dataset_input(own, me)])
    client.flush()
"""


def test_racing_writers_leave_each_dataset_once(store_uri):
    run_id = mlflow.Client(store_uri).create_run("0").info.run_id
    mlflow.Client(store_uri).set_terminated(run_id)  # the writers log to it all the same
    env = python_env(TRACKER_TRACKING_URI=store_uri, TRACKER_LOG_ENVIRONMENT="0")
    writers = [f"w{i}" for i in range(4)]
    procs = [
        subprocess.Popen([PYTHON, "-c", textwrap.dedent(RACING_WRITER), run_id, me], env=env)
        for me in writers
    ]
    assert [proc.wait(timeout=240) for proc in procs] == [0] * len(writers)
    used = mlflow.Client(store_uri).get_run(run_id).inputs.dataset_inputs
    assert sorted(d.dataset.name for d in used) == sorted(["shared", *writers])
    (shared,) = [d for d in used if d.dataset.name == "shared"]
    assert shared.context in writers  # whichever writer's part came first
    assert all(d.context == d.dataset.name for d in used if d is not shared)
