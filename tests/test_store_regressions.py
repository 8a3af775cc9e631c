"""Regressions for store bugs found by the concurrency and property tests (each once lost or
hid data): listing order under compaction, merges of unreadable files, values the writer could
not encode, liveness from user timestamps, and silently skipped foreign files."""

from __future__ import annotations

import time
import warnings

import pandas as pd
import pytest

import reporter
from reporter.core import clock
from reporter.core.errors import StoreWarning
from reporter.store.parquet import compaction, schema
from reporter.store.parquet.fs import FileInfo
from reporter.store.parquet.store import ParquetStore
from tests.conftest import store_fs, store_paths

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


def finished_run(client: reporter.Client, exp: str, points: int, flush_each: bool = False) -> str:
    """Log a finished run with one metric of `points` steps."""
    rid = client.create_run(exp, run_name="r").info.run_id
    for step in range(points):
        client.log_metric(rid, "m", float(step), step=step)
        if flush_each:
            client.flush()
    client.set_terminated(rid)
    return rid


def test_a_compaction_between_the_two_listings_hides_nothing(store_uri):
    client = reporter.Client(store_uri)
    exp = client.create_experiment("e")
    rid = finished_run(client, exp, 10, flush_each=True)
    fs = store_fs(client)
    last = store_paths(store_uri, folder=schema.PARTS_FOLDER)[-1]
    last_bytes = fs.read_bytes(last)
    original = fs.list_files
    raced: list[bool] = []

    def list_files(rel: str, skip: frozenset[str] = frozenset()) -> list[FileInfo]:
        """Run a real compaction right after the reader listed the raw parts."""
        result = original(rel, skip)
        if rel.endswith(schema.PARTS_FOLDER) and not raced:
            raced.append(True)
            compaction.compact_experiment(fs, exp)  # publishes, deletes the parts ...
            fs.write_atomic(last, last_bytes)  # ... but has not deleted the last one yet
        return result

    fs.list_files = list_files  # type: ignore[method-assign]
    run = client.get_run(rid)
    assert raced
    assert (run.info.status, run.info.run_name, dict(run.data.metrics)) == (
        "FINISHED",
        "r",
        {"m": 9.0},
    )
    fs.list_files = original  # type: ignore[method-assign]
    assert [m.step for m in client.get_metric_history(rid, "m")] == list(range(10))


def test_merging_never_deletes_files_it_could_not_read(store_uri):
    client = reporter.Client(store_uri)
    exp = client.create_experiment("e")
    first = finished_run(client, exp, 1000)
    client.compact()
    fs = store_fs(client)
    (damaged,) = store_paths(store_uri, folder=schema.COMPACTED_FOLDER)
    data = bytearray(fs.read_bytes(damaged))
    data[len(data) // 3 : len(data) // 3 + 64] = b"\xff" * 64  # a bad data page, footer intact
    fs.write_atomic(damaged, bytes(data))
    # files are immutable, so footers (and a small file's bytes) are cached by path, size and
    # time; S3's one-second times cannot tell this in-place corruption from the original
    client.store.clear_cache()
    foreign = damaged.rsplit("/", 1)[0] + "/notes.parquet"
    fs.write_atomic(foreign, pd.DataFrame({"x": [1]}).to_parquet())
    with pytest.warns(StoreWarning):
        second = finished_run(client, exp, 10)  # its automatic compaction meets the files too
        client.compact()
    assert fs.read_bytes(damaged) == bytes(data) and fs.exists(foreign)
    client.store.clear_cache()
    with pytest.warns(StoreWarning) as caught:
        frame = client.search_runs_frame([exp])
    assert any(damaged.rsplit("/", 1)[-1] in str(w.message) for w in caught)
    assert any("notes.parquet" in str(w.message) for w in caught)
    assert second in set(frame["run_id"])
    with pytest.warns(StoreWarning, match="notes.parquet"):
        assert len(client.get_metric_history(second, "m")) == 10
    assert first  # its only copy is the damaged file: reported, kept, not silently replaced


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, r: c.log_metric(r, "m", 1.0, step=2**63), "64-bit"),
        (lambda c, r: c.log_metric(r, "m", 1.0, timestamp=-(2**63) - 1), "64-bit"),
        (lambda c, r: c.set_tag(r, "t", "\ud800"), "UTF-8"),
        (lambda c, r: c.log_param(r, "\udfff", "x"), "UTF-8"),
    ],
)
def test_values_the_store_cannot_keep_are_refused_at_logging_time(store_uri, call, message):
    client = reporter.Client(store_uri)
    exp = client.create_experiment("e")
    rid = client.create_run(exp).info.run_id
    client.log_param(rid, "p", "kept")
    with pytest.raises(reporter.InvalidArgumentError, match=message):
        call(client, rid)
    client.set_terminated(rid)
    run = client.get_run(rid)
    assert run.data.params == {"p": "kept"} and run.info.status == "FINISHED"


def test_liveness_does_not_trust_user_timestamps(store_uri, monkeypatch):
    # 30 s: the live run's only sign of life is its creation's stamp, read back at once (a
    # loaded machine must not make it read KILLED); the readers' clock is moved on below
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "30")
    client = reporter.Client(store_uri)
    exp = client.create_experiment("e")
    alive = client.create_run(exp, start_time=1_700_000_000_000).info.run_id
    assert client.get_run(alive).info.status == "RUNNING"  # its heartbeat is fresh
    client.set_terminated(alive)
    other = ParquetStore(store_uri)  # a second process that dies
    dead = other.create_run(exp, "r", "u", int(time.time() * 1000), []).info.run_id
    tomorrow = int(time.time() * 1000) + 86_400_000
    other.log_batch(dead, metrics=[reporter.Metric("m", 1.0, tomorrow, 0)])
    other.flush()
    other.close()  # no more heartbeats
    later = clock.now_ms() + 31_000  # the readers' clock moves on 31 s: no sleep
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    assert client.get_run(dead).info.status == "KILLED"
    client.compact()
    assert client.get_run(dead).info.status == "KILLED"


def test_a_foreign_file_in_parts_is_reported(store_uri):
    client = reporter.Client(store_uri)
    exp = client.create_experiment("e")
    rid = client.create_run(exp).info.run_id
    client.set_terminated(rid)
    fs = store_fs(client)
    foreign = fs.join(schema.RUNS_FOLDER, exp, schema.PARTS_FOLDER, "notes.parquet")
    fs.write_atomic(foreign, pd.DataFrame({"x": [1]}).to_parquet())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.search_runs_frame([exp])
        client.compact()
    assert any("notes.parquet" in str(w.message) for w in caught)
    assert fs.exists(foreign)
