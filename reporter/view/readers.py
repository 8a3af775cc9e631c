"""An experiment's batches read by two processes at once: the build's own (a thread) and read
workers (`python -m reporter.view.readers`), each claiming the lowest batch no one claimed, at
most a few batches ahead of the one the build is taking in; the build takes them in order.

Reading a batch (Parquet row groups into a runs frame and metric points) is most of a build's
first pass; the build's main thread meanwhile publishes and learns from the batches, so a
second reader puts the second core to work. A worker sends each batch it read (its arrays as
out-of-band buffers: about 32 bytes a point) and the warnings its read raised, which the
build raises again as it takes the batch in, so a read in a worker says what a read here
says. A worker that fails or dies
leaves the batch it held to the build, which reads it itself. Workers run where `reporter` was
imported from, get the build's environment (an object store's endpoint and credentials) and
no stdin/stdout/stderr of the user's; they are killed when the build stops early.

The pipe's messages are length-prefixed pickles between processes of one build (`send`,
`recv`); the site's page workers (reporter.site.workers) speak it too.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import pickle
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

    from reporter.store.protocol import AbstractStore
    from reporter.store.records import RunBatch

log = logging.getLogger(__name__)
MODULE = "reporter.view.readers"
# the folder `reporter` was imported from: a worker runs there, so it imports the same code
# and no module in the build's working directory shadows ours (the store URI is absolute)
IMPORTED_FROM = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AHEAD = 2  # batches read beyond the one being taken in, per reader: bounds the memory held


# --- the pipe: length-prefixed pickles -----------------------------------------------------------
# A message: MAGIC, the pickle's length (8 bytes), how many out-of-band buffers follow it (4
# bytes) and each one's length (8 bytes each), then the pickle and the buffers. Arrays travel
# as buffers (pickle protocol 5): written from their own memory and read into their final
# place, never copied into the pickle (a batch of 1 M points: 29 ms to pickle in-band).
MAGIC = b"TRW2"  # each message's first bytes: what is not ours (a stray print) is refused
MAX_MESSAGE = 1 << 40  # a length beyond this is no message of ours
MAX_BUFFERS = 1 << 16  # nor a count of buffers beyond this


class ProtocolError(EOFError):
    """The other end sent what is not a message of ours: it is treated as gone."""


def send(out: IO[bytes], message: Any) -> None:
    """Send one message (pickled; arrays out of band)."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    send_bytes(out, data, [b.raw() for b in buffers])


def send_bytes(out: IO[bytes], data: bytes, buffers: Sequence[memoryview] = ()) -> None:
    """Send one message pickled already (and the buffers its pickle refers to)."""
    head = [MAGIC, len(data).to_bytes(8, "little"), len(buffers).to_bytes(4, "little")]
    head += [b.nbytes.to_bytes(8, "little") for b in buffers]
    out.write(b"".join(head))
    out.write(data)
    for buffer in buffers:
        out.write(buffer)
    out.flush()


def recv(inp: IO[bytes]) -> Any:
    """Receive one message; EOFError when the other end closed the pipe, ProtocolError when
    what came is not a message."""
    head = _exactly(inp, 16)
    size = int.from_bytes(head[4:12], "little")
    count = int.from_bytes(head[12:], "little")
    if head[:4] != MAGIC or size > MAX_MESSAGE or count > MAX_BUFFERS:
        raise ProtocolError(f"not a worker message: {head!r}")
    lengths = _exactly(inp, 8 * count)
    sizes = [int.from_bytes(lengths[i : i + 8], "little") for i in range(0, len(lengths), 8)]
    if sum(sizes) > MAX_MESSAGE:
        raise ProtocolError(f"not a worker message: buffers of {sum(sizes)} bytes")
    data = _exactly(inp, size)
    buffers = []
    for n in sizes:
        buffer = bytearray(n)
        view, got = memoryview(buffer), 0
        while got < n:
            read = inp.readinto(view[got:])  # type: ignore[attr-defined]
            if not read:
                raise EOFError("the other end closed the pipe")
            got += read
        buffers.append(buffer)
    return pickle.loads(data, buffers=buffers)


def _exactly(inp: IO[bytes], size: int) -> bytes:
    """Read `size` bytes; EOFError when the pipe ends first."""
    data = inp.read(size) if size else b""
    if len(data) < size:
        raise EOFError("the other end closed the pipe")
    return data


def folder_identity(uri: str) -> tuple[int, int] | None:
    """Return (device, inode) of the folder a local store URI names in this process (a
    worker checks it opened the build's folder: /proc/self/cwd/... names another in it);
    None for an object store, or a folder that is not there."""
    if "://" in uri or not os.path.isabs(uri):
        return None
    try:
        found = os.stat(uri)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def open_for_worker(uri: str, identity: tuple[int, int] | None) -> AbstractStore:
    """Open the build's store in a worker: an error unless it exists and, for a folder, is
    the build's very folder."""
    from reporter.store import registry

    if folder_identity(uri) != identity:
        raise RuntimeError(f"{uri} is not the folder the build opened")
    store = registry.open_store(uri)
    store.require_existing()
    return store


def process_settings() -> dict[str, Any]:
    """What this process set up that opening a store depends on and a worker would not see:
    fsspec's configuration (`fsspec.config.conf`, if fsspec was imported)."""
    fsspec_config = sys.modules.get("fsspec.config")
    conf = getattr(fsspec_config, "conf", None)
    return {"fsspec": copy.deepcopy(dict(conf))} if isinstance(conf, dict) and conf else {}


def apply_settings(settings: dict[str, Any]) -> None:
    """Set up this worker as the build's process was (see process_settings)."""
    if settings.get("fsspec"):
        import fsspec.config

        fsspec.config.conf.clear()
        fsspec.config.conf.update(settings["fsspec"])


def start_worker(module: str) -> subprocess.Popen[bytes]:
    """Start `python -m module` of this interpreter, talking on its stdin and stdout (OSError
    when it cannot start)."""
    import subprocess

    if sys.is_finalizing() or not sys.executable:
        raise OSError("no interpreter to start a worker with")
    return subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=IMPORTED_FROM if os.path.isdir(IMPORTED_FROM) else os.sep,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    )


def start_workers(
    module: str,
    count: int,
    serve: Any,
    name: str,
    procs: list[subprocess.Popen[bytes]],
    threads: list[threading.Thread],
) -> None:
    """Start up to `count` workers of `module`, each talked to by a thread running
    `serve(n, proc)`; those that cannot start leave their share to the build."""
    for n in range(count):
        try:
            proc = start_worker(module)
        except OSError as exc:
            log.debug("%s %d could not start: %s", name, n, exc)
            return
        procs.append(proc)
        thread = threading.Thread(
            target=_greeted, args=(serve, n, proc, name), name=f"{name}-{n}", daemon=True
        )
        threads.append(thread)
        thread.start()


HELLO = ("hello", None, None)  # a worker's first message, before it is sent its job


def _greeted(serve: Any, n: int, proc: subprocess.Popen[bytes], name: str) -> None:
    """Wait for a worker's greeting, then talk to it (`serve`). A worker that says anything
    else first (a sitecustomize printing at start-up) is killed at once: it could be stuck
    writing into a full pipe while the build writes it a job it is not reading."""
    assert proc.stdout is not None
    try:
        said = recv(proc.stdout)
    except Exception as exc:
        said = exc
    if said != HELLO:
        log.debug("%s %d said %r first: stopped", name, n, said)
        proc.kill()
        return
    serve(n, proc)


def stop_workers(procs: list[subprocess.Popen[bytes]], threads: list[threading.Thread]) -> None:
    """Kill workers still running (first: a thread blocked reading one then sees the end of
    its pipe), wait for their threads and reap them."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for thread in threads:
        thread.join(timeout=30)
    for proc in procs:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


def worker_main(serve: Any) -> int:
    """Run a worker's loop on stdin and a copy of stdout (its stdout itself goes nowhere: a
    stray print must not break the protocol)."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    try:
        send(out, HELLO)
        return int(serve(sys.stdin.buffer, out))
    except (EOFError, BrokenPipeError):
        return 1  # the build stopped


# --- the build's side ------------------------------------------------------------------------
@dataclass
class ReadJob:
    """What a read worker reads: these batches of runs of one experiment of one store."""

    store_uri: str
    exp_id: str
    groups: list[list[str]]
    settings: dict[str, Any]  # process_settings() of the build
    identity: tuple[int, int] | None  # folder_identity() of the store in the build


class ReadPool:
    """An experiment's batches (`groups`) read by this process and `count` workers."""

    def __init__(
        self, store: AbstractStore, uri: str, exp_id: str, groups: list[list[str]], count: int
    ) -> None:
        self.store, self.exp_id, self.groups = store, exp_id, groups
        self.uri = uri  # what the workers open: this very store (loader.worker_uri)
        self.count = count
        self.lock = threading.Condition()
        self.next = 0  # the lowest batch no reader claimed
        self.owner: dict[int, int] = {}  # batch -> the worker reading it (-1: this process)
        self.results: dict[int, tuple[RunBatch, list[tuple[str, type[Warning]]]]] = {}
        self.lost: set[int] = set()  # claimed by a worker that stopped: read here
        self.failed: dict[int, BaseException] = {}  # the build's reader thread's error
        self.taken = 0  # batches the build took in
        self.stopped = False
        self.procs: list[subprocess.Popen[bytes]] = []
        self.threads: list[threading.Thread] = []

    def job(self) -> ReadJob:
        """Return what the workers are sent."""
        return ReadJob(
            self.uri, self.exp_id, self.groups, process_settings(), folder_identity(self.uri)
        )

    def claim(self, by: int) -> int | None:
        """Claim the lowest unclaimed batch for reader `by`, waiting while it is more than
        AHEAD batches per reader beyond the one being taken in; None when none is left."""
        with self.lock:
            while not self.stopped:
                while self.next in self.owner:
                    self.next += 1
                if self.next >= len(self.groups):
                    return None
                if self.next < self.taken + AHEAD * (self.count + 1):
                    self.owner[self.next] = by
                    return self.next
                self.lock.wait()
            return None

    def _put(self, batch: int, result: tuple[RunBatch, list[tuple[str, type[Warning]]]]) -> None:
        with self.lock:
            self.results[batch] = result
            self.lock.notify_all()

    def _read_here(self) -> None:
        """The build's reader thread: claims and reads batches until none is left (an error
        stops it, and is raised where the build takes that batch in, as a read there would)."""
        while (k := self.claim(-1)) is not None:
            try:
                self._put(k, (self.store.read_run_batch(self.exp_id, self.groups[k]), []))
            except BaseException as exc:
                with self.lock:
                    self.failed[k] = exc
                    self.lock.notify_all()
                return

    def _serve(self, n: int, proc: subprocess.Popen[bytes], job: ReadJob) -> None:
        """Talk to one worker: send the job, then answer each "next" with a claim."""
        assert proc.stdin is not None and proc.stdout is not None
        held: int | None = None
        try:
            send(proc.stdin, job)
            while True:
                kind, batch, body = recv(proc.stdout)
                if kind == "read" and not _of_batch(body[0], self.groups[batch]):
                    log.debug("read worker %d read other runs than batch %s's", n, batch)
                    return  # (a store other than the build's: its batch is read here)
                if kind == "read":
                    self._put(batch, body)
                elif kind == "failed":
                    log.debug("read worker %d failed on batch %s:\n%s", n, batch, body)
                    return
                held = self.claim(n)
                send(proc.stdin, held)
                if held is None:
                    return
        except Exception as exc:
            log.debug("read worker %d stopped: %s", n, exc)
        finally:
            with self.lock:
                if held is not None and held not in self.results:
                    self.lost.add(held)
                self.lock.notify_all()

    def batches(self) -> Iterator[RunBatch]:
        """Yield every batch in order (a worker's warnings raised again as it comes in)."""
        job = self.job()
        try:  # (workers started are stopped whatever stops the build, even while starting)
            start_workers(
                MODULE,
                self.count,
                lambda n, proc: self._serve(n, proc, job),
                "reporter-read",
                self.procs,
                self.threads,
            )
            here = threading.Thread(target=self._read_here, name="reporter-read-here", daemon=True)
            self.threads.append(here)
            here.start()
            for k in range(len(self.groups)):
                with self.lock:
                    self.lock.wait_for(
                        lambda k=k: (
                            k in self.results  # type: ignore[misc]
                            or k in self.lost
                            or k in self.failed
                            or (not here.is_alive() and k not in self.owner)
                        )
                    )
                    if k in self.failed:
                        raise self.failed[k]
                    result = self.results.pop(k, None)
                    self.lost.discard(k)
                if result is None:  # its reader stopped (or none claimed it): read here
                    result = (self.store.read_run_batch(self.exp_id, self.groups[k]), [])
                batch, said = result
                for message, category in said:
                    warnings.warn(message, category, stacklevel=2)
                with self.lock:
                    self.taken = k + 1
                    self.lock.notify_all()
                yield batch
        finally:
            with self.lock:
                self.stopped = True
                self.lock.notify_all()
            stop_workers(self.procs, self.threads)


def _of_batch(read: RunBatch, group: list[str]) -> bool:
    """Whether a worker's read holds the runs of its batch and no other (else it read another
    store than the build's, which reads that batch itself)."""
    import numpy as np

    runs = set(group)
    points = read.points  # (its runs: a file's whole dictionary; those with points count)
    counts = np.bincount(points.run, minlength=len(points.runs)) if len(points) else ()
    with_points = {r for r, n in zip(points.runs, counts, strict=False) if n}
    return set(read.frame["run_id"]) == runs and with_points <= runs


# --- the worker ------------------------------------------------------------------------------
def serve(inp: IO[bytes], out: IO[bytes]) -> int:
    """A read worker's loop: the job, then batches until the build has none left."""
    job: ReadJob = recv(inp)
    apply_settings(job.settings)
    store = open_for_worker(job.store_uri, job.identity)
    message: tuple[str, int | None, Any] = ("next", None, None)
    while True:
        send(out, message)
        batch: int | None = recv(inp)
        if batch is None:
            return 0
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                read = store.read_run_batch(job.exp_id, job.groups[batch])
            said = [(str(w.message), w.category) for w in caught]
            message = ("read", batch, (read, said))
        except Exception:
            send(out, ("failed", batch, traceback.format_exc()))
            return 1


if __name__ == "__main__":
    sys.exit(worker_main(serve))
