"""Group commit: no request is answered before its rows are written, and requests that
arrive during a flush share the next one."""

from __future__ import annotations

import threading

import pytest

from reporter.tracking_server.commit import GroupCommit


class Recorder:
    """A flush that records which rows were written by which flush; it can be held."""

    def __init__(self) -> None:
        self.queued: list[int] = []
        self.written: list[list[int]] = []
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail = False

    def queue(self, row: int) -> None:
        with self.lock:
            self.queued.append(row)

    def flush(self) -> None:
        with self.lock:  # a store takes its buffered rows first, then writes them
            rows, self.queued = self.queued, []
        self.entered.set()
        self.hold.wait()
        if self.fail:
            with self.lock:  # kept for the next flush, as the store keeps them
                self.queued[:0] = rows
            raise OSError("disk full")
        self.written.append(rows)


def test_requests_during_a_flush_share_the_next_one():
    rec = Recorder()
    commit = GroupCommit(rec.flush)
    commit.start()
    try:
        rec.hold.clear()
        rec.queue(0)
        first = commit.request()
        assert rec.entered.wait(10)  # the first flush is under way, held
        later = []
        for row in range(1, 11):
            rec.queue(row)
            later.append(commit.request())
        assert not first.done() and not any(f.done() for f in later)
        rec.hold.set()
        first.result(10)
        for future in later:
            future.result(10)
        # one flush for the first request, one for the ten that came while it ran
        assert commit.commits == 2
        assert sorted(row for rows in rec.written for row in rows) == list(range(11))
        assert rec.written == [[0], list(range(1, 11))]
    finally:
        commit.stop()


def test_a_request_is_answered_only_after_a_flush_that_began_after_it():
    rec = Recorder()
    commit = GroupCommit(rec.flush)
    commit.start()
    try:
        for row in range(200):
            rec.queue(row)
            commit.request().result(10)
            # answered: its row is in something written
            assert row in {r for rows in rec.written for r in rows}
    finally:
        commit.stop()


def test_a_failed_flush_is_the_error_of_every_request_in_its_group():
    rec = Recorder()
    rec.fail = True
    commit = GroupCommit(rec.flush)
    commit.start()
    try:
        rec.queue(1)
        with pytest.raises(OSError, match="disk full"):
            commit.request().result(10)
        rec.fail = False
        commit.request().result(10)  # the next flush writes what the failed one kept
        assert rec.written == [[1]]
    finally:
        commit.stop()


def test_stop_answers_the_waiting_requests_and_refuses_new_ones():
    rec = Recorder()
    commit = GroupCommit(rec.flush)
    commit.start()
    rec.hold.clear()
    rec.queue(1)
    waiting = commit.request()
    assert rec.entered.wait(10)
    stopper = threading.Thread(target=commit.stop)
    stopper.start()
    rec.hold.set()
    stopper.join(10)
    assert waiting.result(10) is None
    with pytest.raises(RuntimeError, match="stopping"):
        commit.request()
