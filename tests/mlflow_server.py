"""Real MLflow, from its own venv (.bench/mlflow-venv, `make mlflow`): a tracking server on
127.0.0.1 for the import tests. Without the venv those tests skip; under CI=true they fail."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

VENV = REPO / ".bench" / "mlflow-venv"
MLFLOW = VENV / "bin" / "mlflow"
VENV_PYTHON = VENV / "bin" / "python"


def require_mlflow() -> None:
    """Skip (or fail under CI=true) when MLflow's venv is missing."""
    if not MLFLOW.exists():
        message = f"no MLflow venv at {VENV} (`make mlflow` creates it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def mlflow_env(**extra: str) -> dict[str, str]:
    """Return an environment for MLflow's processes: no inherited MLFLOW_*, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", **extra)
    env.pop("PYTHONPATH", None)
    return env


def mlflow_json(code: str) -> Any:
    """Run Python code in MLflow's venv and return the JSON it prints (skip without MLflow)."""
    require_mlflow()
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", textwrap.dedent(code)],
        env=mlflow_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


_GIVEN: set[int] = set()  # ports free_port handed out in this process


def _below_ephemeral() -> range:
    """The ports below the kernel's ephemeral range (where bind(0) and outgoing connections
    take theirs), from 10000; empty if the range starts too low to leave room."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return range(0)
    return range(10000, low) if low - 10000 >= 2000 else range(0)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on, for a server started next.

    A server binds its port a second or more after it was chosen; a port bind(0) gave could be
    handed out again meanwhile (to the next server of a batch, or as an outgoing connection's
    local port). So the port is drawn below the kernel's ephemeral range where that range
    leaves room, and never twice in a process."""
    import random

    pool = _below_ephemeral()
    for _ in range(2000):
        if pool:
            port = random.choice(pool)
        else:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = int(probe.getsockname()[1])
        if port in _GIVEN:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue  # taken, or in TIME_WAIT
        _GIVEN.add(port)
        return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90, what: str = "server"
) -> None:
    """Return once GET /health answers 200; fail with the log if the process exits or the
    deadline passes (a condition waited on, no fixed sleep)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the {what} exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the {what} did not answer /health in {seconds:g} s:\n{log.read_text()[-4000:]}")


@contextmanager
def running_server(root: Path, backend: str, artifacts: Path) -> Iterator[str]:
    """Run `mlflow server` on 127.0.0.1 (SQLite backend, proxied artifacts); yield its URL."""
    require_mlflow()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / f"server-{port}.log"
    command = [
        str(MLFLOW), "server", "--backend-store-uri", backend,
        "--serve-artifacts", "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env=mlflow_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),  # no job runners
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(url, proc, log_path, what="mlflow server")
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
