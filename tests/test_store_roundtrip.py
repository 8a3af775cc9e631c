"""Whatever is logged reads back exactly, before and after compaction (property tests).

Every hypothesis example gets a fresh store in its own temporary folder; the store object of
that folder is dropped (and its flusher thread stopped) when the example ends.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reporter
from reporter.core import system_tags
from reporter.entities import Metric, Param, RunStatus, RunTag
from reporter.store.parquet import schema
from reporter.store.parquet.store import ParquetStore
from reporter.tracking import uri as tracking_uri
from tests.conftest import store_files, store_paths

NAN, INF = float("nan"), float("inf")
INT64 = st.integers(-(2**63), 2**63 - 1)
START = 1_700_000_000_000
END = 4_102_444_800_000  # 2100-01-01

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


# a fresh store per example --------------------------------------------------------------------
@contextlib.contextmanager
def fresh_store() -> Iterator[str]:
    """Yield a new store path; afterwards end fluent runs and drop the store object."""
    with tempfile.TemporaryDirectory(prefix="reporter-roundtrip-") as tmp:
        path = os.path.join(tmp, "store")
        try:
            yield path
        finally:
            while reporter.active_run() is not None:
                reporter.end_run()
            tracking_uri.close_store(path)


# what a run should read back as ---------------------------------------------------------------
@dataclass
class Model:
    """The expected state of one run."""

    run_id: str
    name: str
    start_time: int
    status: str = RunStatus.RUNNING
    end_time: tuple[int, int] | None = None  # (lowest, highest) accepted
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)  # (v, step, ts)


def fkey(value: float) -> object:
    """Return a hashable identity of a float: NaN is one value, -0.0 is not 0.0."""
    return "nan" if math.isnan(value) else struct.pack(">d", value)


def same_float(got: float, want: float) -> bool:
    """Exactly the same float (NaN equals NaN; the sign of zero counts)."""
    return fkey(float(got)) == fkey(want)


def latest_ok(got: float, points: list[tuple[float, int, int]]) -> bool:
    """The latest value is the one at the highest step, then the latest timestamp.

    A tie on (step, timestamp) between different values is broken by the largest value; with
    a NaN among the tied values either NaN or the largest number is accepted.
    """
    top = max((s, t) for _, s, t in points)
    tied = [v for v, s, t in points if (s, t) == top]
    if len({fkey(v) for v in tied}) == 1:
        return same_float(got, tied[0])
    numbers = [v for v in tied if not math.isnan(v)]
    if math.isnan(got):
        return len(numbers) < len(tied)
    return bool(numbers) and got == max(numbers)


def check_history(client: reporter.Client, model: Model, key: str) -> None:
    """get_metric_history returns every point once, ordered by step then timestamp."""
    history = client.get_metric_history(model.run_id, key)
    order = [(m.step, m.timestamp) for m in history]
    assert order == sorted(order), f"history of {key!r} not ordered by step, timestamp"
    assert all(m.key == key for m in history)
    got = Counter((m.step, m.timestamp, fkey(m.value)) for m in history)
    want = Counter((s, t, fkey(v)) for v, s, t in model.points.get(key, []))
    assert got == want, f"history of {key!r}"


def present(value: Any) -> bool:
    """True for a frame cell that holds a value (not None / NaN)."""
    return not pd.isna(value)


def check_store(client: reporter.Client, exp_id: str, models: list[Model], keys: list[str]):
    """Read every run back with get_run, get_metric_history, search_runs_frame, search_runs."""
    for model in models:
        run = client.get_run(model.run_id)
        info = run.info
        assert (info.run_id, info.experiment_id) == (model.run_id, exp_id)
        assert info.run_name == model.name
        assert info.status == model.status
        assert info.start_time == model.start_time
        if model.end_time is not None:
            low, high = model.end_time
            assert info.end_time is not None and low <= info.end_time <= high
        assert dict(run.data.params) == model.params
        assert dict(run.data.tags) == model.tags
        logged = {k: pts for k, pts in model.points.items() if pts}
        assert set(run.data.metrics) == set(logged)
        for key, points in logged.items():
            assert latest_ok(run.data.metrics[key], points), (key, run.data.metrics[key], points)
        for key in keys:
            check_history(client, model, key)

    frame = client.search_runs_frame([exp_id])
    assert sorted(frame["run_id"]) == sorted(m.run_id for m in models)  # each run once
    rows = frame.set_index("run_id")
    for model in models:
        row = rows.loc[model.run_id]
        assert row["status"] == model.status
        for prefix, want in (("params.", model.params), ("tags.", model.tags)):
            got = {
                c[len(prefix) :]: row[c]
                for c in rows.columns
                if c.startswith(prefix) and present(row[c])
            }
            assert got == want, prefix
        for key in keys:
            column = f"metrics.{key}"
            key_points = model.points.get(key)
            if key_points:
                assert latest_ok(row[column], key_points), (key, row[column], key_points)
            else:
                assert column not in rows.columns or not present(row[column])

    runs = client.search_runs([exp_id])
    assert sorted(r.info.run_id for r in runs) == sorted(m.run_id for m in models)
    by_id = {m.run_id: m for m in models}
    for run in runs:
        model = by_id[run.info.run_id]
        assert run.info.status == model.status
        assert dict(run.data.params) == model.params
        assert dict(run.data.tags) == model.tags
        assert set(run.data.metrics) == {k for k, pts in model.points.items() if pts}
        for key, value in run.data.metrics.items():
            assert latest_ok(value, model.points[key])


# strategies -----------------------------------------------------------------------------------
KEYS = st.text(st.characters(min_codepoint=32, exclude_categories=["Cs"]), min_size=1, max_size=6)
TEXTS = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # any unicode, \x00 too
VALUES = st.one_of(st.floats(), st.sampled_from([NAN, INF, -INF, 0.0, -0.0, 1.0]))
STEPS = st.one_of(st.integers(-2, 4), INT64)
STAMPS = st.one_of(st.integers(START, START + 2), INT64)
TERMINAL = st.sampled_from(list(RunStatus.TERMINAL))


@st.composite
def operation(draw: st.DrawFn, keys: list[str]) -> tuple[Any, ...]:
    """One logging call (or a flush / compaction) on a run."""
    key = st.sampled_from(keys)
    text = st.one_of(st.sampled_from(["", "v", "ü\x00✓"]), TEXTS)  # a small pool: re-logs
    metric = st.tuples(key, VALUES, STEPS, STAMPS)
    return draw(
        st.one_of(
            st.tuples(st.just("param"), key, text),
            st.tuples(st.just("tag"), key, text),
            st.tuples(st.just("delete_tag"), key),
            st.tuples(st.just("metric"), metric),
            st.tuples(
                st.just("batch"),
                st.lists(metric, max_size=6),
                st.lists(st.tuples(key, text), max_size=3),
                st.lists(st.tuples(key, text), max_size=3),
            ),
            st.just(("flush",)),
            st.just(("compact",)),
        )
    )


@st.composite
def stories(draw: st.DrawFn) -> dict[str, Any]:
    """Runs of one experiment: a first life (interleaved calls) and maybe a resumed one."""
    keys = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    count = draw(st.integers(1, 3))
    runs = [
        {
            "name": draw(TEXTS.filter(bool)),
            "tags": draw(st.dictionaries(st.sampled_from(keys), TEXTS, max_size=2)),
            "status": draw(TERMINAL),
            "resume": draw(st.none() | st.lists(operation(keys), max_size=8)),
            "resume_status": draw(TERMINAL),
        }
        for _ in range(count)
    ]
    ops = draw(st.lists(st.tuples(st.integers(0, count - 1), operation(keys)), max_size=25))
    return {"keys": keys, "runs": runs, "ops": ops}


def apply(client: reporter.Client, model: Model, op: tuple[Any, ...]) -> None:
    """Make one call and update the model the way the store promises."""
    rid = model.run_id
    kind = op[0]
    if kind == "param":
        _, key, value = op
        if model.params.get(key, value) != value:
            with pytest.raises(reporter.ParamConflictError):
                client.log_param(rid, key, value)
        else:
            client.log_param(rid, key, value)
            model.params.setdefault(key, value)
    elif kind == "tag":
        _, key, value = op
        client.set_tag(rid, key, value)
        model.tags[key] = value
    elif kind == "delete_tag":
        key = op[1]
        if key in model.tags:
            client.delete_tag(rid, key)
            del model.tags[key]
        else:
            with pytest.raises(reporter.NotFoundError):
                client.delete_tag(rid, key)
    elif kind == "metric":
        key, value, step, ts = op[1]
        client.log_metric(rid, key, value, timestamp=ts, step=step)
        model.points.setdefault(key, []).append((value, step, ts))
    elif kind == "batch":
        _, metrics, params, tags = op
        known = dict(model.params)
        conflict = False
        for key, value in params:
            conflict = conflict or known.setdefault(key, value) != value
        call = lambda: client.log_batch(  # noqa: E731
            rid,
            metrics=[Metric(k, v, ts, s) for k, v, s, ts in metrics],
            params=[Param(k, v) for k, v in params],
            tags=[RunTag(k, v) for k, v in tags],
        )
        if conflict:  # the whole batch is refused
            with pytest.raises(reporter.ParamConflictError):
                call()
            return
        call()
        model.params = known
        model.tags.update(tags)
        for key, value, step, ts in metrics:
            model.points.setdefault(key, []).append((value, step, ts))
    elif kind == "flush":
        client.flush()
    elif kind == "compact":
        client.compact()


def now_ms() -> int:
    return int(time.time() * 1000)


@settings(max_examples=40, deadline=None)
@given(stories())
def test_everything_logged_reads_back_exactly_before_and_after_compaction(story):
    with fresh_store() as path:
        client = reporter.Client(path)
        exp_id = client.create_experiment("roundtrip ✓")
        models = []
        for spec in story["runs"]:
            start = now_ms()  # (a past start time reads KILLED until the first heartbeat)
            name, tags = spec["name"], spec["tags"]
            run = client.create_run(exp_id, start_time=start, tags=tags, run_name=name)
            tags = {**spec["tags"], system_tags.TAG_RUN_NAME: spec["name"]}
            models.append(Model(run.info.run_id, spec["name"], start, tags=tags))
        for index, op in story["ops"]:
            apply(client, models[index], op)
        check_store(client, exp_id, models, story["keys"])  # while the runs are running
        for spec, model in zip(story["runs"], models):
            client.set_terminated(model.run_id, spec["status"], end_time=END)
            model.status, model.end_time = spec["status"], (END, END)
        check_store(client, exp_id, models, story["keys"])
        client.compact()
        check_store(client, exp_id, models, story["keys"])

        # resume some runs (after compaction), log more, end them, compact again
        reporter.set_tracking_uri(path)
        for spec, model in zip(story["runs"], models):
            if spec["resume"] is None:
                continue
            active = reporter.start_run(run_id=model.run_id)
            assert active.info.status == RunStatus.RUNNING
            model.status, model.end_time = RunStatus.RUNNING, (END, END)
            for op in spec["resume"]:
                apply(client, model, op)
            low = now_ms()
            reporter.end_run(spec["resume_status"])
            model.status, model.end_time = spec["resume_status"], (low, now_ms())
        check_store(client, exp_id, models, story["keys"])
        client.compact()
        check_store(client, exp_id, models, story["keys"])
        parts = list(Path(path).rglob(f"{schema.PARTS_FOLDER}/*.parquet"))
        assert parts == []  # every run is finished: all parts were compacted


@settings(max_examples=25, deadline=None)
@given(key=KEYS, first=TEXTS, other=TEXTS)
def test_a_param_keeps_its_first_value(key, first, other):
    if first == other:
        other = first + "-other"
    with fresh_store() as path:
        client = reporter.Client(path)
        exp_id = client.create_experiment("params")
        rid = client.create_run(exp_id).info.run_id
        client.log_param(rid, key, first)
        client.log_param(rid, key, first)  # the same value again is fine
        with pytest.raises(reporter.ParamConflictError):
            client.log_param(rid, key, other)
        with pytest.raises(reporter.ParamConflictError):  # also inside a batch; nothing kept
            client.log_batch(rid, metrics=[Metric("m", 1.0, START, 0)], params=[Param(key, other)])
        with pytest.raises(reporter.ParamConflictError):  # two values in one batch
            client.log_batch(rid, params=[Param(key + "2", first), Param(key + "2", other)])
        client.flush()
        # another process (a store object that has not seen the run) refuses it too
        with pytest.raises(reporter.ParamConflictError):
            ParquetStore(path).log_batch(rid, params=[Param(key, other)])
        run = client.get_run(rid)
        assert run.data.params == {key: first}
        assert run.data.metrics == {}
        client.set_terminated(rid)
        client.compact()
        with pytest.raises(reporter.ParamConflictError):
            ParquetStore(path).log_batch(rid, params=[Param(key, other)])
        ParquetStore(path).log_batch(rid, params=[Param(key, first)])  # same value: accepted
        assert client.get_run(rid).data.params == {key: first}
        frame = client.search_runs_frame([exp_id])
        assert list(frame[f"params.{key}"]) == [first]


def test_deleted_tags_stay_deleted_through_compactions(store_uri, client):
    exp_id = client.create_experiment("tags")
    rid = client.create_run(exp_id, tags={"a": "1", "b": "1", "c": "1"}).info.run_id
    client.set_tag(rid, "d", "1")
    client.flush()
    client.delete_tag(rid, "a")  # the tag was set in an earlier part
    client.set_tag(rid, "b", "2")
    client.delete_tag(rid, "b")  # set and deleted in the same part
    client.delete_tag(rid, "c")
    client.set_tag(rid, "c", "again")  # deleted, then set again
    with pytest.raises(reporter.NotFoundError):
        client.delete_tag(rid, "a")
    client.set_terminated(rid)
    want = {"c": "again", "d": "1"}

    def user_tags() -> dict[str, str]:
        tags = dict(client.get_run(rid).data.tags)
        tags.pop(system_tags.TAG_RUN_NAME)
        return tags

    assert user_tags() == want
    client.compact()
    assert user_tags() == want
    # a deletion in a raw part, after the compacted events, then merged with them
    reporter.set_tracking_uri(store_uri)
    with reporter.start_run(run_id=rid):
        reporter.delete_tag("d")
    del want["d"]
    assert user_tags() == want
    client.compact()
    assert user_tags() == want
    row = client.search_runs_frame([exp_id]).iloc[0]
    for key in ("a", "b", "d"):
        assert f"tags.{key}" not in row.index or pd.isna(row[f"tags.{key}"])
    assert row["tags.c"] == "again"


def test_a_run_resumed_after_compaction_keeps_old_data_and_adds_new(store_uri, client):
    exp_id = client.create_experiment("resume")
    rid = client.create_run(exp_id, tags={"t": "old"}).info.run_id
    client.log_param(rid, "p1", "a")
    for step in range(10):
        client.log_metric(rid, "m", step * 1.5, step=step)
    client.set_terminated(rid)
    (result,) = client.compact()
    assert result.parts_merged >= 1
    assert not store_paths(store_uri, folder=schema.PARTS_FOLDER)

    reporter.set_tracking_uri(store_uri)
    with reporter.start_run(run_id=rid) as active:
        assert active.info.status == RunStatus.RUNNING
        reporter.log_param("p1", "a")  # the same value: fine
        with pytest.raises(reporter.ParamConflictError):
            reporter.log_param("p1", "b")
        reporter.log_param("p2", "c")
        reporter.set_tag("t", "new")
        for step in range(10, 20):
            reporter.log_metric("m", step * 1.5, step=step)

    def check() -> None:
        run = client.get_run(rid)
        assert run.info.status == RunStatus.FINISHED
        assert run.data.params == {"p1": "a", "p2": "c"}
        assert run.data.tags["t"] == "new"
        assert run.data.metrics == {"m": 19 * 1.5}
        history = client.get_metric_history(rid, "m")
        assert [(m.step, m.value) for m in history] == [(s, s * 1.5) for s in range(20)]

    check()
    client.compact()
    check()
    files = store_files(store_uri)
    assert [f.split("/")[-2] for f in files] == [schema.COMPACTED_FOLDER]  # one file, no parts
    events = pd.read_parquet(io.BytesIO(next(iter(files.values()))))
    metrics = events[events["kind"] == "metric"]
    assert sorted(metrics["step"]) == list(range(20))  # every point once
    params = events[events["kind"] == "param"]
    assert sorted(params["key"].astype(str)) == ["p1", "p2"]  # each param logged once
    assert len(client.search_runs_frame([exp_id])) == 1
