"""Compaction: fewer files, same data, each row once, running runs left alone."""

from __future__ import annotations

import io
import time

import pytest

import reporter
import reporter as mlflow
from reporter.store.parquet import compaction, events, reader, schema
from tests.conftest import store_files, store_fs, store_paths
from tests.usage_helpers import event_run_ids

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


def parquet_files(store: str, folder: str) -> list[str]:
    """Return the store-relative paths of the Parquet files inside `folder` (any store kind)."""
    return store_paths(store, folder=folder)


def log_runs(count: int, points: int = 3) -> list[str]:
    """Log finished runs with a param and a metric history each."""
    ids = []
    for i in range(count):
        with mlflow.start_run() as run:
            mlflow.log_param("i", i)
            for step in range(points):
                mlflow.log_metric("m", i * 100 + step, step=step)
        ids.append(run.info.run_id)
    return ids


Snapshot = tuple[str, dict[str, str], dict[str, float], list[tuple[int, float]]]


def snapshot(client: reporter.Client, ids: list[str]) -> dict[str, Snapshot]:
    """Return everything readable about runs, to compare before and after compaction."""
    out: dict[str, Snapshot] = {}
    for rid in ids:
        run = client.get_run(rid)
        history = [(m.step, m.value) for m in client.get_metric_history(rid, "m")]
        out[rid] = (run.info.status, dict(run.data.params), dict(run.data.metrics), history)
    return out


def test_explicit_compaction_keeps_every_value_and_leaves_one_file(store_uri, client):
    mlflow.set_experiment("c")
    ids = log_runs(5)
    before = snapshot(client, ids)
    # each run: its first part, written by create_run, and the rest, written by end_run
    assert len(parquet_files(store_uri, schema.PARTS_FOLDER)) == 5 * 2
    (result,) = client.compact()
    assert result.parts_merged == 5 * 2
    assert parquet_files(store_uri, schema.PARTS_FOLDER) == []
    assert len(parquet_files(store_uri, schema.COMPACTED_FOLDER)) == 1
    assert snapshot(client, ids) == before
    # more runs, compact again: still one file, still everything
    ids += log_runs(2)
    before = snapshot(client, ids)
    client.compact()
    assert len(parquet_files(store_uri, schema.COMPACTED_FOLDER)) == 1
    assert snapshot(client, ids) == before
    assert len(mlflow.search_runs()) == 7


def test_running_runs_are_not_compacted(store_uri, client):
    mlflow.set_experiment("c")
    done = log_runs(1)
    live = mlflow.start_run()
    mlflow.log_metric("m", 1.0)
    client.flush()
    client.compact()
    parts = parquet_files(store_uri, schema.PARTS_FOLDER)
    assert {p.rsplit("/", 1)[-1].split("-", 1)[0] for p in parts} == {live.info.run_id}
    mlflow.end_run()
    client.compact()
    assert parquet_files(store_uri, schema.PARTS_FOLDER) == []
    assert client.get_run(live.info.run_id).data.metrics == {"m": 1.0}
    assert client.get_run(done[0]).info.status == "FINISHED"


def test_automatic_compaction_of_this_process_runs(store_uri, client, monkeypatch):
    """Once 4 parts of this process's finished runs are waiting, its flusher merges them: at
    the end fewer than 4 are left raw (a slow machine may flush a run in more parts)."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "4")
    mlflow.set_experiment("auto")
    ids = log_runs(4)  # at least 2 parts each

    def waiting() -> bool:
        raw = parquet_files(store_uri, schema.PARTS_FOLDER)
        return len(raw) >= 4 or not parquet_files(store_uri, schema.COMPACTED_FOLDER)

    deadline = time.monotonic() + 120  # the flusher's own thread: polled, with room for load
    while waiting() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(parquet_files(store_uri, schema.PARTS_FOLDER)) < 4
    assert parquet_files(store_uri, schema.COMPACTED_FOLDER)
    assert {r: s[1] for r, s in snapshot(client, ids).items()} == {
        rid: {"i": str(i)} for i, rid in enumerate(ids)
    }


def test_interrupted_compaction_never_doubles_rows(store_uri, client):
    """A compactor killed after publishing, before deleting, leaves both: read once."""
    mlflow.set_experiment("c")
    ids = log_runs(3)
    before = snapshot(client, ids)
    exp_id = client.get_run(ids[0]).info.experiment_id
    listing = reader.list_experiment(store_fs(client), exp_id)
    table, _, _ = reader.read_plan(store_fs(client), reader.make_plan(store_fs(client), listing))
    compaction.publish(store_fs(client), exp_id, table, list(listing.parts))  # no deletes
    assert len(parquet_files(store_uri, schema.PARTS_FOLDER)) == 3 * 2
    assert snapshot(client, ids) == before
    assert len(mlflow.search_runs()) == 3
    client.compact()  # the next compaction removes the leftovers
    assert parquet_files(store_uri, schema.PARTS_FOLDER) == []
    assert snapshot(client, ids) == before


def test_overlapping_compacted_files_are_read_once_then_merged(store_uri, client):
    mlflow.set_experiment("c")
    ids = log_runs(3)
    before = snapshot(client, ids)
    fs = store_fs(client)
    exp_id = client.get_run(ids[0]).info.experiment_id
    listing = reader.list_experiment(fs, exp_id)
    parts = sorted(listing.parts)
    plan = reader.make_plan(fs, listing)
    table, _, _ = reader.read_plan(fs, plan)
    import pyarrow as pa
    import pyarrow.compute as pc

    def only(keep: list[str]) -> pa.Table:
        return table.filter(pc.is_in(pc.cast(table.column("part"), "string"), pa.array(keep)))

    # two racing compactors: one took parts 0-1, the other 1-2; both deleted what they took
    compaction.publish(fs, exp_id, only(parts[:2]), parts[:2])
    compaction.publish(fs, exp_id, only(parts[1:]), parts[1:])
    for info in listing.parts.values():
        fs.delete(info.path)
    assert snapshot(client, ids) == before
    merged, _ = compaction.merge_compacted(fs, exp_id, reader.list_compacted(fs, exp_id))
    assert merged.files_deleted == 2
    assert len(parquet_files(store_uri, schema.COMPACTED_FOLDER)) == 1
    assert snapshot(client, ids) == before


def test_compacted_file_lists_its_parts_and_is_smaller(store_uri, client):
    import pyarrow.parquet as pq

    mlflow.set_experiment("c")
    log_runs(4, points=2000)
    raw_files = store_files(store_uri, folder=schema.PARTS_FOLDER).values()
    raw = sum(len(data) for data in raw_files)
    raw_rows = sum(pq.read_metadata(io.BytesIO(data)).num_rows for data in raw_files)
    client.compact()
    (data,) = store_files(store_uri, folder=schema.COMPACTED_FOLDER).values()
    meta = pq.read_schema(io.BytesIO(data)).metadata
    assert len(events.parts_of(meta) or []) == len(raw_files)
    assert len(data) < raw
    assert pq.read_metadata(io.BytesIO(data)).num_rows == raw_rows


def test_tier_merges_write_no_file_over_the_limit_and_lose_nothing(store_uri, client, monkeypatch):
    """Merging by size tier (a logging process, a detached compactor, a tracking server)
    holds a merge's rows in memory, so it never merges more than TIER_MERGE_BYTES of files:
    bigger ones stay as they are, and every value still reads back once."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    mlflow.set_experiment("tiers")
    fs = store_fs(client)
    ids: list[str] = []
    for _ in range(12):  # twelve compacted files of one run each, about one size
        ids += log_runs(1)
        client.store.flush()
        exp_id = client.get_experiment_by_name("tiers").experiment_id
        compaction.compact_parts(fs, exp_id, reader.list_experiment(fs, exp_id).parts)
    before = snapshot(client, ids)
    sizes = sorted(i.size for i in reader.list_compacted(fs, exp_id).compacted)
    assert len(sizes) == 12
    limit = sum(sizes[:5])  # room for one merge of four or five files, not of eight
    monkeypatch.setattr(compaction, "TIER_MERGE_BYTES", limit)
    merged: list[int] = []
    real = compaction.merge_compacted

    def recording(fs_, exp, listing):  # the real merge, its inputs' total size noted
        merged.append(sum(i.size for i in listing.compacted))
        return real(fs_, exp, listing)

    monkeypatch.setattr(compaction, "merge_compacted", recording)
    compaction.merge_tiers(fs, exp_id)
    assert merged and all(total <= limit for total in merged)
    assert len(reader.list_compacted(fs, exp_id).compacted) < 12  # some merged, not all
    assert snapshot(reporter.Client(store_uri), ids) == before


def test_a_background_round_merges_whole_runs_up_to_its_budget(store_uri, client, monkeypatch):
    """A background compaction round reads at most `max_bytes` of raw parts (whole runs,
    the first by id), so however many parts wait its memory stays bounded; rounds after it
    take the rest, and every value reads back once throughout."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    mlflow.set_experiment("budget")
    ids = log_runs(6)
    client.store.flush()
    fs = store_fs(client)
    exp_id = client.get_experiment_by_name("budget").experiment_id
    before = snapshot(client, ids)
    parts = reader.list_experiment(fs, exp_id).parts
    by_run: dict[str, int] = {}
    for part, info in parts.items():
        by_run[part.split("/", 1)[0]] = by_run.get(part.split("/", 1)[0], 0) + info.size
    first_two = sum(by_run[r] for r in sorted(by_run)[:2])
    rounds = 0
    while reader.list_experiment(fs, exp_id).parts:
        done = compaction.compact_finished(fs, exp_id, 60.0, max_bytes=first_two)
        assert done is not None
        merged_runs = {p.split("/", 1)[0] for p in done.listing.parts} - {
            p.split("/", 1)[0] for p in reader.list_experiment(fs, exp_id).parts
        }
        if rounds == 0:
            assert merged_runs == set(sorted(by_run)[:2])  # whole runs, the first by id
        assert merged_runs and done.result.parts_merged
        assert snapshot(reporter.Client(store_uri), ids) == before
        rounds += 1
    assert rounds >= 3


def _gc_during_publish(
    client: reporter.Client, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Make the next compaction publish only after `run_id` was deleted (a day ago) and gc
    removed it for good: a compaction that read the run, then stalled (a paused process, a
    slow upload) while gc ran. Returns what gc removed."""
    from tests.usage_helpers import DAY_MS, delete_run_at

    real = compaction.publish
    removed: list[str] = []

    def late(*args: object, **kwargs: object) -> str:
        if not removed:
            monkeypatch.setattr(compaction, "publish", real)  # gc's own rewrites run as usual
            delete_run_at(client, run_id, int(time.time() * 1000) - 2 * DAY_MS, monkeypatch)
            client.store.flush()
            report = client.store.collect_garbage(DAY_MS, wait_s=0.0)
            removed.extend(item.id for item in report.items)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compaction, "publish", late)
    return removed


@pytest.mark.parametrize("what", ["raw parts", "compacted files"])
def test_a_compaction_that_read_a_run_gc_then_removed_does_not_bring_it_back(
    store_uri, client, monkeypatch, what
):
    """gc removes a run while a compaction that read it has not published yet: the
    compaction's copy must not resurrect it (its rows, read before the deletion, say active)."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    mlflow.set_experiment("resurrect")
    fs = store_fs(client)
    ids = []
    for _ in range(3):
        ids += log_runs(2)
        client.store.flush()
        exp_id = client.get_experiment_by_name("resurrect").experiment_id
        if what == "compacted files":  # three compacted files, merged below
            compaction.compact_parts(fs, exp_id, reader.list_experiment(fs, exp_id).parts)
    doomed, kept = ids[0], ids[1:]
    before = snapshot(client, kept)
    removed = _gc_during_publish(client, doomed, monkeypatch)
    if what == "raw parts":
        listing = reader.list_experiment(fs, exp_id)
        compaction.compact_parts(fs, exp_id, listing.parts)
    else:
        compaction.merge_compacted(fs, exp_id, reader.list_compacted(fs, exp_id))
    assert removed == [doomed]
    fresh = reporter.Client(store_uri)
    assert doomed not in {r.info.run_id for r in fresh.search_runs([exp_id])}
    assert doomed not in event_run_ids(store_uri)
    assert snapshot(fresh, kept) == before
