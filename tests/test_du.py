"""`tracker-report du`: every byte of a store, per experiment, run and kind, checked against a
listing that does not go through the store; deleted and archived runs; what compaction and gc
would free; `--log` as metrics a summary gate reads; `--fail-if-over`."""

from __future__ import annotations

import csv
import io
import json

import pytest

import reporter as mlflow
from reporter.core import clock
from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import LoggedModelOutput
from reporter.core.sizes import format_size, parse_size
from reporter.store.parquet import gc as gc_module
from tests.cli import run_cli
from tests.usage_helpers import (
    DAY_MS,
    count_event_reads,
    files_on_disk,
    log_model_for,
    log_run,
    make_gc_store,
)

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """No compaction runs beside these gc calls: gc need not wait for one to finish."""
    monkeypatch.setattr(gc_module, "WAIT_S", 0.0)


MONTH_MS = 30 * DAY_MS


def under(files: dict[str, int], *prefixes: str) -> int:
    """Return the bytes of the files below these path prefixes."""
    return sum(size for path, size in files.items() if path.startswith(prefixes))


def test_every_figure_adds_up_to_an_independent_listing(store_uri, client, tmp_path, monkeypatch):
    made = make_gc_store(client, tmp_path, monkeypatch)
    usage = client.store.usage()
    files = files_on_disk(store_uri)
    assert usage.total.bytes == sum(files.values()) and usage.total.files == len(files)
    kinds = usage.kinds()
    assert sum(k.bytes for k in kinds.values()) == usage.total.bytes
    assert kinds["models"].bytes == under(files, "models/")
    for exp in usage.experiments:
        eid = exp.experiment_id
        assert exp.total.bytes == under(
            files, f"runs/{eid}/", f"models/{eid}/", f"experiments/{eid}/", f"experiments/{eid}."
        )
        assert exp.events.bytes == under(
            files, f"runs/{eid}/_parts/", f"runs/{eid}/_compacted/", f"runs/{eid}/_archived/"
        )
        runs = [r for r in usage.runs if r.experiment_id == eid]
        assert sum(r.events_bytes for r in runs) == exp.events.bytes  # shares add up exactly
        for run in runs:  # a run's artifacts and folder: exact
            assert run.artifacts.bytes == under(files, f"runs/{eid}/{run.run_id}/artifacts/")
            assert run.artifacts.bytes + run.other.bytes == under(
                files, f"runs/{eid}/{run.run_id}/"
            )
    assert usage.other.bytes == under(files, "store.json")
    by_id = {r.run_id: r for r in usage.runs}
    assert {r for r, u in by_id.items() if u.lifecycle_stage == "deleted"} == {
        *made.old,
        *made.recent,
    }
    assert by_id[made.old[0]].deleted_time is not None
    for model_id, run_id in made.models.items():  # a logged model's files count for its run
        base = f"models/{by_id[run_id].experiment_id}/"
        mine = (f"{base}{model_id}/", f"{base}_records/{model_id}.", f"{base}_edits/{model_id}/")
        assert by_id[run_id].models.bytes == under(files, *mine) > 2048


def test_a_runs_share_of_a_compacted_file_follows_its_rows(store_uri, client):
    mlflow.set_experiment("shares")
    big = log_run(client, 0, points=3000, artifact=False)
    small = log_run(client, 1, points=1, artifact=False)
    client.compact()
    usage = client.store.usage()
    runs = {r.run_id: r for r in usage.runs}
    (exp,) = usage.experiments
    assert exp.raw_parts.files == 0 and exp.compacted.files == 1
    assert runs[big].events_bytes + runs[small].events_bytes == exp.compacted.bytes
    assert runs[big].events_bytes > 20 * runs[small].events_bytes
    assert usage.shares_by_parts == 0  # the file records its rows per part


def test_deleted_archived_and_what_gc_would_free(store_uri, client, tmp_path, monkeypatch):
    made = make_gc_store(client, tmp_path, monkeypatch)
    archive = str(tmp_path / "archive")
    client.store.archive_runs([made.kept[1]], archive)
    usage = client.store.usage()
    assert usage.deleted_runs == 3 and usage.archived_runs == 1
    keep = next(e for e in usage.experiments if e.name == "keep")
    assert keep.archived.files == 1 and keep.archived_runs == 1
    assert {r.run_id for r in usage.runs if r.archived} == {made.kept[1]}
    assert usage.gc is not None
    assert {i.id for i in usage.gc.runs} == set(made.old)
    assert [i.id for i in usage.gc.experiments] == [made.gone_exp]
    # du's figure is exactly what gc --dry-run reports, and what gc removes
    dry = client.store.collect_garbage(MONTH_MS, dry_run=True)
    assert usage.gc.freed == dry.freed and usage.gc.items == dry.items
    # --older-than moves the line: nothing was deleted 60 days ago
    later = client.store.usage(older_than_ms=2 * MONTH_MS)
    assert later.gc is not None and later.gc.items == () and later.gc.too_recent == 4
    quick = client.store.usage(lifecycles=False)
    assert quick.gc is None and quick.deleted_runs is None
    assert quick.total == usage.total and quick.archived_runs == 1


def test_lifecycles_a_read_said_are_not_read_again(store_uri, client, tmp_path, monkeypatch):
    """`usage(known=...)` given what reading every batch of some experiments said of their
    runs' lifecycles (`RunBatch.lifecycles`, as a build's first pass has them) measures what
    `usage()` measures, value by value, without reading their attribute rows again; a run
    logged since those reads is not missed: its experiment is read again."""
    made = make_gc_store(client, tmp_path, monkeypatch)
    client.store.archive_runs([made.kept[1]], str(tmp_path / "archive"))
    store = client.store
    known = {  # small batches: several shares per experiment, added up in order
        e: [store.read_run_batch(e, g).lifecycles for g in store.experiment_batches(e, 7)]
        for e in (made.keep_exp, made.gone_exp)
    }
    assert all(len(shares) > 1 for shares in known.values())
    read = count_event_reads(monkeypatch)
    now = clock.now_ms()
    monkeypatch.setattr(clock, "now_ms", lambda: now)  # one measuring time for both
    expected = store.usage()
    assert sorted(read) == sorted([made.keep_exp, made.gone_exp])
    read.clear()
    assert store.usage(known=known) == expected and read == []
    assert expected.deleted_runs == 3 and expected.archived_runs == 1
    assert expected.gc is not None and {i.id for i in expected.gc.runs} == set(made.old)
    # a run deleted since the shares were read: its experiment is read again (the page
    # would otherwise count the deletion's new part file but not the deletion)
    client.delete_run(made.kept[0])
    later = store.usage(known=known)
    assert read == [made.keep_exp] and later.deleted_runs == 4
    assert later == store.usage()
    # a run logged since: likewise
    read.clear()
    new = log_run(client, 99)
    later = store.usage(known=known)
    assert read == [made.keep_exp] and new in {r.run_id for r in later.runs}
    assert later == store.usage()


def test_a_model_output_by_two_runs_belongs_to_the_first_however_read(store_uri, client, tmp_path):
    """A logged model that two runs name as an output is counted with the run whose output
    event came first, whatever the files and batches its events were read from."""
    mlflow.set_experiment("models")
    first = log_run(client, 1)
    second = log_run(client, 2)
    while second > first:  # the later output's run sorts first: read first in a batch of one
        second = log_run(client, 3)
    model = log_model_for(client, first, tmp_path)
    client.compact()  # the first output is in a compacted file, the second in a raw part
    client.log_outputs(second, [LoggedModelOutput(model, 0)])
    client.flush()
    store = client.store
    exp_id = client.get_run(first).info.experiment_id
    whole = store.usage()
    owner = {m: r.run_id for r in whole.runs for m in ([model] if r.models.bytes else [])}
    assert owner == {model: first}
    for points in (1, 10, 1_000_000):  # a run a batch, or both in one
        known = {
            exp_id: [
                store.read_run_batch(exp_id, g).lifecycles
                for g in store.experiment_batches(exp_id, points)
            ]
        }
        assert store.usage(known=known).runs == whole.runs, points


def test_compaction_estimate_is_close_to_what_compaction_frees(store_uri, client):
    mlflow.set_experiment("raw")
    for i in range(12):
        log_run(client, i, points=20, artifact=False)
    before = client.store.usage()
    (exp,) = before.experiments
    assert exp.raw_parts.files == 24 and exp.leftover_part_bytes == 0
    client.compact()
    after = client.store.usage()
    freed = before.total.bytes - after.total.bytes
    assert 0.6 * freed <= before.compaction_frees <= 1.4 * freed, (before.compaction_frees, freed)
    assert after.compaction_frees == 0


def test_table_json_and_csv(store_uri, client, tmp_path, monkeypatch):
    made = make_gc_store(client, tmp_path, monkeypatch)
    table = run_cli("du", "--store", store_uri)
    assert table.returncode == 0, table.stderr
    out = table.stdout
    assert out.startswith(f"Store {client.store.uri}: ")
    assert "keep" in out and "gone" in out and "Largest runs (8 of 8):" in out
    assert "Deleted: 3 runs" in out and "1 experiment " in out
    assert "gc would free" in out and "2 runs and 1 experiment deleted 30d or more ago" in out
    assert "compaction would free about" in out
    header = next(line for line in out.splitlines() if line.startswith("experiment "))
    assert header.split() == [
        "experiment", "id", "stage", "runs", "deleted", "archived",
        "events", "artifacts", "models", "other", "total", "files",
    ]  # fmt: skip

    data = json.loads(run_cli("du", "--store", store_uri, "--format", "json").stdout)
    usage = client.store.usage()
    assert data["total"] == usage.total.to_dict()
    assert set(data) >= {"uri", "total", "kinds", "experiments", "runs", "deleted", "gc"}
    assert usage.gc is not None
    assert data["deleted"]["runs"] == 3 and data["gc"]["freed"] == usage.gc.to_dict()["freed"]

    expected = {
        "experiment": usage.total.bytes - usage.other.bytes,  # all but store.json
        "run": sum(r.total_bytes for r in usage.runs),  # all but records and store.json
    }
    for by, key, count in (("experiment", "experiment_id", 2), ("run", "run_id", 8)):
        text = run_cli("du", "--store", store_uri, "--by", by, "--format", "csv").stdout
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == count and len({r[key] for r in rows}) == count
        assert sum(int(r["total_bytes"]) for r in rows) == expected[by]
    kinds = list(
        csv.DictReader(io.StringIO(run_cli("du", "--by", "kind", "--format", "csv").stdout))
    )
    assert [r["kind"] for r in kinds] == ["events", "artifacts", "models", "other"]
    assert sum(int(r["bytes"]) for r in kinds) == usage.total.bytes

    one = run_cli("du", "--store", store_uri, "--experiment", "gone", "--format", "json")
    chosen = json.loads(one.stdout)
    assert [e["name"] for e in chosen["experiments"]] == ["gone"]
    assert {r["run_id"] for r in chosen["runs"]} == set(made.gone_runs)


def test_fail_if_over_exits_1_after_printing(store_uri, client):
    mlflow.set_experiment("e")
    log_run(client, 0)
    total = client.store.usage().total.bytes
    over = run_cli("du", "--store", store_uri, "--fail-if-over", str(total - 1))
    assert over.returncode == 1 and over.stdout.startswith("Store ")
    assert f"({total:,} bytes), over the limit" in over.stderr
    assert run_cli("du", "--store", store_uri, "--fail-if-over", "1GB").returncode == 0
    bad = run_cli("du", "--store", store_uri, "--fail-if-over", "lots")
    assert bad.returncode == 2 and "Invalid size 'lots'" in bad.stderr
    bad = run_cli("du", "--store", store_uri, "--older-than", "month")
    assert bad.returncode == 2 and "Invalid duration 'month'" in bad.stderr
    missing = run_cli("du", "--store", store_uri + "-nothing-here")
    assert missing.returncode == 1 and "No tracker-report store" in missing.stderr


def test_log_records_a_point_a_day_that_a_summary_gate_reads(store_uri, client, monkeypatch):
    mlflow.set_experiment("work")
    log_run(client, 0)
    day0 = 20_000 * DAY_MS + 3_600_000
    for day in (0, 0, 1):  # twice on the first day, once the next
        now = day0 + day * DAY_MS + 60_000 * day
        monkeypatch.setattr(clock, "now_ms", lambda now=now: float(now))
        result = run_cli("du", "--store", store_uri, "--log")
        assert result.returncode == 0, result.stderr
    exp = client.get_experiment_by_name("store-usage")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1  # one series, reused every day
    run = runs[0]
    assert run.data.tags["reporter.usage"] == "du"
    assert run.data.tags["reporter.usage.store"] == client.store.uri
    history = client.get_metric_history(run.info.run_id, "total_bytes")
    assert [m.step for m in history] == [20_000, 20_000, 20_001]
    assert run.data.metrics["runs"] == 2  # the usage run itself counts from the next day
    assert {"total_gb", "events_bytes", "deleted_runs", "exp.work.bytes"} <= set(run.data.metrics)
    # the gate of the issue: over the whole store (a summary restricted to some experiments
    # shows a usage run only those experiments' own bytes: reporter.view.publish.usage_log)
    gate = run_cli("summary", "--store", store_uri, "--fail-if", "metrics.total_gb > 0.000001")
    assert gate.returncode == 1 and "matches --fail-if" in gate.stderr
    calm = run_cli("summary", "--store", store_uri, "--fail-if", "metrics.total_gb > 50")
    assert calm.returncode == 0, calm.stderr


def test_sizes_parse_decimal_and_binary_units():
    assert parse_size("50GB") == 50 * 10**9
    assert parse_size("1.5 GiB") == int(1.5 * 2**30)
    assert parse_size("500MB") == 500 * 10**6
    assert parse_size("0") == 0
    assert parse_size("12") == 12
    assert parse_size("2kb") == 2000
    assert parse_size("3 KiB") == 3072
    for bad in ("", "GB", "5 XB", "-1GB", "1e9"):
        with pytest.raises(InvalidArgumentError, match="KiB, MiB, GiB"):
            parse_size(bad)
    assert format_size(950) == "950 B"
    assert format_size(12_345) == "12.3 kB"
    assert format_size(1_250_000_000) == "1.25 GB"
