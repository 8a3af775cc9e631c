"""A process that only logs stays light (issue 20): `import reporter`, `start_run`, metrics and
the end of the run, at exit too, load none of pandas, Altair, detect-secrets and the other
heavy modules, and record what they recorded before. Timings live in
benchmarks/bench_process.py, not here."""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reporter
from reporter.core import secret_shapes, secrets
from reporter.store.parquet import events, schema
from reporter.tracking import context
from tests.conftest import PYTHON, python_env

# what a logging process must not load: each costs a tenth of a second or more to import
HEAVY = (
    "pandas",
    "altair",
    "detect_secrets",
    "pyarrow.compute",
    "pyarrow.dataset",
    "fsspec",
    "importlib.metadata",
    "urllib.request",
    "jinja2",
    "sklearn",
    "matplotlib",
    "requests",
    "httpx",
    "starlette",
    "yaml",
)
# every setting at its default, but no detached compactor outliving the test
CHILD_ENV = {"TRACKER_COMPACT_IN_BACKGROUND": "0"}


def run_child(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -c code args...` with this checkout's reporter and no TRACKER_* settings."""
    child_env = {k: v for k, v in python_env().items() if not k.startswith("TRACKER_")}
    proc = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), *args],
        env={**child_env, **CHILD_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


# the logging path -----------------------------------------------------------------------------
ONE_RUN = """
    import json, sys
    import reporter as mlflow
    store, heavy = sys.argv[1], json.loads(sys.argv[2])
    mlflow.set_tracking_uri(store)
    with mlflow.start_run() as run:
        mlflow.log_param("optimizer", "adamw_torch_fused")  # long enough to be scanned
        mlflow.set_tag("note", "a tag value long enough to be scanned for credentials")
        for i in range(50):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    loaded = [name for name in heavy if name in sys.modules]
    # then, for the test only: the distributions as importlib.metadata reads them
    from reporter.tracking import context
    installed = sorted(context._installed(), key=str.lower)
    print(json.dumps({"run_id": run.info.run_id, "loaded": loaded, "installed": installed}))
"""


def test_a_one_run_process_loads_nothing_heavy_and_records_everything(tmp_path):
    store = str(tmp_path / "store")
    proc = run_child(ONE_RUN, store, json.dumps(HEAVY))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == []
    assert proc.stderr == ""

    client = reporter.Client(store)
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params == {"optimizer": "adamw_torch_fused"}
    assert run.data.tags["note"] == "a tag value long enough to be scanned for credentials"
    assert {"mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName"} <= set(
        run.data.tags
    )
    history = client.get_metric_history(out["run_id"], "loss")
    assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(50)]
    # the environment file lists what importlib.metadata finds, as before
    path = Path(client.download_artifacts(out["run_id"], "environment/requirements.txt"))
    header, *lines = path.read_text().splitlines()
    assert header.startswith("# python ")
    assert lines == out["installed"]


EXIT_WITH_ROWS = """
    import atexit, json, sys

    def report():  # registered first, so it runs after reporter's exit hooks wrote the rows
        print(json.dumps([name for name in heavy if name in sys.modules]), flush=True)

    atexit.register(report)
    import reporter
    store, heavy, points = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    client = reporter.Client(store)
    exp_id = client.create_experiment("exit")
    rid = client.create_run(exp_id, run_name="never-ended").info.run_id
    for step in range(points):
        client.log_metric(rid, "m", step / 2, step=step)
    reporter.set_tracking_uri(store)
    reporter.start_run(experiment_id=exp_id, run_name="fluent")  # ended by the exit hook
    reporter.log_param("p", "v")
    for step in range(points):
        reporter.log_metric("m", step / 4, step=step)
    print(rid, reporter.active_run().info.run_id, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("interval", "points"),
    [("3600", 1_000), ("0.001", 200_000)],
    ids=["every-row-buffered", "exit-mid-flush"],
)
def test_rows_still_buffered_at_exit_are_written_and_pandas_is_never_imported(
    tmp_path, interval, points
):
    """A process that never ends its runs exits with rows buffered (nothing flushed in an hour)
    or while its flusher writes (every millisecond, 200,000 rows a run): the exit hooks write
    every row, in a process where pandas was never imported, first at exit or before."""
    store = str(tmp_path / "store")
    proc = run_child(
        EXIT_WITH_ROWS, store, json.dumps(HEAVY), str(points), TRACKER_FLUSH_INTERVAL=interval
    )
    ids, loaded = proc.stdout.strip().splitlines()
    assert json.loads(loaded) == []
    assert proc.stderr == ""
    never_ended, fluent = ids.split()

    client = reporter.Client(store)
    for run_id, scale in ((never_ended, 2), (fluent, 4)):
        history = client.get_metric_history(run_id, "m")
        assert len(history) == points
        assert all(m.value == m.step / scale for m in history)
    assert client.get_run(fluent).info.status == "FINISHED"
    assert client.get_run(fluent).data.params == {"p": "v"}


LATE_PANDAS = """
    import atexit, sys
    import reporter
    client = reporter.Client(sys.argv[1])
    rid = client.create_run("0").info.run_id
    client.log_metric(rid, "m", 1.0)

    def late_pandas():  # registered last, so it runs first, once threading's shutdown began
        import pandas  # noqa: F401
        print("imported", flush=True)

    atexit.register(late_pandas)
    print(rid, flush=True)
"""


def test_pandas_can_still_be_imported_first_while_the_interpreter_shuts_down(tmp_path):
    """pyarrow may load pandas in the flusher at exit (some compaction calls do): pandas then
    registers its thread pool's exit hook, which raises once threading's shutdown began unless
    reporter imported concurrent.futures.thread beforehand, as it does when a run starts."""
    store = str(tmp_path / "store")
    proc = run_child(LATE_PANDAS, store)
    rid, imported = proc.stdout.split()
    assert imported == "imported" and proc.stderr == ""
    assert [m.value for m in reporter.Client(store).get_metric_history(rid, "m")] == [1.0]


# event tables without pa.array(list) -----------------------------------------------------------
def reference_table(run_id: str, part: str, rows: list[events.Row]) -> pa.Table:
    """The event table as pyarrow builds it from lists (what events.py did before)."""
    kinds, keys, values, texts, steps, stamps = zip(*rows)
    count = len(rows)
    sch = schema.event_schema()
    const = pa.DictionaryArray.from_arrays(pa.array([0] * count, pa.int32()), pa.array([run_id]))
    part_arr = pa.DictionaryArray.from_arrays(pa.array([0] * count, pa.int32()), pa.array([part]))
    return pa.table(
        [
            const,
            pa.array(kinds, pa.string()).dictionary_encode(),
            pa.array(keys, pa.string()).dictionary_encode(),
            pa.array(values, pa.float64()),
            pa.array(texts, pa.string()),
            pa.array(steps, pa.int64()),
            pa.array(stamps, pa.int64()),
            part_arr,
        ],
        schema=sch,
    )


def same_values(a: pa.Table, b: pa.Table) -> bool:
    """Return True if two tables hold the same types and values (NaN equal to NaN)."""
    if a.schema != b.schema:
        return False
    return all(
        [repr(v) for v in x.to_pylist()] == [repr(v) for v in y.to_pylist()]
        for x, y in zip(a.columns, b.columns)
    )


FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
TEXTS = st.one_of(st.none(), st.text(max_size=40))
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["metric", "param", "tag", "attr", "input"]),
        st.text(min_size=0, max_size=8),
        FLOATS,
        TEXTS,
        st.integers(-(2**63), 2**63 - 1),
        st.integers(0, 2**62),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(rows=ROWS)
def test_event_tables_equal_pyarrows_own_and_write_the_same_bytes(rows):
    expected = reference_table("r1", "r1/p", rows)
    table = events.rows_to_table("r1", "r1/p", rows)
    assert same_values(table, expected)
    assert events.table_to_parquet(table, ["r1/p"]) == events.table_to_parquet(expected, ["r1/p"])
    for got, want in zip(table.columns, expected.columns):
        assert got.null_count == want.null_count


@settings(max_examples=50, deadline=None)
@given(rows=ROWS)
def test_a_group_table_equals_pyarrows_own(rows):
    group = [(f"r{i}", f"r{i}/p", rows[i::3]) for i in range(3) if rows[i::3]]
    runs = [run for run, _, part_rows in sorted(group) for _ in part_rows]
    table = events.group_to_table(group)
    assert table.column("run_id").to_pylist() == runs
    ordered = [
        row for _, _, part_rows in sorted(group) for row in sorted(part_rows, key=lambda r: r[:2])
    ]
    expected = reference_table("x", "x", ordered)
    for name in ("kind", "key", "value", "text", "step", "timestamp"):
        assert [repr(v) for v in table.column(name).to_pylist()] == [
            repr(v) for v in expected.column(name).to_pylist()
        ]
    assert table.schema == expected.schema


def test_nan_and_null_values_stay_apart():
    rows: list[events.Row] = [
        ("metric", "m", math.nan, None, 0, 1),
        ("param", "p", None, "v", 0, 1),
        ("metric", "m", -math.inf, None, 1, 2),
    ]
    table = events.rows_to_table("r", "r/p", rows)
    values = table.column("value").to_pylist()
    assert math.isnan(values[0]) and values[1] is None and values[2] == -math.inf
    assert table.column("text").to_pylist() == [None, "v", None]


# credential shapes without importing detect-secrets --------------------------------------------
@pytest.fixture
def fresh_patterns() -> Iterator[None]:
    """Forget the compiled credential patterns before and after the test."""
    secrets._patterns.cache_clear()
    secrets._credentials_in_line.cache_clear()
    yield
    secrets._patterns.cache_clear()
    secrets._credentials_in_line.cache_clear()


def test_the_copied_credential_shapes_are_the_installed_detect_secrets_ones():
    assert secrets.plugin_sources_digest() == secret_shapes.PLUGIN_SOURCES_SHA256, (
        "detect-secrets changed: run `python tools/secret_shapes.py`"
    )
    assert secrets.detect_secrets_shapes() == secret_shapes.SHAPES


def test_other_detect_secrets_plugins_are_imported_and_scanned_with(fresh_patterns, monkeypatch):
    copied = secrets._patterns()
    assert len(copied) == len(secret_shapes.SHAPES) + 2  # and bearer tokens, prefixed tokens
    secrets._patterns.cache_clear()
    monkeypatch.setattr(secret_shapes, "PLUGIN_SOURCES_SHA256", "another version")
    monkeypatch.setattr(secret_shapes, "SHAPES", ())  # not used: detect-secrets' own are
    imported = secrets._patterns()
    assert [(p.pattern, p.flags) for p in imported] == [(p.pattern, p.flags) for p in copied]
    assert secrets.credentials_in("token ghp_" + "a" * 36) == ["ghp_" + "a" * 36] * 2


def test_without_detect_secrets_installed_as_files_there_is_no_digest(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert secrets.plugin_sources_digest() is None


# installed distributions without importlib.metadata --------------------------------------------
def test_installed_distributions_are_read_as_importlib_metadata_reads_them():
    quick = context._installed_quickly()
    assert quick is not None and quick == context._installed()


def metadata(folder: Path, name: str = "METADATA", text: str = "") -> None:
    """Write a metadata file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_every_layout_importlib_metadata_reads_is_read_alike(tmp_path, monkeypatch):
    first, second, egg = tmp_path / "a", tmp_path / "b", tmp_path / "old-1.0-py3.egg"
    folded = "Metadata-Version: 2.1\nName: Folded\nLicense: MIT\n    more\n\tlines\nVersion: 1\n"
    metadata(first / "folded-1.dist-info", text=folded)
    metadata(first / "plain-2.0.dist-info", text="Name: plain\nVersion: 2.0\n\nName: body\n")
    metadata(first / "lower-1.dist-info", text="name: Lower-Case\nversion:3\n")
    metadata(first / "pkg-1.egg-info", "PKG-INFO", "Metadata-Version: 1.0\nName: pkg\nVersion: 1\n")
    metadata(first / "empty-1.dist-info", text="")  # METADATA empty: PKG-INFO is read
    metadata(first / "empty-1.dist-info", "PKG-INFO", "Name: from-pkg-info\nVersion: 4\n")
    metadata(first / "nameless-1.dist-info", text="Name:\nVersion: 1\n")  # left out
    (first / "single.egg-info").write_text("Name: single-file\nVersion: 0.1\n", encoding="utf-8")
    metadata(second / "Plain-2.0.dist-info", text="Name: plain\nVersion: 2.0\n")  # twice
    metadata(egg / "EGG-INFO", "PKG-INFO", "Name: old\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), str(egg), str(tmp_path / "gone")])

    quick = context._installed_quickly()
    assert quick == context._installed()
    assert quick == {
        "Folded==1",
        "plain==2.0",
        "Lower-Case==3",
        "pkg==1",
        "from-pkg-info==4",
        "single-file==0.1",
        "old==1.0",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Name: folded\n  name\nVersion: 1\n",  # the name's own value goes on
        "Version: 1\nSummary: no name\n",
        "Name: x\nnot a header\nVersion: 1\n",
        "From nobody\nName: x\nVersion: 1\n",
        " Name: x\nVersion: 1\n",
    ],
)
def test_metadata_the_email_parser_may_read_otherwise_is_left_to_it(tmp_path, monkeypatch, text):
    metadata(tmp_path / "odd-1.dist-info", text=text)
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert context._installed_quickly() is None


def test_zip_files_other_finders_and_unreadable_metadata_are_left_to_importlib(
    tmp_path, monkeypatch
):
    archive = tmp_path / "deps.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("z-1.dist-info/METADATA", "Name: z\nVersion: 1\n")
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert context._installed_quickly() is None

    (tmp_path / "bad-1.dist-info").mkdir()
    (tmp_path / "bad-1.dist-info" / "METADATA").write_bytes(b"Name: \xff\nVersion: 1\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert context._installed_quickly() is None

    class Finder:
        @staticmethod
        def find_distributions(context: object = None) -> list[object]:
            return []

    monkeypatch.setattr(sys, "path", [])
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    assert context._installed_quickly() is None


def test_the_environment_file_is_written_as_before(monkeypatch):
    context.environment_requirements.cache_clear()
    try:
        quick = context.environment_requirements()
        monkeypatch.setattr(context, "_installed_quickly", lambda: None)
        context.environment_requirements.cache_clear()
        assert context.environment_requirements() == quick
    finally:
        context.environment_requirements.cache_clear()


def test_import_reporter_alone_loads_no_pyarrow():
    """`import reporter` itself loads no pyarrow: a process that never logs never pays it."""
    code = "import json, sys, reporter; print(json.dumps(sorted(set(sys.modules))))"
    proc = subprocess.run(
        [PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert not loaded & {*HEAVY, "pyarrow", "numpy"}


def test_the_store_keeps_the_usage_records_default_without_importing_them():
    """store.py leaves reporter.store.usage (and archiving, compaction) to the calls that need
    them, so its default gc age is written out: it must stay the records' one."""
    from reporter.store.parquet.store import ParquetStore
    from reporter.store.usage import DEFAULT_GC_AGE_MS

    default = inspect.signature(ParquetStore.usage).parameters["older_than_ms"].default
    assert default == DEFAULT_GC_AGE_MS
