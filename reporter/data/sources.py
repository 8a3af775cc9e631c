"""Where a data set came from, as MLflow records it: a source type and its JSON.

`resolve_source` turns what `from_pandas(df, source=...)` was given into a source the way
MLflow's registry does: an http(s) URL is an `HTTPDatasetSource` (`{"url": ...}`, type
`http`); `s3://`, `gs://` and the other object-store schemes are `<Scheme>ArtifactDatasetSource`
(`{"uri": ...}`, the scheme as type); a path or `file:` URI is a `LocalArtifactDatasetSource`
(type `local`), kept as given. With no source, the data came from the code that made it:
a `CodeDatasetSource` holding MLflow's run context tags (user, script, git commit).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, ClassVar
from urllib.parse import urlparse

from reporter.core import system_tags
from reporter.core.errors import InvalidArgumentError, NotFoundError


class DatasetSource:
    """The source of a data set: a type name and a JSON-able description."""

    source_type: ClassVar[str] = ""

    @classmethod
    def _get_source_type(cls) -> str:
        """Return the source type (MLflow's method name)."""
        return cls.source_type

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able description of the source."""
        raise NotImplementedError

    def to_json(self) -> str:
        """Return the JSON text of `to_dict` (what a run records)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSource:
        """Build from a dict made by `to_dict`."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, text: str) -> DatasetSource:
        """Build from the JSON text made by `to_json`."""
        return cls.from_dict(json.loads(text))

    def load(self, dst_path: str | None = None) -> Any:
        """Fetch the source's data; only local files can be here (no network access)."""
        raise NotImplementedError(
            f"reporter does not download {self.source_type!r} dataset sources; "
            f"the source is {self.to_json()}"
        )

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_json()})"


class ArtifactDatasetSource(DatasetSource):
    """A file or folder at a URI of one scheme: `{"uri": ...}`."""

    scheme: ClassVar[str] = ""

    def __init__(self, uri: str) -> None:
        self._uri = uri

    @property
    def uri(self) -> str:
        """The URI (or path) as given."""
        return self._uri

    def to_dict(self) -> dict[str, Any]:
        """Return `{"uri": ...}`."""
        return {"uri": self._uri}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSource:
        """Build from `{"uri": ...}`."""
        if data.get("uri") is None:
            raise InvalidArgumentError(f'Failed to parse {cls.__name__}: no "uri" in {data!r}')
        return cls(str(data["uri"]))


class LocalArtifactDatasetSource(ArtifactDatasetSource):
    """A local file or folder (a path or a `file:` URI)."""

    source_type = "local"

    def load(self, dst_path: str | None = None) -> str:
        """Return the local path of the source (nothing is copied)."""
        parsed = urlparse(self._uri)
        return parsed.path if parsed.scheme == "file" else self._uri


def _artifact_source(name: str, scheme: str) -> type[ArtifactDatasetSource]:
    """Make the source class of one object-store scheme (MLflow makes one per scheme too)."""
    return type(name, (ArtifactDatasetSource,), {"source_type": scheme, "scheme": scheme})


S3ArtifactDatasetSource = _artifact_source("S3ArtifactDatasetSource", "s3")
GCSArtifactDatasetSource = _artifact_source("GCSArtifactDatasetSource", "gs")
R2ArtifactDatasetSource = _artifact_source("R2ArtifactDatasetSource", "r2")
B2ArtifactDatasetSource = _artifact_source("B2ArtifactDatasetSource", "b2")
AzureBlobArtifactDatasetSource = _artifact_source("AzureBlobArtifactDatasetSource", "wasbs")
AzureDataLakeArtifactDatasetSource = _artifact_source("AzureDataLakeArtifactDatasetSource", "abfss")
FTPArtifactDatasetSource = _artifact_source("FTPArtifactDatasetSource", "ftp")
SFTPArtifactDatasetSource = _artifact_source("SFTPArtifactDatasetSource", "sftp")
HdfsArtifactDatasetSource = _artifact_source("HdfsArtifactDatasetSource", "hdfs")
ViewFsArtifactDatasetSource = _artifact_source("HdfsArtifactDatasetSource", "viewfs")
ARTIFACT_SOURCES: dict[str, type[ArtifactDatasetSource]] = {
    cls.scheme: cls
    for cls in (
        S3ArtifactDatasetSource,
        GCSArtifactDatasetSource,
        R2ArtifactDatasetSource,
        B2ArtifactDatasetSource,
        AzureBlobArtifactDatasetSource,
        AzureDataLakeArtifactDatasetSource,
        FTPArtifactDatasetSource,
        SFTPArtifactDatasetSource,
        HdfsArtifactDatasetSource,
        ViewFsArtifactDatasetSource,
    )
}


class HTTPDatasetSource(DatasetSource):
    """A file at an http(s) URL: `{"url": ...}`."""

    source_type = "http"

    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def url(self) -> str:
        """The URL as given."""
        return self._url

    def to_dict(self) -> dict[str, Any]:
        """Return `{"url": ...}`."""
        return {"url": self._url}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSource:
        """Build from `{"url": ...}`."""
        if data.get("url") is None:
            raise InvalidArgumentError(f'Failed to parse HTTPDatasetSource: no "url" in {data!r}')
        return cls(str(data["url"]))


class CodeDatasetSource(DatasetSource):
    """Data made by code: the run context tags of where it was made (`{"tags": {...}}`)."""

    source_type = "code"

    def __init__(self, tags: dict[str, Any]) -> None:
        self._tags = tags

    @property
    def tags(self) -> dict[str, Any]:
        """MLflow's context tags: mlflow.user, mlflow.source.name, mlflow.source.type..."""
        return self._tags

    def to_dict(self) -> dict[str, Any]:
        """Return `{"tags": {...}}`."""
        return {"tags": self._tags}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSource:
        """Build from `{"tags": {...}}`."""
        return cls(tags=data.get("tags") or {})


SOURCE_TYPES: dict[str, type[DatasetSource]] = {
    "local": LocalArtifactDatasetSource,
    "http": HTTPDatasetSource,
    "code": CodeDatasetSource,
    **ARTIFACT_SOURCES,
}


def _is_local(raw: str) -> bool:
    """Return True for a path or a local `file:` URI (MLflow's `is_local_uri` for artifacts)."""
    parsed = urlparse(raw)
    if parsed.scheme == "":
        return True
    host = parsed.hostname or ""
    remote = bool(host) and not (
        host == "." or host.startswith("localhost") or host.startswith("127.0.0.1")
    )
    if parsed.scheme == "file":
        return not remote
    return os.name == "nt" and len(parsed.scheme) == 1 and not remote  # C:\\data


def resolve_source(raw: Any) -> DatasetSource:
    """Return the source a `source=` argument names (a DatasetSource passes through)."""
    if isinstance(raw, DatasetSource):
        return raw
    if isinstance(raw, os.PathLike):
        return LocalArtifactDatasetSource(str(os.fspath(raw)))
    if isinstance(raw, str):
        scheme = urlparse(raw).scheme
        if scheme in ("http", "https"):
            return HTTPDatasetSource(raw)
        if scheme in ARTIFACT_SOURCES:
            return ARTIFACT_SOURCES[scheme](raw)
        if _is_local(raw):
            return LocalArtifactDatasetSource(raw)
    schemes = ", ".join(["http", "https", *ARTIFACT_SOURCES, "file"])
    raise NotFoundError(
        f"Could not find a source information resolver for the specified dataset source: "
        f"{raw}. A source is a path, or a URL of one of: {schemes}."
    )


def source_from_json(text: str, source_type: str) -> DatasetSource:
    """Parse a recorded source (its JSON and type), as `mlflow.data.get_source` does."""
    cls = SOURCE_TYPES.get(source_type)
    if cls is None:
        raise NotFoundError(
            f"Could not parse dataset source from JSON due to unrecognized source type: "
            f"{source_type}. Known types: {', '.join(SOURCE_TYPES)}"
        )
    return cls.from_json(text)


def code_source() -> CodeDatasetSource:
    """Return the source of data made by the running code: MLflow's run context tags."""
    from reporter.tracking import context

    tags = {
        system_tags.TAG_USER: context.current_user(),
        system_tags.TAG_SOURCE_NAME: context.source_name(),
        system_tags.TAG_SOURCE_TYPE: "LOCAL",
    }
    return CodeDatasetSource({**tags, **_git_tags(context.source_folder())})


@functools.lru_cache(maxsize=8)
def _git_tags(folder: str) -> dict[str, str]:
    """Return MLflow's git tags (commit, branch, repo URL) of a folder, looked up once."""
    from reporter.tracking import context

    try:
        info = context.git_info(folder)
    except Exception:  # a broken git never breaks logging
        return {}
    names = (system_tags.TAG_GIT_COMMIT, system_tags.TAG_GIT_BRANCH, system_tags.TAG_GIT_REMOTE)
    return {name: info[name] for name in names if name in info}
