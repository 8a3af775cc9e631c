"""A points reader that fails in a page worker (imported there when the job is unpickled):
for the tests of a worker that raises or dies mid-build (tests/site/test_page_workers.py)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporter.view.loader import PointsReader

_reads = 0  # reads made in this process


@dataclass
class FailingReader(PointsReader):
    """Reads as PointsReader does, then at its `fail_on`-th read in this process raises
    ("raise") or kills its own process ("kill"), after touching `marker`."""

    fail_on: int = 2
    how: str = "raise"
    marker: str = ""

    def read(self, store: Any, config: Any, rules: Any, ids: list[str]) -> Any:
        global _reads
        _reads += 1
        if _reads == self.fail_on:
            Path(self.marker).write_text(f"{self.how} in {os.getpid()}\n")
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("a page worker's read failed on purpose")
        return super().read(store, config, rules, ids)


@dataclass
class HeldReader(PointsReader):
    """A slow page worker: its first read in this process waits until `release` exists."""

    release: str = ""

    def read(self, store: Any, config: Any, rules: Any, ids: list[str]) -> Any:
        global _reads
        _reads += 1
        deadline = time.monotonic() + 120  # (the test that holds it releases it)
        while _reads == 1 and not os.path.exists(self.release) and time.monotonic() < deadline:
            time.sleep(0.01)
        return super().read(store, config, rules, ids)


@dataclass
class RefusingReader(PointsReader):
    """Refuses to read any batch: RuntimeError naming the batch's least run id."""

    def read(self, store: Any, config: Any, rules: Any, ids: list[str]) -> Any:
        raise RuntimeError(f"the batch of {min(ids)} refused")


class _DiesPublishing:
    """`os` for reporter.site.render, but for `replace`, which kills the process (a file's
    temporary copy written, not yet published)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def replace(self, src: Any, dst: Any) -> None:
        Path(self.marker).write_text(f"killed publishing {dst} in {os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class DyingWriter(PointsReader):
    """Reads as PointsReader does; from its `fail_on`-th read in this process on, the process
    dies while publishing the next file it writes (its temporary file left behind)."""

    fail_on: int = 2
    marker: str = ""

    def read(self, store: Any, config: Any, rules: Any, ids: list[str]) -> Any:
        global _reads
        _reads += 1
        if _reads == self.fail_on:
            from reporter.site import render

            setattr(render, "os", _DiesPublishing(self.marker))  # noqa: B010 - its module's os
        return super().read(store, config, rules, ids)


_items = 0  # batches a read worker looked up in this process


class DyingList(list):  # type: ignore[type-arg]
    """A read job's batches that stop the read worker at its `fail_on`-th batch (raise or
    kill, after touching `marker`): set as attributes after construction."""

    fail_on = 2
    how = "raise"
    marker = ""

    def __getitem__(self, index: Any) -> Any:
        global _items
        _items += 1
        if _items == self.fail_on:
            Path(self.marker).write_text(f"{self.how} in {os.getpid()}\n")
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("a read worker failed on purpose")
        return super().__getitem__(index)

    def __reduce__(self) -> Any:
        return (_dying, (list(self), self.fail_on, self.how, self.marker))


def _dying(items: list[Any], fail_on: int, how: str, marker: str) -> DyingList:
    out = DyingList(items)
    out.fail_on, out.how, out.marker = fail_on, how, marker
    return out
