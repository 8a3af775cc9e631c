"""Logged values are buffered per run and sent in the background: training never waits.

`append` only takes a lock. A sender thread wakes every flush interval (TRACKER_FLUSH_INTERVAL,
as the local writer) and sends each run's pending operations in order: consecutive metrics,
params and tags as `runs/log-batch` requests within MLflow's limits (1000 metrics, 100 params,
100 tags, 1000 items a request), and run updates (`runs/update`, `runs/delete`, `runs/restore`)
where they were queued, so a run's params and tags always reach the server before its end.

Failures: a request is retried by `Http` (backoff, bounded time). A request that still fails
for want of an answer is kept, with everything after it, and tried again next round;
`flush` (and `end_run`) raise `StoreWriteError` naming the server when their own attempt fails.
A request the server refuses (a 4xx: the data is not valid there) is dropped, and the next
`flush` raises its error once, so one bad value does not block a run's later data.

Shutdown is orderly, as the local writer's: at interpreter exit each sender's thread is told to
stop (a retry wait is cut short), joined, and what is left is sent from the exiting thread. A
forked child forgets its parent's buffers (the parent sends them) and starts its own thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reporter.core import env, wire
from reporter.core.errors import InvalidArgumentError, ReporterError, StoreWriteError
from reporter.store.rest.http import Cancelled, Http, ServerUnreachableError

log = logging.getLogger(__name__)

MAX_METRICS = wire.MAX_BATCH_METRICS
MAX_PARAMS = wire.MAX_BATCH_PARAMS
MAX_TAGS = wire.MAX_BATCH_TAGS
MAX_ITEMS = wire.MAX_BATCH_ITEMS
BIG_BUFFER = 20_000  # pending items of a run that wake the sender early
JOIN_TIMEOUT = 30.0  # seconds a closing sender waits for its thread's current request

METRIC, PARAM, TAG, UPDATE = "metrics", "params", "tags", "update"


def flush_interval() -> float:
    """Seconds between background sends ($TRACKER_FLUSH_INTERVAL, as the local writer; checked
    when the store opened, so a value changed to a bad one later falls back to the default)."""
    try:
        return env.flush_interval()
    except InvalidArgumentError:
        return float(env.FLUSH_INTERVAL.default or 1)


@dataclass(frozen=True)
class Op:
    """One pending operation of a run: a metric, param or tag (JSON), or a run update."""

    kind: str  # METRIC, PARAM, TAG or UPDATE
    body: dict[str, Any]  # the item's JSON; UPDATE: {"endpoint": ..., "body": {...}}


@dataclass
class _Run:
    """Pending operations of one run, in the order they were logged."""

    ops: list[Op] = field(default_factory=list)


def batches(ops: Sequence[Op]) -> list[tuple[str, dict[str, Any], int]]:
    """Cut a run's operations into requests: (endpoint, body, how many ops it sends).

    Consecutive metrics, params and tags go into log-batch bodies within MLflow's limits (a
    tag set twice in one body keeps its last value, a param its first); an update is a
    request of its own, at its place.
    """
    out: list[tuple[str, dict[str, Any], int]] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.kind == UPDATE:
            out.append((op.body["endpoint"], op.body["body"], 1))
            i += 1
            continue
        lists: dict[str, list[dict[str, Any]]] = {METRIC: [], PARAM: [], TAG: []}
        limits = {METRIC: MAX_METRICS, PARAM: MAX_PARAMS, TAG: MAX_TAGS}
        tags: dict[str, int] = {}
        params: set[str] = set()
        start = i
        while i < len(ops) and ops[i].kind != UPDATE:
            item = ops[i]
            if len(lists[item.kind]) >= limits[item.kind] or sum(map(len, lists.values())) >= (
                MAX_ITEMS
            ):
                break
            key = item.body["key"]
            if item.kind == TAG and key in tags:
                lists[TAG][tags[key]] = item.body
            elif item.kind == PARAM and key in params:
                pass
            else:
                if item.kind == TAG:
                    tags[key] = len(lists[TAG])
                elif item.kind == PARAM:
                    params.add(key)
                lists[item.kind].append(item.body)
            i += 1
        body = {k: v for k, v in lists.items() if v}
        out.append(("runs/log-batch", body, i - start))
    return out


class Sender:
    """Per-store, per-process buffer of run operations with a background sender thread."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self._lock = threading.Lock()  # the buffers
        self._send_lock = threading.Lock()  # one sender at a time keeps each run's order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._runs: dict[str, _Run] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._rejected: list[str] = []  # errors of refused requests, raised by the next flush
        self.last_error: str | None = None  # the last failure of a background round
        _SENDERS.add(self)

    # caller side ---------------------------------------------------------------------------
    def append(self, run_id: str, ops: Sequence[Op]) -> None:
        """Queue operations of a run; never waits on the network."""
        if not ops:
            return
        with self._lock:
            run = self._runs.setdefault(run_id, _Run())
            run.ops.extend(ops)
            big = len(run.ops) >= BIG_BUFFER
        if big:
            self._wake.set()
        self._ensure_thread()

    def pending(self, run_id: str | None = None) -> bool:
        """Return True if a run (or any run) has operations not sent yet."""
        with self._lock:
            if run_id is None:
                return any(r.ops for r in self._runs.values())
            run = self._runs.get(run_id)
            return run is not None and bool(run.ops)

    def flush(self, run_id: str | None = None) -> None:
        """Send a run's (or every run's) pending operations before returning.

        Raises StoreWriteError if something could not be sent (it stays queued and is tried
        again) or was refused by the server since the last flush.
        """
        with self._send_lock:
            failures = self._send(run_id, stop=None)
        with self._lock:
            rejected, self._rejected = self._rejected, []
        problems = failures + rejected
        if problems:
            raise StoreWriteError(
                f"Sending logged data to the tracking server {self.http.base} failed: "
                + "; ".join(problems)
            )

    def try_send(self, run_id: str | None = None) -> None:
        """Send what is pending (before a read); a failure stays queued for `flush` to report."""
        with self._send_lock:
            self._send(run_id, stop=None)

    # sending -------------------------------------------------------------------------------
    def _take(self, run_id: str | None) -> list[tuple[str, list[Op]]]:
        """Swap out pending operations under the lock."""
        with self._lock:
            ids = [run_id] if run_id is not None else list(self._runs)
            taken = []
            for rid in ids:
                run = self._runs.pop(rid, None)
                if run is not None and run.ops:
                    taken.append((rid, run.ops))
            return taken

    def _put_back(self, run_id: str, ops: list[Op]) -> None:
        """Return unsent operations to the front of a run's queue."""
        with self._lock:
            run = self._runs.setdefault(run_id, _Run())
            run.ops[:0] = ops

    def _send(self, run_id: str | None, stop: threading.Event | None) -> list[str]:
        """Send pending operations (the send lock is held); return what could not be sent."""
        failures = []
        for rid, ops in self._take(run_id):
            done = 0
            try:
                for endpoint, body, count in batches(ops):
                    try:
                        self.http.call("POST", endpoint, {"run_id": rid, **body}, stop=stop)
                    except (ServerUnreachableError, Cancelled):
                        raise
                    except ReporterError as exc:
                        if exc.get_http_status_code() >= 500:
                            raise
                        with self._lock:
                            self._rejected.append(f"run {rid}: {exc} (that data was dropped)")
                        log.warning("the tracking server refused data of run %s: %s", rid, exc)
                    done += count
            except Cancelled:
                self._put_back(rid, ops[done:])
            except Exception as exc:  # kept for the next round
                self._put_back(rid, ops[done:])
                failures.append(f"run {rid}: {exc} ({len(ops) - done} values kept, to retry)")
        return failures

    def _ensure_thread(self) -> None:
        """Start the sender thread on first use (and again after a fork)."""
        thread = self._thread
        if self._closed or (thread is not None and thread.is_alive()):
            return
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            thread = threading.Thread(target=self._loop, name="reporter-rest-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutdown: flush sends from the caller's thread
                return
            self._thread = thread

    def _loop(self) -> None:
        """Send every flush interval until closed; never raises (failures are kept)."""
        while True:
            self._wake.wait(flush_interval())
            self._wake.clear()
            if self._closed:  # the closing thread sends what is left
                return
            with self._send_lock:
                failures = self._send(None, stop=self._stop)
            if failures and failures[0] != self.last_error:
                log.warning("background send failed (kept for retry): %s", failures[0])
            self.last_error = failures[0] if failures else None

    def close(self) -> None:
        """Stop the thread, then send what is left (later appends are sent by `flush`)."""
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT)
        self.flush()

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's buffers, locks and thread."""
        self._runs = {}
        self._rejected = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.http.forget_after_fork()


_SENDERS: weakref.WeakSet[Sender] = weakref.WeakSet()


def shutdown_all() -> None:
    """Stop every sender's thread and send what is buffered (at interpreter exit)."""
    for sender in list(_SENDERS):
        try:
            sender.close()
        except Exception as exc:  # at exit there is nobody left to raise to
            log.warning("final send to %s failed: %s", sender.http.base, exc)


def _forget_in_child() -> None:
    for sender in list(_SENDERS):
        sender.forget_after_fork()


atexit.register(shutdown_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
