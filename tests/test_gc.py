"""`tracker-report gc`: deleted runs and experiments go for good, exactly those, nothing else.

Time is injected: deletions are stamped with the store's clock set back (usage_helpers), and
gc runs at real time. Every test runs on a folder and on the S3 test server.
"""

from __future__ import annotations

import json

import pytest

import reporter
import reporter as mlflow
from reporter.core import clock
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.store.parquet import compaction, reader, schema
from reporter.store.parquet import gc as gc_module
from tests.cli import run_cli
from tests.conftest import parquet_store, store_fs
from tests.usage_helpers import (
    DAY_MS,
    delete_run_at,
    event_run_ids,
    files_on_disk,
    log_run,
    make_gc_store,
    snapshot,
    store_hash,
)

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """No compaction runs beside these gc calls: gc need not wait for one to finish."""
    monkeypatch.setattr(gc_module, "WAIT_S", 0.0)


MONTH_MS = 30 * DAY_MS


def every_run(client: reporter.Client) -> dict[str, str]:
    """Return {run id: lifecycle stage} of every run of every experiment."""
    exps = [e.experiment_id for e in client.store.list_experiments()]
    return {r.info.run_id: r.info.lifecycle_stage for r in client.store.list_runs(exps)}


def test_gc_removes_exactly_the_runs_and_experiments_deleted_long_enough(
    store_uri, client, tmp_path, monkeypatch
):
    made = make_gc_store(client, tmp_path, monkeypatch)
    keep = made.kept + made.recent
    before = snapshot(client.store, keep)
    files_before = files_on_disk(store_uri)

    report = client.store.collect_garbage(MONTH_MS)

    assert {i.id for i in report.runs} == set(made.old)
    assert [i.id for i in report.experiments] == [made.gone_exp]
    assert report.experiments[0].name == "gone" and report.experiments[0].runs == 2
    assert report.too_recent == 1  # the run deleted 10 days ago
    client.store.clear_cache()
    assert snapshot(client.store, keep) == before  # every value of every kept run, as it was
    runs = every_run(client)
    assert set(runs) == set(keep)
    assert runs[made.recent[0]] == "deleted"
    for run_id in [*made.old, *made.gone_runs]:
        with pytest.raises(NotFoundError):
            client.get_run(run_id)
    # no row and no file of a removed run or of the removed experiment is left anywhere
    assert event_run_ids(store_uri) == set(keep)
    after = files_on_disk(store_uri)
    gone_ids = [*made.old, *made.gone_runs, made.gone_exp]
    assert not [p for p in after if any(i in p for i in gone_ids)]
    removed_models = [m for m, r in made.models.items() if r not in keep]
    assert len(removed_models) == 2 and not [
        p for p in after if any(m in p for m in removed_models)
    ]
    kept_model = next(m for m, r in made.models.items() if r in keep)
    assert client.get_logged_model(kept_model).tags == {"stage": "dev"}
    assert {e.name for e in client.store.list_experiments()} <= {"keep", "Default"}
    # the files of kept runs that gc did not rewrite are the same bytes
    untouched = [p for p in files_before if "/_compacted/" not in p and "/_parts/" not in p]
    assert all(after[p] == files_before[p] for p in untouched if p in after)
    # what it reported freeing: every file it deleted, to the byte, save the rewrite of the
    # shared file that also held rows of kept runs (apportioned by rows)
    deleted = sum(size for p, size in files_before.items() if p not in after)
    assert report.freed.bytes == pytest.approx(deleted, rel=0.5)
    # a second gc finds nothing
    again = client.store.collect_garbage(MONTH_MS)
    assert again.items == () and again.too_recent == 1


def test_dry_run_changes_no_byte_and_names_what_a_real_run_removes(
    store_uri, client, tmp_path, monkeypatch
):
    make_gc_store(client, tmp_path, monkeypatch)
    before = store_hash(store_uri)
    result = run_cli("gc", "--wait", "0", "--store", store_uri, "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert store_hash(store_uri) == before
    planned = json.loads(result.stdout)
    assert planned["dry_run"] is True
    done = client.store.collect_garbage(MONTH_MS)
    real = done.to_dict()
    for key in ("runs", "experiments", "freed", "too_recent"):
        assert planned[key] == real[key]


def test_gc_prints_each_removal_and_a_total(store_uri, client, tmp_path, monkeypatch):
    made = make_gc_store(client, tmp_path, monkeypatch)
    result = run_cli("gc", "--wait", "0", "--store", store_uri, "--older-than", "30d")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("Removed run ") for line in lines) == 2
    assert any(line.startswith("Removed experiment 'gone'") for line in lines)
    assert all(any(r in line for line in lines) for r in made.old)
    assert lines[-1].startswith("Total: freed ") and "2 runs, 1 experiment," in lines[-1]
    assert "1 deleted less than 30d ago left for later" in lines[-1]
    again = run_cli("gc", "--store", store_uri)
    assert again.returncode == 0 and again.stdout.startswith("Nothing to remove")


def test_named_runs_and_experiments_must_be_deleted(store_uri, client, monkeypatch):
    mlflow.set_experiment("e")
    active, recent = log_run(client, 0), log_run(client, 1)
    delete_run_at(client, recent, int(clock.now_ms()) - DAY_MS, monkeypatch)
    exp = mlflow.get_experiment_by_name("e")
    assert exp is not None
    before = store_hash(store_uri)
    cases = [
        (("--run-ids", active), "are not deleted"),
        (("--experiment-ids", exp.experiment_id), "are not deleted"),
        (("--run-ids", "f" * 32), "No run with id"),
        (("--experiment-ids", "123"), "No experiment with id '123'"),
        (("--run-ids", recent, "--older-than", "30d"), "deleted less than 30d ago"),
        (("--older-than", "30x"), "Invalid duration '30x'"),
    ]
    for args, message in cases:
        result = run_cli("gc", "--wait", "0", "--store", store_uri, *args)
        assert result.returncode in (1, 2) and message in result.stderr, (args, result)
        assert "Traceback" not in result.stderr
    assert run_cli("gc", "--wait", "0", "--store", store_uri, "--older-than", "7").returncode == 2
    assert store_hash(store_uri) == before
    # named without --older-than: removed whatever its age, as `mlflow gc --run-ids` does
    result = run_cli("gc", "--wait", "0", "--store", store_uri, "--run-ids", recent)
    assert result.returncode == 0 and f"Removed run 'run-1' ({recent}, " in result.stdout
    assert set(every_run(client)) == {active}


def test_a_deleted_run_whose_process_still_logs_is_left_alone(store_uri, client):
    mlflow.set_experiment("e")
    run = mlflow.start_run()
    mlflow.log_metric("m", 1.0)
    client.flush()
    writer = parquet_store(client)._writer  # a heartbeat now, as its flusher would write
    writer._beat(run.info.run_id, writer._runs[run.info.run_id])
    client.delete_run(run.info.run_id)
    report = client.store.collect_garbage(0)
    assert report.items == ()
    assert report.skipped == ((run.info.run_id, report.skipped[0][1]),)
    assert "still logs" in report.skipped[0][1]
    mlflow.end_run()


def test_a_run_restored_since_the_plan_is_kept(store_uri, client, monkeypatch):
    """gc reads the lifecycles again just before removing anything."""
    from reporter.store.parquet import gc

    mlflow.set_experiment("e")
    run_id = log_run(client, 0)
    client.delete_run(run_id)
    real_plan = gc.plan

    def plan_then_restore(*args, **kwargs):
        chosen = real_plan(*args, **kwargs)
        client.restore_run(run_id)
        return chosen

    monkeypatch.setattr(gc, "plan", plan_then_restore)
    report = client.store.collect_garbage(0)
    assert report.items == () and report.skipped[0][0] == run_id
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_gc_and_du_of_a_tracking_server_say_where_to_run_them():
    from reporter.core.errors import UnsupportedFeatureError
    from reporter.store.rest.store import RestStore

    store = RestStore("http://127.0.0.1:9")  # never contacted: the protocol refuses first
    with pytest.raises(UnsupportedFeatureError, match="run `tracker-report gc` against"):
        store.collect_garbage(0)
    with pytest.raises(UnsupportedFeatureError, match="run `tracker-report du` against"):
        store.usage()


# compaction.remove_parts (the lead's) and the race it has with compaction -----------------
def test_remove_parts_rewrites_shared_files_without_them_and_is_idempotent(store_uri, client):
    mlflow.set_experiment("c")
    ids = [log_run(client, i, points=50) for i in range(4)]
    client.compact()
    fs = store_fs(client)
    exp_id = client.get_run(ids[0]).info.experiment_id
    (shared,) = reader.list_compacted(fs, exp_id).compacted
    footer, parts = reader.FOOTERS.footer(fs, shared) or (None, [])
    assert footer is not None
    rows = compaction.part_rows_of(footer.meta.metadata, parts)
    assert rows is not None and sum(rows) == footer.meta.num_rows  # rows per part recorded
    before = snapshot(client.store, ids[1:])
    gone = {p for p in parts if p.startswith(ids[0] + "/")}
    assert compaction.remove_parts(fs, exp_id, gone) == shared.size
    client.store.clear_cache()
    assert snapshot(client.store, ids[1:]) == before
    (rewritten,) = reader.list_compacted(fs, exp_id).compacted
    footer2, parts2 = reader.FOOTERS.footer(fs, rewritten) or (None, [])
    assert footer2 is not None and set(parts2) == set(parts) - gone
    rows2 = compaction.part_rows_of(footer2.meta.metadata, parts2)
    assert rows2 == [r for p, r in zip(parts, rows) if p not in gone]  # recounted
    assert compaction.remove_parts(fs, exp_id, gone) == 0  # nothing left to remove
    assert ids[0] not in every_run(client)


def test_a_compaction_that_read_parts_before_gc_never_brings_back_part_of_the_run(
    store_uri, client
):
    """A compaction lists a deleted run's raw parts and reads some of them; gc removes the
    run; the compaction goes on. It must not publish the parts it read: without the deletion
    event among them, the run would come back as active."""
    mlflow.set_experiment("c")
    run_id = log_run(client, 0, artifact=False)
    client.delete_run(run_id)
    fs = store_fs(client)
    exp_id = client.get_run(run_id).info.experiment_id
    listing = reader.list_experiment(fs, exp_id)
    assert len(listing.parts) >= 3  # created, ended, deleted
    first = sorted(listing.parts)[:-1]
    read = compaction.read_parts(fs, {p: listing.parts[p] for p in first})  # not the last
    client.store.collect_garbage(0)
    result = compaction.compact_parts(fs, exp_id, listing.parts, read)
    assert result.path is None
    client.store.clear_cache()
    assert run_id not in every_run(client)
    assert event_run_ids(store_uri) == set()


def test_an_experiment_left_without_its_record_by_a_killed_gc_is_finished(
    store_uri, client, tmp_path, monkeypatch
):
    made = make_gc_store(client, tmp_path, monkeypatch)
    fs = store_fs(client)
    # a gc killed after it removed the record, before the edit that deleted the experiment
    for info in fs.list_files(f"runs/{made.gone_exp}") + fs.list_files(f"models/{made.gone_exp}"):
        fs.delete(info.path)
    fs.delete(f"{schema.EXPERIMENTS_FOLDER}/{made.gone_exp}.json")
    assert made.gone_exp not in {e.experiment_id for e in client.store.list_experiments()}
    report = client.store.collect_garbage(MONTH_MS, experiment_ids=[made.gone_exp])
    assert [(i.id, i.name) for i in report.experiments] == [(made.gone_exp, None)]
    assert not [p for p in files_on_disk(store_uri) if made.gone_exp in p]


def test_older_than_and_sizes_parse_mlflow_forms():
    from reporter.core.durations import parse_duration

    assert parse_duration("30d") == 30 * DAY_MS
    assert parse_duration("12h") == 12 * 3_600_000
    assert parse_duration("90m") == 90 * 60_000
    assert parse_duration("45s") == 45_000
    assert parse_duration("2w") == 14 * DAY_MS
    assert parse_duration("1d2h3m4s") == DAY_MS + 2 * 3_600_000 + 3 * 60_000 + 4000
    assert parse_duration("1.5d") == int(1.5 * DAY_MS)
    assert parse_duration("0") == 0
    for bad in ("", "30", "d", "3x", "1h1d", "-1d", "30 days"):
        with pytest.raises(InvalidArgumentError, match="w \\(weeks\\), d \\(days\\)"):
            parse_duration(bad)


def test_collect_garbage_refuses_a_negative_age(client):
    mlflow.set_experiment("e")
    log_run(client, 0)
    with pytest.raises(InvalidArgumentError, match=">= 0"):
        client.store.collect_garbage(-1)


def test_gc_leaves_a_store_where_the_kept_runs_still_compact_and_read(
    store_uri, client, tmp_path, monkeypatch
):
    made = make_gc_store(client, tmp_path, monkeypatch)
    keep = made.kept + made.recent
    before = snapshot(client.store, keep)
    client.store.collect_garbage(MONTH_MS)
    client.compact()
    client.store.clear_cache()
    assert snapshot(client.store, keep) == before
    assert all("/_parts/" not in p for p in files_on_disk(store_uri))


def test_a_run_removed_by_another_process_is_not_found_where_it_was_known(store_uri, client):
    import subprocess

    from tests.conftest import CLI_CODE, PYTHON, python_env

    mlflow.set_experiment("phantom")
    with mlflow.start_run() as run:
        mlflow.log_param("a", 1)
    run_id = run.info.run_id
    assert client.get_run(run_id).data.params == {"a": "1"}  # this process knows the run
    client.delete_run(run_id)
    done = subprocess.run(
        [PYTHON, "-c", CLI_CODE, "gc", "--store", store_uri, "--run-ids", run_id, "--wait", "0"],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    client.store.clear_cache()
    with pytest.raises(NotFoundError, match=run_id):
        client.get_run(run_id)
