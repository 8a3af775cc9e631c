"""Reading compacted files in pieces: footers, the row groups of one run, only some columns.

Checked on a folder and on the S3 test server with the store's own fetch counter (every byte
the store reads goes through StoreFS): values first, then what was fetched.
"""

from __future__ import annotations

import random

import pandas as pd
import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import StoreWarning
from reporter.store.parquet import eventfile, events, reader, schema
from reporter.store.parquet.fs import ReadStats, StoreFS
from tests.conftest import store_fs

STORE_KINDS = ("local", "s3")


@pytest.fixture
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write compacted files with row groups of 512 rows, so a 30-run file has many."""
    monkeypatch.setattr(events, "ROW_GROUP_ROWS", 512)


def log_runs(count: int, points: int = 20) -> list[str]:
    """Log finished runs with params and two metric histories of noisy values each."""
    rng = random.Random(7)
    mlflow.set_experiment("reads")
    ids = []
    for i in range(count):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_params({"i": i, "note": "x" * 50})
            for step in range(points):
                mlflow.log_metrics({"loss": rng.random(), "acc": rng.random()}, step=step)
        ids.append(run.info.run_id)
    return ids


def compacted_file(uri: str) -> tuple[StoreFS, reporter.Client, str]:
    """Compact the store into one file; return a fresh filesystem, a client, the file's path."""
    client = reporter.Client(uri)
    client.compact()
    fs = StoreFS(uri)
    (path,) = [i.path for i in fs.list_files("") if f"/{schema.COMPACTED_FOLDER}/" in i.path]
    return fs, client, path


def footer_size(fs: StoreFS, path: str) -> int:
    """Return the byte length of a Parquet file's footer (metadata, length and magic)."""
    data = fs.read_bytes(path)
    fs.stats = ReadStats()
    return int.from_bytes(data[-8:-4], "little") + 8


def fresh_client(uri: str) -> reporter.Client:
    """A client with no cached footers or frames, whose fetch counter starts at zero."""
    client = reporter.Client(uri)  # the process's one store for this URI
    client.store.clear_cache()
    store_fs(client).stats = ReadStats()
    return client


def test_one_run_reads_only_its_row_groups(store_uri, monkeypatch):
    monkeypatch.setattr(events, "ROW_GROUP_ROWS", 2048)
    monkeypatch.setattr(eventfile, "TAIL", 16 * 1024)
    ids = log_runs(30, points=300)
    client = reporter.Client(store_uri)
    before = {
        rid: [(m.step, m.value, m.timestamp) for m in client.get_metric_history(rid, "loss")]
        for rid in ids
    }
    runs_before = {rid: client.get_run(rid).data for rid in ids}
    fs, _, path = compacted_file(store_uri)
    size = fs.list_files(path.rsplit("/", 1)[0])[0].size
    groups = reader.FOOTERS.footer(fs, fs.list_files(path.rsplit("/", 1)[0])[0])
    assert groups is not None and groups[0].meta.num_row_groups >= 8

    client = fresh_client(store_uri)
    target = ids[17]
    assert footer_size(store_fs(client), path) < size / 8
    history = [(m.step, m.value, m.timestamp) for m in client.get_metric_history(target, "loss")]
    assert history == before[target] and len(history) == 300
    stats = store_fs(client).stats
    assert stats.nbytes < size / 3, (stats, size)  # the footer and a few row groups
    # and every run still reads back whole, from its own row groups
    for rid in ids:
        assert client.get_run(rid).data == runs_before[rid]
        assert [
            (m.step, m.value, m.timestamp) for m in client.get_metric_history(rid, "loss")
        ] == before[rid]


def test_whole_experiment_fetches_each_byte_once(store_uri, small_row_groups):
    ids = log_runs(12)
    before = mlflow.search_runs()
    assert isinstance(before, pd.DataFrame)
    frame = before.sort_values("run_id", ignore_index=True)
    fs, _, path = compacted_file(store_uri)
    size = fs.list_files(path.rsplit("/", 1)[0])[0].size

    fresh_client(store_uri)
    after = mlflow.search_runs()
    assert isinstance(after, pd.DataFrame)
    got = after.sort_values("run_id", ignore_index=True)
    assert sorted(got["run_id"]) == sorted(ids)
    assert got.equals(frame)

    fs = StoreFS(store_uri)
    reader.FOOTERS.clear()
    _, table = reader.read_events(fs, next(iter(fs.list_dirs(schema.RUNS_FOLDER))))
    assert table.num_rows > 0
    # the footer's fetch and the rest of the file: no byte twice
    assert fs.stats.nbytes <= size, (fs.stats, size)
    assert fs.stats.requests <= 3


def test_history_skips_the_text_column(store_uri, small_row_groups, monkeypatch):
    monkeypatch.setattr(eventfile, "MERGE_GAP", 0)  # fetch each column chunk on its own
    monkeypatch.setattr(eventfile, "TAIL", 16)  # and only the footer with the footer
    ids = log_runs(4)
    fs, _, path = compacted_file(store_uri)
    info = fs.list_files(path.rsplit("/", 1)[0])[0]
    footer = eventfile.read_footer(fs, info)
    fs.stats.requests = fs.stats.nbytes = 0
    full = eventfile.read(fs, info, footer)
    all_bytes = fs.stats.nbytes
    fs.stats.requests = fs.stats.nbytes = 0
    some = eventfile.read(fs, info, footer, columns=["run_id", "kind", "key", "value", "part"])
    assert some.column_names == ["run_id", "kind", "key", "value", "part"]
    assert some.num_rows == full.num_rows
    assert some.column("value").equals(full.column("value"))
    text_bytes = sum(
        footer.meta.row_group(g).column(4).total_compressed_size
        for g in range(footer.meta.num_row_groups)
    )
    assert footer.meta.schema.names[4] == "text"
    assert 0 < fs.stats.nbytes <= all_bytes - text_bytes
    assert ids  # four runs were logged into it


def test_a_footer_longer_than_the_first_fetch(store_uri, monkeypatch):
    ids = log_runs(6, points=3)
    fs, client, path = compacted_file(store_uri)
    monkeypatch.setattr(eventfile, "TAIL", 16)  # the footer needs a second, exact fetch
    reader.FOOTERS.clear()
    info = fs.list_files(path.rsplit("/", 1)[0])[0]
    footer = eventfile.read_footer(fs, info)
    assert footer.tail_start < info.size - 16
    parts = events.parts_of(footer.meta.schema.to_arrow_schema().metadata) or []
    assert {p.split("/")[0] for p in parts} == set(ids)
    fresh = fresh_client(store_uri)
    reads = client.get_experiment_by_name("reads")
    assert reads is not None
    assert {r.info.run_id for r in fresh.search_runs([reads.experiment_id])} == set(ids)


def test_truncated_compacted_file_is_skipped_with_a_warning(store_uri, small_row_groups):
    log_runs(3, points=2)
    fs, _, path = compacted_file(store_uri)
    data = fs.read_bytes(path)
    fs.write_atomic(path, data[: len(data) // 2])
    reader.FOOTERS.clear()
    with pytest.warns(StoreWarning, match="Parquet footer"):
        listing, table = reader.read_events(fs, path.split("/")[1])
    assert table.num_rows == 0 and len(listing.compacted) == 1


def test_a_listing_that_misses_a_compacted_file_is_followed_by_another(client, monkeypatch):
    """A directory listing is no snapshot: one taken while a merge swaps two compacted files can
    show neither. The reader lists once more before it trusts what it read."""
    exp_id = client.create_experiment("swap")
    run_id = client.create_run(exp_id).info.run_id
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    client.set_terminated(run_id)
    assert sum(r.parts_merged for r in client.compact([exp_id])) >= 1
    real = reader.list_compacted
    listings: list[int] = []

    def mid_swap(fs: StoreFS, exp: str) -> reader.Listing:
        out = real(fs, exp)
        listings.append(len(out.compacted))
        if len(listings) == 1:
            out.compacted = []  # the first listing saw neither the old file nor its replacement
        return out

    monkeypatch.setattr(reader, "list_compacted", mid_swap)
    client.store.clear_cache()
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(10))
    assert len(listings) >= 2 and listings[0] >= 1


def test_a_big_experiment_searches_the_same_read_a_batch_of_runs_at_a_time(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs frame (what search_runs filters) of an experiment over FRAME_BATCH_ROWS is
    read a batch of runs at a time: the same runs, columns, order of columns and values as
    one read, and the same datasets."""
    from reporter.entities import Metric, Param, RunTag
    from reporter.store import registry
    from reporter.store.parquet import store as parquet_store

    uri = str(tmp_path / "store")
    client = reporter.Client(uri)
    exp = client.create_experiment("big")
    for r in range(12):
        run = client.create_run(exp, run_name=f"r{r}", start_time=1_700_000_000_000 + r % 3)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(f"m{r % 4}", r / (s + 1), 1_700_000_000_000 + s, s) for s in range(30)],
            params=[Param(f"p{r % 5}", str(r))],
            tags=[RunTag(f"t{r % 2}", "x")],
        )
        if r % 2:
            client.set_terminated(rid)
    store = registry.open_store(uri)
    whole = store.runs_frame([exp])
    inputs = store.list_run_inputs([exp])
    monkeypatch.setattr(parquet_store, "FRAME_BATCH_ROWS", 40)
    store.clear_cache()
    batched = store.runs_frame([exp])
    assert list(batched.columns) == list(whole.columns) and len(batched) == 12
    pd.testing.assert_frame_equal(
        batched.sort_values("run_id").reset_index(drop=True),
        whole.sort_values("run_id").reset_index(drop=True),
    )
    assert store.list_run_inputs([exp]) == inputs


def test_list_paths_lists_what_list_files_lists(store_uri):
    """The registry's listing (paths only, no stat per file on a folder) finds the same files
    as the full listing: nested folders, no temporary files, nothing outside the folder."""
    fs = StoreFS(store_uri)
    from reporter.store.parquet.fs import TMP_PREFIX

    for rel in (
        "reg/a/model.json",
        "reg/a/versions/1.json",
        "reg/a/versions/_e/1/x.edit",
        "reg/b/model.json",
        f"reg/b/{TMP_PREFIX}half",
        "regx/other.json",
    ):
        fs.write_atomic(rel, b"{}")
    expected = [
        "reg/a/model.json",
        "reg/a/versions/1.json",
        "reg/a/versions/_e/1/x.edit",
        "reg/b/model.json",
    ]
    assert fs.list_paths("reg") == [i.path for i in fs.list_files("reg")] == expected
    assert fs.list_paths("missing") == []
