"""`tracker-report serve`: builds, serves on 127.0.0.1 (an ephemeral port here), rebuilds when
the store changes, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import reporter as mlflow
from tests.conftest import CLI_CODE, PYTHON, as_in_a_terminal, python_env


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_builds_serves_rebuilds_and_stops(store_uri: str, tmp_path: Path, stop_signal):
    mlflow.set_experiment("served")
    with mlflow.start_run(run_name="first"):
        mlflow.log_metric("rmse", 1.0)
    proc = subprocess.Popen(
        [
            PYTHON,
            "-X",
            "faulthandler",
            "-c",
            CLI_CODE,
            "serve",
            "--store",
            store_uri,
            "--out",
            str(tmp_path / "site"),
            "--port",
            "0",
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
        cwd=tmp_path,
        preexec_fn=as_in_a_terminal,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(r"Serving (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)", line)
        assert match, line
        base = match.group(1)
        assert "served" in fetch(base + "index.html")
        page = fetch(base + "experiments/served/index.html")
        assert "first" in page and "second" not in page
        with mlflow.start_run(run_name="second"):
            mlflow.log_metric("rmse", 0.5)
        deadline = time.monotonic() + 30
        while "second" not in fetch(base + "experiments/served/index.html"):
            assert time.monotonic() < deadline, "the site was not rebuilt"
            time.sleep(0.2)
        proc.send_signal(stop_signal)
        try:
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:  # show where it hangs: faulthandler dumps the stacks
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"serve did not stop on Ctrl-C:\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0, err
    assert out.strip().endswith("Stopped.")
    assert "Traceback" not in err and "Rebuilt:" in err


def test_serve_reports_a_busy_port(store_uri: str, tmp_path: Path):
    import socket

    mlflow.set_experiment("served")
    with mlflow.start_run():
        mlflow.log_metric("rmse", 1.0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                PYTHON,
                "-c",
                CLI_CODE,
                "serve",
                "--store",
                store_uri,
                "--out",
                str(tmp_path / "site"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            env=python_env(),
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_rebuild_is_reported_once_until_it_is_fixed(store_uri, tmp_path):
    import threading

    from reporter.site.watch import watch
    from reporter.view.config import BuildConfig

    mlflow.set_experiment("served")
    with mlflow.start_run():
        mlflow.log_metric("rmse", 1.0)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "bad.md").write_text('{{< chart experiment="no such" metric="rmse" >}}\n')
    config = BuildConfig(store=store_uri, out=str(tmp_path / "site"), reports=str(reports))
    stop = threading.Event()
    said: list[str] = []
    watcher = threading.Thread(target=watch, args=(config, stop, 0.02, said.append))
    watcher.start()
    deadline = time.monotonic() + 3  # many rebuild attempts, all failing the same way
    while time.monotonic() < deadline:
        time.sleep(0.05)
    (reports / "bad.md").write_text("# fixed\n")
    deadline = time.monotonic() + 60
    while not (tmp_path / "site" / "index.html").exists():
        assert time.monotonic() < deadline, "the fixed report was never built"
        time.sleep(0.05)
    stop.set()
    watcher.join()
    assert sum(line.startswith("Rebuild failed") for line in said) == 1, said
    assert "Rebuilt after the failure above was fixed." in said
