"""One fetch per artifact per build: the secret scan, the preview and the copy of a small
artifact share its bytes (on S3 each store read is a GET); the site is unchanged by it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import reporter as mlflow
from reporter.core.errors import NotFoundError
from reporter.site.build import build
from reporter.store.registry import open_store
from reporter.view import fetch
from reporter.view.config import BuildConfig

STORE_KINDS = ("local", "s3")  # the reads this saves are requests on an object store

SMALL = {
    "notes.txt": b"epoch 1 loss 0.5\nepoch 2 loss 0.25\n",
    "config.json": json.dumps({"model": "rf", "depth": 8}).encode(),
    "docs/readme.md": b"# Readme\n\nSome *markdown*.\n",
    "data/sample.csv": b"x,y\n1,2\n3,4\n",
    "blob.bin": os.urandom(5000),  # scanned for credentials in plain bytes, not previewed
}


@pytest.fixture(autouse=True)
def only_our_artifacts(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No environment/requirements.txt logged with each run: the runs hold our files only."""
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")


def log_files(tmp_path: Path, files: dict[str, bytes]) -> str:
    """Log one run with `files` as its artifacts; return its run id."""
    mlflow.set_experiment("reads")
    with mlflow.start_run(run_name="r") as run:
        mlflow.log_metric("rmse", 1.0)
        for path, data in files.items():
            local = tmp_path / "src" / path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            folder = path.rsplit("/", 1)[0] if "/" in path else None
            mlflow.log_artifact(str(local), folder)
    return run.info.run_id


def copied(out: Path, run_id: str) -> dict[str, bytes]:
    folder = out / "runs" / run_id / "artifacts"
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("max_site_mb", [None, 100.0])
def test_each_artifact_fetched_once(
    store_uri: str, tmp_path: Path, max_site_mb: float | None
) -> None:
    run_id = log_files(tmp_path, SMALL)
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out), max_site_mb=max_site_mb))
    reads = result.artifact_reads
    by_path = {path: n for (_, path), n in reads.fetched.items()}
    assert by_path == dict.fromkeys(SMALL, 1)
    assert reads.fetches == len(SMALL) and reads.uncached == 0
    # scanned, previewed and copied: .txt, .json, .md, .csv (three reads each before); the
    # binary blob scanned for plain-byte credentials, then copied; a size limit measures the
    # site first (made, not written), which previews the four text files once more
    assert reads.hits == 2 * 4 + 1 + (4 if max_site_mb else 0)
    assert copied(out, run_id) == SMALL
    run_page = (out / "runs" / run_id / "index.html").read_text(encoding="utf-8")
    assert "epoch 2 loss 0.25" in run_page and "<h4" in run_page  # text and markdown previews


def test_file_over_the_limit_read_through(store_uri: str, tmp_path: Path) -> None:
    big = os.urandom(fetch.FILE_LIMIT + 4096)
    run_id = log_files(tmp_path, {"model.bin": big, "notes.txt": SMALL["notes.txt"]})
    out = tmp_path / "site"
    result = build(BuildConfig(store=store_uri, out=str(out)))
    assert result.artifact_reads.uncached == 1
    assert copied(out, run_id) == {"model.bin": big, "notes.txt": SMALL["notes.txt"]}

    key = next(k for k in result.artifact_reads.fetched if k[1] == "model.bin")
    cache = fetch.ArtifactBytes(open_store(store_uri))
    assert cache.read(*key) == big and cache.read(*key) == big
    assert key not in cache and cache.kept_bytes == 0
    assert (cache.stats.fetches, cache.stats.hits, cache.stats.uncached) == (2, 0, 2)


def test_a_full_budget_reads_new_files_through(store_uri: str, tmp_path: Path) -> None:
    files = {f"f{i}.txt": bytes([65 + i]) * 100 for i in range(3)}
    log_files(tmp_path, files)
    result = build(BuildConfig(store=store_uri, out=str(tmp_path / "site")))
    keys = {path: (run, path) for run, path in result.artifact_reads.fetched}
    cache = fetch.ArtifactBytes(open_store(store_uri), file_limit=100, budget=250)
    a, b, c = (keys[f"f{i}.txt"] for i in range(3))
    assert cache.read(*a) == files["f0.txt"] and cache.read(*b) == files["f1.txt"]
    assert cache.read(*a) == files["f0.txt"]  # a hit
    assert cache.read(*c) == files["f2.txt"]  # would pass 250 bytes: read through, not kept
    assert cache.read(*c) == files["f2.txt"]  # so fetched again
    assert a in cache and b in cache and c not in cache and cache.kept_bytes == 200
    assert (cache.stats.fetches, cache.stats.hits, cache.stats.uncached) == (4, 1, 2)
    with pytest.raises(NotFoundError):
        cache.read(a[0], "missing.txt")
    assert cache.stats.fetches == 4
