"""The store's one wall clock: liveness and compaction read it, so tests can set it.

Whether a RUNNING run's process is dead is a question of time (no heartbeat within the timeout).
Reading time here, and only here, lets a test move the reader's clock past the timeout instead of
sleeping through it.
"""

from __future__ import annotations

import time


def now_ms() -> float:
    """Return the wall clock in milliseconds."""
    return time.time() * 1000
