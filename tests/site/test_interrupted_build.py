"""A first build into a new --out that is killed (SIGKILL, Ctrl-C, SIGTERM) midway leaves a
folder the next build accepts and finishes, with no temporary file left in the site."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import reporter as mlflow
from tests.conftest import CLI_CODE, PYTHON, as_in_a_terminal, python_env


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Enough runs and artifacts that a build takes a moment."""
    uri = str(tmp_path_factory.mktemp("interrupt") / "store")
    client = mlflow.Client(uri)
    exp = client.create_experiment("slow enough")
    for i in range(30):
        rid = client.create_run(exp, run_name=f"r{i}").info.run_id
        client.log_param(rid, "i", i)
        for step in range(200):
            client.log_metric(rid, "loss", 1 / (step + 1) + i, step=step)
        client.log_image(rid, np.full((16, 16, 3), i, dtype=np.uint8), f"plots/{i}.png")
        client.set_terminated(rid)
    return uri


def build(store: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "build",
            "--store",
            store,
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
        preexec_fn=as_in_a_terminal,
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_killed_first_build_is_finished_by_the_next(store, tmp_path, sig):
    out = tmp_path / "site"
    proc = build(store, out)
    deadline = time.monotonic() + 120
    # kill it once it has written something, before it is done
    while proc.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and sum(1 for p in out.rglob("*") if p.is_file()) > 3:
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        pytest.skip("the build finished before it could be interrupted")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    again = build(store, out)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert (out / "index.html").is_file()
    assert not [p for p in out.rglob(".tmp-*")]
    runs = [p for p in (out / "runs").iterdir() if (p / "index.html").is_file()]
    assert len(runs) == 30
