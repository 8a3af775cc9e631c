"""A points reader that fails in a page worker (imported there when the job is unpickled):
for the tests of a worker that raises or dies mid-build (tests/site/test_page_workers.py)."""

from __future__ import annotations

import os
import signal
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
