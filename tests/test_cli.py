"""The tracker-report command: exit codes and messages (in process; --help and --version also
through the real entry point in a subprocess)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import reporter as mlflow
from tests.cli import CliResult, run_cli
from tests.conftest import CLI_CODE, PYTHON, python_env


def cli(*args: str) -> CliResult:
    """Run `tracker-report ARGS` in this process."""
    return run_cli(*args)


def cli_process(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `tracker-report ARGS` with this checkout's package in a child process."""
    return subprocess.run(
        [PYTHON, "-c", CLI_CODE, *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_and_version():
    out = cli_process("--help")
    assert out.returncode == 0 and "compact" in out.stdout
    assert cli_process("--version").stdout.strip().endswith("0.1.0")
    assert cli("--version").stdout.strip().endswith("0.1.0")


def test_compact_merges_and_reports(store_uri):
    mlflow.set_experiment("cli")
    for _ in range(3):
        with mlflow.start_run():
            mlflow.log_metric("m", 1)
    out = cli("compact", "--store", store_uri, "--experiment", "cli")
    assert out.returncode == 0, out.stderr
    assert "Compacted 6 part files in 1 experiments" in out.stdout  # 3 runs of 2 parts
    assert not list(Path(store_uri).rglob("_parts/*.parquet"))


def test_missing_store_is_exit_1_with_a_clear_message(tmp_path):
    out = cli("compact", "--store", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert "No tracker-report store at" in out.stderr and "Traceback" not in out.stderr


def test_unknown_experiment_is_exit_1(store_uri):
    with mlflow.start_run():
        pass
    out = cli("compact", "--store", store_uri, "--experiment", "nope")
    assert out.returncode == 1 and "No experiment 'nope' in" in out.stderr
    assert "available: 'Default'" in out.stderr  # one resolver: it lists what is valid
    assert "Traceback" not in out.stderr


def test_usage_error_is_exit_2():
    out = cli("compact", "--bogus")
    assert out.returncode == 2 and "No such option" in out.stderr
    assert cli("nosuchcommand").returncode == 2
