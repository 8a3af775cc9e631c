"""Shared fixtures: every test gets its own store and a clean fluent state."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reporter
from reporter import fluent, tracking_uri

REPO = Path(__file__).resolve().parent.parent


def _reset_fluent() -> None:
    """End runs left active by a test and forget the chosen experiment and URI."""
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent._all_active.clear()
    fluent._experiment_id = None
    fluent._last_run_id = None
    tracking_uri._uri = None


@pytest.fixture(autouse=True)
def store_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the tracking API at a fresh store folder for this test."""
    _reset_fluent()
    uri = str(tmp_path / "store")
    monkeypatch.setenv("TRACKER_TRACKING_URI", uri)
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", os.environ.get("TRACKER_LOG_ENVIRONMENT", "1"))
    yield uri
    _reset_fluent()


@pytest.fixture
def client(store_uri: str) -> reporter.Client:
    """A client on the test's store."""
    return reporter.Client(store_uri)


def python_env(**extra: str) -> dict[str, str]:
    """Return an environment for a child Python that imports this checkout's reporter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


PYTHON = sys.executable
