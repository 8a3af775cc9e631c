"""A damaged file is skipped with a warning naming it; the rest reads; nothing is deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import StoreWarning
from reporter.store.parquet import schema
from tests.conftest import CLI_CODE


@pytest.fixture
def three_runs(store_uri):
    mlflow.set_experiment("damaged")
    ids = []
    for i in range(3):
        with mlflow.start_run() as run:
            mlflow.log_param("i", i)
            mlflow.log_metric("m", float(i))
        ids.append(run.info.run_id)
    return ids


def parts_of(store_uri: str, run_id: str) -> list[Path]:
    """Return the raw part files of a run (its first, written by create_run, then the rest)."""
    paths = sorted(Path(store_uri).rglob(f"{schema.PARTS_FOLDER}/{run_id}-*.parquet"))
    assert len(paths) == 2  # a run of start_run, log, end_run
    return paths


def test_truncated_and_foreign_parts_are_skipped_and_kept(store_uri, three_runs):
    first, truncated = parts_of(store_uri, three_runs[0])
    for path in (first, truncated):
        path.write_bytes(path.read_bytes()[:50])
    foreign = truncated.parent / f"{three_runs[1]}-0000-foreign-000001.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(foreign)
    client = reporter.Client(store_uri)
    with pytest.warns(StoreWarning) as caught:
        frame = mlflow.search_runs()
    assert isinstance(frame, pd.DataFrame)
    messages = " ".join(str(w.message) for w in caught)
    assert truncated.name in messages and foreign.name in messages
    assert "missing columns" in messages
    assert sorted(frame["params.i"]) == ["1", "2"]  # run 0's parts are unreadable
    with pytest.warns(StoreWarning):
        client.compact()
    assert first.exists() and truncated.exists() and foreign.exists()  # never deleted
    assert client.get_run(three_runs[2]).data.params == {"i": "2"}  # no warning: not its file
    with pytest.warns(StoreWarning) as caught, pytest.raises(reporter.NotFoundError):
        client.get_run(three_runs[0])
    messages = " ".join(str(w.message) for w in caught)
    assert first.name in messages and truncated.name in messages


def test_invalid_experiment_json_is_skipped_with_its_name(store_uri, three_runs):
    bad = Path(store_uri) / schema.EXPERIMENTS_FOLDER / "123.json"
    bad.write_text("{not json")
    with pytest.warns(StoreWarning, match="123.json"):
        names = {e.name for e in mlflow.search_experiments()}
    assert "damaged" in names
    assert bad.read_text() == "{not json"


def test_an_experiment_record_copied_under_another_id_is_skipped(store_uri, three_runs, tmp_path):
    """Two records naming one experiment (a file copied by hand): the copy is skipped with a
    warning, and the site builds (it once stopped: two pages wanted one path)."""
    from reporter.site.build import build
    from reporter.view.config import BuildConfig

    folder = Path(store_uri) / schema.EXPERIMENTS_FOLDER
    (original,) = [
        p for p in folder.glob("*.json") if json.loads(p.read_text())["name"] == "damaged"
    ]
    copy = folder / "123.json"
    copy.write_bytes(original.read_bytes())
    with pytest.warns(StoreWarning, match="123.json.*not its own id"):
        names = [e.name for e in mlflow.search_experiments()]
    assert names.count("damaged") == 1
    result = build(BuildConfig(store=store_uri, out=str(tmp_path / "site")))
    assert result.runs == 3 and any("123.json" in w for w in result.warnings)


def test_unknown_store_version_is_a_clear_error(store_uri, three_runs):
    (Path(store_uri) / schema.STORE_FILE).write_text(json.dumps({"version": 7}))
    store = reporter.store.parquet.store.ParquetStore(store_uri)
    with pytest.raises(reporter.StoreFormatError, match="version 7"):
        store.require_existing()


def test_temporary_files_of_an_interrupted_write_are_ignored(store_uri, three_runs):
    folder = parts_of(store_uri, three_runs[0])[0].parent
    (folder / ".tmp-deadbeef").write_bytes(b"partial")
    assert len(mlflow.search_runs()) == 3


def test_a_part_from_a_newer_format_is_skipped_with_its_version(store_uri, three_runs):
    import pyarrow.parquet as pq

    paths = parts_of(store_uri, three_runs[0])
    for path in paths:
        table = pq.read_table(path)
        newer = table.replace_schema_metadata({schema.VERSION_METADATA_KEY: b"9"})
        pq.write_table(newer, path)
    with pytest.warns(StoreWarning, match=r"format version 9.*reads up to 1"):
        frame = mlflow.search_runs()
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["params.i"]) == ["1", "2"]
    assert all(path.exists() for path in paths)


def test_the_site_builds_around_damage_and_strict_fails(store_uri, three_runs, tmp_path):
    import subprocess
    import sys

    from reporter.site.build import build
    from reporter.view.config import BuildConfig
    from tests.conftest import python_env

    with mlflow.start_run() as run:
        mlflow.log_text("kept", "a.txt")
    (run_json,) = Path(store_uri).rglob(f"{run.info.run_id}/run.json")
    run_json.unlink()  # a run folder missing its info: the run's events still tell its story
    first, truncated = parts_of(store_uri, three_runs[0])
    for path in (first, truncated):
        path.write_bytes(path.read_bytes()[:40])
    before = {p: p.read_bytes() for p in Path(store_uri).rglob("*") if p.is_file()}
    result = build(BuildConfig(store=store_uri, out=str(tmp_path / "site")))
    assert result.runs == 3  # run 0's parts are unreadable; the rest are there
    assert any(truncated.name in w for w in result.warnings)
    assert (tmp_path / "site/runs" / run.info.run_id / "artifacts/a.txt").read_text() == "kept"
    strict = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI_CODE,
            "build",
            "--store",
            store_uri,
            "--out",
            str(tmp_path / "strict"),
            "--strict",
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert strict.returncode == 1 and truncated.name in strict.stderr
    assert "Traceback" not in strict.stderr
    after = {p: p.read_bytes() for p in Path(store_uri).rglob("*") if p.is_file()}
    assert after == before  # nothing in the store was modified
