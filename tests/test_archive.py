"""Archive and restore: runs move whole, are checked before anything is removed, stay listed
as archived, and come back exactly as they were. On a folder and on S3 (moto)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import InvalidArgumentError, StoreFormatError
from reporter.store.archiving import TAG_ARCHIVE_LOCATION, TAG_ARCHIVE_TIME
from reporter.store.parquet import archive, events, reader
from reporter.store.parquet.fs import StoreFS
from tests.conftest import new_bucket, parquet_store, store_fs

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


@pytest.fixture
def archive_uri(store_uri: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An archive store of the same kind as the store (an S3 bucket of its own, or a folder)."""
    if store_uri.startswith("s3://"):
        endpoint = request.getfixturevalue("s3_endpoint")
        monkeypatch = request.getfixturevalue("monkeypatch")
        return f"s3://{new_bucket(endpoint, monkeypatch)}/cold"
    return str(tmp_path / "archive")


def log_runs(count: int, *, experiment: str = "churn", artifacts: bool = True) -> list[str]:
    """Finished runs with params, tags, metric histories, inputs and artifacts."""
    mlflow.set_experiment(experiment)
    ids = []
    for i in range(count):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_params({"depth": i, "lr": 0.1})
            mlflow.set_tags({"team": "grid", "draft": "yes"})
            mlflow.delete_tag("draft")
            for step in range(30):
                mlflow.log_metric("rmse", 1 / (step + 1) + i, step=step)
            mlflow.log_metric("acc", 0.5 + i / 10)
            if artifacts:
                mlflow.log_text(f"notes {i}\n" * 50, "notes/readme.md")
                mlflow.log_dict({"i": i}, "config.json")
        ids.append(run.info.run_id)
    return ids


def events_of(client: reporter.Client, run_id: str) -> pa.Table:
    """A run's event rows as stored, in one canonical order (part, kind, key, then position)."""
    fs = store_fs(client)
    exp_id = client.get_run(run_id).info.experiment_id
    _, table = reader.read_events(fs, exp_id, run_id)
    table = table.append_column("pos", pa.array(range(table.num_rows), pa.int64()))
    plain = pa.table({n: pc.cast(table[n], pa.string()) for n in ("part", "kind", "key")})
    order = pc.sort_indices(
        plain.append_column("pos", table["pos"]),
        sort_keys=[
            ("part", "ascending"),
            ("kind", "ascending"),
            ("key", "ascending"),
            ("pos", "ascending"),
        ],
    )
    out = table.take(order).drop_columns(["pos"])
    return pa.table(
        {
            n: pc.cast(out[n], out.schema.field(n).type.value_type)
            if pa.types.is_dictionary(out.schema.field(n).type)
            else out[n]
            for n in out.column_names
        }
    )


def artifacts_of(client: reporter.Client, run_id: str) -> dict[str, str]:
    """{artifact path: SHA-256} of a run's files."""
    store = client.store
    return {
        path: hashlib.sha256(store.read_artifact(run_id, path)).hexdigest()
        for path, _ in store.list_artifacts(run_id)
    }


def full_state(client: reporter.Client, run_id: str) -> tuple[Any, ...]:
    run = client.get_run(run_id)
    history = [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, "rmse")]
    return (
        run.info.status,
        run.info.start_time,
        run.info.end_time,
        run.info.run_name,
        run.data.params,
        run.data.metrics,
        run.data.tags,
        history,
    )


def test_archive_then_restore_gives_back_the_same_events_and_artifacts(
    store_uri, archive_uri, client
):
    ids = log_runs(4)
    client.compact()  # shared compacted files: the archive must take rows out of them
    ids += log_runs(2)  # and raw parts
    before = {
        r: (events_of(client, r), artifacts_of(client, r), full_state(client, r)) for r in ids
    }
    moved, stay = ids[::2], ids[1::2]

    report = client.store.archive_runs(moved, archive_uri)

    assert sorted(m.run_id for m in report.moved) == sorted(moved) and not report.skipped
    for run_id in moved:  # listed as archived: the run's data without histories and files
        run = client.get_run(run_id)
        status, _, _, name, params, metrics, tags, history = before[run_id][2]
        assert (run.info.status, run.info.run_name) == (status, name)
        assert run.data.params == params and run.data.metrics == metrics
        assert {
            k: v for k, v in run.data.tags.items() if not k.startswith("reporter.archive")
        } == tags
        assert run.data.tags[TAG_ARCHIVE_LOCATION] == report.location
        assert int(run.data.tags[TAG_ARCHIVE_TIME]) > 0
        assert "draft" not in run.data.tags
        assert [(m.step, m.value) for m in client.get_metric_history(run_id, "rmse")] == [
            history[-1][:2]
        ]
        assert client.store.list_artifacts(run_id) == []
    for run_id in stay:  # the others exactly as they were
        assert events_of(client, run_id).equals(before[run_id][0])
        assert artifacts_of(client, run_id) == before[run_id][1]
    found = mlflow.search_runs(experiment_names=["churn"])
    assert isinstance(found, pd.DataFrame)
    assert sorted(found["run_id"]) == sorted(ids)
    where = dict(zip(found["run_id"], found[f"tags.{TAG_ARCHIVE_LOCATION}"]))
    assert all(where[r] == report.location for r in moved)
    assert all(not isinstance(where[r], str) for r in stay)
    # no row of an archived run is left in the store's event files
    held = archive.held_parts(store_fs(client), client.get_run(ids[0]).info.experiment_id)
    assert not any(p.split("/")[0] in moved for p in held)

    # the archive is a store: its runs read in full
    cold = reporter.Client(archive_uri)
    for run_id in moved:
        assert events_of(cold, run_id).equals(before[run_id][0])
        assert artifacts_of(cold, run_id) == before[run_id][1]

    back = client.store.restore_runs(moved, archive_uri)

    assert sorted(m.run_id for m in back.moved) == sorted(moved)
    for run_id in ids:
        assert events_of(client, run_id).equals(before[run_id][0])  # row for row
        assert artifacts_of(client, run_id) == before[run_id][1]  # byte for byte
        assert full_state(client, run_id) == before[run_id][2]
    # both passes again: nothing to do, nothing changes
    again = client.store.restore_runs(moved, archive_uri)
    assert not again.moved and all("not archived" in why for _, why in again.skipped)


def test_a_dry_run_changes_no_byte_and_says_what_would_move(store_uri, archive_uri, client):
    ids = log_runs(3)
    fs = store_fs(client)
    before = {i.path: fs.digest(i.path) for i in fs.list_files("")}

    report = client.store.archive_runs(ids, archive_uri, dry_run=True)

    assert report.dry_run and sorted(m.run_id for m in report.moved) == sorted(ids)
    for move in report.moved:
        assert move.artifact_bytes == sum(
            size for _, size in client.store.list_artifacts(move.run_id)
        )
        assert move.event_rows > 30 and move.event_bytes > 0
    assert {i.path: fs.digest(i.path) for i in fs.list_files("")} == before
    assert StoreFS(archive_uri).list_files("") == []


def test_running_runs_are_never_archived(store_uri, archive_uri, client):
    done = log_runs(1)
    mlflow.set_experiment("churn")
    with mlflow.start_run() as live:
        mlflow.log_metric("x", 1)
        report = client.store.archive_runs([done[0], live.info.run_id], archive_uri)
    assert [m.run_id for m in report.moved] == done
    assert [(r, "running" in why) for r, why in report.skipped] == [(live.info.run_id, True)]
    assert client.get_run(live.info.run_id).data.metrics == {"x": 1.0}


def test_a_copy_that_differs_in_the_archive_stops_before_anything_is_removed(
    store_uri, archive_uri, client
):
    (run_id,) = log_runs(1)
    before = events_of(client, run_id)
    exp_id = client.get_run(run_id).info.experiment_id
    # the archive already holds a file where this run's events go, with other rows in it
    parts = archive.parts_in(reader.read_events(store_fs(client), exp_id, run_id)[1])
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    planted = f"runs/{exp_id}/_compacted/archive-{run_id}-{digest}.parquet"
    other = log_runs(1, experiment="other", artifacts=False)[0]
    other_exp = client.get_run(other).info.experiment_id
    client.compact()
    (source,) = [i for i in store_fs(client).list_files(f"runs/{other_exp}/_compacted")]
    StoreFS(archive_uri).write_atomic(planted, store_fs(client).read_bytes(source.path))

    with pytest.raises(StoreFormatError, match="other rows"):
        client.store.archive_runs([run_id], archive_uri)

    assert events_of(client, run_id).equals(before)
    assert TAG_ARCHIVE_LOCATION not in client.get_run(run_id).data.tags
    assert len(client.store.list_artifacts(run_id)) == 3


def test_archiving_into_the_store_itself_is_refused(store_uri, client, tmp_path):
    log_runs(1)
    for inside in (store_uri, store_uri.rstrip("/") + "/cold"):
        with pytest.raises(InvalidArgumentError, match="inside it"):
            client.store.archive_runs([], inside)


def test_a_hostile_manifest_cannot_write_outside_the_run(store_uri, archive_uri, client, tmp_path):
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    exp_id = client.get_run(run_id).info.experiment_id
    cold = StoreFS(archive_uri)
    rel = archive.manifest_rel(exp_id, run_id)
    good = json.loads(cold.read_bytes(rel))
    victim = tmp_path / "victim.txt"
    attacks = {
        "escaping name": {**good, "artifacts": {"../../../../x.txt": {"sha256": "0", "size": 1}}},
        "absolute name": {**good, "artifacts": {str(victim): {"sha256": "0", "size": 1}}},
        "NUL in a name": {**good, "artifacts": {"a\x00b": {"sha256": "0", "size": 1}}},
        "another run's parts": {**good, "parts": [f"{'0' * 32}/p"]},
        "another run": {**good, "run_id": "0" * 32},
    }
    for what, manifest in attacks.items():
        cold.write_atomic(rel, json.dumps(manifest).encode())
        with pytest.raises((StoreFormatError, InvalidArgumentError)):
            client.store.restore_runs([run_id], archive_uri)
        assert TAG_ARCHIVE_LOCATION in client.get_run(run_id).data.tags, what
    assert not victim.exists()
    assert not any(p.name == "x.txt" for p in tmp_path.rglob("*"))
    cold.write_atomic(rel, json.dumps(good).encode())
    assert [m.run_id for m in client.store.restore_runs([run_id], archive_uri).moved] == [run_id]


def test_an_artifact_changed_in_the_archive_is_not_restored(store_uri, archive_uri, client):
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    exp_id = client.get_run(run_id).info.experiment_id
    StoreFS(archive_uri).write_atomic(
        f"runs/{exp_id}/{run_id}/artifacts/config.json", b'{"i": 666}'
    )
    with pytest.raises(StoreFormatError, match="checksum"):
        client.store.restore_runs([run_id], archive_uri)
    assert TAG_ARCHIVE_LOCATION in client.get_run(run_id).data.tags


def test_a_symlink_planted_in_a_folder_archive_is_not_followed(
    store_uri, archive_uri, client, tmp_path
):
    if store_uri.startswith("s3://"):
        pytest.skip("object stores have no symbolic links")
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    exp_id = client.get_run(run_id).info.experiment_id
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    target = Path(archive_uri, "runs", exp_id, run_id, "artifacts", "config.json")
    target.unlink()
    os.symlink(secret, target)
    with pytest.raises(InvalidArgumentError, match="symbolic link"):
        client.store.restore_runs([run_id], archive_uri)
    assert TAG_ARCHIVE_LOCATION in client.get_run(run_id).data.tags


def test_a_second_pass_finishes_a_run_whose_summary_was_published(store_uri, archive_uri, client):
    """An interrupted pass that published the summary but removed nothing: the run reads as
    archived (its old rows are left out), and the next pass removes them."""
    ids = log_runs(2)
    client.compact()
    store = parquet_store(client)
    fs = store_fs(client)
    exp_id = client.get_run(ids[0]).info.experiment_id
    _, table = reader.read_events(fs, exp_id)
    rows = archive.run_rows(table, ids[0])
    dest = StoreFS(archive_uri)
    done = archive.copy_run(fs, dest, exp_id, ids[0], rows, store.uri, 1_700_000_000_000)
    part = archive.summary_part(ids[0], done.parts)
    note = {
        "run_id": ids[0],
        "location": dest.uri,
        "time": 1_700_000_000_000,
        "parts": done.parts,
        "summary_part": part,
    }
    archive.write_manifest(dest, done.manifest)
    summary = archive.summarize(rows, ids[0], part, dest.uri, 1_700_000_000_000, "FINISHED")
    archive.publish_summaries(fs, exp_id, [(summary, note)])
    client.store.clear_cache()
    run = client.get_run(ids[0])
    assert run.data.tags[TAG_ARCHIVE_LOCATION] == dest.uri
    assert len(client.get_metric_history(ids[0], "rmse")) == 1  # old rows left out
    assert len(mlflow.search_runs(experiment_names=["churn"])) == 2

    report = client.store.archive_runs(ids[:1], archive_uri)

    assert report.finished == ids[:1] and not report.moved
    assert not any(p.startswith(ids[0]) for p in archive.held_parts(fs, exp_id))
    assert client.store.list_artifacts(ids[0]) == []
    assert len(client.get_metric_history(ids[1], "rmse")) == 30


def test_summaries_of_two_racing_passes_read_once(store_uri, archive_uri, client):
    (run_id,) = log_runs(1)
    fs = store_fs(client)
    exp_id = client.get_run(run_id).info.experiment_id
    _, table = reader.read_events(fs, exp_id)
    rows = archive.run_rows(table, run_id)
    parts = archive.parts_in(rows)
    part = archive.summary_part(run_id, parts)
    for when in (1, 2):  # two passes over the same run publish the same summary part
        note = {
            "run_id": run_id,
            "location": "x",
            "time": when,
            "parts": parts,
            "summary_part": part,
        }
        archive.publish_summaries(
            fs, exp_id, [(archive.summarize(rows, run_id, part, "x", 5, "FINISHED"), note)]
        )
    assert len(reader.list_archived(fs, exp_id)) == 2
    client.store.clear_cache()
    assert len(client.get_metric_history(run_id, "rmse")) == 1
    assert client.get_run(run_id).data.params == {"depth": "0", "lr": "0.1"}


def test_the_documented_pandas_recipe_reads_archived_runs_by_the_archive_rule(
    store_uri, archive_uri, client
):
    if store_uri.startswith("s3://"):
        pytest.skip("the recipe globs a folder")
    from tests import recipes

    ids = log_runs(3, artifacts=False)
    client.compact()
    client.store.archive_runs(ids[:1], archive_uri)
    # an interrupted pass: the summary of a second run is published, its rows are still there
    fs = store_fs(client)
    exp_id = client.get_run(ids[1]).info.experiment_id
    rows = archive.run_rows(reader.read_events(fs, exp_id)[1], ids[1])
    part = archive.summary_part(ids[1], archive.parts_in(rows))
    note = {
        "run_id": ids[1],
        "location": "x",
        "time": 1,
        "summary_part": part,
        "parts": archive.parts_in(rows),
    }
    archive.publish_summaries(
        fs, exp_id, [(archive.summarize(rows, ids[1], part, "x", 1, "FINISHED"), note)]
    )

    found = recipes.pandas_recipe(store_uri)

    metrics = found["metrics"]
    counts = metrics[metrics["key"] == "rmse"].groupby("run_id").size().to_dict()
    assert counts == {ids[0]: 1, ids[1]: 1, ids[2]: 30}
    assert found["params"].loc[ids[0], "depth"] == "0"


def test_the_store_itself_is_refused_however_it_is_spelled(store_uri, client, tmp_path):
    (run_id,) = log_runs(1)
    before = events_of(client, run_id)
    if store_uri.startswith("s3://"):
        bucket_and_path = store_uri[len("s3://") :]
        spellings = [
            f"s3a://{bucket_and_path}",
            store_uri.replace("/team", "/./team"),
            store_uri + "/",
        ]
    else:
        link = tmp_path / "cold-link"
        link.symlink_to(store_uri)
        spellings = ["/" + store_uri, str(link), str(link / "sub"), store_uri + "/./"]
    spellings.append("memory://cold")
    for uri in spellings:
        with pytest.raises(InvalidArgumentError, match="Cannot archive into"):
            client.store.archive_runs([run_id], uri)
        assert events_of(client, run_id).equals(before), uri
    assert TAG_ARCHIVE_LOCATION not in client.get_run(run_id).data.tags


def test_a_change_made_to_an_archived_run_wins_over_its_summary(store_uri, archive_uri, client):
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    client.set_tag(run_id, "team", "forecasting")
    client.update_run(run_id, name="renamed")
    client.delete_run(run_id)
    client.store.clear_cache()
    run = client.get_run(run_id)
    assert run.data.tags["team"] == "forecasting"
    assert run.info.run_name == "renamed" and run.info.lifecycle_stage == "deleted"
    assert run.data.tags[TAG_ARCHIVE_LOCATION]  # still archived


def test_an_artifact_logged_after_archiving_is_neither_overwritten_nor_removed(
    store_uri, archive_uri, client
):
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    client.log_dict(run_id, {"i": 7}, "config.json")  # newer: same name, same size
    newer = client.store.read_artifact(run_id, "config.json")
    client.log_text(run_id, "late", "late.txt")
    client.store.archive_runs([run_id], archive_uri)  # a pass finding them leaves them
    assert client.store.read_artifact(run_id, "config.json") == newer
    assert client.store.read_artifact(run_id, "late.txt") == b"late"
    client.store.restore_runs([run_id], archive_uri)
    assert client.store.read_artifact(run_id, "config.json") == newer
    assert len(client.store.list_artifacts(run_id)) == 4


def test_a_tampered_archive_changes_nothing_in_the_store(store_uri, archive_uri, client):
    (run_id,) = log_runs(1)
    exp_id = client.get_run(run_id).info.experiment_id
    client.store.archive_runs([run_id], archive_uri)
    cold = StoreFS(archive_uri)
    manifest = json.loads(cold.read_bytes(archive.manifest_rel(exp_id, run_id)))
    # an edit record that would rename and delete the experiment, and other event bytes
    cold.write_atomic(
        f"experiments/{exp_id}/99999999999999999999-evil.edit",
        json.dumps({"set": {"name": "pwned", "lifecycle_stage": "deleted"}}).encode(),
    )
    other = log_runs(1, experiment="other", artifacts=False)[0]
    other_exp = client.get_run(other).info.experiment_id
    _, rows = reader.read_events(store_fs(client), other_exp, other)
    cold.write_atomic(
        manifest["events"]["path"], events.table_to_parquet(rows, archive.parts_in(rows))
    )
    with pytest.raises(StoreFormatError, match="checksum"):
        client.store.restore_runs([run_id], archive_uri)
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage) == ("churn", "active")
    assert TAG_ARCHIVE_LOCATION in client.get_run(run_id).data.tags


def test_restoring_from_an_older_archive_than_the_newest_is_refused(
    store_uri, archive_uri, client, tmp_path
):
    (run_id,) = log_runs(1)
    client.store.archive_runs([run_id], archive_uri)
    client.store.restore_runs([run_id], archive_uri)
    client.log_metric(run_id, "rmse", 0.01, step=99)
    newer = str(tmp_path / "newer") if not store_uri.startswith("s3://") else archive_uri + "2"
    client.store.archive_runs([run_id], newer)
    report = client.store.restore_runs([run_id], archive_uri)
    assert not report.moved and "older copy" in report.skipped[0][1]
    assert client.get_run(run_id).data.tags[TAG_ARCHIVE_LOCATION] == newer
    client.store.restore_runs([run_id], newer)
    history = client.get_metric_history(run_id, "rmse")
    assert len(history) == 31 and history[-1].value == 0.01


def test_a_summary_reads_as_the_run_read(store_uri, archive_uri, client, monkeypatch):
    """A run whose process died reads KILLED archived too; of a tag under both its names
    the later one wins, as readers decide (docs/store-format.md)."""
    from reporter.core import clock

    mlflow.set_experiment("churn")
    client_store = parquet_store(client)
    run = client.create_run(client.get_experiment_by_name("churn").experiment_id)
    run_id = run.info.run_id
    client_store.write_run_events(
        run.info.experiment_id, run_id, [("tag", "mlflow.note.content", None, "a", 0, 1)]
    )
    client_store.write_run_events(
        run.info.experiment_id, run_id, [("tag", "reporter.note.content", None, "b", 0, 2)]
    )
    client_store.flush()
    later = clock.now_ms() + 3_600_000
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    before = client.get_run(run_id)
    assert before.info.status == "KILLED" and before.data.tags["mlflow.note.content"] == "b"
    client.store.archive_runs([run_id], archive_uri)
    after = client.get_run(run_id)
    assert after.info.status == "KILLED" and after.data.tags["mlflow.note.content"] == "b"
