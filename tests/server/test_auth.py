"""Access control of `tracker-report server --auth basic`: every endpoint without credentials,
with wrong ones, a read-only user trying every write, a denied user reading, searches
filtered, permission changes taking effect, tokens, lockout, mlflow.user, and the audit
trail. Every refused request is checked to write nothing to the store."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reporter.core.access import REGISTERED_MODEL, AccessState
from reporter.store.access import StoreAccessLog
from reporter.store.registry import open_store
from reporter.tracking_server import api, registry_api
from reporter.tracking_server.guard import Rule
from tests.cli import run_cli
from tests.tracker_server import Server, change_access, running, store_state

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
PASSWORDS = {"admin": "admin-pw", "alice": "alice-pw", "reader": "reader-pw", "denied": "no-pw"}
DEADLINE = 60.0  # seconds for a change made elsewhere to reach the server (it rereads every 1 s)


def basic(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE} s: {what}")
        time.sleep(0.1)


class World:
    """A server with users, and an experiment `shared` (runs, a model, an artifact) made by
    the admin; `reader` has the default READ on it, `denied` a DENY."""

    MODEL = "shared-model"  # registered by the admin from the shared run

    def __init__(self, server: Server, store: Path) -> None:
        self.server, self.store = server, store
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.exp_id = self.post("admin", "experiments/create", {"name": "shared"})["experiment_id"]
        run = self.post("admin", "runs/create", {"experiment_id": self.exp_id, "start_time": 1})
        self.run_id = run["run"]["info"]["run_id"]
        self.post("admin", "runs/log-batch", {"run_id": self.run_id, "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}]})  # fmt: skip
        model = self.post("admin", "logged-models", {"experiment_id": self.exp_id, "name": "m"})
        self.model_id = model["model"]["info"]["model_id"]
        answer = self.http.put(self.artifact("notes.txt"), content=b"hello", headers=basic("admin"))
        assert answer.status_code == 200, answer.text
        self.post("admin", "registered-models/create", {"name": self.MODEL})
        self.post("admin", "model-versions/create", {"name": self.MODEL, "run_id": self.run_id,
                  "source": f"runs:/{self.run_id}/notes.txt"})  # fmt: skip

    def artifact(self, path: str) -> str:
        return f"{ARTIFACTS}/{self.exp_id}/{self.run_id}/artifacts/{path}"

    def post(self, user: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"{API}/{endpoint}", json=body, headers=basic(user))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def call(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        if method in ("GET", "DELETE"):
            return self.http.request(method, path, params=body, headers=headers)
        return self.http.request(method, path, json=body, headers=headers)

    def requests(self) -> Iterator[tuple[str, str, dict[str, Any], Rule]]:
        """Every REST endpoint, with a body naming the shared experiment's things."""
        for method, path, _, rule in [*api.ENDPOINTS, *registry_api.ENDPOINTS]:
            concrete = path.replace("{model_id}", self.model_id).replace("{tag_key:path}", "t")
            body: dict[str, Any] = {
                "experiment_id": self.exp_id,
                "experiment_ids": [self.exp_id],
                "experiment_name": "shared",
                "run_id": self.run_id,
                "name": self.MODEL if "model" in path else "new-name",
                "version": "1",
                "alias": "champion",
                "stage": "Production",
                "source": f"runs:/{self.run_id}/notes.txt",
                "new_name": "renamed",
                "key": "k",
                "value": "1",
                "metric_key": "loss",
                "timestamp": 1,
                "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}],
                "status": "FINISHED" if "runs" in path else "LOGGED_MODEL_READY",
                "tags": [{"key": "t", "value": "v"}],
                "params": [{"key": "p", "value": "v"}],
            }
            yield method, API + concrete, body, rule


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("auth")
    store = root / "store"
    open_store(str(store)).create_if_missing()
    for name, password in PASSWORDS.items():

        def add(state: AccessState, n: str = name, p: str = password) -> dict[str, Any]:
            return state.add_user(n, p, admin=n == "admin")

        change_access(store, add)
    change_access(store, lambda s: s.grant("user:denied", "shared", "DENY"))
    change_access(store, lambda s: s.grant("user:denied", "shared*", "DENY", REGISTERED_MODEL))
    with running(store, root, ("--no-site", "--auth", "basic")) as server:
        world = World(server, store)
        try:
            yield world
        finally:
            world.http.close()


def test_every_endpoint_refuses_callers_without_valid_credentials(world: World) -> None:
    before = store_state(world.store)
    bad = [{}, basic("alice", "wrong"), basic("nobody", "x"), {"Authorization": "Bearer nope"},
           {"Authorization": "Basic !!!"}]  # fmt: skip
    calls = [(m, p, b) for m, p, b, _ in world.requests()]
    calls += [("GET", world.artifact("notes.txt"), {}), ("PUT", world.artifact("new.txt"), {}),
              ("GET", ARTIFACTS, {"path": f"{world.exp_id}/{world.run_id}/artifacts"}),
              ("GET", "/get-artifact", {"run_id": world.run_id, "path": "notes.txt"}),
              ("GET", "/", {})]  # fmt: skip
    for method, path, body in calls:
        for headers in bad[:1] if path != calls[0][1] else bad:
            answer = world.call(method, path, body, headers)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error_code"] == "UNAUTHENTICATED"
            assert answer.headers["www-authenticate"] == 'Basic realm="mlflow"'
    assert store_state(world.store) == before
    for open_path in ("/health", "/version"):
        assert world.http.get(open_path).status_code == 200


def test_a_read_only_user_can_read_and_cannot_write(world: World) -> None:
    before = store_state(world.store)
    for method, path, body, rule in world.requests():
        if rule.target == "create" or path.endswith("registered-models/create"):
            continue  # any signed-in user may create an experiment or a model, as in MLflow
        answer = world.call(method, path, body, basic("reader"))
        if rule.write:
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error_code"] == "PERMISSION_DENIED"
            assert "reader" in answer.json()["message"]
        else:
            assert answer.status_code not in (401, 403), (method, path, answer.text)
    upload = world.http.put(world.artifact("x.txt"), content=b"x", headers=basic("reader"))
    assert upload.status_code == 403
    assert store_state(world.store) == before
    got = world.http.get(world.artifact("notes.txt"), headers=basic("reader"))
    assert got.status_code == 200 and got.content == b"hello"


def test_a_denied_user_sees_nothing_of_the_experiment(world: World) -> None:
    who = basic("denied")
    for method, path, body, rule in world.requests():
        answer = world.call(method, path, body, who)
        if rule.target == "search" or (rule.target == "registry" and "search" in path):
            assert answer.status_code == 200, (path, answer.text)
            found = json.dumps(answer.json())
            assert world.exp_id not in found and world.run_id not in found, path
            assert world.MODEL not in found, path
        elif rule.target != "create":
            assert answer.status_code == 403, (method, path, answer.text)
    reads = [
        (world.artifact("notes.txt"), {}),
        (ARTIFACTS, {"path": f"{world.exp_id}/{world.run_id}/artifacts"}),
        ("/get-artifact", {"run_id": world.run_id, "path": "notes.txt"}),
    ]
    for path, params in reads:
        answer = world.http.get(path, params=params, headers=who)
        assert answer.status_code == 403 and b"hello" not in answer.content, path


def test_registry_permissions_are_per_registered_model(world: World) -> None:
    """Anyone signed in may create a registered model and manages it; reading needs READ,
    registering EDIT on the model and READ on the run, aliases MANAGE; the creator's grant
    follows a rename and goes with a delete."""
    exp = world.post("alice", "experiments/create", {"name": "alice-registry"})["experiment_id"]
    run = world.post("alice", "runs/create", {"experiment_id": exp, "start_time": 1})
    run_id = run["run"]["info"]["run_id"]
    version = {"name": "alice-model", "source": f"runs:/{run_id}/m", "run_id": run_id}
    world.post("alice", "registered-models/create", {"name": "alice-model"})
    assert world.post("alice", "model-versions/create", version)["model_version"]["version"] == "1"
    alias = {"name": "alice-model", "alias": "champion", "version": "1"}
    world.post("alice", "registered-models/alias", alias)

    def status(user: str, method: str, endpoint: str, body: dict[str, Any]) -> int:
        return world.call(method, f"{API}/{endpoint}", body, basic(user)).status_code

    # reader has the default READ: reads, and nothing more
    before = store_state(world.store)
    assert status("reader", "GET", "registered-models/alias", alias) == 200
    assert status("reader", "GET", "model-versions/get", {**alias, "version": "1"}) == 200
    searched = world.call("GET", f"{API}/registered-models/search", {}, basic("reader")).json()
    assert "alice-model" in {m["name"] for m in searched["registered_models"]}
    tag = {"name": "alice-model", "key": "k", "value": "v"}
    refused = [
        ("POST", "model-versions/create", version),
        ("POST", "registered-models/alias", alias),
        ("POST", "registered-models/set-tag", tag),
        ("DELETE", "registered-models/delete", {"name": "alice-model"}),
        ("POST", "registered-models/rename", {"name": "alice-model", "new_name": "x"}),
    ]
    for method, endpoint, body in refused:
        assert status("reader", method, endpoint, body) == 403, endpoint
    assert store_state(world.store) == before

    # EDIT on alice-* lets reader register and tag, not move aliases or delete
    change_access(
        world.store, lambda s: s.grant("user:reader", "alice-*", "EDIT", REGISTERED_MODEL)
    )
    eventually(lambda: status("reader", "POST", "model-versions/create", version) == 200,
               "an EDIT grant on the model lets reader register")  # fmt: skip
    assert status("reader", "POST", "registered-models/set-tag", refused[2][2]) == 200
    assert status("reader", "POST", "registered-models/alias", alias) == 403
    assert status("reader", "DELETE", "model-versions/delete", {**alias, "version": "1"}) == 403

    # registering needs READ on the run: denied has a DENY on the shared experiment
    world.post("denied", "registered-models/create", {"name": "denied-model"})
    before = store_state(world.store)
    stolen = {"name": "denied-model", "source": f"runs:/{world.run_id}/notes.txt",
              "run_id": world.run_id}  # fmt: skip
    answer = world.call("POST", f"{API}/model-versions/create", stolen, basic("denied"))
    assert answer.status_code == 403
    message = answer.json()["message"]  # names what the request named, not the experiment
    assert world.run_id in message and world.exp_id not in message
    # a run id no one has cannot carry a logged model of a hidden experiment past the check
    smuggled = {"name": "denied-model", "run_id": "0" * 32, "model_id": world.model_id,
                "source": f"models:/{world.model_id}"}  # fmt: skip
    answer = world.call("POST", f"{API}/model-versions/create", smuggled, basic("denied"))
    assert answer.status_code in (403, 404), answer.text
    assert str(world.store) not in answer.text and world.exp_id not in answer.text
    from_model = {"name": "denied-model", "source": f"models:/{world.MODEL}/1"}
    assert status("denied", "POST", "model-versions/create", from_model) == 403
    assert status("denied", "POST", "registered-models/create", {"name": "shared-2"}) == 403
    assert store_state(world.store) == before

    # the creator's grant follows a rename; a model made later under the old name is not theirs
    renamed = {"name": "alice-model", "new_name": "alice-renamed"}
    world.post("alice", "registered-models/rename", renamed)
    world.post("admin", "registered-models/create", {"name": "alice-model"})
    assert (
        status("alice", "POST", "registered-models/alias", {**alias, "name": "alice-renamed"})
        == 200
    )
    world.post("admin", "model-versions/create", version)
    assert status("alice", "POST", "registered-models/alias", alias) == 403
    # ... and goes with a delete
    world.call("DELETE", f"{API}/registered-models/delete", {"name": "alice-renamed"},
               basic("alice")).raise_for_status()  # fmt: skip
    world.post("admin", "registered-models/create", {"name": "alice-renamed"})
    world.post("admin", "model-versions/create", {**version, "name": "alice-renamed"})
    assert (
        status("alice", "POST", "registered-models/alias", {**alias, "name": "alice-renamed"})
        == 403
    )


def test_registry_grants_through_mlflows_permission_api(world: World) -> None:
    """A model's manager grants through MLflow's unified permissions endpoints (resource_type
    registered_model, resource_id its name); others may not."""
    world.post("alice", "registered-models/create", {"name": "granted[1]"})
    grant = {"username": "reader", "resource_type": "registered_model",
             "resource_id": "granted[1]", "permission": "MANAGE"}  # fmt: skip
    answer = world.http.post("/api/3.0/mlflow/users/permissions/grant", json=grant,
                             headers=basic("reader"))  # fmt: skip
    assert answer.status_code == 403
    answer = world.http.post("/api/3.0/mlflow/users/permissions/grant", json=grant,
                             headers=basic("alice"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    query = {k: grant[k] for k in ("username", "resource_type", "resource_id")}

    def permission() -> str:
        got = world.http.get("/api/3.0/mlflow/users/permissions/get", params=query,
                             headers=basic("reader"))  # fmt: skip
        return str(got.json().get("permission"))

    eventually(lambda: permission() == "MANAGE", "the grant is seen")
    # the name's glob characters are taken literally: the grant is on granted[1] alone
    world.post("admin", "registered-models/create", {"name": "granted1"})
    assert world.call("POST", f"{API}/registered-models/set-tag",
                      {"name": "granted1", "key": "k", "value": "v"},
                      basic("reader")).status_code == 403  # fmt: skip
    missing = {**grant, "resource_id": "no-such-model"}
    answer = world.http.post("/api/3.0/mlflow/users/permissions/grant", json=missing,
                             headers=basic("admin"))  # fmt: skip
    assert answer.status_code == 404
    result = run_cli("grants", "list", "--store", str(world.store), "--format", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert {"who": "user:reader", "experiment": "", "registered_model": "granted[[]1]",
            "permission": "MANAGE"} in listed  # fmt: skip


def test_searches_return_only_what_the_caller_may_read(world: World) -> None:
    mine = world.post("alice", "experiments/create", {"name": "alice-own"})["experiment_id"]
    world.post("alice", "runs/create", {"experiment_id": mine, "start_time": 1})
    ids = [world.exp_id, mine]
    for user, expected in (("denied", {mine}), ("alice", {world.exp_id, mine})):
        exps = world.post(user, "experiments/search", {"max_results": 1000})["experiments"]
        names = {e["experiment_id"] for e in exps}
        assert world.exp_id in names if world.exp_id in expected else world.exp_id not in names
        runs = world.post(user, "runs/search", {"experiment_ids": ids})["runs"]
        assert {r["info"]["experiment_id"] for r in runs} == expected, user
        everything = world.post(user, "runs/search", {})["runs"]
        seen = {r["info"]["experiment_id"] for r in everything}  # (other tests' too)
        assert mine in seen and (world.exp_id in seen) == (world.exp_id in expected), user
        models = world.post(user, "logged-models/search", {"experiment_ids": ids})["models"]
        assert {m["info"]["experiment_id"] for m in models} <= expected, user


def test_the_creator_manages_and_a_run_is_the_signed_in_users(world: World) -> None:
    exp = world.post("alice", "experiments/create", {"name": "alice-managed"})["experiment_id"]
    body = {"experiment_id": exp, "start_time": 1, "user_id": "mallory",
            "tags": [{"key": "mlflow.user", "value": "mallory"}]}  # fmt: skip
    run_id = world.post("alice", "runs/create", body)["run"]["info"]["run_id"]
    for endpoint, changing in (
        ("runs/set-tag", {"run_id": run_id, "key": "mlflow.user", "value": "eve"}),
        ("runs/delete-tag", {"run_id": run_id, "key": "mlflow.user"}),
        ("runs/log-batch", {"run_id": run_id, "tags": [{"key": "mlflow.user", "value": "t"}]}),
    ):
        refused = world.http.post(f"{API}/{endpoint}", json=changing, headers=basic("alice"))
        assert refused.status_code == 403, (endpoint, refused.text)
    answer = world.http.get(f"{API}/runs/get", params={"run_id": run_id}, headers=basic("alice"))
    run = answer.json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert (run["info"]["user_id"], tags["mlflow.user"]) == ("alice", "alice")
    refused = world.http.post(f"{API}/experiments/delete", json={"experiment_id": exp},
                              headers=basic("reader"))  # fmt: skip
    assert refused.status_code == 403
    world.post("alice", "experiments/delete", {"experiment_id": exp})  # MANAGE: allowed


def test_grants_made_while_the_server_runs_take_effect(world: World) -> None:
    exp = world.post("admin", "experiments/create", {"name": "granted-later"})["experiment_id"]
    body = {"experiment_id": exp, "start_time": 1}

    def status() -> int:
        answer = world.http.post(f"{API}/runs/create", json=body, headers=basic("reader"))
        return answer.status_code

    assert status() == 403
    before = store_state(world.store)
    result = run_cli("grants", "set", "--user", "reader", "--experiment", "granted-*",
                     "--permission", "EDIT", "--store", str(world.store))  # fmt: skip
    assert result.returncode == 0, result.stderr
    eventually(lambda: status() == 200, "an EDIT grant lets reader create runs")
    assert store_state(world.store) != before
    result = run_cli("grants", "set", "--user", "reader", "--experiment", f"id:{exp}",
                     "--permission", "DENY", "--store", str(world.store))  # fmt: skip
    assert result.returncode == 0, result.stderr
    eventually(lambda: status() == 403, "a DENY wins over the EDIT grant")


def test_tokens_sign_in_until_revoked(world: World) -> None:
    result = run_cli("users", "token", "alice", "--store", str(world.store))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    headers = {"Authorization": f"Bearer {token}"}

    def status() -> int:
        params = {"experiment_id": world.exp_id}
        return world.http.get(f"{API}/experiments/get", params=params, headers=headers).status_code

    eventually(lambda: status() == 200, "a new token signs in")
    assert token not in world.server.log_text()
    result = run_cli("users", "revoke-token", "alice", token_id, "--store", str(world.store))
    assert result.returncode == 0, result.stderr
    eventually(lambda: status() == 401, "a revoked token is refused")


def test_the_audit_trail_records_each_write_and_the_api_cannot_touch_it(world: World) -> None:
    exp = world.post("alice", "experiments/create", {"name": "alice-audited"})["experiment_id"]
    rid = world.post("alice", "runs/create", {"experiment_id": exp, "start_time": 1})["run"][
        "info"
    ]["run_id"]
    world.post("alice", "runs/log-metric", {"run_id": rid, "key": "acc", "value": 1,
                                            "timestamp": 5})  # fmt: skip
    result = run_cli("audit", "--store", str(world.store), "--user", "alice", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    mine = [r for r in records if rid in r["what"]]
    assert [r["action"] for r in mine] == ["runs/log-metric"]
    assert {r["address"] for r in records} == {"127.0.0.1"}
    creates = [r for r in records if r["action"] == "runs/create"]
    assert creates and all(r["experiment_id"] for r in creates)
    before = open_store(str(world.store)).read_audit()
    hostile = ["../../../audit/x", "..%2F..%2F..%2Faudit%2Fx", "%2e%2e/%2e%2e/%2e%2e/audit/x",
               "/../../../access/x.edit", "..\\..\\..\\audit\\x"]  # fmt: skip
    for path in hostile:
        answer = world.http.put(f"{world.artifact('')}{path}", content=b"x", headers=basic("admin"))
        assert answer.status_code != 500, (path, answer.text)
    after = {r["id"]: r for r in open_store(str(world.store)).read_audit()}
    assert all(after.get(r["id"]) == r for r in before)  # every record kept, unchanged
    assert (
        not (world.store / "audit" / "x").exists()
        and not (world.store / "access" / "x.edit").exists()
    )
    files = [p for p in world.store.rglob("*") if p.is_file() and "audit" in p.parts]
    assert files and all(b"argon2" not in p.read_bytes() for p in files)


def test_repeated_failures_lock_a_name_out_but_not_tokens(tmp_path: Path) -> None:
    store = tmp_path / "store"
    open_store(str(store)).create_if_missing()
    change_access(store, lambda s: s.add_user("carol", "carol-pw"))
    change_access(store, lambda s: s.add_user("dave", "dave-pw"))
    change, token = AccessState.replay(StoreAccessLog(open_store(str(store))).changes()).add_token(
        "dave"
    )
    change_access(store, lambda s: change)
    with (
        running(store, tmp_path, ("--no-site", "--auth", "basic")) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):

        def status(headers: dict[str, str]) -> tuple[int, str]:
            answer = http.get(f"{API}/experiments/search", headers=headers)
            return answer.status_code, answer.text

        assert status(basic("carol", "carol-pw"))[0] == 200
        assert status(basic("dave", "dave-pw"))[0] == 200
        for _ in range(5):
            assert status(basic("carol", "wrong"))[0] == 401
        code, text = status(basic("carol", "carol-pw"))  # the right password, too late
        assert code == 401 and "locked out" in text
        for i in range(20):  # enough failures to lock the address, with names never seen
            assert status(basic(f"nobody{i}", "x"))[0] == 401
        assert "locked out" in status(basic("ghost", "x"))[1]
        assert status(basic("dave", "dave-pw"))[0] == 200  # signed in before: not a guess
        assert status({"Authorization": f"Bearer {token}"})[0] == 200  # tokens: no lockout
        for _ in range(5):  # guesses from the locked address still count against the name
            assert status(basic("dave", "guess"))[0] == 401
        code, text = status(basic("dave", "dave-pw"))
        assert code == 401 and "locked out" in text
        # a name that does not exist locks the same way: the answers do not tell them apart
        for name in ("carol", "no-such-user"):
            answers = [status(basic(name, "w"))[1] for _ in range(6)]
            assert "locked out" in answers[-1], name
    log = server.log_text()
    assert "carol-pw" not in log and token not in log


def test_errors_tell_a_caller_nothing_of_other_experiments(world: World) -> None:
    answer = world.http.get(f"{API}/experiments/get", params={"experiment_id": "12"},
                            headers=basic("denied"))  # fmt: skip
    assert answer.status_code == 404
    message = answer.json()["message"]
    assert "shared" not in message and world.exp_id not in message
    assert str(world.store) not in message
    refused = world.http.get(f"{API}/runs/get", params={"run_id": world.run_id},
                             headers=basic("denied"))  # fmt: skip
    assert refused.status_code == 403 and "shared" not in refused.json()["message"]
    folder = world.http.put(world.artifact("deep/file.txt"), content=b"x", headers=basic("admin"))
    assert folder.status_code == 200
    for path in (world.artifact("deep"), world.artifact("notes.txt/below")):
        answer = world.http.get(path, headers=basic("admin"))
        assert answer.status_code == 404 and str(world.store) not in answer.text, answer.text
    answer = world.http.put(world.artifact("deep"), content=b"x", headers=basic("admin"))
    assert answer.status_code == 400 and str(world.store) not in answer.text, answer.text
    forged = world.http.get("/api/2.0/mlflow/x%0aWARNING forged line")
    assert forged.status_code == 401
    assert not any(
        line.startswith("WARNING forged") for line in world.server.log_text().splitlines()
    )


def test_writes_through_names_and_model_links_need_their_permissions(world: World) -> None:
    """Renaming moves an experiment between name grants, so it needs MANAGE under both names;
    a point linked to a logged model needs EDIT on the model's experiment too."""
    exp = world.post("alice", "experiments/create", {"name": "alice-renames"})["experiment_id"]
    run_id = world.post("alice", "runs/create", {"experiment_id": exp, "start_time": 1})["run"][
        "info"
    ]["run_id"]
    before = store_state(world.store)
    attempts = [
        ("reader", "experiments/update", {"experiment_id": world.exp_id, "new_name": "mine"}),
        ("alice", "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1,
                                      "model_id": world.model_id}),
        ("alice", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "m", "value": 1, "timestamp": 1, "model_id": world.model_id}]}),
    ]  # fmt: skip
    for user, endpoint, body in attempts:
        answer = world.http.post(f"{API}/{endpoint}", json=body, headers=basic(user))
        assert answer.status_code == 403, (endpoint, answer.text)
    assert store_state(world.store) == before
    probe = world.post("admin", "experiments/create", {"name": "secret-probe"})["experiment_id"]
    change_access(world.store, lambda s: s.grant("user:alice", "alice-*", "EDIT"))
    change_access(world.store, lambda s: s.grant("user:alice", "secret-*", "DENY"))

    def status(method: str, endpoint: str, body: dict[str, Any]) -> int:
        return world.call(method, f"{API}/{endpoint}", body, basic("alice")).status_code

    eventually(
        lambda: status("GET", "experiments/get", {"experiment_id": probe}) == 403,
        "the server sees alice's DENY",
    )
    rename = {"experiment_id": exp, "new_name": "secret-hidden"}
    assert status("POST", "experiments/update", rename) == 403  # out of her reach: refused
    rename["new_name"] = "alice-renamed"
    assert status("POST", "experiments/update", rename) == 200  # she manages it under both


def test_the_site_shows_each_reader_only_what_they_may_read(tmp_path: Path) -> None:
    store = tmp_path / "store"
    open_store(str(store)).create_if_missing()
    change_access(store, lambda s: s.add_user("admin", PASSWORDS["admin"], admin=True))
    change_access(store, lambda s: s.add_user("reader", PASSWORDS["reader"]))
    change_access(store, lambda s: s.grant("user:reader", "secret-*", "NO_PERMISSIONS"))
    change_access(store, lambda s: s.grant("user:reader", "0", "DENY"))  # named like Default's id
    change_access(
        store, lambda s: s.grant("user:reader", "secret-*", "NO_PERMISSIONS", REGISTERED_MODEL)
    )
    # analyst reads every experiment, but not every model: the whole site is not theirs
    change_access(store, lambda s: s.add_user("analyst", "analyst-pw"))
    change_access(store, lambda s: s.grant("user:analyst", "secret-*", "DENY", REGISTERED_MODEL))
    # modeller reads models but no experiment: a site of models whose runs are not in it
    change_access(store, lambda s: s.add_user("modeller", "modeller-pw"))
    change_access(store, lambda s: s.grant("user:modeller", "*", "NO_PERMISSIONS"))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "plans.md").write_text("# Secret plans\n\nreport-prose-b71c\n")
    args = ("--auth", "basic", "--out", str(tmp_path / "site"), "--interval", "0.5")
    with (
        running(store, tmp_path, args) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        made, run_ids = {}, {}
        for name in ("open-results", "secret-plans", "0"):
            answer = http.post(f"{API}/experiments/create", json={"name": name},
                               headers=basic("admin"))  # fmt: skip
            made[name] = answer.json()["experiment_id"]
            body = {"experiment_id": made[name], "start_time": 1, "run_name": f"run-of-{name}"}
            run = http.post(f"{API}/runs/create", json=body, headers=basic("admin"))
            assert run.status_code == 200, run.text
            run_ids[name] = run.json()["run"]["info"]["run_id"]

        # registered models: one the reader may not read, one whose version comes from the
        # hidden experiment (shown without its run)
        for model, run_of, prose in (
            ("open-model", "open-results", "open-prose-31a7"),
            ("secret-model", "open-results", "model-prose-9d2e"),
            ("mixed-model", "secret-plans", "mixed-prose-5c0f"),
        ):
            http.post(
                f"{API}/registered-models/create",
                json={"name": model, "description": prose},
                headers=basic("admin"),
            ).raise_for_status()
            version = {
                "name": model,
                "run_id": run_ids[run_of],
                "source": f"runs:/{run_ids[run_of]}/m",
            }
            http.post(f"{API}/model-versions/create", json=version,
                      headers=basic("admin")).raise_for_status()  # fmt: skip

        def page(user: str) -> str:
            return http.get("/", headers=basic(user)).text

        def models(user: str) -> str:
            return http.get("/models/index.html", headers=basic(user)).text

        eventually(lambda: "secret-plans" in page("admin"), "the admin's site shows both")
        eventually(lambda: "open-results" in page("reader"), "the reader's site shows theirs")
        zero_page = f"/runs/{run_ids['0']}/index.html"
        eventually(
            lambda: "run-of-0" in http.get(zero_page, headers=basic("admin")).text,
            "the admin's site shows the run of the experiment named 0",
        )
        assert "secret-plans" not in page("reader")
        eventually(lambda: "model-prose-9d2e" in models("admin"), "the admin sees every model")
        eventually(lambda: "mixed-prose-5c0f" in models("reader"), "the reader sees theirs")
        assert "open-prose-31a7" in models("reader") and "secret-model" not in models("reader")
        assert "not in this site" in models("reader")  # mixed-model's run is hidden
        answer = http.get("/", headers=basic("reader"))
        assert answer.headers["cache-control"] == "private, no-store"
        views = [p for p in (tmp_path / "site.views").rglob("*") if p.is_file()]
        assert views
        for path in views:  # no byte of a hidden experiment, or of a report, in the view
            data = path.read_bytes()
            assert b"secret-plans" not in data and made["secret-plans"].encode() not in data, path
            assert b"run-of-secret-plans" not in data and b"run-of-0" not in data, path
            assert b"report-prose-b71c" not in data, path
            assert b"secret-model" not in data and b"model-prose-9d2e" not in data, path
        analyst = http.get("/models/index.html", headers=basic("analyst", "analyst-pw")).text
        assert "open-prose-31a7" in analyst and "secret-model" not in analyst
        assert "secret-plans" in http.get("/", headers=basic("analyst", "analyst-pw")).text
        modeller = basic("modeller", "modeller-pw")
        home = http.get("/", headers=modeller).text
        assert "No experiment is published in this site" in home, home
        assert 'href="models/index.html"' in home
        listed = http.get("/models/index.html", headers=modeller).text
        assert "open-prose-31a7" in listed and "mixed-prose-5c0f" in listed
        assert "not in this site" in listed and "run-of-" not in listed
        assert "open-results" not in listed and "open-results" not in home
        assert http.get("/", headers=basic("reader", "wrong")).status_code == 401
