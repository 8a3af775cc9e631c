"""Stores for the du and gc tests, and ways to look at them that do not go through the store.

`files_on_disk` lists a store with os.walk (a folder) or s3fs (a bucket), not with StoreFS, so
du's figures are checked against an independent listing. `snapshot` reads everything a run
holds through the public API, to compare before and after a gc value by value.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import reporter
import reporter as mlflow
from reporter.core import clock
from reporter.core.logged_models import LoggedModelOutput
from reporter.store.protocol import AbstractStore

DAY_MS = 86_400_000


def s3_filesystem() -> Any:
    """Return an s3fs filesystem on the test server that caches no listing."""
    import s3fs

    return s3fs.S3FileSystem(  # no cached listing: each look is a fresh one
        client_kwargs={"endpoint_url": os.environ["TRACKER_S3_ENDPOINT_URL"]},
        use_listings_cache=False,
        skip_instance_cache=True,
    )


def files_on_disk(uri: str) -> dict[str, int]:
    """Return {store-relative path: size} of every file of a store, listed independently."""
    if uri.startswith("s3://"):
        root = uri[len("s3://") :].rstrip("/")
        found = s3_filesystem().find(root, detail=True)
        return {
            name[len(root) + 1 :]: int(info["size"])
            for name, info in found.items()
            if info.get("type") != "directory"
        }
    out = {}
    for folder, _dirs, names in os.walk(uri):
        for name in names:
            full = os.path.join(folder, name)
            try:
                out[os.path.relpath(full, uri).replace(os.sep, "/")] = os.path.getsize(full)
            except FileNotFoundError:
                continue  # deleted since the folder was read: a gc or compaction at work
    return out


def contents_on_disk(uri: str, suffix: str = "") -> dict[str, bytes]:
    """Return {store-relative path: bytes} of every file (ending in suffix), read
    independently."""
    if uri.startswith("s3://"):
        s3 = s3_filesystem()
        root = uri[len("s3://") :].rstrip("/")
        names = [n for n, i in s3.find(root, detail=True).items() if i.get("type") != "directory"]
        names = [n for n in names if n.endswith(suffix)]
        if not names:
            return {}
        return {n[len(root) + 1 :]: bytes(b) for n, b in zip(names, s3.cat(names).values())}
    return {rel: Path(uri, rel).read_bytes() for rel in files_on_disk(uri) if rel.endswith(suffix)}


def store_hash(uri: str) -> str:
    """Return a digest of every file's path and bytes."""
    digest = hashlib.sha256()
    for rel, data in sorted(contents_on_disk(uri).items()):
        digest.update(rel.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def event_run_ids(uri: str) -> set[str]:
    """Return every run id that any event file of the store holds rows of."""
    import io

    import pyarrow.parquet as pq

    out: set[str] = set()
    for rel, data in contents_on_disk(uri, ".parquet").items():
        if "/_" in rel:
            table = pq.read_table(io.BytesIO(data), columns=["run_id"])
            out.update(str(r) for r in table.column("run_id").to_pylist())
    return out


def delete_run_at(client: reporter.Client, run_id: str, when_ms: int, monkeypatch: Any) -> None:
    """Delete a run with the store's clock at `when_ms` (the deletion event's timestamp)."""
    with monkeypatch.context() as patch:
        patch.setattr(clock, "now_ms", lambda: float(when_ms))
        client.delete_run(run_id)


def log_run(client: reporter.Client, index: int, *, points: int = 5, artifact: bool = True) -> str:
    """Log a finished run to the active experiment: params, a tag, a metric history, an
    artifact; return its id."""
    with mlflow.start_run(run_name=f"run-{index}") as run:
        mlflow.log_params({"i": index, "kind": "test"})
        mlflow.set_tag("team", f"t{index % 2}")
        for step in range(points):
            mlflow.log_metric("loss", index * 100 + step, step=step)
        if artifact:
            mlflow.log_text("x" * (100 + index), f"notes/run-{index}.txt")
    return run.info.run_id


def log_model_for(client: reporter.Client, run_id: str, tmp: Path) -> str:
    """Create a logged model whose source is the run: a record, an edit, a file, an output."""
    exp_id = client.get_run(run_id).info.experiment_id
    model = client.create_logged_model(exp_id, name="m", source_run_id=run_id)
    weights = tmp / f"weights-{model.model_id}.bin"
    weights.write_bytes(os.urandom(2048))
    client.log_model_artifact(model.model_id, str(weights))
    client.set_logged_model_tags(model.model_id, {"stage": "dev"})
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    client.flush()
    return model.model_id


Snapshot = dict[str, Any]


def snapshot(store: AbstractStore, run_ids: list[str]) -> dict[str, Snapshot]:
    """Return everything readable about runs: attributes, params, tags, metrics, every
    history, every artifact's bytes."""
    out: dict[str, Snapshot] = {}
    for run_id in run_ids:
        run = store.get_run(run_id)
        histories = {
            key: [(m.step, m.value, m.timestamp) for m in store.get_metric_history(run_id, key)]
            for key in run.data.metrics
        }
        artifacts = {
            path: store.read_artifact(run_id, path) for path, _ in store.list_artifacts(run_id)
        }
        info = run.info
        out[run_id] = {
            "info": (info.status, info.lifecycle_stage, info.run_name, info.start_time),
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
            "metrics": dict(run.data.metrics),
            "histories": histories,
            "artifacts": artifacts,
        }
    return out


@dataclass
class GcStore:
    """A store with runs and experiments in every state gc must tell apart."""

    keep_exp: str  # an active experiment
    gone_exp: str  # a deleted experiment (40 days ago on the test's clock)
    kept: list[str] = field(default_factory=list)  # active runs
    recent: list[str] = field(default_factory=list)  # deleted 10 days ago: kept
    old: list[str] = field(default_factory=list)  # deleted 40 days ago: removed
    gone_runs: list[str] = field(default_factory=list)  # runs of the deleted experiment
    models: dict[str, str] = field(default_factory=dict)  # model id -> its run


def make_gc_store(client: reporter.Client, tmp: Path, monkeypatch: Any) -> GcStore:
    """Log the GcStore. The store's clock runs 40 days behind real time for the deletions
    that are old, so a gc at real time with --older-than 30d removes those and only those;
    some deletions are compacted, some are still raw parts."""
    now = int(clock.now_ms())
    mlflow.set_experiment("keep")
    keep_exp = mlflow.get_experiment_by_name("keep")
    assert keep_exp is not None
    ids = [log_run(client, i) for i in range(6)]
    out = GcStore(keep_exp.experiment_id, "")
    out.models[log_model_for(client, ids[0], tmp)] = ids[0]  # removed with its run
    out.models[log_model_for(client, ids[3], tmp)] = ids[3]  # kept
    delete_run_at(client, ids[0], now - 40 * DAY_MS, monkeypatch)
    client.compact()  # ids[0]'s deletion is compacted; ids[1]'s stays a raw part
    delete_run_at(client, ids[1], now - 40 * DAY_MS, monkeypatch)
    delete_run_at(client, ids[2], now - 10 * DAY_MS, monkeypatch)
    out.old, out.recent, out.kept = ids[:2], ids[2:3], ids[3:]
    mlflow.set_experiment("gone")
    gone = mlflow.get_experiment_by_name("gone")
    assert gone is not None
    out.gone_exp = gone.experiment_id
    out.gone_runs = [log_run(client, 10 + i) for i in range(2)]
    out.models[log_model_for(client, out.gone_runs[0], tmp)] = out.gone_runs[0]
    client.set_experiment_tag(gone.experiment_id, "owner", "ana")
    client.compact([gone.experiment_id])
    store = client.store
    store.edit_experiment(
        gone.experiment_id,
        set_fields={"lifecycle_stage": "deleted", "last_update_time": now - 40 * DAY_MS},
    )
    mlflow.set_experiment("keep")
    return out


def count_event_reads(monkeypatch: Any) -> list[str]:
    """Record the experiments whose attribute rows `usage` reads (read_experiment_events)."""
    from reporter.store.parquet import usage

    read: list[str] = []
    real = usage.read_experiment_events

    def counted(fs: Any, exp_id: str) -> usage.ExperimentEvents:
        read.append(exp_id)
        return real(fs, exp_id)

    monkeypatch.setattr(usage, "read_experiment_events", counted)
    return read
