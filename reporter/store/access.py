"""Where a tracking server's users and grants are kept: in the store (append-only change
records, `AbstractStore.access_changes`), or in a users file you name (JSON lines, one change
per line, appended; for keeping credentials out of a shared bucket)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from reporter.core.errors import InvalidArgumentError, StoreWriteError
from reporter.store.protocol import AbstractStore


class AccessLog(Protocol):
    """Change records of users and grants, oldest first; `publish` is durable on return."""

    where: str

    def changes(self) -> list[dict[str, Any]]: ...

    def publish(self, change: dict[str, Any]) -> None: ...


class StoreAccessLog:
    def __init__(self, store: AbstractStore) -> None:
        self.store = store
        self.where = f"the store {store.uri}"

    def changes(self) -> list[dict[str, Any]]:
        return self.store.access_changes()

    def publish(self, change: dict[str, Any]) -> None:
        self.store.publish_access_change(change)


class FileAccessLog:
    """A local JSON-lines file; each change is one line appended with O_APPEND and fsync, so
    processes appending at once never interleave or lose each other's lines."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.where = f"the users file {self.path}"

    def changes(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise InvalidArgumentError(f"Cannot read the users file {self.path}: {exc}") from exc
        out = []
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                change = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash mid-write: the others stand
            if isinstance(change, dict) and "op" in change:
                out.append(change)
        return out

    def publish(self, change: dict[str, Any]) -> None:
        # a leading newline ends any line a crash cut short, so it cannot swallow this one
        record = json.dumps({**change, "time": int(time.time() * 1000)}, sort_keys=True)
        line = f"\n{record}\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreWriteError(f"Cannot write the users file {self.path}: {exc}") from exc


def open_access_log(store: AbstractStore, users_file: str | None) -> AccessLog:
    """Return the users file's log if one is named, else the store's."""
    return FileAccessLog(users_file) if users_file else StoreAccessLog(store)
