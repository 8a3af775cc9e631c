"""No traceback for any user input: each mistake below gets a message that says what failed and
what is valid, exit 1 for errors and 2 for usage errors, and nothing stored is lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import reporter
from tests.cli import CliResult, run_cli


def cli(*args: str, cwd: Path) -> CliResult:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def logged(store_uri: str) -> str:
    reporter.set_experiment("e")
    with reporter.start_run():
        reporter.log_metric("x", 1.0)
    return store_uri


def test_a_thousand_nested_parentheses(logged, tmp_path):
    deep = "(" * 1000 + "metrics.x > 0" + ")" * 1000
    proc = cli("summary", "--store", logged, "--fail-if", deep, cwd=tmp_path)
    assert proc.returncode in (1, 2) and "nested more than 100 deep" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(reporter.InvalidArgumentError, match="nested more than 100 deep"):
        reporter.search_runs(filter_string=deep)


def test_config_files_that_are_binary_missing_or_not_files(logged, tmp_path):
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)) * 4)
    proc = cli("build", "--store", logged, "--config", "binary.toml", cwd=tmp_path)
    assert proc.returncode == 1 and "not UTF-8 text" in proc.stderr
    missing = cli("build", "--store", logged, "--config", "missing.toml", cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr  # a usage error
    empty = cli("build", "--store", logged, "--config", os.devnull, "--out", "site", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr  # an empty config is a valid one
    for done in (proc, missing, empty):
        assert "Traceback" not in done.stderr


def test_artifact_names_with_nul_and_artifacts_that_are_not_files(logged, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with reporter.start_run():
        with pytest.raises(reporter.InvalidArgumentError, match="NUL character"):
            reporter.log_text("x", "a\x00b.txt")
        with pytest.raises(reporter.InvalidArgumentError, match="not a regular file"):
            reporter.log_artifact(str(fifo))  # must not hang reading it either
        with pytest.raises(reporter.NotFoundError, match="no such file"):
            reporter.log_artifact(str(tmp_path / "absent.txt"))
        reporter.log_text("kept", "ok.txt")
    client = reporter.Client(logged)
    last = reporter.last_active_run()
    assert last is not None
    run_id = last.info.run_id
    assert "ok.txt" in [a.path for a in client.list_artifacts(run_id)]
