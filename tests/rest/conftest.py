"""One real `mlflow server` for the REST store tests (SQLite backend, proxied artifacts).

It is started once per session from `.bench/mlflow-venv` (`make mlflow` builds it) and waited
on until `/health` answers; without the venv the tests skip (under CI=true they fail).
`fresh_server` empties it (every experiment but Default, every run, model and file) for the
tests that need a new, empty store, as the store contract suite does.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mlflow_server import running_server

# the tables of MLflow's SQLite backend that hold experiments, runs and logged models
DATA_TABLES = (
    "latest_metrics", "metrics", "params", "tags", "input_tags", "inputs", "datasets",
    "logged_model_metrics", "logged_model_params", "logged_model_tags", "logged_models",
    "entity_associations", "runs", "experiment_tags",
)  # fmt: skip


@dataclass(frozen=True)
class Server:
    """A running mlflow server: its URL, database and artifact folder."""

    url: str
    db: Path
    artifacts: Path

    def wipe(self) -> None:
        """Delete every experiment but Default, every run, logged model and file."""
        with sqlite3.connect(self.db) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            for table in DATA_TABLES:
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM experiments WHERE experiment_id != 0")
        for child in self.artifacts.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    artifacts.mkdir()
    db = root / "db.sqlite"
    with running_server(root, f"sqlite:///{db}", artifacts) as url:
        yield Server(url, db, artifacts)


@pytest.fixture
def fresh_server(mlflow_server: Server) -> Server:
    """The session's server, emptied: a new store for this test."""
    mlflow_server.wipe()
    return mlflow_server
