"""Access control behind a real proxy (Debian's nginx on loopback), and with MLflow's own client.

* `--auth proxy`: nginx authenticates (auth_basic against an htpasswd file the test writes)
  and sets X-Forwarded-Email and X-Forwarded-Groups for the server, which believes them only
  from nginx's address (127.0.0.1). A client connecting from another loopback address
  (127.0.0.2) with the same headers is refused, X-Forwarded-For or not; a client's own
  identity header sent through nginx is replaced by nginx.
* `--auth basic` behind nginx: the Authorization header passes through.
* MLflow's client (its own venv) logs through nginx with MLFLOW_TRACKING_USERNAME/PASSWORD and
  gets the exceptions it expects for a wrong password (401) and a missing permission (403).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from reporter.store.registry import open_store
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow
from tests.nginx import Proxy, nginx, nginx_binary
from tests.tracker_server import Server, change_access, running, store_state

API = "/api/2.0/mlflow"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}
GROUPS = {"alice": "vision,ml", "bob": "finance", "root": "ops"}
ELSEWHERE = "127.0.0.2"  # a loopback address that is not the trusted proxy's


def htpasswd(path: Path) -> None:
    """Write nginx's password file ({SHA} entries, which nginx's auth_basic reads)."""
    lines = []
    for user, password in USERS.items():
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        lines.append(f"{user}:{{SHA}}{digest}")
    path.write_text("\n".join(lines) + "\n")


def client(url: str, source: str = "127.0.0.1", **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections come from `source` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=url, timeout=60, transport=transport, **kwargs)


def creds(user: str) -> tuple[str, str]:
    return (user, USERS[user])


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Server, Path]]:
    """A server in proxy mode behind nginx, which authenticates users and names their groups."""
    nginx_binary()
    root = tmp_path_factory.mktemp("proxied")
    store = root / "store"
    open_store(str(store)).create_if_missing()
    change_access(
        store, lambda s: {**s.add_user("root", "unused", admin=True), "password_hash": None}
    )
    change_access(store, lambda s: s.grant("group:vision", "vision-*", "EDIT"))
    htpasswd(root / "htpasswd")
    groups = "\n".join(f'        {u} "{g}";' for u, g in GROUPS.items())
    http = f"""
    map $remote_user $tracker_groups {{
{groups}
        default "";
    }}"""
    location = f"""
            auth_basic "tracker";
            auth_basic_user_file {root / "htpasswd"};
            proxy_set_header X-Forwarded-Email $remote_user;
            proxy_set_header X-Forwarded-Groups $tracker_groups;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header Authorization "";"""
    args = (
        *("--no-site", "--auth", "proxy", "--trusted-proxy", "127.0.0.1/32"),
        *("--groups-header", "X-Forwarded-Groups", "--default-permission", "NO_PERMISSIONS"),
    )
    with ExitStack() as stack:
        server = stack.enter_context(running(store, root, args))
        proxy = stack.enter_context(nginx(root / "nginx", [server.url], location, http))
        yield proxy, server, store


def test_the_proxy_identity_and_groups_decide(proxied: tuple[Proxy, Server, Path]) -> None:
    proxy, _, _ = proxied
    with (
        client(proxy.url, auth=creds("alice")) as alice,
        client(proxy.url, auth=creds("bob")) as bob,
    ):
        exp = alice.post(f"{API}/experiments/create", json={"name": "vision-cats"})
        assert exp.status_code == 200, exp.text
        exp_id = exp.json()["experiment_id"]
        run = alice.post(f"{API}/runs/create", json={"experiment_id": exp_id, "start_time": 1})
        assert run.status_code == 200, run.text
        assert run.json()["run"]["info"]["user_id"] == "alice"
        # bob is in no group with a grant, and everyone else has NO_PERMISSIONS
        got = bob.get(f"{API}/experiments/get", params={"experiment_id": exp_id})
        assert got.status_code == 403 and "bob" in got.json()["message"]
        listed = bob.post(f"{API}/experiments/search", json={}).json().get("experiments", [])
        assert exp_id not in {e["experiment_id"] for e in listed}
        # a client's own identity header is replaced by nginx's
        spoof = {"X-Forwarded-Email": "root", "X-Forwarded-Groups": "vision"}
        got = bob.get(f"{API}/experiments/get", params={"experiment_id": exp_id}, headers=spoof)
        assert got.status_code == 403
    with client(proxy.url) as anonymous:
        assert anonymous.get(f"{API}/experiments/search").status_code == 401  # nginx's own


def test_the_identity_header_is_refused_from_anywhere_but_the_proxy(
    proxied: tuple[Proxy, Server, Path],
) -> None:
    _, server, store = proxied
    before = store_state(store)
    headers = {"X-Forwarded-Email": "root", "X-Forwarded-Groups": "ops,vision",
               "X-Forwarded-For": "127.0.0.1"}  # fmt: skip
    with client(server.url, source=ELSEWHERE) as direct:
        for method, path, body in (
            ("GET", f"{API}/experiments/search", None),
            ("POST", f"{API}/experiments/create", {"name": "vision-spoofed"}),
            ("GET", "/", None),
        ):
            answer = direct.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (path, answer.text)
            assert ELSEWHERE in answer.json()["message"]
    assert store_state(store) == before
    assert "refused" in server.log_text()


def test_basic_mode_behind_nginx_with_mlflows_client(tmp_path: Path) -> None:
    """MLflow's client through nginx: it logs as alice, gets UNAUTHENTICATED for a wrong
    password and PERMISSION_DENIED where alice may only read."""
    require_mlflow()
    nginx_binary()
    store = tmp_path / "store"
    open_store(str(store)).create_if_missing()
    for user in ("alice", "root"):
        change_access(store, lambda s, u=user: s.add_user(u, USERS[u], admin=u == "root"))
    location = "            proxy_set_header X-Forwarded-For $remote_addr;"
    with ExitStack() as stack:
        args = ("--no-site", "--auth", "basic", "--trusted-proxy", "127.0.0.1/32")
        server = stack.enter_context(running(store, tmp_path, args))
        proxy = stack.enter_context(nginx(tmp_path / "nginx", [server.url], location))
        with client(proxy.url, auth=creds("root")) as root:
            made = root.post(f"{API}/experiments/create", json={"name": "read-only-for-alice"})
            assert made.status_code == 200, made.text
        script = textwrap.dedent(
            """
            import json, sys
            import mlflow
            from mlflow.exceptions import MlflowException
            mlflow.set_tracking_uri(sys.argv[1])
            out = {}
            mlflow.set_experiment("alice-own")
            with mlflow.start_run() as run:
                mlflow.log_param("lr", "0.1")
                mlflow.log_metric("loss", 0.5, step=1)
            got = mlflow.get_run(run.info.run_id)
            out["user"] = got.info.user_id
            out["metrics"] = got.data.metrics
            try:
                mlflow.set_experiment("read-only-for-alice")
                mlflow.start_run()
                out["write"] = "allowed"
            except MlflowException as exc:
                out["write"] = exc.error_code
            print(json.dumps(out))
            """
        )
        env = mlflow_env(MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD="alice-pw",
                         MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")  # fmt: skip
        done = subprocess.run([str(VENV_PYTHON), "-c", script, proxy.url], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out == {"user": "alice", "metrics": {"loss": 0.5}, "write": "PERMISSION_DENIED"}
        env["MLFLOW_TRACKING_PASSWORD"] = "wrong"
        wrong = textwrap.dedent(
            """
            import sys
            import mlflow
            from mlflow.exceptions import MlflowException
            mlflow.set_tracking_uri(sys.argv[1])
            try:
                mlflow.search_experiments()
            except MlflowException as exc:
                print(exc.error_code)
            """
        )
        done = subprocess.run([str(VENV_PYTHON), "-c", wrong, proxy.url], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.stdout.strip().splitlines()[-1] == "UNAUTHENTICATED", done.stderr[-3000:]
        records = open_store(str(store)).read_audit()
        alice = [r for r in records if r["user"] == "alice"]
        assert {r["address"] for r in alice} == {"127.0.0.1"}  # nginx's X-Forwarded-For
        assert {"experiments/create", "runs/create", "runs/log-parameter", "runs/log-metric"} <= {
            r["action"] for r in alice
        }


def test_mlflows_auth_client_manages_users_and_permissions(tmp_path: Path) -> None:
    """MLflow's AuthServiceClient, unchanged, against `tracker-report server --auth basic`."""
    require_mlflow()
    store = tmp_path / "store"
    open_store(str(store)).create_if_missing()
    change_access(store, lambda s: s.add_user("root", USERS["root"], admin=True))
    script = textwrap.dedent(
        """
        import json, os, sys
        import mlflow
        from mlflow.exceptions import MlflowException
        from mlflow.server import get_app_client

        uri = sys.argv[1]
        out = {}
        auth = get_app_client("basic-auth", tracking_uri=uri)
        user = auth.create_user("carol", "carol-pw")
        out["created"] = [user.username, user.is_admin]
        out["got"] = auth.get_user("carol").username
        mlflow.set_tracking_uri(uri)
        exp = mlflow.create_experiment("root-owned")
        auth.grant_user_permission("carol", "experiment", exp, "EDIT")
        out["permission"] = auth.get_user_permission("carol", "experiment", exp).permission
        os.environ["MLFLOW_TRACKING_USERNAME"] = "carol"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = "carol-pw"
        with mlflow.start_run(experiment_id=exp):
            mlflow.log_metric("m", 1.0)
        try:
            auth.create_user("mallory", "x")
            out["carol_creates"] = "allowed"
        except MlflowException as exc:
            out["carol_creates"] = exc.error_code
        auth.update_user_password("carol", "new-pw", current_password="carol-pw")
        os.environ["MLFLOW_TRACKING_USERNAME"] = "root"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = "root-pw"
        auth.revoke_user_permission("carol", "experiment", exp)
        out["after_revoke"] = auth.get_user_permission("carol", "experiment", exp).permission
        auth.delete_user("carol")
        try:
            auth.get_user("carol")
            out["deleted"] = False
        except MlflowException as exc:
            out["deleted"] = exc.error_code
        print(json.dumps(out))
        """
    )
    args = ("--no-site", "--auth", "basic", "--default-permission", "NO_PERMISSIONS")
    with running(store, tmp_path, args) as server:
        env = mlflow_env(MLFLOW_TRACKING_USERNAME="root", MLFLOW_TRACKING_PASSWORD="root-pw",
                         MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")  # fmt: skip
        done = subprocess.run([str(VENV_PYTHON), "-c", script, server.url], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out == {
            "created": ["carol", False],
            "got": "carol",
            "permission": "EDIT",
            "carol_creates": "PERMISSION_DENIED",
            "after_revoke": "NO_PERMISSIONS",
            "deleted": "RESOURCE_DOES_NOT_EXIST",
        }
        assert "carol-pw" not in server.log_text() and "argon2" not in server.log_text()
    actions = [r["action"] for r in open_store(str(store)).read_audit()]
    for op in ("user.add", "grant", "user.password", "revoke", "user.remove"):
        assert f"access/{op}" in actions
