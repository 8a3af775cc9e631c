"""Copy a store into another (a laptop's folder into the team bucket, or the bucket into a local
cache for a fast build): file by file, skipping what the destination already has.

The store's files are safe to copy one at a time: event parts and compacted files are
immutable and uniquely named (copying them in any order, or twice, never doubles a row:
readers take each part id from one file), and every write is atomic. So an interrupted sync
leaves a valid store, and running it again copies only what is still missing. Mutable records
(run.json, experiment records, heartbeats) are copied when their content differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reporter.store.parquet import schema
from reporter.store.parquet.fs import FileInfo, StoreFS, UnsafePathError, check_rel


@dataclass
class SyncResult:
    """What a sync did."""

    copied: int = 0
    skipped: int = 0
    refused: list[str] = field(default_factory=list)  # source paths that would leave dst
    # registry records (written once) the destination holds differently: kept as they are
    conflicts: list[str] = field(default_factory=list)
    bytes: int = 0
    experiments: set[str] = field(default_factory=set)


IMMUTABLE = tuple(
    f"/{name}/" for name in (schema.PARTS_FOLDER, schema.COMPACTED_FOLDER, schema.ARCHIVED_FOLDER)
)


def sync(
    src_uri: str,
    dst_uri: str,
    experiments: set[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Copy every file of the store at src_uri that dst_uri lacks (or holds differently)."""
    from reporter.store.parquet.store import ParquetStore

    source = ParquetStore(src_uri)
    source.require_existing()
    src, dst = source._fs, StoreFS(dst_uri)
    if src.url("") == dst.url(""):
        from reporter.core.errors import InvalidArgumentError

        raise InvalidArgumentError(f"sync: source and destination are the same store ({src_uri})")
    result = SyncResult()
    wanted = []
    for info in _files(src, experiments):
        try:
            check_rel(info.path)
        except UnsafePathError:  # a hostile key: never written anywhere
            result.refused.append(info.path)
            continue
        wanted.append(info)
    have = {info.path: info for info in dst.list_files("")}
    if have and schema.STORE_FILE not in have:
        from reporter.core.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"sync: {dst.url('')} is not empty and is not a tracker-report store (no "
            f"{schema.STORE_FILE}); give a new folder or an existing store as the destination."
        )
    dst.write_atomic(schema.STORE_FILE, src.read_bytes(schema.STORE_FILE), if_absent=True)
    wanted = _without_registry_conflicts(src, dst, wanted, have, result)
    for done, info in enumerate(wanted, 1):
        there = have.get(info.path)
        immutable = (
            any(marker in f"/{info.path}" for marker in IMMUTABLE)
            or info.path.endswith(schema.EDIT_SUFFIX)
            or f"/{schema.ARTIFACTS_FOLDER}/" in f"/{info.path}"
        )
        if (
            there is not None
            and there.size == info.size
            and (immutable or dst.read_bytes(info.path) == src.read_bytes(info.path))
        ):
            result.skipped += 1
        else:
            data = src.read_bytes(info.path)
            dst.write_atomic(info.path, data)
            result.copied += 1
            result.bytes += len(data)
        parts = info.path.split("/")
        if parts[0] == schema.RUNS_FOLDER and len(parts) > 1:
            result.experiments.add(parts[1])
        if progress:
            progress(done, len(wanted))
    return result


def _without_registry_conflicts(
    src: StoreFS,
    dst: StoreFS,
    wanted: list[FileInfo],
    have: dict[str, FileInfo],
    result: SyncResult,
) -> list[FileInfo]:
    """Leave out what would mix two stores' registries. A registered model's record, or a
    version's, is written once; one the destination holds differently is another store's
    model of that name (or a version both registered under one number): it is kept, and none
    of the source's files of that model (or version: its record and edits) are copied."""
    skip: list[str] = []
    for info in wanted:  # (in path order: a model's record before its versions')
        if info.path in have and _registry_record(info.path):
            if info.path.startswith(tuple(skip)) or (
                dst.read_bytes(info.path) == src.read_bytes(info.path)
            ):
                continue
            result.conflicts.append(info.path)
            top, key, *rest = info.path.split("/")
            if len(rest) == 1:  # the model's record: all of the model
                skip.append(f"{top}/{key}/")
            else:  # a version's record: the version's record and edits
                number = rest[-1].removesuffix(".json")
                skip += [info.path, f"{top}/{key}/{rest[0]}/{schema.EDITS_FOLDER}/{number}/"]
    return [i for i in wanted if not i.path.startswith(tuple(skip))] if skip else wanted


def _registry_record(path: str) -> bool:
    """Whether a path is a registered model's record or a version's (`registry/<key>/model.json`,
    `registry/<key>/versions/<n>.json`), which are written once."""
    from reporter.store.parquet.model_registry import (
        MODEL_RECORD,
        REGISTRY_FOLDER,
        VERSIONS_FOLDER,
    )

    parts = path.split("/")
    return parts[0] == REGISTRY_FOLDER and (
        (len(parts) == 3 and parts[2] == MODEL_RECORD)
        or (len(parts) == 4 and parts[2] == VERSIONS_FOLDER and parts[3].endswith(".json"))
    )


def _files(src: StoreFS, experiments: set[str] | None) -> list[FileInfo]:
    """The source files to copy: experiment records first, then everything of the runs."""
    lease = f"/{schema.COMPACTED_FOLDER}/{schema.COMPACT_LEASE_FILE}"
    infos = [
        i
        for i in src.list_files("")
        if i.path != schema.STORE_FILE and not f"/{i.path}".endswith(lease)
    ]
    if experiments is not None:

        def keep(path: str) -> bool:
            parts = path.split("/")
            if parts[0] == schema.EXPERIMENTS_FOLDER and len(parts) > 1:
                return parts[1].removesuffix(".json") in experiments  # record or edit folder
            per_experiment = (schema.RUNS_FOLDER, schema.MODELS_FOLDER)
            return parts[0] not in per_experiment or (len(parts) > 1 and parts[1] in experiments)

        infos = [i for i in infos if keep(i.path)]
    # records before the events that need them; compacted files before raw parts
    order = {schema.EXPERIMENTS_FOLDER: 0}
    return sorted(infos, key=lambda i: (order.get(i.path.split("/")[0], 1), i.path))
