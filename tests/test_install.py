"""What users install: the sdist and wheel built by `python -m build`, installed into a clean venv
outside the checkout, run from a folder that is not the checkout (so nothing can be imported
from the source tree by accident)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command with an environment that knows nothing of the checkout; fail loudly."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TRACKER_"))}
    clean.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and, from it, the wheel (as `python -m build` does) from a copy of the
    tracked files, so nothing untracked in the checkout can slip into the packages."""
    root = tmp_path_factory.mktemp("dist")
    source = root / "source"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "build", "--outdir", root / "out", source], cwd=root)
    return root / "out"


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the built wheel installed; returns its bin/."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    (wheel,) = dist.glob("*.whl")
    run([bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[sklearn]"], cwd=env_dir)
    return bin_dir


def test_sdist_and_wheel_hold_every_module_and_the_themes(dist: Path):
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        str(p.relative_to(REPO))
        for p in (REPO / "reporter").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    themes = {
        "reporter/" + str(p.relative_to(REPO))
        for p in (REPO / "themes").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert themes <= names, f"theme files missing from the wheel: {sorted(themes - names)}"
    assert "reporter/py.typed" in names
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.stat().st_size > 0


def test_the_installed_cli_runs_the_quickstart_and_builds_from_outside_the_checkout(
    installed: Path, tmp_path: Path
):
    work = tmp_path / "work"
    work.mkdir()
    where = run([installed / "python", "-c", "import reporter; print(reporter.__file__)"], work)
    assert not Path(where.stdout.strip()).is_relative_to(REPO)  # the installed copy, not ours
    assert "Usage: tracker-report" in run([installed / "tracker-report", "--help"], work).stdout
    for command in (
        "build",
        "compact",
        "import mlflow",
        "summary",
        "sync",
        "serve",
        "server",
        "runs",
    ):
        run([installed / "tracker-report", *command.split(), "--help"], work)
    shutil.copy(REPO / "examples" / "quickstart.py", work / "quickstart.py")
    run([installed / "python", "quickstart.py"], work, TRACKER_LOG_ENVIRONMENT="0")
    run([installed / "tracker-report", "build", "--store", "tracker-store", "--out", "site"], work)
    pages = {p.relative_to(work / "site").as_posix() for p in (work / "site").rglob("*.html")}
    assert "index.html" in pages and any(p.startswith("runs/") for p in pages)
    assert {"models/index.html", "models/diabetes-forest.html"} <= pages  # the registry's
    assert (work / "site" / "static" / "vendor" / "vega.min.js").is_file()


def test_the_installed_server_takes_runs_from_the_installed_http_client(
    installed: Path, tmp_path: Path
):
    from tests.mlflow_server import free_port, wait_healthy

    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    log = work / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [installed / "tracker-report", "server", "--store", "team-store", "--port", str(port)],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, log)
        script = (
            "import reporter as mlflow\n"
            f"mlflow.set_tracking_uri('http://127.0.0.1:{port}')\n"
            "mlflow.set_experiment('wheel')\n"
            "with mlflow.start_run(run_name='over-http'):\n"
            "    mlflow.log_param('lr', '0.1')\n"
            "    mlflow.log_metric('loss', 0.5, step=2)\n"
            "    mlflow.log_text('hi', 'notes.txt')\n"
        )
        run([installed / "python", "-c", script], work, TRACKER_LOG_ENVIRONMENT="0")
        check = (
            "from reporter.tracking.client import Client\n"
            "c = Client(tracking_uri='team-store')\n"
            "(r,) = c.search_runs([c.get_experiment_by_name('wheel').experiment_id])\n"
            "print(r.info.run_name, r.data.params['lr'], r.data.metrics['loss'], "
            "sorted(p for p, _ in c.store.list_artifacts(r.info.run_id)))\n"
        )
        seen = run([installed / "python", "-c", check], work).stdout.strip()
        assert seen == "over-http 0.1 0.5 ['notes.txt']"
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert server.returncode == 0, log.read_text()[-3000:]
