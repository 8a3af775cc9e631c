"""A full disk: a clear error that names the place once, no temporary files left eating the last
space, nothing already stored lost, and the buffered rows written once there is room again.
A real full disk: a 2 MB tmpfs mounted for the test (root only)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import reporter
from reporter.store.parquet import schema


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB filesystem of its own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill a disk to the last byte with one file; return it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_is_one_clear_error_and_nothing_is_lost(small_disk, monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    store = small_disk / "store"
    client = reporter.Client(str(store))
    exp_id = client.create_experiment(f"full-{uuid.uuid4().hex[:6]}")
    rid = client.create_run(exp_id).info.run_id
    for step in range(50):
        client.log_metric(rid, "m", float(step), step=step)
    client.flush()  # these are on disk before it fills
    filler = fill(small_disk)
    for step in range(50, 5000):
        client.log_metric(rid, "m", float(step), step=step)
    with pytest.raises(reporter.StoreWriteError) as failed:
        client.set_terminated(rid)  # several background flushes have failed by now
    message = str(failed.value)
    assert message.count("Disk full at") == 1 and str(store) in message
    temps = [p for p in store.rglob("*") if p.name.startswith(".tmp-")]
    assert temps == []
    os.unlink(filler)  # room again: the kept rows are written by the next flush
    client.flush()
    fresh = reporter.Client(str(store))
    history = fresh.get_metric_history(rid, "m")
    assert [m.step for m in history] == list(range(5000))
    assert fresh.get_run(rid).info.status == "FINISHED"
    parts = list(store.rglob(f"*{schema.PARTS_FOLDER}/*.parquet"))
    assert parts


def test_the_cli_says_disk_full_without_a_traceback(small_disk, tmp_path):
    from tests.conftest import PYTHON, python_env

    store = small_disk / "store"
    reporter.Client(str(store)).create_experiment("cli")
    filler = fill(small_disk)
    try:
        proc = subprocess.run(
            [
                PYTHON,
                "-c",
                "import reporter as m, sys; m.set_tracking_uri(sys.argv[1]);"
                "m.set_experiment('cli');"
                "r = m.start_run(); [m.log_metric('x', float(i), step=i) for i in range(20000)];"
                "m.end_run()",
                str(store),
            ],
            capture_output=True,
            text=True,
            env=python_env(TRACKER_LOG_ENVIRONMENT="0"),
        )
    finally:
        os.unlink(filler)
    assert proc.returncode != 0
    assert "Disk full at" in proc.stderr
    assert not [p for p in store.rglob("*") if p.name.startswith(".tmp-")]


def test_a_registration_on_a_full_disk_is_one_clear_error_and_takes_no_number(small_disk):
    """A version whose record cannot be written is not registered: the error says disk full,
    no temporary file is left, what was registered reads back, and once there is room the
    next registration gets the number the failed one would have had (no gap)."""
    store = small_disk / "store"
    client = reporter.Client(str(store))
    client.create_registered_model("churn", description="kept")
    for _ in range(2):
        client.create_model_version("churn", "s3://bucket/model")
    client.set_registered_model_alias("churn", "champion", 2)
    filler = fill(small_disk)
    try:
        for attempt in range(3):
            with pytest.raises(reporter.StoreWriteError) as failed:
                client.create_model_version("churn", "s3://bucket/model")
            assert "Disk full at" in str(failed.value), attempt
        with pytest.raises(reporter.StoreWriteError):
            client.set_registered_model_alias("churn", "challenger", 1)
    finally:
        os.unlink(filler)
    assert [p for p in store.rglob("*") if p.name.startswith(".tmp-")] == []
    fresh = reporter.Client(str(store))
    assert [v.version for v in fresh.search_model_versions("name = 'churn'")] == [2, 1]
    model = fresh.get_registered_model("churn")
    assert model.aliases == {"champion": 2} and model.description == "kept"
    assert fresh.create_model_version("churn", "s3://bucket/model").version == 3
