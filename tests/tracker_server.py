"""Our tracking server (`tracker-report server`) as a real process on 127.0.0.1, for tests.

Started from the project venv's console script, as users start it; waits until /health
answers (a deadline, no fixed sleep); stopped with SIGTERM (graceful) or SIGKILL (`kill`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.mlflow_server import free_port, wait_healthy

TRACKER = Path(sys.executable).with_name("tracker-report")


@dataclass
class Server:
    """A running server: its URL, process and log."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    signalled: bool = False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 the server (and its workers)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def terminate(self) -> None:
        """Send SIGTERM once (a second one would cut the graceful shutdown short, as it
        does for any service)."""
        if not self.signalled and self.proc.poll() is None:
            self.signalled = True
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait: the graceful shutdown; return the exit code."""
        self.terminate()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                pytest.fail(f"the server did not stop within {timeout} s:\n{self.log_text()}")
        return self.proc.returncode


@contextmanager
def running(
    store: str | Path,
    workdir: Path,
    args: Sequence[str] = ("--no-site",),
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    """Run `tracker-report server --store STORE` on 127.0.0.1; yield it; stop it (SIGTERM)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"tracker-server-{port}.log"
    command = [str(TRACKER), "server", "--store", str(store), "--port", str(port), *args]
    environment = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    server = Server(url, proc, log)
    try:
        wait_healthy(url, proc, log, 60, "tracker-report server")
        yield server
    finally:
        if proc.poll() is None:
            server.stop()


def store_state(folder: Path) -> tuple[dict[str, int], frozenset[str]]:
    """What a folder store holds, as tests of 'nothing was written' compare it: every file
    (with its size) and folder (-1) outside the event folders, and the part ids the event
    files hold. A server merges its small event files in the background at any moment, which
    moves parts between files without changing them; unfinished writes (.tmp-*) are left out."""
    import json

    import pyarrow.parquet as pq

    for _ in range(20):  # a merge deleted a file between the listing and its reading
        try:
            entries: dict[str, int] = {}
            parts: set[str] = set()
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder).as_posix()
                if path.name.startswith(".tmp-"):
                    continue
                if path.parent.name == "_compacted" and path.suffix == ".parquet":
                    meta = pq.read_metadata(path).metadata or {}
                    parts.update(json.loads(meta.get(b"tracker.parts", b"[]")))
                elif path.parent.name == "_parts":
                    parts.add(path.name)
                else:
                    entries[rel] = path.stat().st_size if path.is_file() else -1
            return entries, frozenset(parts)
        except (FileNotFoundError, OSError):
            time.sleep(0.05)
    pytest.fail(f"could not read a steady view of {folder}")


def change_access(store: Path, build: Any) -> None:
    """Publish one change of users or grants into a folder store, as `tracker-report users`
    and `grants` do: `build` takes the current AccessState and returns the change."""
    from reporter.core.access import AccessState
    from reporter.store.access import StoreAccessLog
    from reporter.store.registry import open_store

    log = StoreAccessLog(open_store(str(store)))
    log.publish(build(AccessState.replay(log.changes())))
