"""Buffered logging: callers append rows in memory; a background thread publishes part files.

`append` never touches the disk. The flusher wakes every `flush_interval` seconds (default 1 s,
env TRACKER_FLUSH_INTERVAL) or when a buffer grows large, and writes one immutable part file per
run with pending rows. It also refreshes the heartbeat file of every open run, so a reader can
tell a run whose process died (it reads as KILLED) from one that is quietly training.

Shutdown is orderly: at interpreter exit (`shutdown_all`, an exit hook) each flusher is told to
stop, joined, and only then is everything still buffered written from the exiting thread. No
thread of ours is inside pyarrow when the interpreter finalizes: a daemon thread caught there
aborts the whole process (SIGABRT, "terminate called without an active exception") when
CPython ends it mid C++ frame.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field

from reporter.core import env
from reporter.core.errors import InvalidArgumentError, ReporterError
from reporter.store.parquet import events, schema
from reporter.store.parquet.fs import StoreFS

log = logging.getLogger(__name__)

BIG_BUFFER = 200_000  # rows: wake the flusher early
JOIN_TIMEOUT = 120.0  # seconds a closing writer waits for its flusher's current round


def flush_interval() -> float:
    """Seconds between background flushes ($TRACKER_FLUSH_INTERVAL; checked when the store
    opened, so a value changed to a bad one later falls back to the default here)."""
    try:
        return env.flush_interval()
    except InvalidArgumentError:
        return float(env.FLUSH_INTERVAL.default or 1)


@dataclass
class _RunBuffer:
    """Pending rows of one run and where its parts go."""

    exp_id: str
    rows: list[events.Row] = field(default_factory=list)
    open: bool = True
    last_heartbeat: float = 0.0


class PartWriter:
    """Per-store, per-process buffer of event rows with a background flusher thread."""

    def __init__(self, fs: StoreFS) -> None:
        self.fs = fs
        self.writer_id = uuid.uuid4().hex[:12]
        self._seq = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._runs: dict[str, _RunBuffer] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._published: dict[str, list[tuple[str, str]]] = {}  # run -> [(part id, path)]
        self._finished: dict[str, dict[str, str]] = {}  # experiment -> {part id: path}
        # experiment -> runs ended here since its raw parts were last counted (autocompact),
        # and when they were last counted (time.monotonic)
        self._ended: dict[str, set[str]] = {}
        self._counted: dict[str, float] = {}
        self._compact_failures: set[str] = set()  # why starting a compactor failed, said once
        self.errors: list[str] = []
        # shared files (a tracking server): each flush writes one file per experiment holding
        # every run's pending rows, and no heartbeats (a client elsewhere owns the run's status)
        self.shared_files = False
        self.grouped_files: dict[str, int] = {}  # experiment -> shared files written
        _WRITERS.add(self)

    # caller side ---------------------------------------------------------------------------
    def open_run(self, run_id: str, exp_id: str) -> None:
        """Start buffering for a run (also used to resume one)."""
        # Import the Parquet writer now, not first at interpreter exit (the final flush), when
        # a new import may no longer register its exit hooks. pandas stays out: the write path
        # builds its columns without `pa.array(list)`, which would import it (events.py). But
        # pyarrow may still load pandas in the flusher while the interpreter shuts down (some
        # compaction calls do), and pandas registers its thread pool's exit hook through
        # concurrent.futures.thread, which raises then: that module (2 ms) is imported now.
        if "pyarrow.parquet" not in sys.modules or "concurrent.futures.thread" not in sys.modules:
            # only around the first import: a snapshot restored later could undo what the
            # host's other threads change meanwhile (its cwd, handlers, warning filters)
            from reporter.core.guest import host_kept

            with host_kept():
                import concurrent.futures.thread  # noqa: F401

                import pyarrow.parquet  # noqa: F401

        with self._lock:
            buf = self._runs.get(run_id)
            if buf is None:
                buf = self._runs[run_id] = _RunBuffer(exp_id)
            else:
                buf.open = True
            # The run's first events are stamped now, which shows it alive until the first
            # heartbeat is due: a run shorter than the heartbeat interval never writes one.
            buf.last_heartbeat = time.time()
        self._ensure_thread()

    def append(self, run_id: str, exp_id: str, rows: list[events.Row]) -> None:
        """Queue rows for a run; never waits on the disk."""
        with self._lock:
            buf = self._runs.get(run_id)
            if buf is None:
                buf = self._runs[run_id] = _RunBuffer(exp_id, open=False)
            buf.rows.extend(rows)
            big = len(buf.rows) >= BIG_BUFFER
        if big:
            self._wake.set()
        self._ensure_thread()

    def close_run(self, run_id: str) -> None:
        """Flush a run's rows now, stop its heartbeat, and queue its parts for compaction:
        this process's own (by the flusher), and its experiment's: its raw parts are counted
        now (once per flush interval: later ends are counted by the flusher), and a detached
        compactor started if they are many (autocompact). Now, not at exit: once the
        interpreter exits, an object store can no longer be reached."""
        self.flush(run_id)
        background = not self.shared_files and _compacts_in_background(self.fs)
        count_now = False
        with self._lock:
            buf = self._runs.get(run_id)
            exp_id = buf.exp_id if buf is not None else None
            if buf is not None and not buf.rows:
                del self._runs[run_id]
            parts = self._published.pop(run_id, [])
            own_due = False  # this process's flusher compacts its own finished parts
            if exp_id is not None and parts:
                self._finished.setdefault(exp_id, {}).update(parts)
                threshold = env.auto_compact_parts()
                if threshold and len(self._finished[exp_id]) >= threshold:
                    self._wake.set()
                    own_due = self._flusher_alive()
            if exp_id is not None and background:
                self._ended.setdefault(exp_id, set()).add(run_id)
                last = self._counted.get(exp_id)
                # (when its own are due, the flusher counts the rest after compacting them)
                waited = last is None or time.monotonic() - last >= flush_interval()
                count_now = waited and not own_due
        if count_now and exp_id is not None:
            self._start_compactors(exp_id)

    def pending(self, run_id: str) -> bool:
        """Return True if a run has rows that are not written yet."""
        with self._lock:
            buf = self._runs.get(run_id)
            return buf is not None and bool(buf.rows)

    def discard_run(self, run_id: str) -> None:
        """Forget a run whose creation failed: its rows are dropped, never written."""
        with self._lock:
            self._runs.pop(run_id, None)
            self._published.pop(run_id, None)

    def flush(self, run_id: str | None = None) -> bool:
        """Write pending rows (of one run, or of all) before returning; return False if some
        of them could not be written (they are kept for the next flush)."""
        with self._write_lock:
            return self._flush_locked(run_id)

    # flusher side --------------------------------------------------------------------------
    def _take(self, run_id: str | None) -> list[tuple[str, str, list[events.Row]]]:
        """Swap out pending rows under the lock."""
        taken = []
        with self._lock:
            ids = [run_id] if run_id is not None else list(self._runs)
            for rid in ids:
                buf = self._runs.get(rid)
                if buf is not None and buf.rows:
                    taken.append((rid, buf.exp_id, buf.rows))
                    buf.rows = []
                    if not buf.open:
                        del self._runs[rid]
        return taken

    def _flush_locked(self, run_id: str | None) -> bool:
        """Publish one part file per run with pending rows (one per experiment when shared);
        return False if any could not be written."""
        taken = self._take(run_id)
        if self.shared_files:
            return self._flush_shared(taken)
        written = True
        for rid, exp_id, rows in taken:
            try:
                self._write_part(rid, exp_id, rows)
            except Exception as exc:  # keep the rows: the next flush tries again
                with self._lock:
                    buf = self._runs.setdefault(rid, _RunBuffer(exp_id, open=False))
                    buf.rows[:0] = rows
                self._note_error(exc, f"run {rid}")
                written = False
        return written

    def _flush_shared(self, taken: list[tuple[str, str, list[events.Row]]]) -> bool:
        """Publish one file per experiment holding every run's rows, as a compacted file.

        A compacted file already holds many runs' parts and lists their ids, so readers take
        these as they are; merging them is compaction's (`compaction.merge_tiers`)."""
        from reporter.store.parquet import compaction

        written = True
        by_exp: dict[str, list[tuple[str, list[events.Row]]]] = {}
        for rid, exp_id, rows in taken:
            by_exp.setdefault(exp_id, []).append((rid, rows))
        for exp_id, group in by_exp.items():
            self._seq += 1
            name = f"{time.time_ns():020d}-{self.writer_id}-{self._seq:06d}"
            parts = {rid: f"{rid}/{name}" for rid, _ in group}
            try:
                compaction.publish_group(
                    self.fs, exp_id, [(rid, parts[rid], rows) for rid, rows in group]
                )
            except Exception as exc:  # keep the rows: the next flush tries again
                with self._lock:
                    for rid, rows in group:
                        buf = self._runs.setdefault(rid, _RunBuffer(exp_id, open=False))
                        buf.rows[:0] = rows
                self._note_error(exc, f"experiment {exp_id}")
                written = False
                continue
            with self._lock:
                self.grouped_files[exp_id] = self.grouped_files.get(exp_id, 0) + 1
        return written

    def _note_error(self, exc: BaseException, what: str) -> None:
        """Remember a failed write once (a full disk fails every flush the same way)."""
        message = str(exc) if isinstance(exc, ReporterError) else f"{type(exc).__name__}: {exc}"
        if message not in self.errors:
            self.errors.append(message)
            log.warning("writing rows of %s failed (kept for retry): %s", what, exc)

    def _write_part(self, rid: str, exp_id: str, rows: list[events.Row]) -> None:
        """Publish one part file of a run's rows."""
        self._seq += 1
        name = f"{time.time_ns():020d}-{self.writer_id}-{self._seq:06d}"
        part = f"{rid}/{name}"
        table = events.rows_to_table(rid, part, rows)
        data = events.table_to_parquet(table, [part])
        rel = self.fs.join(
            schema.RUNS_FOLDER, exp_id, schema.PARTS_FOLDER, schema.part_file_name(rid, name)
        )
        self.fs.write_atomic(rel, data)
        with self._lock:
            self._published.setdefault(rid, []).append((part, rel))

    def _auto_compact(self) -> None:
        """Compact the parts of this process's finished runs once there are enough of them."""
        from reporter.store.parquet import compaction
        from reporter.store.parquet.fs import FileInfo

        if self.shared_files:  # merge the small shared files by size tier
            with self._lock:
                tiers = [e for e, n in self.grouped_files.items() if n >= compaction.TIER_FILES]
                for exp_id in tiers:
                    self.grouped_files[exp_id] = 0
            for exp_id in tiers:
                compaction.merge_tiers(self.fs, exp_id)
        threshold = env.auto_compact_parts()
        if not threshold:
            return
        with self._lock:
            due = {e: p for e, p in self._finished.items() if len(p) >= threshold}
            for exp_id in due:
                del self._finished[exp_id]
        for exp_id, parts in due.items():
            if self._closed:  # exiting: leave the parts for a later compaction
                return
            infos = {part: FileInfo(path, 0, 0.0) for part, path in parts.items()}
            compaction.compact_parts(self.fs, exp_id, infos)
            # by size tier: a long sweep in a big experiment never rewrites all of it
            compaction.merge_tiers(self.fs, exp_id)

    def _flusher_alive(self) -> bool:
        """Whether the flusher thread runs (and will compact this process's parts)."""
        thread = self._thread
        return not self._closed and thread is not None and thread.is_alive()

    def _start_compactors(self, exp_id: str | None = None) -> None:
        """Start a detached compactor for each experiment (or this one) whose runs ended here,
        if its raw parts are many (autocompact.start_if_due); never waits, never raises."""
        with self._lock:
            if exp_id is None:
                ended, self._ended = self._ended, {}
            else:
                ended = {exp_id: self._ended.pop(exp_id)} if exp_id in self._ended else {}
            for exp in ended:
                self._counted[exp] = time.monotonic()
        if not ended:
            return
        from reporter.store.parquet import autocompact

        for exp, runs in ended.items():
            try:
                autocompact.start_if_due(self.fs, exp, runs)
            except Exception as exc:  # a side task: logging goes on, a later run tries again
                # said once (a lasting cause, a lease that is a folder or an interpreter that
                # cannot start, would otherwise be said at every run's end); at exit an object
                # store may be out of reach: that failure is no news
                news = not self._closed and str(exc) not in self._compact_failures
                self._compact_failures.add(str(exc))
                say = log.warning if news else log.debug
                say("starting a compaction of experiment %s failed: %s", exp, exc)

    def _heartbeats(self) -> None:
        """Refresh the heartbeat file of open runs that are due."""
        if self.shared_files:
            return
        now = time.time()
        every = env.heartbeat_interval()
        with self._lock:
            due = [
                (rid, buf)
                for rid, buf in self._runs.items()
                if buf.open and now - buf.last_heartbeat >= every
            ]
        for rid, buf in due:
            self._beat(rid, buf)

    def _beat(self, run_id: str, buf: _RunBuffer) -> None:
        """Refresh one run's heartbeat file."""
        now = time.time()
        rel = self.fs.join(schema.RUNS_FOLDER, buf.exp_id, run_id, schema.HEARTBEAT_FILE)
        self.fs.write_atomic(rel, str(int(now * 1000)).encode())
        buf.last_heartbeat = now

    def _ensure_thread(self) -> None:
        """Start the flusher thread on first use (and again after a fork)."""
        thread = self._thread
        if self._closed or (thread is not None and thread.is_alive()):
            return
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            thread = threading.Thread(target=self._loop, name="reporter-flusher", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutdown: close_run/flush write synchronously
                return
            self._thread = thread

    def _loop(self) -> None:
        """Flush and heartbeat until closed; never raises (errors are kept and logged)."""
        while True:
            self._wake.wait(flush_interval())
            self._wake.clear()
            if self._closed:  # the closing thread writes what is left
                return
            try:
                self.flush()
                self._heartbeats()
                self._auto_compact()
                self._start_compactors()
            except Exception as exc:  # keep logging alive; the caller sees it at end_run
                if str(exc) not in self.errors:
                    log.warning("background flush to %s failed: %s", self.fs.url(""), exc)
                    self.errors.append(str(exc))

    def close(self) -> None:
        """Stop the flusher, wait for its current round, then write everything still buffered.

        Later appends are not lost: `close_run` and `flush` still write, in the caller's thread.
        """
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning(
                    "the flusher of %s did not stop within %.0f s", self.fs.url(""), JOIN_TIMEOUT
                )
        self.flush()
        self._start_compactors()


_WRITERS: weakref.WeakSet[PartWriter] = weakref.WeakSet()


def _compacts_in_background(fs: StoreFS) -> bool:
    """Whether runs ending in this store may start detached compactors (imported here, in
    the caller's thread: not first at exit)."""
    from reporter.store.parquet import autocompact

    return autocompact.enabled(fs)


def shutdown_all() -> None:
    """Stop every writer's flusher and write what is buffered (at interpreter exit)."""
    for writer in list(_WRITERS):
        try:
            writer.close()
        except Exception as exc:  # at exit there is nobody left to raise to
            log.warning("final flush to %s failed: %s", writer.fs.url(""), exc)
    autocompact = sys.modules.get("reporter.store.parquet.autocompact")
    if autocompact is not None:  # compactors started are left running, detached
        autocompact.forget_children()


def _forget_in_child() -> None:
    """After fork the parent still owns the pending rows: the child must not write them too."""
    for writer in list(_WRITERS):
        writer._runs = {}
        writer._published = {}
        writer._finished = {}
        writer._ended = {}
        writer._counted = {}
        writer._lock = threading.Lock()
        writer._write_lock = threading.Lock()
        writer._thread = None
        writer._wake = threading.Event()
        writer.writer_id = uuid.uuid4().hex[:12]


def _install_exit_hooks() -> None:
    """Close the writers at exit twice over: first among threading's exit hooks, which run
    before atexit's and before concurrent.futures stops taking work (an object store's
    client resolves hosts in an executor: a flusher caught mid-round by that stop retries
    for a minute, then fails), the latest registered first, so ahead of concurrent.futures'
    own; then as an atexit hook, after the host's own hooks (which may still log: their
    rows are written then). Closing twice is harmless."""
    import concurrent.futures.thread  # noqa: F401  (its exit hook registered before ours)

    atexit.register(shutdown_all)
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # the interpreter is shutting down already
            register(shutdown_all)


_install_exit_hooks()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
