"""One tracking server per test module, with small body limits so limit tests stay fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tracker_server import Server, running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    args = ("--no-site", "--max-body-mb", "0.05", "--max-artifact-mb", "0.2")
    with running(root / "store", root, args) as srv:
        yield srv
