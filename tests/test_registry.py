"""The model registry through MLflow's API: `register_model`, `log_model(registered_model_name=)`,
the client's registry methods, `models:/<name>/<version>` / `@alias` / `latest` loading; many
processes registering at once, kill -9 mid-registration; the same script under real MLflow 3
(its venv) compared value by value. The store-level promises are in the conformance suite
(tests/store_contract/registry_suite.py), on a folder and on S3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import reporter
import reporter as mlflow
from reporter import MlflowClient
from reporter.core.errors import StoreWarning
from reporter.store.registry import open_store
from tests.conftest import PYTHON, python_env
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow, running_server
from tests.tracker_server import change_access, running


def access_state(store: Path) -> Any:
    from reporter.core.access import AccessState
    from reporter.store.access import StoreAccessLog

    return AccessState.replay(StoreAccessLog(open_store(str(store))).changes())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    mlflow.set_tracking_uri(str(folder))
    return folder


def fitted(offset: float = 0.0) -> LinearRegression:
    X = np.arange(8, dtype=float).reshape(-1, 1)
    return LinearRegression().fit(X, 2 * X[:, 0] + offset)


def test_log_model_registers_and_every_uri_form_loads_the_right_version(store):
    X = np.array([[1.0], [5.0]])
    infos = []
    for offset in (0.0, 10.0, 20.0):
        with mlflow.start_run():
            infos.append(
                mlflow.sklearn.log_model(
                    fitted(offset), name="model", registered_model_name="churn"
                )
            )
    assert [i.registered_model_version for i in infos] == [1, 2, 3]
    client = MlflowClient()
    client.set_registered_model_alias("churn", "champion", "2")
    expected = {n: fitted(o).predict(X) for n, o in ((1, 0.0), (2, 10.0), (3, 20.0))}
    for uri, version in (
        ("models:/churn/1", 1),
        ("models:/churn@champion", 2),
        ("models:/churn/latest", 3),
        ("models:/churn/3", 3),
    ):
        np.testing.assert_allclose(mlflow.sklearn.load_model(uri).predict(X), expected[version])
        np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X), expected[version])
    local = Path(mlflow.artifacts.download_artifacts("models:/churn@champion"))
    assert (local / "MLmodel").is_file()
    second = client.get_model_version("churn", 2)
    assert second.source == infos[1].model_uri and second.run_id == infos[1].run_id
    assert client.get_model_version_download_uri("churn", 2) == infos[1].artifact_path
    with pytest.raises(reporter.MlflowException) as missing:
        mlflow.sklearn.load_model("models:/churn/9")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_register_model_takes_runs_uris_of_logged_models_and_folders(store, tmp_path):
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(fitted(), name="model")
        mlflow.log_text("not a model", "notes/readme.txt")
    by_run = mlflow.register_model(f"runs:/{run.info.run_id}/model", "m", tags={"t": 1})
    assert by_run.source == info.model_uri  # the logged model, as MLflow 3
    assert (by_run.version, by_run.tags, by_run.run_id) == (1, {"t": "1"}, run.info.run_id)
    plain = mlflow.register_model(f"runs:/{run.info.run_id}/notes", "m")
    assert plain.source == f"runs:/{run.info.run_id}/notes" and plain.version == 2
    folder = mlflow.sklearn.save_model(fitted(3.0), str(tmp_path / "saved")) or tmp_path / "saved"
    from_folder = mlflow.register_model(str(folder), "m")
    assert from_folder.source == str(folder) and from_folder.run_id is None
    np.testing.assert_allclose(
        mlflow.sklearn.load_model("models:/m/3").predict([[1.0]]), fitted(3.0).predict([[1.0]])
    )


def test_search_filters_orders_and_pages_as_mlflow(store):
    client = MlflowClient()
    for name, team in (("beta", "risk"), ("alpha", "growth"), ("gamma", "risk")):
        client.create_registered_model(name, tags={"team": team})
        for _ in range(2):
            client.create_model_version(name, f"/models/{name}", run_id=f"run-{name}")
    names = [m.name for m in client.search_registered_models()]
    assert names == ["alpha", "beta", "gamma"]
    risky = client.search_registered_models("tags.team = 'risk'", order_by=["name DESC"])
    assert [m.name for m in risky] == ["gamma", "beta"]
    assert [m.name for m in client.search_registered_models("name LIKE '%ta'")] == ["beta"]
    page = client.search_registered_models(max_results=2)
    assert [m.name for m in page] == ["alpha", "beta"] and page.token
    rest = client.search_registered_models(max_results=2, page_token=page.token)
    assert [m.name for m in rest] == ["gamma"] and rest.token is None
    versions = client.search_model_versions("name = 'beta'", order_by=["version_number DESC"])
    assert [(v.name, v.version) for v in versions] == [("beta", 2), ("beta", 1)]
    by_runs = client.search_model_versions("run_id IN ('run-alpha', 'run-gamma')")
    assert sorted((v.name, v.version) for v in by_runs) == [
        ("alpha", 1),
        ("alpha", 2),
        ("gamma", 1),
        ("gamma", 2),
    ]
    assert len(mlflow.search_model_versions(filter_string="version_number > 1")) == 3
    assert [m.name for m in mlflow.search_registered_models(max_results=1)] == ["alpha"]
    with pytest.raises(reporter.MlflowException) as bad:
        client.search_registered_models(order_by=["nonsense"])
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_errors_carry_mlflows_codes_and_messages(store):
    client = MlflowClient()
    client.create_registered_model("churn")
    client.create_model_version("churn", "/m")
    cases = [
        (lambda: client.create_registered_model("churn"), "RESOURCE_ALREADY_EXISTS"),
        (lambda: client.get_registered_model("nope"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.get_model_version("churn", "9"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.get_model_version_by_alias("churn", "nope"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.set_registered_model_alias("churn", "x", "9"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.set_registered_model_alias("churn", "v1", "1"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.get_model_version("churn", "abc"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.create_registered_model("a/b"), "INVALID_PARAMETER_VALUE"),
    ]
    for call, code in cases:
        with pytest.raises(reporter.MlflowException) as err:
            call()
        assert err.value.error_code == code


def test_stages_and_latest_versions_as_mlflows_deprecated_api(store):
    client = MlflowClient()
    client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", "/m")
    client.transition_model_version_stage("m", 1, "production")
    client.transition_model_version_stage("m", 2, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions("name='m'")}
    assert stages == {1: "Archived", 2: "Production", 3: "None"}
    latest = client.get_latest_versions("m", ["Production"])
    assert [v.version for v in latest] == [2]
    np.testing.assert_equal(sorted(v.version for v in client.get_latest_versions("m")), [1, 2, 3])
    client.set_model_version_tag("m", key="approved", value="yes", stage="Production")
    assert client.get_model_version("m", 2).tags == {"approved": "yes"}


# many processes ------------------------------------------------------------------------------
REGISTER = """
import sys
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
for _ in range(int(sys.argv[2])):
    v = mlflow.register_model("/models/shared", "shared")
    print(v.version, flush=True)
"""


def test_processes_registering_at_once_never_share_a_version_number(tmp_path):
    uri = str(tmp_path / "store")
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", REGISTER, uri, "5"],
            env=python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    printed = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        printed += [int(line) for line in out.split()]
    assert sorted(printed) == list(range(1, 31))  # every process's numbers, none twice
    mlflow.set_tracking_uri(uri)
    found = MlflowClient().search_model_versions("name = 'shared'")
    assert sorted(v.version for v in found) == list(range(1, 31))
    assert len(MlflowClient().search_registered_models()) == 1


@pytest.mark.parametrize("store_kind", ["local", "s3"], indirect=True)
def test_kill_9_while_registering_leaves_whole_versions_and_the_next_number_free(store_uri):
    uri = store_uri  # a folder, or a bucket on the S3 test server (children inherit its env)
    for _ in range(3):
        proc = subprocess.Popen(
            [PYTHON, "-c", REGISTER, uri, "100000"],
            env=python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        for _ in range(5):  # registering: kill it between and inside registrations
            proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    numbers = sorted(v.version for v in client.search_model_versions("name = 'shared'"))
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 15
    assert all(v.source == "/models/shared" for v in client.search_model_versions())
    assert mlflow.register_model("/models/shared", "shared").version == numbers[-1] + 1


# the same script under MLflow ----------------------------------------------------------------
SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "mlflow":
    import mlflow
else:
    import reporter as mlflow
import numpy as np
from sklearn.linear_model import LinearRegression
mlflow.set_tracking_uri(sys.argv[2])
client = mlflow.MlflowClient()
X = np.arange(6, dtype=float).reshape(-1, 1)
runs = []
for offset in (0.0, 1.0, 2.0):
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse", 1.0 + offset)
        info = mlflow.sklearn.log_model(LinearRegression().fit(X, X[:, 0] + offset),
                                        name="model", registered_model_name="churn")
        runs.append(run.info.run_id)
mlflow.register_model(f"runs:/{runs[0]}/model", "churn", tags={"source": "rerun"})
client.create_registered_model("fraud", tags={"team": "risk"}, description="# Fraud")
client.create_model_version("fraud", info.model_uri, run_id=runs[2], description="first",
                            model_id=info.model_id)
client.set_registered_model_alias("churn", "champion", "2")
client.set_registered_model_alias("churn", "challenger", "4")
client.set_registered_model_tag("churn", "team", "retention")
client.set_model_version_tag("churn", "2", "validated", "true")
client.update_registered_model("churn", description="Who leaves")
client.update_model_version("churn", "1", description="baseline")
client.delete_model_version("churn", "3")
client.delete_registered_model_tag("fraud", "team")
client.rename_registered_model("fraud", "fraud-v2")
client.delete_registered_model_alias("churn", "challenger")
mlflow.register_model(info.model_uri, "churn")

def version(v):
    return {"name": v.name, "version": v.version, "description": v.description,
            "current_stage": v.current_stage, "status": v.status, "tags": v.tags,
            "aliases": sorted(v.aliases),
            "run": runs.index(v.run_id) if v.run_id in runs else v.run_id,
            "user_id": v.user_id, "run_link": v.run_link, "model_id": v.model_id,
            "source_is_model": v.source.startswith("models:/m-")}

out = {
    "models": [{"name": m.name, "description": m.description, "tags": m.tags,
                "aliases": m.aliases, "latest": [version(v) for v in m.latest_versions]}
               for m in client.search_registered_models(order_by=["name ASC"])],
    "versions": [version(v) for v in client.search_model_versions(
        order_by=["name ASC", "version_number ASC"])],
    "champion": version(client.get_model_version_by_alias("churn", "champion")),
    "get": version(client.get_model_version("churn", "2")),
    "model": [version(v) for v in client.get_registered_model("churn").latest_versions],
    "latest": [version(v) for v in client.get_latest_versions("churn")],
    "filtered": [(v.name, v.version) for v in client.search_model_versions(
        "name = 'churn' AND tags.validated = 'true'")],
    "like": [m.name for m in client.search_registered_models("name LIKE 'fr%'")],
    "loaded": mlflow.pyfunc.load_model("models:/churn@champion").predict(X).tolist(),
    "loaded_latest": mlflow.sklearn.load_model("models:/churn/latest").predict(X).tolist(),
}
print(json.dumps(out))
"""


def _read_back(
    tmp_path: Path, lib: str, uri: str | None = None, user: dict[str, str] | None = None
) -> Any:
    folder = tmp_path / (lib if uri is None else f"{lib}-via-server")
    folder.mkdir(parents=True)
    (folder / "script.py").write_text(textwrap.dedent(SCRIPT))
    python, default_uri, env = (
        (VENV_PYTHON, "sqlite:///mlflow.db", mlflow_env())
        if lib == "mlflow"
        else (PYTHON, "store", python_env())
    )
    done = subprocess.run(
        [str(python), "script.py", lib, uri or default_uri],
        cwd=folder,
        env={**env, **(user or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_same_script_reads_back_what_mlflow_reads_back(tmp_path):
    require_mlflow()
    theirs = _read_back(tmp_path, "mlflow")
    ours = _read_back(tmp_path, "reporter")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key


def test_mlflows_client_through_our_server_reads_back_what_mlflow_reads_back(tmp_path):
    """MLflow's own client registers, aliases and loads models through `tracker-report
    server` (MLflow's registry REST endpoints) and reads back what it reads from MLflow."""
    require_mlflow()
    mlflows = tmp_path / "mlflow-server"
    mlflows.mkdir()
    with running_server(mlflows, f"sqlite:///{mlflows}/m.db", mlflows / "artifacts") as url:
        theirs = _read_back(tmp_path, "mlflow", url)  # (REST: versions read back as text)
    with running(tmp_path / "served-store", tmp_path) as server:
        through = _read_back(tmp_path / "ours", "mlflow", server.url)
    assert through.keys() == theirs.keys()
    for key in through:
        assert through[key] == theirs[key], key


def test_mlflows_client_registers_through_our_server_as_a_user_who_is_not_an_admin(tmp_path):
    """With `--auth basic`, a user (no admin) registers, aliases, renames and loads through
    MLflow's own client: the creator of a registered model manages it, as in MLflow."""
    require_mlflow()
    mlflows = tmp_path / "mlflow-server"
    mlflows.mkdir()
    with running_server(mlflows, f"sqlite:///{mlflows}/m.db", mlflows / "artifacts") as url:
        theirs = _read_back(tmp_path, "mlflow", url)
    store = tmp_path / "served-store"
    open_store(str(store)).create_if_missing()
    change_access(store, lambda s: s.add_user("ml", "ml-pw"))
    args = ("--no-site", "--auth", "basic", "--default-permission", "EDIT")
    with running(store, tmp_path, args) as server:
        user = {"MLFLOW_TRACKING_USERNAME": "ml", "MLFLOW_TRACKING_PASSWORD": "ml-pw"}
        through = _read_back(tmp_path / "ours", "mlflow", server.url, user)
    assert through == theirs
    granted = {
        (g.who, g.selector, g.permission.name) for g in access_state(store).model_grants.values()
    }
    assert granted == {("user:ml", "churn", "MANAGE"), ("user:ml", "fraud-v2", "MANAGE")}


# found by an adversarial review --------------------------------------------------------------
def test_a_tampered_registry_file_is_skipped_with_a_warning_and_the_rest_reads(store):
    client = MlflowClient()
    for name in ("good", "bad-model", "bad-version", "bad-edit"):
        client.create_registered_model(name, tags={"t": "1"})
        client.create_model_version(name, "/m")
    client.set_registered_model_tag("bad-edit", "x", "1")
    records = {json.loads(p.read_text())["name"]: p for p in store.glob("registry/*/model.json")}
    record = json.loads(records["bad-model"].read_text())
    records["bad-model"].write_text(json.dumps({**record, "tags": ["x"]}))
    version = records["bad-version"].parent / "versions" / "1.json"
    version.write_text(json.dumps({**json.loads(version.read_text()), "tags": "x"}))
    edit = sorted((records["bad-edit"].parent / "_edits").glob("*.edit"))[-1]  # the tag's
    edit.write_text(json.dumps({"set": {"description": 5}}))
    from reporter.tracking import uri

    uri.close_store(str(store))  # a new store object: nothing read before is cached
    with pytest.warns(StoreWarning) as warned:
        names = sorted(m.name for m in MlflowClient().search_registered_models())
        assert MlflowClient().get_registered_model("good").tags == {"t": "1"}
    assert names == ["bad-edit", "bad-version", "good"]  # the damaged record's model is out
    assert MlflowClient().get_registered_model("bad-edit").tags == {"t": "1"}  # edit skipped
    assert not MlflowClient().search_model_versions("name = 'bad-version'")
    # a damaged record's name can be registered again, its version numbers are not reused
    assert mlflow.register_model("/m2", "bad-model").version == 1
    assert mlflow.register_model("/m2", "bad-version").version == 2
    shown = " ".join(str(w.message) for w in warned)
    assert "invalid registered model record" in shown and "invalid registry edit" in shown


def test_mlflows_checks_on_updates_orders_pages_tags_and_versions(store):
    client = MlflowClient()
    client.create_registered_model("m")
    client.create_model_version("m", "/m", description="kept")
    cases = [
        (lambda: client.update_model_version("m", 1), "no new field values"),
        (lambda: client.search_registered_models(order_by=["name", "name DESC"]), "duplicate"),
        (lambda: client.search_registered_models(max_results=1001), "at most 1000"),
        (lambda: client.search_model_versions(max_results=200_001), "at most 200000"),
        (lambda: client.set_registered_model_tag("m", "..", "x"), "must not resolve"),
        (lambda: client.set_model_version_tag("m", 1, "nul\x00key", "x"), "NUL"),
    ]
    for call, message in cases:
        with pytest.raises(reporter.MlflowException, match=message) as err:
            call()
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_model_version("m", 1).description == "kept"
    assert client.get_model_version("m", 1.0).version == 1  # type: ignore[arg-type]
    assert list(client.search_registered_models(max_results=0)) == []


def test_reporter_registers_and_loads_through_our_server_over_http(tmp_path):
    """`import reporter as mlflow` with an http:// tracking URI: the registry is the
    server's (MLflow's registry REST endpoints), models load through its artifact proxy."""
    X = np.array([[1.0], [5.0]])
    with running(tmp_path / "served", tmp_path) as server:
        mlflow.set_tracking_uri(server.url)
        for offset in (0.0, 10.0):
            with mlflow.start_run():
                mlflow.sklearn.log_model(fitted(offset), name="model", registered_model_name="web")
        client = MlflowClient()
        client.set_registered_model_alias("web", "champion", 1)
        assert [v.version for v in client.search_model_versions("name = 'web'")] == [2, 1]
        np.testing.assert_allclose(
            mlflow.sklearn.load_model("models:/web@champion").predict(X), fitted(0.0).predict(X)
        )
        np.testing.assert_allclose(
            mlflow.pyfunc.load_model("models:/web/latest").predict(X), fitted(10.0).predict(X)
        )
        with pytest.raises(reporter.MlflowException) as taken:
            client.create_registered_model("web")
        assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
        mlflow.set_tracking_uri(str(tmp_path / "local"))  # before the server goes away


def test_a_long_lived_registry_reads_what_a_fresh_one_reads_after_each_change(store):
    """The registry keeps each model as its files built it: after every change made by
    another process (here another store object), a registry that has read before reads the
    same as one that never has: versions, edits, renames, a name taken again, deletions."""
    from reporter.store.parquet.fs import StoreFS
    from reporter.store.parquet.model_registry import RegistryRecords

    kept = RegistryRecords(StoreFS(str(store)))
    other = RegistryRecords(StoreFS(str(store)))

    def snapshot(registry: RegistryRecords) -> Any:
        return (
            sorted(repr(m) for m in registry.list_models()),
            sorted(repr(v) for v in registry.list_versions()),
        )

    changes = [
        lambda: other.create_model("a", tags={"t": "1"}),
        lambda: other.create_model("b"),
        lambda: other.create_version("a", "/m1", run_id=None),
        lambda: other.create_version("a", "/m2"),
        lambda: other.create_version("b", "/m3"),
        lambda: other.set_alias("a", "champion", 2),
        lambda: other.update_version("a", 1, description="first"),
        lambda: other.set_version_tag("a", 2, "k", "v"),
        lambda: other.set_model_tag("b", "owner", "me"),
        lambda: other.rename_model("a", "c"),  # a's files unchanged; its name is a claim's
        lambda: other.create_model("a"),  # the name again, a new model
        lambda: other.create_version("a", "/m4"),
        lambda: other.rename_model("c", "a2"),
        lambda: other.delete_version("a2", 1),
        lambda: other.delete_model("b"),
    ]
    assert snapshot(kept) == ([], [])
    for step, change in enumerate(changes):
        change()
        fresh = RegistryRecords(StoreFS(str(store)))
        assert snapshot(kept) == snapshot(fresh), step
        for model in fresh.list_models():  # by name, as each reads it
            assert kept.get_model(model.name) == fresh.get_model(model.name), step
    assert sorted(m.name for m in kept.list_models()) == ["a", "a2"]
    assert kept.get_model("a2").aliases == {"champion": 2}
    assert [v.version for v in kept.list_versions() if v.name == "a2"] == [2]


def test_foreign_and_hostile_registry_files_are_skipped_and_the_rest_reads(store):
    """A stray or damaged file in the registry costs at most its own model or version, with a
    warning: names with non-ASCII digits, numbers JSON cannot hold as integers, deep nesting,
    wrong types, a model folder copied under another name."""
    import shutil

    client = MlflowClient()
    for name in ("A", "B", "C"):
        client.create_registered_model(name)
        for _ in range(3):
            client.create_model_version(name, f"/{name}")
    client.set_registered_model_alias("A", "champ", 3)
    before = {n: client.get_registered_model(n) for n in ("A", "B")}
    folders = {
        json.loads(p.read_text())["name"]: p.parent for p in store.glob("registry/*/model.json")
    }
    a, c = folders["A"], folders["C"]
    (a / "versions" / "\u00b3.json").write_text("{}")  # a superscript 3: int() takes it
    (a / "versions" / "\uff13.json").write_text("")  # a fullwidth 3, beside the real 3.json
    (a / "versions" / "_edits" / "\uff11").mkdir(parents=True)
    (a / "versions" / "_edits" / "\uff11" / "x.edit").write_text('{"set": {"deleted": true}}')
    (a / "_edits" / "zz-1.edit").write_text('{"aliases": {"champ": true}}')
    (a / "_edits" / "zz-2.edit").write_text("[" * 100_000 + "]" * 100_000)
    record = json.loads((c / "model.json").read_text())
    (c / "model.json").write_text(json.dumps({**record, "creation_timestamp": 1e999}))
    (c / "versions" / "2.json").write_text('{"version": Infinity, "creation_timestamp": 1}')
    shutil.copytree(folders["B"], folders["B"].parent / f"{folders['B'].name} (copy)")
    from reporter.tracking import uri

    uri.close_store(str(store))  # a new store object: nothing read before is cached
    fresh = MlflowClient()
    with pytest.warns(StoreWarning) as warned:
        names = sorted(m.name for m in fresh.search_registered_models())
    assert names == ["A", "B"]  # C's record is damaged; B's copy is not a second B
    assert fresh.get_registered_model("A") == before["A"]  # champ -> 3 kept, v1 not deleted
    assert [v.version for v in fresh.search_model_versions("name = 'A'")] == [3, 2, 1]
    assert fresh.get_model_version_by_alias("A", "champ").version == 3
    assert fresh.get_registered_model("B") == before["B"]
    shown = " ".join(str(w.message) for w in warned)
    assert "not named for it" in shown and "invalid registry edit" in shown
    assert "invalid registered model record" in shown
    assert mlflow.register_model("/a4", "A").version == 4  # and writing goes on


def test_deleting_a_version_keeps_an_alias_moved_to_another_meanwhile(store, monkeypatch):
    """Every serial order of `delete v1` and `move champ from v1 to v2` ends with champ -> 2,
    so the interleaving where the move lands between the delete's read and its write must too."""
    from reporter.store.parquet.fs import StoreFS
    from reporter.store.parquet.model_registry import RegistryRecords

    deleting = RegistryRecords(StoreFS(str(store)))
    other = RegistryRecords(StoreFS(str(store)))
    deleting.create_model("m")
    deleting.create_version("m", "/1")
    deleting.create_version("m", "/2")
    deleting.set_alias("m", "champ", 1)
    real = deleting._edit_version

    def then_the_move(*args: Any, **kwargs: Any) -> None:
        other.set_alias("m", "champ", 2)  # after the delete read champ -> 1
        real(*args, **kwargs)

    monkeypatch.setattr(deleting, "_edit_version", then_the_move)
    deleting.delete_version("m", 1)
    fresh = RegistryRecords(StoreFS(str(store)))
    assert fresh.get_model("m").aliases == {"champ": 2}
    assert fresh.version_by_alias("m", "champ").version == 2


def test_sync_never_mixes_two_stores_models_of_one_name(tmp_path):
    """Two stores each registered a model `churn`: syncing one into the other keeps the
    destination's model whole (records written once are never overwritten, no edit of the
    source's model is applied to it), says so, and copies the models that do not clash."""
    from reporter.store.sync import sync

    laptop, team = str(tmp_path / "laptop"), str(tmp_path / "team")
    for where, source in ((laptop, "/laptop"), (team, "/team")):
        client = MlflowClient(tracking_uri=where, registry_uri=where)
        client.create_experiment("e")  # (a store: a registry alone makes none)
        client.create_registered_model("churn", description=f"from {where}")
        for n in (1, 2):
            client.create_model_version("churn", f"{source}/v{n}")
        client.set_registered_model_alias("churn", "champ", 1 if source == "/team" else 2)
    MlflowClient(tracking_uri=laptop, registry_uri=laptop).create_registered_model("only-laptop")
    result = sync(laptop, team)
    assert [p.rsplit("/", 1)[-1] for p in result.conflicts] == ["model.json"]
    client = MlflowClient(tracking_uri=team, registry_uri=team)
    churn = client.get_registered_model("churn")
    assert churn.description == f"from {team}" and churn.aliases == {"champ": 1}
    assert sorted(str(v.source) for v in client.search_model_versions("name = 'churn'")) == [
        "/team/v1",
        "/team/v2",
    ]
    assert client.get_registered_model("only-laptop").name == "only-laptop"
    assert sync(laptop, team).conflicts == result.conflicts  # said again, changes nothing


def test_a_name_that_is_not_text_is_refused(store):
    with pytest.raises(reporter.InvalidArgumentError, match="not text"):
        MlflowClient().create_registered_model("\ud800")
