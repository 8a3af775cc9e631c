"""MLflow's own client against our server: each script in tests/compat/scripts runs under real
MLflow 3, unchanged, with MLFLOW_TRACKING_URI pointing at `tracker-report server` (one server
and a fresh store folder per script). What it logged must read back as it does from MLflow's
own SQLite store (the reference dump of tests/test_compat_mlflow.py), twice over:

* through MLflow's client, over http (our REST and proxied artifact APIs);
* through ours: reporter's MlflowClient reading the server's store folder directly.

Both are compared with the same ACCEPTED table as test_compat_mlflow.py; SERVER_ACCEPTED adds
only what the server itself makes differ, each with its reason. The servers' access logs are
checked too: every request MLflow's client made is answered, with an error only where
MLflow's own server answers one, or for the one endpoint ours does not serve (KNOWN_ERRORS).

Without MLflow's venv (`make mlflow`) the comparisons skip; under CI=true they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.compat.compare import Difference, differences, load_dump, matches, report
from tests.mlflow_server import VENV_PYTHON, free_port, mlflow_env, require_mlflow, wait_healthy
from tests.test_compat_mlflow import RUNNER, SCRIPTS, TIMEOUT, _work_root, accepted
from tests.tracker_server import TRACKER, Server

LOG = "server.log"

# Scripts MLflow's client cannot run against any tracking server, with what it raises (checked,
# so the entry goes when MLflow fixes it) and why; they are compared under test_compat_mlflow.
CLIENT_CANNOT: dict[str, tuple[str, str]] = {
    "start_tags": (
        "in to_proto\n    param.value = self.value\n",
        "start_run(tags={'attempt': 2}): MLflow's REST store puts each tag in a protobuf string "
        "field before it sends anything (RunTag.to_proto raises TypeError); only its SQL and "
        "file stores turn the value into text",
    )
}


def _unset_model_type(mlflow: object, ours: object) -> bool:
    return mlflow is None and ours == ""


def _no_registry_file(mlflow: object, ours: object) -> bool:
    """MLflow's model files less registered_model_meta are ours."""
    meta = "registered_model_meta"
    return isinstance(mlflow, list) and meta in mlflow and [f for f in mlflow if f != meta] == ours


# Differences a server makes, on top of test_compat_mlflow.py's ACCEPTED, in the same form; each
# was checked against MLflow's own server (`mlflow server`, SQLite, proxied artifacts), which
# makes the same difference.
SERVER_ACCEPTED: list[tuple[tuple[str, ...], str, Callable[[object, object], bool] | None]] = [
    (
        ("models", "*", "model_type"),
        'MLflow\'s REST client reads a model_type never set as "" (LoggedModel.from_proto '
        "takes the protobuf default; from SQLite it is None)",
        _unset_model_type,
    ),
    (
        ("models", "*", "files"),
        "load_model('models:/...') writes registered_model_meta into the model folder it "
        "downloads; from a local store that folder is the store's own, from a server a copy",
        _no_registry_file,
    ),
]

# Requests that get an error answer, as MLflow's own server answers them (method, status, path).
KNOWN_ERRORS: list[tuple[str, str, str, str]] = [
    (
        "GET",
        "404",
        r"/api/2\.0/mlflow/experiments/get-by-name\?experiment_name=.*",
        "set_experiment asks for the experiment before it creates it",
    ),
    (
        "POST",
        "400",
        r"/api/2\.0/mlflow/runs/search",
        "sweep.py searches `metrics.rmse < 'low'`, which both refuse",
    ),
    (
        "GET",
        "404",
        r"/api/2\.0/mlflow-artifacts/artifacts/\d+/[0-9a-f]{32}/artifacts/classifier",
        "load_model('runs:/<run>/classifier') first looks for the model among the run's own "
        "artifacts (MLflow 3 keeps it with the logged model)",
    ),
]
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def _selected(session: pytest.Session) -> list[Path]:
    """Return the scripts whose tests were selected (`-k` may pick a few)."""
    wanted = {
        item.callspec.params["script"]
        for item in session.items
        if isinstance(item, pytest.Function) and hasattr(item, "callspec")
        if item.module is sys.modules[__name__] and "script" in item.callspec.params
    }
    return [s for s in SCRIPTS if s.stem in wanted]


def _runner(library: str, work: Path, args: list[str]) -> subprocess.Popen[bytes]:
    """Start run.py under one library (MLflow's venv or ours) with a work folder."""
    work.mkdir()
    if library == "mlflow":
        python, env = str(VENV_PYTHON), mlflow_env(PYTHONHASHSEED="0")
    else:
        python = sys.executable
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
        env["PYTHONHASHSEED"] = "0"
    return subprocess.Popen(
        [python, str(RUNNER), "--library", library, "--work", str(work), *args],
        env=env,
        cwd=work.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its forked children are killed with it
    )


def _finish(name: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait for a runner; fail if it broke (1 only says some script failed: its test says so)."""
    output, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode in (0, 1), f"{name} runner: {output.decode()[-3000:]}"


def _start_servers(stack: contextlib.ExitStack, root: Path, scripts: list[Path]) -> list[Server]:
    """Start a server per script, each on a fresh store folder, all at once (one by one
    would wait for each to answer /health); stop them all (SIGTERM) when the stack closes."""
    servers = []
    for script in scripts:
        home = root / "servers" / script.stem
        home.mkdir(parents=True)
        port = free_port()
        command = [str(TRACKER), "server", "--store", str(home / "store"), "--port", str(port)]
        with open(home / LOG, "wb") as log:
            proc = subprocess.Popen(
                [*command, "--no-site", "--access-log"],
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        servers.append(Server(f"http://127.0.0.1:{port}", proc, home / LOG))
    stack.callback(_stop, servers)
    for server in servers:
        wait_healthy(server.url, server.proc, server.log)
    return servers


def _stop(servers: list[Server]) -> None:
    """Ask every server to stop, then wait for each: all stop at once."""
    for server in servers:
        server.terminate()
    codes = [server.stop() for server in servers]  # every one waited for before any assert
    for server, code in zip(servers, codes):
        assert code == 0, server.log_text()[-3000:]  # a graceful stop exits 0


@pytest.fixture(scope="module")
def dumps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Run the selected scripts under MLflow (SQLite) and under MLflow against our servers at
    once, stop the servers, dump their stores through reporter; yield the folder holding
    mlflow/, server/ and ours/ (a dump per script) and servers/<script>/ (store and log)."""
    require_mlflow()
    root = _work_root(tmp_path_factory)
    scripts = _selected(request.session)
    paths = [str(s) for s in scripts]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["mlflow"] = _runner("mlflow", root / "mlflow", paths)
        with contextlib.ExitStack() as stack:
            servers = _start_servers(stack, root, scripts)
            at = [f"--store={s.stem}={server.url}" for s, server in zip(scripts, servers)]
            procs["server"] = _runner("mlflow", root / "server", [*at, *paths])
            _finish("server", procs["server"])
        # the servers stopped: everything they accepted is written
        stores = [f"--store={s.stem}={root / 'servers' / s.stem / 'store'}" for s in scripts]
        saved = f"--dump-only={root / 'server'}"
        procs["ours"] = _runner("reporter", root / "ours", [saved, *stores, *paths])
        for name in ("mlflow", "ours"):
            _finish(name, procs[name])
        yield root
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def _server_made(difference: Difference) -> bool:
    """Whether a difference is one SERVER_ACCEPTED accepts."""
    return any(
        matches(difference.path, pattern)
        and (when is None or when(difference.mlflow, difference.ours))
        for pattern, _, when in SERVER_ACCEPTED
    )


def _client_cannot(root: Path, script: str) -> None:
    """For a script MLflow's client cannot run over http: check it fails as known; xfail."""
    raised, why = CLIENT_CANNOT[script]
    error = root / "server" / script / "error.txt"
    assert error.exists() and raised in error.read_text(), (
        f"{script} no longer fails with {raised!r} against a server: remove it from "
        f"CLIENT_CANNOT\n{error.read_text() if error.exists() else ''}"
    )
    pytest.xfail(why)


def _compare(root: Path, mode: str, script: str) -> None:
    """Fail with every unaccepted difference between MLflow's dump and this mode's."""
    if script in CLIENT_CANNOT:
        _client_cannot(root, script)
    mlflow = load_dump(root, "mlflow", script)
    ours = load_dump(root, mode, script)
    assert mlflow["runs"], f"{script} logged no run under MLflow: nothing was compared"
    found = [d for d in differences(mlflow, ours) if not accepted(d) and not _server_made(d)]
    assert not found, report(f"{script} ({mode})", found)


@pytest.mark.parametrize("script", [s.stem for s in SCRIPTS])
def test_mlflow_client_over_our_server_reads_back_as_mlflow(dumps: Path, script: str) -> None:
    _compare(dumps, "server", script)


@pytest.mark.parametrize("script", [s.stem for s in SCRIPTS])
def test_what_our_server_stored_reads_back_through_ours(dumps: Path, script: str) -> None:
    _compare(dumps, "ours", script)


@pytest.mark.parametrize("script", [s.stem for s in SCRIPTS])
def test_our_server_answered_every_request(dumps: Path, script: str) -> None:
    text = (dumps / "servers" / script / LOG).read_text(errors="replace")
    requests = [m.groupdict() for m in _REQUEST.finditer(text)]
    assert requests, f"no request in {script}'s server log:\n{text[-3000:]}"
    unexpected = [
        f"{r['method']} {r['path']} -> {r['status']}"
        for r in requests
        if r["status"] >= "400"
        and not any(
            (r["method"], r["status"]) == (method, status) and re.fullmatch(path, r["path"])
            for method, status, path, _ in KNOWN_ERRORS
        )
    ]
    assert not unexpected, "\n".join(unexpected) + f"\n\nserver log:\n{text[-3000:]}"
