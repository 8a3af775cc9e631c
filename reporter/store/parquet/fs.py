"""The one filesystem seam: every byte the store reads or writes goes through `StoreFS`.

A local folder and any fsspec URL (``s3://``, ``memory://``, ...) are the same code above this
module. Publishing is atomic: a local file is written under a temporary name and renamed into
place; ``if_absent`` publishes only when no file of that name exists (put-if-absent).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reporter.core import env, validation
from reporter.core.errors import (
    InvalidArgumentError,
    NotFoundError,
    ReporterError,
    StoreFormatError,
    StoreWarning,
    StoreWriteError,
    UnsupportedURIError,
)
from reporter.store.uris import split_uri as split_uri

if TYPE_CHECKING:
    import pyarrow.fs

TMP_PREFIX = validation.TMP_PREFIX
CHUNK = 8 * 1024 * 1024  # bytes per read when a file is hashed or copied in pieces


@dataclass(frozen=True)
class FileInfo:
    """A file found by a listing: its path (relative to the store root), size and mtime."""

    path: str
    size: int
    mtime: float


@dataclass
class ReadStats:
    """What a StoreFS has fetched so far: requests (files or byte ranges) and bytes."""

    requests: int = 0
    nbytes: int = 0

    def add(self, data: bytes) -> bytes:
        """Count one fetch of `data` and return it."""
        self.requests += 1
        self.nbytes += len(data)
        return data


def supported_schemes() -> list[str]:
    """Return the URI schemes this installation can open, local ones first."""
    import fsspec

    known = ["file", "memory"]
    for name in ("s3", "gs", "gcs", "az", "abfs"):
        try:
            fsspec.get_filesystem_class(name)
        except (ImportError, ValueError):
            continue
        known.append(name)
    return known


S3_ENDPOINT_ENV = env.S3_ENDPOINT_URL.name


def remote_options(scheme: str, uri: str) -> tuple[str, dict[str, Any]]:
    """Return the URI without its query and the filesystem options it and the environment set.

    For s3:// the endpoint of an S3-compatible server (MinIO, Ceph, moto) comes from
    `?endpoint_url=...` in the URI or $TRACKER_S3_ENDPOINT_URL; credentials and region come
    from the standard AWS settings (environment variables, profiles, instance roles)."""
    from urllib.parse import parse_qsl

    base, _, query = uri.partition("?")
    params = dict(parse_qsl(query))
    # Other processes write and compact the store: a cached listing would miss their files
    options: dict[str, Any] = {"use_listings_cache": False}
    if scheme in ("s3", "s3a"):
        endpoint = params.pop("endpoint_url", None) or env.s3_endpoint_url()
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
        if "profile" in params:
            options["profile"] = params.pop("profile")
    if params:
        raise UnsupportedURIError(
            f"Unknown option(s) {', '.join(sorted(params))} in tracking URI {uri!r}; valid for "
            f"{scheme}://: endpoint_url, profile"
        )
    return base, options


@contextlib.contextmanager
def remote_errors(where: str, *, write: bool) -> Iterator[None]:
    """Turn an object store's errors into ours, naming the URI and what to check."""
    try:
        yield
    except (ReporterError, FileExistsError):
        raise
    except PermissionError as exc:
        raise StoreAccessError(
            f"Access denied to {where} ({exc}); check the credentials (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and the bucket's policy"
        ) from None
    except FileNotFoundError as exc:
        if not write and "bucket" not in str(exc).lower():
            raise
        raise NotFoundError(
            f"Cannot write {where}: the bucket does not exist ({exc}); create it first, e.g. "
            "`aws s3 mb s3://BUCKET`"
            if "bucket" in str(exc).lower()
            else f"Cannot write {where}: {exc}"
        ) from None
    except (ConnectionError, TimeoutError) as exc:
        raise StoreAccessError(
            f"Cannot reach the object store for {where} ({exc}); check "
            f"the endpoint (${S3_ENDPOINT_ENV}) and the network"
        ) from None
    except Exception as exc:
        name = type(exc).__name__
        if "Endpoint" in name or "Connect" in name or "Timeout" in name:
            raise StoreAccessError(
                f"Cannot reach the object store for {where} ({exc}); check the endpoint "
                f"(${S3_ENDPOINT_ENV} or ?endpoint_url=) and the network"
            ) from None
        raise


@contextlib.contextmanager
def local_write_errors(folder: str) -> Iterator[None]:
    """Turn a full disk or a refused write into one clear StoreWriteError naming the folder."""
    import errno

    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreWriteError(
                f"Disk full at {folder}: free some space (or write the store elsewhere); "
                "what was already stored is intact and unflushed rows are kept for a retry."
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreWriteError(
                f"Cannot write to {folder}: {exc.strerror}. Check its permissions, or choose "
                "another store."
            ) from None
        raise


class StoreAccessError(ReporterError):
    """An object store that cannot be reached or does not let us in."""


class UnsafePathError(InvalidArgumentError):
    """A store-relative path that would leave its store (`..`, absolute, NUL, a backslash)."""


def check_rel(rel: str) -> str:
    """Return a store-relative path unchanged if it stays inside the store; else raise.

    Every path a StoreFS reads or writes passes here, so a hostile key in a source store (an S3
    key `runs/../../x.pth`, an import's artifact name) can never reach outside a destination.
    """
    bad = (
        "\x00" in rel
        or "\\" in rel
        or rel.startswith("/")
        or any(part in (".", "..") for part in rel.split("/"))
        or (len(rel) > 1 and rel[1] == ":")  # a Windows drive
    )
    if bad:
        raise UnsafePathError(
            f"Refusing the path {rel!r}: a store path is relative and stays inside its store "
            "(no '..' or '.' parts, no leading '/', no NUL or backslash)."
        )
    return rel


class StoreFS:
    """Read, list and atomically publish files below one store root."""

    def __init__(self, uri: str) -> None:
        scheme, location = split_uri(uri)
        self.scheme = scheme
        self.local = scheme == "file"
        self.stats = ReadStats()
        if self.local:
            self.root = os.path.abspath(os.path.expanduser(location or "."))
            if os.path.exists(self.root) and not os.path.isdir(self.root):
                raise InvalidArgumentError(
                    f"The store path {self.root} is a file; a store is a folder (created when "
                    "missing). Give another path."
                )
            self._real_root = os.path.realpath(self.root)
            self.fs: Any = None
            self.uri = self.root
            self.reopen: str | None = self.root  # what another process opens (see below)
            self._one_get: dict[str, int] = {}
            return
        import fsspec

        try:
            fsspec.get_filesystem_class(scheme)
        except (ImportError, ValueError) as exc:
            raise UnsupportedURIError(
                f"Cannot open tracking URI {uri!r}: scheme {scheme!r} is not supported here "
                f"({exc}). Supported schemes: {', '.join(supported_schemes())} "
                "(a plain path means a local folder; `pip install tracker-report[s3]` adds s3://)."
            ) from None
        clean, options = remote_options(scheme, uri)
        with remote_errors(clean, write=False):
            self.fs, root = fsspec.core.url_to_fs(clean, **options)
        self.root = root.rstrip("/")
        self.uri = clean.rstrip("/")
        # another process opens the same store from the URI as given (its query names the
        # endpoint and profile); memory:// is this process's own
        self.reopen = None if scheme == "memory" else uri
        # s3fs asks for a file's size (a HEAD) before a whole-file GET unless told to use one
        self._one_get = {"max_concurrency": 1} if scheme in ("s3", "s3a") else {}

    # paths ---------------------------------------------------------------------------------
    def full(self, rel: str) -> str:
        """Return the backend path of a store-relative path (which must stay inside)."""
        check_rel(rel)
        if self.local:
            if not rel:
                return self.root
            path = os.path.join(self.root, *rel.split("/"))
            real = os.path.realpath(path)
            if real != path and not real.startswith(self._real_root + os.sep):
                # a symlink planted in the store: neither read through nor written through
                raise UnsafePathError(
                    f"Refusing the path {rel!r} of the store {self.root}: it leads outside the "
                    "store through a symbolic link."
                )
            return path
        return f"{self.root}/{rel}" if rel else self.root

    def url(self, rel: str) -> str:
        """Return a URL a user can paste (a local absolute path, or scheme://...)."""
        if self.local:
            return self.full(rel)
        return f"{self.uri}/{rel}" if rel else self.uri

    @staticmethod
    def join(*parts: str) -> str:
        """Join store-relative path parts with '/'."""
        return posixpath.join(*[p for p in parts if p])

    # reading -------------------------------------------------------------------------------
    def read_bytes(self, rel: str) -> bytes:
        """Return a file's content; NotFoundError when it does not exist."""
        try:
            if self.local:
                with open(self.full(rel), "rb") as handle:
                    return self.stats.add(handle.read())
            with remote_errors(self.url(rel), write=False):
                return self.stats.add(bytes(self.fs.cat_file(self.full(rel), **self._one_get)))
        except FileNotFoundError:
            raise NotFoundError(f"No such file in the store: {self.url(rel)}") from None

    def read_many(self, rels: Sequence[str]) -> dict[str, bytes]:
        """Return the content of each of these files that exists (missing ones are left out).
        On an object store the files are fetched concurrently, one request each."""
        out: dict[str, bytes] = {}
        if self.local or len(rels) < 2:
            for rel in rels:
                with contextlib.suppress(NotFoundError):
                    out[rel] = self.read_bytes(rel)
            return out
        paths = [self.full(rel) for rel in rels]
        with remote_errors(self.uri, write=False):
            got = self.fs.cat_ranges(paths, None, None, **self._one_get)
        for rel, item in zip(rels, got, strict=True):
            if isinstance(item, FileNotFoundError):
                continue
            if isinstance(item, BaseException):
                with remote_errors(self.url(rel), write=False):
                    raise item
            out[rel] = self.stats.add(bytes(item))
        return out

    def read_ranges(self, rel: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Return the bytes [start, end) of a file for each range; NotFoundError when it does
        not exist. On an object store the ranges are fetched concurrently, one request each."""
        if not ranges:
            return []
        try:
            if self.local:
                out = []
                with open(self.full(rel), "rb") as handle:
                    for start, end in ranges:
                        handle.seek(start)
                        out.append(self.stats.add(handle.read(end - start)))
                return out
            path = self.full(rel)
            with remote_errors(self.url(rel), write=False):
                got = self.fs.cat_ranges(
                    [path] * len(ranges), [r[0] for r in ranges], [r[1] for r in ranges]
                )
                for item in got:
                    if isinstance(item, BaseException):
                        raise item
                return [self.stats.add(bytes(item)) for item in got]
        except FileNotFoundError:
            raise NotFoundError(f"No such file in the store: {self.url(rel)}") from None

    def chunks(self, rel: str) -> Iterator[bytes]:
        """Yield a file's content in pieces of CHUNK bytes; NotFoundError if it is absent."""
        try:
            if self.local:
                handle: Any = open(self.full(rel), "rb")  # noqa: SIM115 - closed below
            else:
                with remote_errors(self.url(rel), write=False):
                    handle = self.fs.open(self.full(rel), "rb")
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise NotFoundError(f"No such file in the store: {self.url(rel)}") from None

    def digest(self, rel: str) -> tuple[int, str]:
        """Return a file's size and SHA-256 (hex), read in chunks; NotFoundError if absent."""
        import hashlib

        sha = hashlib.sha256()
        size = 0
        for chunk in self.chunks(rel):
            sha.update(chunk)
            size += len(chunk)
        self.stats.add(b"")
        return size, sha.hexdigest()

    def copy_to(
        self, rel: str, other: StoreFS, other_rel: str, expect: str | None = None
    ) -> tuple[int, str]:
        """Copy a file to another store atomically, in chunks through a local temporary file;
        return its size and SHA-256 as read from this store. With `expect` (a SHA-256), a
        file that reads otherwise is not written: StoreFormatError."""
        import hashlib
        import tempfile

        if self.local and other.local:
            folder = os.path.dirname(other.full(other_rel))
            with local_write_errors(folder):
                os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=TMP_PREFIX) as tmp:
            sha = hashlib.sha256()
            size = 0
            for chunk in self.chunks(rel):
                sha.update(chunk)
                size += len(chunk)
                tmp.write(chunk)
            tmp.flush()
            if expect is not None and sha.hexdigest() != expect:
                raise StoreFormatError(
                    f"{self.url(rel)} differs from its recorded checksum; it was not copied"
                )
            other.put_file(tmp.name, other_rel)
        return size, sha.hexdigest()

    def exists(self, rel: str) -> bool:
        """Return True when a file or folder exists."""
        if self.local:
            return os.path.exists(self.full(rel))
        with remote_errors(self.url(rel), write=False):
            return bool(self.fs.exists(self.full(rel)))

    def mtime(self, rel: str) -> float | None:
        """Return a file's modification time in seconds, or None if it does not exist."""
        try:
            if self.local:
                return os.stat(self.full(rel)).st_mtime
            info = self.fs.info(self.full(rel))
        except FileNotFoundError:
            return None
        mtime = info.get("mtime") or info.get("LastModified") or 0
        return float(mtime.timestamp() if hasattr(mtime, "timestamp") else mtime)

    def list_dirs(self, rel: str) -> list[str]:
        """Return the names of the sub-folders of a folder (empty when it does not exist)."""
        if self.local:
            try:
                with os.scandir(self.full(rel)) as entries:
                    return sorted(e.name for e in entries if e.is_dir() and e.name[0] != ".")
            except (FileNotFoundError, NotADirectoryError):
                return []
        try:
            with remote_errors(self.url(rel), write=False):
                infos = self.fs.ls(self.full(rel), detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            posixpath.basename(i["name"].rstrip("/")) for i in infos if i["type"] == "directory"
        )

    def list_files(self, rel: str, skip: frozenset[str] = frozenset()) -> list[FileInfo]:
        """Return every file below a folder, recursively, skipping temporary files.

        Folders named in `skip` are not descended into (where the backend allows it).
        """
        if self.local:
            return self._list_local(rel, skip)
        try:
            with remote_errors(self.url(rel), write=False):
                found = self.fs.find(self.full(rel), detail=True)
        except FileNotFoundError:
            return []
        strip = len(self.root) + 1
        out = []
        for name, info in found.items():
            if posixpath.basename(name).startswith(TMP_PREFIX):
                continue
            if info.get("type") == "directory" or name.endswith("/"):
                continue  # a folder marker or prefix, not a file
            if skip and skip.intersection(name[len(self.root) + 1 :].split("/")[:-1]):
                continue
            mtime = info.get("mtime") or info.get("LastModified") or 0
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            out.append(FileInfo(name[strip:], int(info.get("size") or 0), float(mtime)))
        return sorted(out, key=lambda f: f.path)

    def list_paths(self, rel: str) -> list[str]:
        """Return the path of every file below a folder, recursively and sorted, skipping
        temporary files: `list_files` without sizes and times (on a folder, no stat call per
        file; an object store's listing carries them anyway)."""
        if not self.local:
            return [info.path for info in self.list_files(rel)]
        return [info.path for info in self._list_local(rel, stat=False)]

    def _list_local(
        self, rel: str, skip: frozenset[str] = frozenset(), *, stat: bool = True
    ) -> list[FileInfo]:
        """List a local folder recursively with os.scandir (fast path of `list_files`)."""
        out: list[FileInfo] = []
        stack = [(rel, self.full(rel))]  # the one path checked for a link that leads out
        while stack:
            current, where = stack.pop()
            try:
                with os.scandir(where) as entries:
                    for entry in entries:
                        if entry.name.startswith(TMP_PREFIX):
                            continue
                        child = f"{current}/{entry.name}" if current else entry.name
                        if entry.is_symlink():
                            _skip_symlink(entry.path)
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            if entry.name not in skip:  # a real folder: it stays inside
                                stack.append((check_rel(child), entry.path))
                        elif entry.is_file(follow_symlinks=False) and not stat:
                            out.append(FileInfo(child, 0, 0.0))
                        elif entry.is_file(follow_symlinks=False):
                            try:
                                st = entry.stat()
                            except FileNotFoundError:
                                continue  # deleted since the folder was read (a compaction)
                            out.append(FileInfo(child, st.st_size, st.st_mtime))
            except (FileNotFoundError, NotADirectoryError):
                continue  # the folder itself is gone
        return sorted(out, key=lambda f: f.path)

    # writing -------------------------------------------------------------------------------
    def write_atomic(self, rel: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Publish `data` at `rel` atomically; with if_absent, return False if it exists."""
        if not self.local:
            return self._write_remote(rel, data, if_absent=if_absent)
        target = self.full(rel)
        folder = os.path.dirname(target)
        tmp = os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with local_write_errors(folder):
                os.makedirs(folder, exist_ok=True)
                with open(tmp, "wb") as handle:
                    handle.write(data)
            if if_absent:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    return False
            else:
                os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True

    def _write_remote(self, rel: str, data: bytes, *, if_absent: bool) -> bool:
        """Publish on an fsspec filesystem (an object PUT is atomic by itself).

        Put-if-absent is the server's own conditional write (S3's `If-None-Match: *`, which
        s3fs sends for mode="create"), so two machines racing to create one object cannot
        both win; filesystems without it fall back to check-then-put."""
        path = self.full(rel)
        with remote_errors(self.url(rel), write=True):
            if not if_absent:
                self.fs.pipe_file(path, data)
                return True
            try:
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            except TypeError:  # this filesystem has no conditional write
                if self.fs.exists(path):
                    return False
                self.fs.pipe_file(path, data)
            return True

    def delete(self, rel: str) -> None:
        """Delete a file; a file already gone is fine."""
        try:
            if self.local:
                os.unlink(self.full(rel))
            else:
                self.fs.rm_file(self.full(rel))
        except FileNotFoundError:
            pass

    def put_file(self, local_path: str, rel: str) -> None:
        """Copy a local file into the store atomically."""
        if self.local:
            import shutil

            target = self.full(rel)
            folder = os.path.dirname(target)
            tmp = os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}")
            try:
                with local_write_errors(folder):
                    os.makedirs(folder, exist_ok=True)
                    shutil.copyfile(local_path, tmp)
                os.replace(tmp, target)
            finally:  # a failed copy leaves no temporary file behind
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            return
        with remote_errors(self.url(rel), write=True):
            self.fs.put_file(local_path, self.full(rel))

    def get_file(self, rel: str, local_path: str) -> None:
        """Copy a store file to a local path."""
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        if self.local:
            import shutil

            try:
                shutil.copyfile(self.full(rel), local_path)
            except FileNotFoundError:
                raise NotFoundError(f"No such file in the store: {self.url(rel)}") from None
            return
        self.fs.get_file(self.full(rel), local_path)

    def arrow(self) -> tuple[pyarrow.fs.FileSystem, str]:
        """Return a pyarrow filesystem and the root path on it, for dataset reads."""
        import pyarrow.fs as pafs

        if self.local:
            return pafs.LocalFileSystem(), self.root
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs)), self.root


def _skip_symlink(path: str) -> None:
    """Warn that a symbolic link in the store is not read (the store holds plain files, and a
    link could point anywhere, such as a file of the machine that builds the site)."""
    import warnings

    warnings.warn(
        f"Skipped {path}: a symbolic link (to {os.readlink(path)!r}); the store holds "
        "plain files only",
        StoreWarning,
        stacklevel=3,
    )
