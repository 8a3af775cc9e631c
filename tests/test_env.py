"""Every TRACKER_* setting is read in one module, and a bad value is a clear error."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import reporter
from reporter.core import env
from reporter.core.errors import InvalidArgumentError
from tests.conftest import CLI_CODE, PYTHON, REPO, python_env

BAD_VALUES = {
    "TRACKER_FLUSH_INTERVAL": ["abc", "0", "-1", "nan", "inf"],
    "TRACKER_HEARTBEAT_INTERVAL": ["x", "0"],
    "TRACKER_HEARTBEAT_TIMEOUT": ["soon", "-5"],
    "TRACKER_AUTO_COMPACT": ["1.5", "-1", "many"],
    "TRACKER_LOG_ENVIRONMENT": ["maybe", "2"],
}


def test_only_the_env_module_reads_the_environment() -> None:
    readers = []
    for path in sorted((REPO / "reporter").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name != "env.py" and re.search(r"os\.environ|getenv", text):
            lines = [line for line in text.splitlines() if "environ" in line or "getenv" in line]
            if any("TRACKER_" in line or "environ.get(" in line for line in lines):
                readers.append((path.relative_to(REPO).as_posix(), lines))
    # MLflow's own variables (the REST import source) and SOURCE_DATE_EPOCH are not ours
    ours = [
        (p, ls) for p, ls in readers if not all("MLFLOW_" in x or "SOURCE_DATE" in x for x in ls)
    ]
    assert ours == []


def test_every_setting_has_a_valid_default() -> None:
    for setting in env.SETTINGS:
        assert setting.name.startswith("TRACKER_") and setting.help and setting.valid
        if setting.default is not None:
            setting.parse(setting.default)


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BAD_VALUES.items() for v in values]
)
def test_a_bad_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, store_uri: str, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidArgumentError, match=f"{name}={value!r} is not valid"):
        env.check_all()
    with pytest.raises(InvalidArgumentError, match=name):  # where a store is opened
        reporter.Client(store_uri).create_experiment("e")


def test_values_parse_and_empty_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.25")
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "Off")
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", " ")
    assert env.flush_interval() == 0.25 and env.auto_compact_parts() == 0
    assert env.log_environment() is False and env.heartbeat_timeout() == 60.0


def test_the_cli_reports_a_bad_setting_without_a_traceback(store_uri: str, tmp_path: Path) -> None:
    reporter.Client(store_uri).create_experiment("e")
    proc = subprocess.run(
        [PYTHON, "-c", CLI_CODE, "compact", "--store", store_uri],
        capture_output=True,
        text=True,
        env=python_env(TRACKER_HEARTBEAT_TIMEOUT="soon"),
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "TRACKER_HEARTBEAT_TIMEOUT='soon' is not valid" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mlflows_tracking_uri_variable_is_honoured_after_ours(monkeypatch, tmp_path):
    import reporter

    theirs, ours = str(tmp_path / "mlflow-named"), str(tmp_path / "ours")
    monkeypatch.delenv("TRACKER_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", theirs)
    assert reporter.get_tracking_uri() == theirs
    monkeypatch.setenv("TRACKER_TRACKING_URI", ours)
    assert reporter.get_tracking_uri() == ours
