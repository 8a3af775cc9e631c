"""No path taken from a store ever leaves its destination: hostile keys (`..`, absolute, NUL,
backslash) in a source bucket are refused by `sync`, and the store's one filesystem seam
refuses them for every read and write, on a folder and on S3 (moto on 127.0.0.1)."""

from __future__ import annotations

import subprocess

import pytest

import reporter
from reporter.store.parquet.fs import StoreFS, UnsafePathError
from reporter.store.parquet.sync import sync
from tests.conftest import CLI_CODE, PYTHON, new_bucket, python_env

STORE_KINDS = ("local", "s3")

HOSTILE = [
    "../escape.txt",
    "runs/../../escape.txt",
    "/etc/escape.txt",
    "runs/1/./x",
    "runs/1/a\x00b",
    "runs\\..\\..\\escape.txt",
    "C:/escape.txt",
]


@pytest.mark.parametrize("rel", HOSTILE)
def test_the_filesystem_seam_refuses_paths_that_leave_the_store(rel, store_uri, tmp_path):
    fs = StoreFS(store_uri)
    with pytest.raises(UnsafePathError, match="stays inside its store"):
        fs.write_atomic(rel, b"x")
    with pytest.raises(UnsafePathError):
        fs.read_bytes(rel)
    with pytest.raises(UnsafePathError):
        fs.delete(rel)
    assert not (tmp_path.parent / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def plant(endpoint: str, bucket: str, keys: list[str]) -> None:
    """Put objects with raw keys (no normalisation) into a bucket, as another tool could."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"import os; os.system('echo pwned')\n")


@pytest.mark.parametrize("dst_kind", ["local", "s3"])
def test_sync_from_a_bucket_with_hostile_keys_writes_nothing_outside(
    dst_kind, s3_endpoint, tmp_path, monkeypatch
):
    bucket = new_bucket(s3_endpoint, monkeypatch)
    src = f"s3://{bucket}/store"
    client = reporter.Client(src)
    exp_id = client.create_experiment("e")
    rid = client.create_run(exp_id).info.run_id
    client.log_metric(rid, "m", 1.0)
    client.set_terminated(rid)
    hostile = [
        "store/runs/../../../escape.pth",
        f"store/runs/{exp_id}/../../../../site-packages/x.pth",
        "store/experiments/../../escape.txt",
        "store/./runs/x",
    ]
    plant(s3_endpoint, bucket, hostile)
    if dst_kind == "local":
        dst = str(tmp_path / "a" / "b" / "copy")
    else:
        dst = f"s3://{new_bucket(s3_endpoint, monkeypatch)}/copy"
    result = sync(src, dst)
    assert sorted(result.refused) == sorted(k.removeprefix("store/") for k in hostile)
    assert result.copied > 0
    copy = reporter.Client(dst)
    assert [m.value for m in copy.get_metric_history(rid, "m")] == [1.0]
    if dst_kind == "local":
        outside = [
            p
            for p in tmp_path.rglob("*")
            if p.is_file() and not p.is_relative_to(tmp_path / "a" / "b" / "copy")
        ]
        assert outside == []
        assert not any(p.suffix == ".pth" for p in tmp_path.rglob("*"))
    else:
        import s3fs

        keys = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}).find(dst)
        assert not any(".." in k or k.endswith(".pth") for k in keys)
    # the CLI says what it refused and still exits 0 for what it copied
    proc = subprocess.run(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "sync",
            src,
            str(tmp_path / "cli-copy"),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("not copied:") == len(hostile)
    assert "Traceback" not in proc.stderr


def test_sync_refuses_a_destination_that_is_not_a_store(store_uri, tmp_path):
    client = reporter.Client(store_uri)
    client.create_experiment("e")
    dst = tmp_path / "photos"
    dst.mkdir()
    (dst / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(reporter.InvalidArgumentError, match="not a tracker-report store"):
        sync(store_uri, str(dst))
    assert sorted(p.name for p in dst.iterdir()) == ["holiday.jpg"]
    proc = subprocess.run(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "sync",
            store_uri,
            str(dst),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
    )
    assert proc.returncode == 1 and "not a tracker-report store" in proc.stderr
    assert "Traceback" not in proc.stderr
