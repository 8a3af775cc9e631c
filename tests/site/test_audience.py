"""Per-audience builds behind sign-in (docs/publishing-behind-auth.md, run as written): a site
built with one team's profile holds no byte of another team's experiments (every file is
searched for their names, ids, params, metrics, tags and artifacts; the storage page and the
store's usage log included), and the documented nginx locations serve each build only to its
audience."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

import reporter as mlflow
from tests.cli import run_cli
from tests.mlflow_server import free_port
from tests.nginx import nginx_binary

DOC = Path(__file__).resolve().parents[2] / "docs" / "publishing-behind-auth.md"
TEAMS = ("team-a", "team-b")


def blocks(language: str) -> list[str]:
    """Return the doc's code blocks in a language."""
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def log_team(store: Path, team: str) -> dict[str, str]:
    """Log a team's experiment; return the strings that identify it."""
    mlflow.set_tracking_uri(str(store))
    marks = {
        "experiment": f"{team}/churn",
        "param": f"{team}-param-value-7f3a",
        "metric": f"{team.replace('-', '_')}_only_metric",
        "tag": f"{team}-tag-value-91c2",
        "artifact": f"{team}-artifact-content-5d0e",
    }
    mlflow.set_experiment(marks["experiment"])
    with mlflow.start_run(run_name=f"{team}-run") as run:
        mlflow.log_param("source", marks["param"])
        mlflow.log_metric(marks["metric"], 0.25)
        mlflow.set_tag("note", marks["tag"])
        mlflow.log_text(marks["artifact"], "notes.txt")
    marks["run_id"] = run.info.run_id
    marks["experiment_id"] = run.info.experiment_id
    return marks


def test_each_audience_build_holds_only_its_experiments_and_nginx_serves_it_to_them(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    marks = {team: log_team(store, team) for team in TEAMS}
    # the usage log (`du --log`) holds every experiment's bytes: no build may show another's
    assert run_cli("du", "--store", str(store), "--log").returncode == 0
    (tmp_path / "tracker-report.toml").write_text(blocks("toml")[0])
    srv = tmp_path / "srv" / "tracker"
    for line in blocks("bash")[0].strip().splitlines():
        args = line.split()[1:]  # the doc's `tracker-report build ...`, run in this process
        args = [a.replace("./tracker-store", str(store)).replace("/srv/tracker", str(srv))
                for a in args]  # fmt: skip
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    for team, other in (TEAMS, TEAMS[::-1]):
        files = [p for p in (srv / "sites" / team).rglob("*") if p.is_file()]
        assert any(marks[team]["experiment"].encode() in p.read_bytes() for p in files)
        storage = (srv / "sites" / team / "storage" / "index.html").read_text()
        assert marks[team]["experiment"] in storage  # its own sizes and growth, and only those
        assert "Size of " + marks[team]["experiment"] in storage
        for path in files:
            data = path.read_bytes()
            for what, text in marks[other].items():
                assert text.encode() not in data, f"{team}'s {path} holds {other}'s {what}"

    # the documented nginx locations, in a server on loopback
    binary = nginx_binary()
    users = {"team-a": ("alice", "alice-pw"), "team-b": ("bob", "bob-pw")}
    for team, (user, password) in users.items():
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        (srv / f"{team}.htpasswd").write_text(f"{user}:{{SHA}}{digest}\n")
    locations = blocks("nginx")[0].replace("/srv/tracker", str(srv))
    port = free_port()
    root = tmp_path / "nginx"
    root.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(f"""
{user}
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    types {{ text/html html; text/css css; application/javascript js; application/json json; }}
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
""")
    command = [
        binary,
        "-p",
        str(root),
        "-e",
        str(root / "error.log"),
        "-c",
        str(root / "nginx.conf"),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/team-a/", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {(root / 'error.log').read_text()}")
                time.sleep(0.05)
        for team, (user, password) in users.items():
            other = TEAMS[1 - TEAMS.index(team)]
            own = httpx.get(f"{url}/{team}/", auth=(user, password), timeout=30)
            assert own.status_code == 200 and marks[team]["experiment"] in own.text
            assert (
                httpx.get(f"{url}/{other}/", auth=(user, password), timeout=30).status_code == 401
            )
            assert httpx.get(f"{url}/{team}/", timeout=30).status_code == 401
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=30)
