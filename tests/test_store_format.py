"""The store is plain Parquet: the documented recipes read it without our code."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import reporter
import reporter as mlflow
from reporter.store.parquet import compaction, reader, schema
from tests import recipes
from tests.conftest import CLI_CODE, PYTHON, python_env, store_fs


@pytest.fixture
def logged(store_uri):
    """Two finished runs, one of them compacted, one resumed after compaction."""
    mlflow.set_experiment("fmt")
    ids = []
    for depth in (4, 8):
        with mlflow.start_run() as run:
            mlflow.log_param("depth", depth)
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + depth), step=step)
        ids.append(run.info.run_id)
    reporter.Client().compact()
    with mlflow.start_run(run_id=ids[0]):
        mlflow.log_metric("loss", 0.01, step=5)
    return ids


def test_layout_and_version_file(store_uri, logged):
    root = Path(store_uri)
    meta = json.loads((root / schema.STORE_FILE).read_text())
    assert meta == {"format": schema.FORMAT_NAME, "version": schema.FORMAT_VERSION}
    exp = mlflow.get_experiment_by_name("fmt")
    assert exp is not None
    record = json.loads((root / "experiments" / f"{exp.experiment_id}.json").read_text())
    assert record["name"] == "fmt"
    assert len(list((root / "runs" / exp.experiment_id / "_compacted").glob("*.parquet"))) == 1
    for run_id in logged:
        assert (root / "runs" / exp.experiment_id / run_id / "run.json").is_file()


def test_pandas_recipe_from_the_docs(store_uri, logged):
    found = recipes.pandas_recipe(store_uri)
    assert set(schema.COLUMNS) <= set(found["events"].columns)
    metrics = found["metrics"]
    assert len(metrics) == 11 and not metrics.duplicated(["run_id", "step"]).any()
    params = found["params"]
    assert params.loc[logged[0], "depth"] == "4" and params.loc[logged[1], "depth"] == "8"


def test_duckdb_recipe_from_the_docs(store_uri, logged):
    rows = recipes.duckdb_recipe(store_uri)
    expected = sorted([(logged[0], "loss", 0.01, 6), (logged[1], "loss", 1.0 / 12, 5)])
    assert [(r[0], r[1], round(r[2], 9), r[3]) for r in rows] == [
        (a, b, round(c, 9), d) for a, b, c, d in expected
    ]


def test_recipes_take_each_row_once_when_compactions_left_copies(store_uri, logged):
    """The state two racing compactions leave (two compacted files holding the same parts, and a
    raw part beside the file that merged it): the documented recipes still count each row once."""
    client = reporter.Client()
    exp = client.get_experiment_by_name("fmt")
    assert exp is not None
    exp_id = exp.experiment_id
    fs = store_fs(client)
    listing = reader.list_experiment(fs, exp_id)
    tables = compaction.read_parts(fs, listing.parts)
    assert tables  # the resumed run's raw part
    (compacted,) = listing.compacted
    copy = fs.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER, "zz-copy.parquet")
    fs.write_atomic(copy, fs.read_bytes(compacted.path))  # the loser's copy of the same parts
    compaction.publish(fs, exp_id, pa.concat_tables(tables.values()), sorted(tables))
    assert recipes.plain_metric_rows(store_uri) == 5 + 5 + 5 + 5 + 1 + 1  # copies are there
    test_pandas_recipe_from_the_docs(store_uri, logged)
    test_duckdb_recipe_from_the_docs(store_uri, logged)
    assert count_points(client, exp_id) == 11


def count_points(client: reporter.Client, exp_id: str) -> int:
    _, table = reader.read_events(store_fs(client), exp_id)
    return sum(1 for kind in table.column("kind").to_pylist() if kind == "metric")


def test_newer_store_version_is_refused_with_a_hint(store_uri, logged):
    path = Path(store_uri) / schema.STORE_FILE
    path.write_text(json.dumps({"format": schema.FORMAT_NAME, "version": 99}))
    store = reporter.store.parquet.store.ParquetStore(store_uri)
    with pytest.raises(reporter.StoreFormatError, match="Upgrade"):
        store.check_format()


WRITER_OF_AN_OLDER_VERSION = """
import sys
import reporter
client = reporter.Client(sys.argv[1])
exp_id = client.get_experiment_by_name("fmt").experiment_id
run_id = client.search_runs_frame([exp_id])["run_id"].iloc[0]
for name, attempt in [
    ("create_run", lambda: client.create_run(exp_id)),
    ("create_experiment", lambda: client.create_experiment("another")),
    ("set_experiment_tag", lambda: client.set_experiment_tag(exp_id, "k", "v")),
    ("log_text", lambda: client.log_text(run_id, "x", "x.txt")),
]:
    try:
        attempt()
        print(name, "wrote")
    except reporter.StoreFormatError as exc:
        print(name, "refused:", exc)
"""


@pytest.mark.parametrize("version", ["99", "1e999", '"two"', "null"])
def test_writers_refuse_a_newer_or_invalid_store_before_writing(store_uri, logged, version):
    path = Path(store_uri) / schema.STORE_FILE
    path.write_text(f'{{"format": "{schema.FORMAT_NAME}", "version": {version}}}')
    before = sorted(p.relative_to(store_uri) for p in Path(store_uri).rglob("*") if p.is_file())
    expected = "store format version 99.*Upgrade" if version == "99" else "not a valid store file"
    proc = subprocess.run(
        [PYTHON, "-c", WRITER_OF_AN_OLDER_VERSION, store_uri],
        capture_output=True,
        text=True,
        env=python_env(),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4 and all(re.search(f"refused:.*{expected}", line) for line in lines)
    after = sorted(p.relative_to(store_uri) for p in Path(store_uri).rglob("*") if p.is_file())
    assert after == before  # nothing written
    built = subprocess.run(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "build",
            "--store",
            store_uri,
            "--out",
            str(Path(store_uri).parent / "site"),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
    )
    assert built.returncode == 1 and "Traceback" not in built.stderr
    assert re.search(expected, built.stderr)


def test_tags_older_stores_wrote_under_reporter_names_read_as_mlflows(store_uri):
    """Stores written before MLflow's tag names were used hold `reporter.parentRunId`,
    `reporter.user`, ...: they read, filter and compact as MLflow's names, and of two names
    for one tag the later event wins."""
    import pyarrow.parquet as pq

    from reporter.core.system_tags import LEGACY_NAMES
    from reporter.entities import RunTag

    client = mlflow.Client(store_uri)
    exp = client.create_experiment("old")
    parent = client.create_run(exp, run_name="parent").info.run_id
    child = client.create_run(exp, run_name="child").info.run_id
    old = [  # exactly what the older tracking code logged
        RunTag("reporter.parentRunId", parent),
        RunTag("reporter.note.content", "an old note"),
        RunTag("reporter.source.git.commit", "a" * 40),
    ]
    client.log_batch(child, tags=old)
    # both names in one part: MLflow's wins, in whatever order (compaction sorts by key)
    client.log_batch(parent, tags=[RunTag("mlflow.user", "new"), RunTag("reporter.user", "old")])
    client.log_batch(child, tags=[RunTag("mlflow.user", "new")])
    client.store.flush()  # the next event goes into a later part, which wins
    client.log_batch(child, tags=[RunTag("reporter.user", "older")])

    def check() -> None:
        tags = client.get_run(child).data.tags
        assert tags["mlflow.parentRunId"] == parent
        assert tags["mlflow.note.content"] == "an old note"
        assert tags["mlflow.source.git.commit"] == "a" * 40
        assert tags["mlflow.user"] == "older"  # logged last
        assert client.get_run(parent).data.tags["mlflow.user"] == "new"  # logged last
        assert not set(tags) & set(LEGACY_NAMES)
        found = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
        assert [r.info.run_id for r in found] == [child]
        frame = mlflow.search_runs([exp], output_format="pandas")
        assert isinstance(frame, pd.DataFrame)
        assert "tags.reporter.parentRunId" not in frame.columns
        old_filter = client.search_runs([exp], f"tags.reporter.parentRunId = '{parent}'")
        assert [r.info.run_id for r in old_filter] == [child]  # an old filter still works
        assert set(frame["tags.mlflow.user"]) == {"older", "new"}

    check()
    client.set_terminated(child)
    client.set_terminated(parent)
    on_disk = set()
    for path in Path(store_uri).rglob("*.parquet"):
        on_disk |= set(pq.read_table(path, columns=["key"]).column("key").to_pylist())
    assert {"reporter.parentRunId", "reporter.user"} <= on_disk  # the old names are stored
    client.compact()
    check()
