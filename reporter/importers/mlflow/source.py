"""What an MLflow source yields, whatever it is: experiments, runs, histories, artifacts, and
the model registry (registered models with their versions, deleted versions included where the
source keeps them).

Each reader (file_store, sqlite, rest) implements `Source`. Readers only read: nothing in
the source is ever modified. A run or file a reader cannot read raises `SourceError` naming it;
the importer skips that run or file with a warning and goes on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import unquote, urlparse

from reporter.core import paths
from reporter.core.errors import ReporterError


class SourceError(ReporterError):
    """Something in the MLflow source could not be read (the message names it)."""


@dataclass(frozen=True)
class SourceExperiment:
    """An MLflow experiment as the source holds it."""

    experiment_id: str
    name: str
    lifecycle_stage: str  # "active" or "deleted"
    tags: dict[str, str] = field(default_factory=dict)  # mlflow.note.content is the description
    creation_time: int | None = None  # ms since the epoch
    last_update_time: int | None = None


@dataclass(frozen=True)
class MetricPoint:
    """One logged metric value."""

    step: int
    timestamp: int  # ms since the epoch
    value: float


@dataclass(frozen=True)
class SourceRun:
    """An MLflow run's attributes, params, tags and latest metrics (histories come apart)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED or KILLED
    start_time: int | None
    end_time: int | None
    user_id: str
    lifecycle_stage: str  # "active" or "deleted"
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # mlflow.parentRunId links a child run
    latest: dict[str, MetricPoint] = field(default_factory=dict)  # latest point of each metric
    counts: dict[str, int] | None = None  # points per metric, where the source knows it cheaply


@dataclass(frozen=True)
class ArtifactFile:
    """A file among a run's artifacts: its path relative to the run's artifact root."""

    path: str
    size: int | None


@dataclass(frozen=True)
class ArtifactPlace:
    """Where some of a run's listed artifacts came from: its own artifact root (prefix "") or
    one logged model's folder, listed under `prefix`. `uris` are the locations the source
    records for it (and the local folder it was read from), to recognise a registered version
    whose source is one of them."""

    prefix: str
    uris: tuple[str, ...]
    model_id: str | None = None


DELETED_STAGE = "Deleted_Internal"  # the stage MLflow's stores give a deleted version


@dataclass(frozen=True)
class SourceModelVersion:
    """A version of a registered model, as MLflow holds it (`deleted`: MLflow deleted it; its
    number stays taken, and the SQL store has redacted its source and run)."""

    name: str  # the registered model's
    version: int
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    current_stage: str = "None"  # None, Staging, Production or Archived
    description: str | None = None
    user_id: str | None = None
    source: str | None = None
    storage_location: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    model_id: str | None = None  # the logged model it was made from, where the source says
    deleted: bool = False


@dataclass(frozen=True)
class SourceRegisteredModel:
    """A registered model with its versions; a version or alias that cannot be read is left
    out, as a SourceError naming it in `errors` (the others still come)."""

    name: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number
    versions: tuple[SourceModelVersion, ...] = ()
    errors: tuple[SourceError, ...] = ()  # versions or aliases that cannot be read, named


class Source(Protocol):
    """An MLflow tracking store, read-only."""

    uri: str  # what the user gave, for messages and the import tags

    def experiments(self) -> list[SourceExperiment | SourceError]:
        """Return every experiment, deleted ones included; one that cannot be read is a
        SourceError naming it (the others still come)."""
        ...

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run of an experiment, deleted ones included; a run that cannot be read
        is yielded as a SourceError naming it (the others still come)."""
        ...

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric, in the order logged."""
        ...

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's artifact root, recursively (empty if none)."""
        ...

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes (SourceError if it cannot be read)."""
        ...

    def artifact_places(self, run: SourceRun) -> list[ArtifactPlace]:
        """Return where the run's listed artifacts come from: its own root and each logged
        model's folder, under the prefix `artifacts` lists them (SourceError when they cannot
        be listed)."""
        ...

    def registered_models(self) -> list[SourceRegisteredModel | SourceError]:
        """Return every registered model with its versions (none when the source has no
        registry); one that cannot be read is a SourceError naming it."""
        ...

    def data_folders(self) -> list[Path]:
        """Return the local folders holding the source's data (an import must not write
        there); empty for a server."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...


# --- helpers of the local readers (file store, SQLite) -------------------------------------
# Nothing below follows a symbolic link or opens anything but a regular file: a FIFO would
# block the import forever, a device could do anything, a link could lead out of the source.

NOT_LOCAL = (
    "The artifacts of {what} are at {uri}, which this import cannot read directly; "
    "import through the MLflow server URL instead"
)


class LoggedModel(NamedTuple):
    """An MLflow 3 logged model made by a run (`log_model`): its files come with the run's."""

    model_id: str
    name: str
    artifact_location: str
    fallbacks: tuple[Path, ...]  # where its files may be when the recorded location is not here


def _mode(path: Path) -> int | None:
    """Return a path's own mode (links not followed), or None when there is nothing."""
    try:
        return os.lstat(path).st_mode
    except (OSError, ValueError):
        return None


def is_regular(path: Path) -> bool:
    """Return True for a regular file that is not a symbolic link."""
    mode = _mode(path)
    return mode is not None and stat.S_ISREG(mode)


def is_real_dir(path: Path) -> bool:
    """Return True for a folder that is not a symbolic link."""
    mode = _mode(path)
    return mode is not None and stat.S_ISDIR(mode)


def read_regular(path: Path) -> bytes:
    """Return a regular file's bytes; SourceError naming it for anything else (a symbolic
    link, FIFO, device or socket is never opened)."""
    mode = _mode(path)
    if mode is None or not stat.S_ISREG(mode):
        kind = "missing" if mode is None else _kind(mode)
        raise SourceError(f"Cannot read {path}: {kind}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since lstat
                raise SourceError(f"Cannot read {path}: not a regular file")
            return handle.read()
        except OSError as exc:
            raise SourceError(f"Cannot read {path}: {exc.strerror or exc}") from None


def _kind(mode: int) -> str:
    """Name a non-regular file type, for messages."""
    if stat.S_ISLNK(mode):
        return "a symbolic link (not followed)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def read_text(path: Path) -> str:
    """Return a regular file's content decoded as UTF-8, kept raw (no newline conversion)."""
    try:
        return read_regular(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"Cannot read {path}: not UTF-8 ({exc})") from None


def walk_regular(root: Path) -> Iterator[tuple[str, Path, int]]:
    """Yield (relative posix path, path, size) of every regular file below a folder, sorted.

    Symbolic links (to files or folders), FIFOs, devices and sockets are left out; a subfolder
    that cannot be read raises SourceError naming it (it does not vanish from the listing).
    """

    def fail(exc: OSError) -> None:
        raise SourceError(f"Cannot read folder {exc.filename or root}: {exc.strerror or exc}")

    for dirpath, dirs, files in os.walk(root, onerror=fail, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(dirpath) / name
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue  # removed since it was listed
            except OSError as exc:
                raise SourceError(f"Cannot read {path}: {exc.strerror or exc}") from None
            if stat.S_ISREG(info.st_mode):
                yield path.relative_to(root).as_posix(), path, info.st_size


def plain_parts(relative: str) -> list[str] | None:
    """Return the parts of a plain relative posix path (no '..', '.', empty or absolute
    parts), or None for anything else."""
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        return None
    return parts


def child_file(root: Path, relative: str) -> Path:
    """Return the file at a relative path below a folder, every folder on the way a real
    one (no link followed); SourceError when the path is not plain or leads through a link."""
    parts = plain_parts(relative)
    if parts is None:
        raise SourceError(f"Cannot read {relative!r} below {root}: not a plain relative path")
    folder = root
    for part in parts[:-1]:
        folder = folder / part
        if not is_real_dir(folder):
            raise SourceError(f"Cannot read {root / relative}: {folder} is not a folder")
    return folder / parts[-1]


def resolve_roots(roots: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Return folders as absolute paths with their links resolved."""
    return [Path(r).expanduser().resolve() for r in roots]


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Return True if a path, links resolved, is one of the (resolved) roots or below one."""
    return any(paths.within(path, root) for root in roots)


def locate_artifacts(
    uri: str,
    what: str,
    *,
    near: Path,
    bases: Sequence[Path],
    fallbacks: Sequence[Path],
    allowed: Sequence[Path],
) -> Path | None:
    """Return the local folder holding the artifacts recorded at `uri`, or None when there is
    none (nothing was logged, or they are not here).

    Tried in order: the recorded path (relative ones below `near`; `mlflow-artifacts:` paths
    below each of `bases`), then `fallbacks` (where a copied or moved source keeps them). Only
    a real folder (not a link) inside one of the `allowed` roots is used. SourceError when the
    URI is remote, when its `mlflow-artifacts:` path holds '..', or when the only folder found
    is outside the allowed roots (`--artifacts-root DIR` allows another root).
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    candidates: list[Path] = []
    if not uri:
        pass
    elif scheme == "file" or scheme == "" or len(scheme) == 1:  # a Windows drive letter too
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise SourceError(NOT_LOCAL.format(what=what, uri=uri))
        recorded = Path(unquote(parsed.path)) if scheme == "file" else Path(uri)
        candidates.append(recorded if recorded.is_absolute() else near / recorded)
    elif scheme == "mlflow-artifacts":
        relative = unquote(parsed.path).strip("/")
        if ".." in relative.split("/"):
            raise SourceError(
                f"The artifacts of {what} are at {uri}, whose '..' leads outside the source "
                "folder; such a path is never read"
            )
        candidates += [base / relative for base in bases]
    else:  # s3, gs, wasbs, abfss, hdfs, dbfs, http(s), ...
        raise SourceError(NOT_LOCAL.format(what=what, uri=uri))
    problem = None
    for folder in [*candidates, *fallbacks]:
        mode = _mode(folder)
        if mode is None:
            continue
        if stat.S_ISLNK(mode):
            problem = problem or (
                f"The artifacts of {what} are at {folder}, a symbolic link, which this import "
                "does not follow"
            )
            continue
        if not stat.S_ISDIR(mode):
            continue
        if not inside(folder, allowed):
            problem = problem or (
                f"The artifacts of {what} are at {folder}, outside the source folder "
                f"({', '.join(map(str, allowed[:1]))}); they are not read unless you pass "
                "--artifacts-root DIR with a folder that holds them"
            )
            continue
        return folder
    if problem:
        raise SourceError(problem)
    return None


def _overlaps(a: str, b: str) -> bool:
    """Return True if one relative path is the other or below it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def artifact_layout(
    own: Path | None, models: Sequence[tuple[LoggedModel, Path | None]]
) -> list[tuple[str, Path]]:
    """Return (prefix, folder) of everything listed as a run's artifacts: its own folder at ""
    and each logged model's folder under the model's name, or under `models/<model_id>` when
    that name is taken by one of the run's own files or by another model (a model whose both
    places are taken is left out)."""
    layout: list[tuple[str, Path]] = [] if own is None else [("", own)]
    used: list[str] = []

    def taken(prefix: str) -> bool:
        if any(_overlaps(prefix, other) for other in used):
            return True
        if own is None:
            return False
        folder = own
        for part in prefix.split("/"):
            folder = folder / part
            mode = _mode(folder)
            if mode is None:
                return False
            if not stat.S_ISDIR(mode):
                return True  # a file (or link) where the prefix needs a folder
        return True  # the run's own files already have this folder

    for model, folder in models:
        if folder is None:
            continue
        for prefix in (model.name, f"models/{model.model_id}"):
            if plain_parts(prefix) is not None and not taken(prefix):
                used.append(prefix)
                layout.append((prefix, folder))
                break
    return layout


def list_layout(layout: Sequence[tuple[str, Path]]) -> list[ArtifactFile]:
    """Return every regular file of an artifact layout, with its listed path."""
    out = []
    for prefix, folder in layout:
        for relative, _, size in walk_regular(folder):
            out.append(ArtifactFile(f"{prefix}/{relative}" if prefix else relative, size))
    return out


def read_from_layout(layout: Sequence[tuple[str, Path]], what: str, path: str) -> bytes:
    """Return the bytes of a listed artifact path (from the model folder its prefix names)."""
    best: tuple[str, Path] | None = None
    for prefix, folder in layout:
        if (not prefix or path.startswith(prefix + "/")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, folder)
    if best is None:
        raise SourceError(f"{what} has no artifact {path!r}")
    prefix, folder = best
    return read_regular(child_file(folder, path[len(prefix) + 1 :] if prefix else path))


def layout_places(
    run: SourceRun,
    layout: Sequence[tuple[str, Path]],
    models: Sequence[tuple[LoggedModel, Path | None]],
) -> list[ArtifactPlace]:
    """Return the places of a local reader's artifact layout: the run's own root (always, by
    its recorded URI, even with nothing logged) and each logged model listed."""
    own = [str(folder) for prefix, folder in layout if not prefix]
    out = [ArtifactPlace("", (run.artifact_uri, *own))]
    for prefix, folder in layout:
        for model, where in models:
            if prefix and where == folder:
                out.append(
                    ArtifactPlace(prefix, (model.artifact_location, str(where)), model.model_id)
                )
                break
    return out


def text_or_none(value: object) -> str | None:
    """Return a stored text, None for NULL (what MLflow reads back)."""
    return None if value is None else str(value)
