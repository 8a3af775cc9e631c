"""Group commit: a write request is answered once its rows are in a published file, and the
requests that arrive while one file is being written share the next one.

A request queues its rows in the store's buffers, then asks for a commit and waits for it. One
thread writes: it takes the waiting requests as a group, flushes every buffered row (one file
per experiment, see `ParquetStore.serve_clients`) and answers the whole group. A request that
asks while a flush is under way joins the following group, whose flush starts after its rows
were queued, so no request is answered before its rows are written.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)


class GroupCommit:
    """One writer thread that flushes for groups of waiting requests."""

    def __init__(self, flush: Callable[[], None], after: Callable[[], None] | None = None) -> None:
        self._flush = flush
        self._after = after
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._next: Future[None] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="reporter-commit", daemon=True)
        self.commits = 0  # flushes done (each answered one group)
        self.requests = 0  # requests answered

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def request(self) -> Future[None]:
        """Return a future resolved once every row queued before this call is written."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the server is stopping")
            if self._next is None:
                self._next = Future()
            future = self._next
            self.requests += 1
        self._wake.set()
        return future

    async def wait(self) -> None:
        """Wait (without holding a thread) until the rows queued so far are written; raise
        the flush's error if it failed."""
        await asyncio.wrap_future(self.request())

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                group, self._next = self._next, None
                stopping = self._stopping
            if group is not None:
                self._commit(group)
            if stopping:
                return

    def _commit(self, group: Future[None]) -> None:
        try:
            self._flush()
        except BaseException as exc:  # answered to every request of the group
            group.set_exception(exc)
        else:
            group.set_result(None)
        self.commits += 1
        if self._after is not None:
            try:
                self._after()
            except Exception as exc:  # maintenance must not stop commits
                log.warning("merging committed files failed: %s", exc)

    def stop(self, timeout: float = 60.0) -> None:
        """Answer the requests already waiting (their rows are written), then stop."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
