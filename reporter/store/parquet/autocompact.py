"""Compaction across processes: the end of a run starts a detached compactor once the
experiment's raw part files, whichever processes wrote them, are many.

Most teams log one run per process (a training job, a CI job, a sweep trial), and such a
process never finishes enough parts of its own to compact them (`PartWriter._auto_compact`).
So when a run ends (`PartWriter.close_run`, at most once per flush interval and experiment;
the flusher counts the runs that end in between), the process lists the experiment's
`_parts/` once (compaction keeps that folder small) and, when it holds TRACKER_AUTO_COMPACT
parts of runs not known to be running, starts
`python -m reporter.store.parquet.autocompact URI EXPERIMENT_ID TOKEN` in a session of its own
and does not wait for it, as `git gc --auto` detaches. At end_run, not at exit: once the
interpreter exits, an object store's client can no longer send a request.
TRACKER_COMPACT_IN_BACKGROUND=false turns it off; memory:// stores and a tracking server's
shared files never start one.

Guarantees:
* The logging process never waits for a compaction: it pays one listing of `_parts/` per
  ended run (a few ms), and, every TRACKER_AUTO_COMPACT parts, a lease write and a fork+exec.
* The compactor does what `compact` does, in rounds of `compaction.compact_in_tiers`: every
  step publishes a file before it deletes what the file holds, so writers and compactors
  racing it, kill -9 at any point and S3 are covered as they are for `compact`; parts of runs
  still running stay raw, a run gc removed meanwhile is not brought back, and archive
  summaries (`_archived/`) are not touched. Merging by size tier keeps the compacted files
  few (logarithmic in the experiment's size) without rewriting the experiment every round.
* The host is left as it was: the child gets no stdin/stdout/stderr, no file descriptors, its
  own session (a Ctrl-C in the host's terminal does not reach it) and the host's environment
  (S3 endpoint and credentials); the host installs no signal handler and keeps no zombie
  (children are reaped at the next check; at exit they are left to init).

The lease, `runs/<experiment_id>/_compacted/compacting.json` (JSON: state, token, host, pid,
time_ms, running, seen), keeps the many processes that end at once from starting many
compactors. A logging process creates it put-if-absent before it starts one; the compactor
refreshes it every LEASE_REFRESH_S and, when done, leaves it `done` with the runs it found
still running and the parts it saw of each: their parts do not count toward the next start
until they change (a run's end writes a part), so the last of several runs that end in
different processes counts the others' ends too. A lease not refreshed
for LEASE_STALE_S, or whose process is gone on this host, is taken over. It is only an
optimisation: racing compactors are safe.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from reporter.core import env
from reporter.core.errors import NotFoundError
from reporter.store.parquet import schema
from reporter.store.parquet.fs import StoreFS

if TYPE_CHECKING:
    import subprocess

    from reporter.store.parquet.compaction import RawRound

log = logging.getLogger(__name__)

LEASE_FILE = schema.COMPACT_LEASE_FILE
LEASE_REFRESH_S = 10.0  # a working compactor rewrites its lease this often
LEASE_STALE_S = 60.0  # a lease not rewritten for this long is taken over
MAX_ROUNDS = 8  # rounds one compactor runs while enough new parts keep arriving
MODULE = "reporter.store.parquet.autocompact"
# the folder `reporter` was imported from: a compactor runs there, so it imports the same code
# and no module in the host's working directory shadows ours
IMPORTED_FROM = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)

_children: list[subprocess.Popen[bytes]] = []  # compactors this process started, to reap


@functools.cache
def this_host() -> str:
    """Return this machine's name, as leases record it."""
    import socket

    return socket.gethostname()


@dataclass
class Lease:
    """Who compacts an experiment in the background, or what the last compactor left."""

    state: str  # "running" or "done"
    token: str
    host: str = field(default_factory=this_host)
    pid: int | None = None
    time_ms: int = 0
    running: list[str] = field(default_factory=list)  # runs the last compactor left raw
    # each of those runs' raw parts as that compactor listed them: a run whose parts changed
    # since has written more (its end, most often) and counts again, wherever it ended
    seen: dict[str, list[str]] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Lease:
        raw = json.loads(data)
        return cls(
            state=str(raw["state"]),
            token=str(raw["token"]),
            host=str(raw["host"]),
            pid=None if raw.get("pid") is None else int(raw["pid"]),
            time_ms=int(raw["time_ms"]),
            running=[str(r) for r in raw.get("running") or []],
            seen={str(r): [str(p) for p in parts] for r, parts in (raw.get("seen") or {}).items()},
        )

    def left_running(self, ended: Collection[str]) -> dict[str, set[str] | None]:
        """Return the runs this lease left raw and did not end here, each with the parts
        it saw of them (None from a lease written before those were kept: not counted)."""
        return {
            run: set(self.seen[run]) if run in self.seen else None
            for run in self.running
            if run not in ended
        }

    def live(self, now_ms: int) -> bool:
        """Return True while a compactor holds this lease."""
        if self.state != "running" or abs(now_ms - self.time_ms) > LEASE_STALE_S * 1000:
            return False
        mine = self.host == this_host()
        return not (mine and self.pid is not None and not _alive(self.pid))


def lease_rel(exp_id: str) -> str:
    """Return where an experiment's lease lives."""
    return StoreFS.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER, LEASE_FILE)


def read_lease(fs: StoreFS, exp_id: str) -> tuple[Lease | None, bytes | None]:
    """Return an experiment's lease (None if absent or unreadable) and its bytes."""
    try:
        data = fs.read_bytes(lease_rel(exp_id))
    except NotFoundError:
        return None, None
    try:
        return Lease.from_bytes(data), data
    except (ValueError, KeyError, TypeError):
        return None, data  # damaged: taken over like a stale one


def enabled(fs: StoreFS) -> bool:
    """Whether runs ending in this store may start background compactors."""
    if fs.scheme == "memory":  # a detached process would see another, empty store
        return False
    return env.compact_in_background() and env.auto_compact_parts() > 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _alive(pid: int) -> bool:
    """Return True if a process of this pid exists on this host (or if that is unknown)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and is another user's
        return True
    return True


def raw_parts(fs: StoreFS, exp_id: str) -> list[str]:
    """Return the part id of every raw part file of an experiment (one listing)."""
    folder = fs.join(schema.RUNS_FOLDER, exp_id, schema.PARTS_FOLDER)
    out = []
    for info in fs.list_files(folder):
        part = schema.part_id_of_file(info.path.rsplit("/", 1)[-1])
        if part is not None:
            out.append(part)
    return out


def _run_of(part: str) -> str:
    return part.split("/", 1)[0]


# the logging process ------------------------------------------------------------------------
def start_if_due(fs: StoreFS, exp_id: str, ended: Collection[str]) -> int | None:
    """After runs of an experiment ended here: start a detached compactor if its raw parts
    (of runs not known to be running) reached TRACKER_AUTO_COMPACT and no compactor holds its
    lease. Return the compactor's pid, or None. Never waits for it."""
    _reap()
    if sys.is_finalizing() or not enabled(fs):  # too late to start a process; or turned off
        return None
    threshold = env.auto_compact_parts()
    parts = raw_parts(fs, exp_id)
    if len(parts) < threshold:  # the common case: one listing, no more
        return None
    lease, seen = read_lease(fs, exp_id)
    if lease is not None and lease.live(_now_ms()):
        return None
    running = lease.left_running(ended) if lease is not None else {}
    if _mergeable(parts, running) < threshold:
        return None
    token = uuid.uuid4().hex
    if not _take(fs, exp_id, token, seen):
        return None
    try:
        proc = spawn(child_uri(fs), exp_id, token)
    except Exception:
        fs.delete(lease_rel(exp_id))
        raise
    # the pid, so that a compactor killed on this host is taken over at once (and tests wait)
    lease = Lease("running", token, pid=proc.pid, time_ms=_now_ms())
    fs.write_atomic(lease_rel(exp_id), lease.to_bytes())
    log.debug("started compactor %d for experiment %s", proc.pid, exp_id)
    return proc.pid


def _take(fs: StoreFS, exp_id: str, token: str, seen: bytes | None, pid: int | None = None) -> bool:
    """Take the lease (put-if-absent), replacing the one read as `seen` (done, stale or
    damaged) unless it changed since; return False if another process has it."""
    rel = lease_rel(exp_id)
    if seen is not None and not _delete_if_unchanged(fs, rel, seen):
        return False
    lease = Lease("running", token, pid=pid, time_ms=_now_ms())
    return fs.write_atomic(rel, lease.to_bytes(), if_absent=True)


def _delete_if_unchanged(fs: StoreFS, rel: str, seen: bytes) -> bool:
    """Delete a stale or finished lease unless it changed since it was read."""
    try:
        if fs.read_bytes(rel) != seen:
            return False
    except NotFoundError:
        return True
    fs.delete(rel)
    return True


def child_uri(fs: StoreFS) -> str:
    """Return the URI a compactor process opens this store by: a local store's absolute
    path; an object store's URL with the endpoint and profile it was opened with."""
    if fs.local:
        return fs.root
    from urllib.parse import urlencode

    options = getattr(fs.fs, "storage_options", {}) or {}
    query = {}
    endpoint = (options.get("client_kwargs") or {}).get("endpoint_url")
    if endpoint:
        query["endpoint_url"] = endpoint
    if options.get("profile"):
        query["profile"] = options["profile"]
    return f"{fs.uri}?{urlencode(query)}" if query else fs.uri


def spawn(uri: str, exp_id: str, token: str) -> subprocess.Popen[bytes]:
    """Start a compactor process detached from this one (RuntimeError at interpreter
    shutdown, OSError when it cannot start)."""
    import subprocess

    if sys.is_finalizing() or not sys.executable:
        raise RuntimeError("no interpreter to start a compactor with")
    proc = subprocess.Popen(
        [sys.executable, "-m", MODULE, uri, exp_id, token],
        cwd=IMPORTED_FROM if os.path.isdir(IMPORTED_FROM) else os.sep,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )
    _children.append(proc)
    return proc


def _reap() -> None:
    """Collect the exit status of compactors this process started that have ended."""
    _children[:] = [proc for proc in _children if proc.poll() is None]


def forget_children() -> None:
    """At exit, or in a forked child: drop the compactors (init reaps them once we are gone;
    marked done so that Popen's finalizer neither warns nor waits)."""
    for proc in _children:
        if proc.poll() is None:
            proc.returncode = 0  # left running on purpose: it is detached
    _children.clear()


def wait_for_compactors(
    fs: StoreFS, exp_ids: Sequence[str], timeout_s: float = 120.0, poll_s: float = 0.05
) -> bool:
    """Wait until no compactor holds the lease of these experiments (and those this process
    started have exited); return False on timeout. For tests and benchmarks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap()
        now = _now_ms()
        busy = []
        for exp_id in exp_ids:
            lease, _ = read_lease(fs, exp_id)
            if lease is not None and lease.live(now):
                busy.append(exp_id)
        if not busy and not _children:
            return True
        time.sleep(poll_s)
    return False


# the compactor process ----------------------------------------------------------------------
def compact(uri: str, exp_id: str, token: str) -> None:
    """Compact an experiment in rounds while enough finished parts keep arriving, refreshing
    the lease meanwhile; then mark it done, with the runs found still running.

    After marking it done, list once more: a process whose run ended while the lease was held
    started no compactor, and its parts may be due; if so, take the lease again."""
    from reporter.store.parquet import compaction

    fs = StoreFS(uri)
    threshold = env.auto_compact_parts() or int(env.AUTO_COMPACT.default or 32)
    timeout_s = env.heartbeat_timeout()
    stop = threading.Event()
    lock = threading.Lock()  # the lease is rewritten by one thread at a time
    refresher = threading.Thread(
        target=_keep_lease,
        args=(fs, exp_id, token, stop, lock),
        name="reporter-lease",
        daemon=True,
    )
    refresher.start()
    running: dict[str, set[str]] = {}  # run still running -> its raw parts the round saw
    held = True
    try:
        for _round in range(MAX_ROUNDS):
            now_ms = _store_now_ms(fs, exp_id, token, lock)
            done = compaction.compact_in_tiers(fs, exp_id, timeout_s=timeout_s, now_ms=now_ms)
            if done is None:  # a file vanished while planning: another compaction's; again
                continue
            running = {run: set() for run in done.running}
            for part in done.listing.parts:
                if _run_of(part) in running:
                    running[_run_of(part)].add(part)
            # another round if enough mergeable parts are there and it would differ from this
            # one: this one merged some, or parts came since its listing (a round that merged
            # nothing of the same parts would merge nothing again)
            if _again(fs, exp_id, running, done, threshold):
                continue
            with lock:
                _release(fs, exp_id, token, running)
            held = False
            # processes whose runs ended while the lease was held started no compactor
            if not _again(fs, exp_id, running, done, threshold):
                break
            with lock:
                lease, seen = read_lease(fs, exp_id)
                mine = lease is not None and lease.token == token
                if not mine or not _take(fs, exp_id, token, seen, os.getpid()):
                    break  # another process has it now
            held = True
    except Exception as exc:  # no one to raise to: the next compaction does what is left
        log.warning("background compaction of experiment %s failed: %s", exp_id, exc)
    finally:  # our own thread only: a process killed here leaves its lease to go stale
        stop.set()
        refresher.join()
    if held:
        _release(fs, exp_id, token, running)


def _store_now_ms(fs: StoreFS, exp_id: str, token: str, lock: threading.Lock) -> float:
    """Return the time by which a run's silence is judged: this host's clock, but never
    ahead of the store's (the lease is rewritten now, and the store stamps it). Hosts'
    clocks drift; heartbeats carry the store's time, so a compactor whose clock runs ahead
    would take a live run for dead and merge its parts while it still writes."""
    now = float(_now_ms())
    try:
        with lock:
            if not _refresh(fs, exp_id, token):
                return now
        stamped = fs.mtime(lease_rel(exp_id))
    except Exception as exc:  # the lease is an optimisation: judge by this host's clock
        log.debug("reading the store's time from the lease of %s failed: %s", exp_id, exc)
        return now
    return now if stamped is None else min(now, stamped * 1000)


def _again(
    fs: StoreFS, exp_id: str, running: Mapping[str, set[str]], done: RawRound, threshold: int
) -> bool:
    """Whether another round is due after `done` (one listing): TRACKER_AUTO_COMPACT
    mergeable parts, and `done` merged some or parts came after its listing."""
    parts = raw_parts(fs, exp_id)
    if _mergeable(parts, running) < threshold:
        return False
    return bool(done.result.parts_merged) or not set(parts) <= done.listing.parts.keys()


def _mergeable(parts: Collection[str], running: Mapping[str, set[str] | None]) -> int:
    """Count the parts a compaction could merge: all but those of runs found running whose
    parts did not change since they were seen (a run that ended has a new part; None: its
    parts were not kept, so it counts as unchanged until it ends here)."""
    by_run: dict[str, set[str]] = {}
    for part in parts:
        by_run.setdefault(_run_of(part), set()).add(part)
    unchanged = {
        run for run, seen in running.items() if seen is None or by_run.get(run, set()) <= seen
    }
    return sum(1 for part in parts if _run_of(part) not in unchanged)


def _keep_lease(
    fs: StoreFS, exp_id: str, token: str, stop: threading.Event, lock: threading.Lock
) -> None:
    """Rewrite the lease every LEASE_REFRESH_S while it is still ours and running."""
    while not stop.wait(LEASE_REFRESH_S):
        try:
            with lock:
                _refresh(fs, exp_id, token)
        except Exception as exc:  # a missed refresh makes the lease stale at worst
            log.debug("refreshing the compaction lease of %s failed: %s", exp_id, exc)


def _refresh(fs: StoreFS, exp_id: str, token: str) -> bool:
    """Rewrite the lease with this time and pid if it is still ours and running (the store
    stamps it anew); return whether it was."""
    lease, _ = read_lease(fs, exp_id)
    if lease is None or lease.token != token or lease.state != "running":
        return False
    lease.time_ms, lease.pid = _now_ms(), os.getpid()
    fs.write_atomic(lease_rel(exp_id), lease.to_bytes())
    return True


def _release(fs: StoreFS, exp_id: str, token: str, running: Mapping[str, set[str]]) -> None:
    """Mark the lease done (if it is still ours), keeping the runs found still running and
    the parts it saw of each."""
    lease, _ = read_lease(fs, exp_id)
    if lease is not None and lease.token == token:
        done = Lease(
            "done",
            token,
            pid=os.getpid(),
            time_ms=_now_ms(),
            running=sorted(running),
            seen={run: sorted(parts) for run, parts in sorted(running.items())},
        )
        fs.write_atomic(lease_rel(exp_id), done.to_bytes())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a detached compactor: URI EXPERIMENT_ID TOKEN."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print(f"usage: python -m {MODULE} URI EXPERIMENT_ID TOKEN", file=sys.stderr)
        return 2
    import warnings

    warnings.simplefilter("ignore")  # our own process, with no one to show them to
    compact(*args)
    return 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget_children)

if __name__ == "__main__":
    sys.exit(main())
