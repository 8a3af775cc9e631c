"""`tracker-report import mlflow` brings the model registry: file store, SQLite and REST.

Real MLflow (its own venv) builds one registry in each kind of store: several models, versions
made by `log_model`, `register_model`, a `runs:/` URI and a run's artifact path, deleted
versions (a gap, and the highest number), tags, aliases, descriptions, stage transitions, a
rename, a prompt, and names MLflow accepts that are hard on paths and pages. The child writes
what MLflow's own client reads back; each test imports the store into a fresh one and compares
what `reporter.MlflowClient` reads, value by value. A version's source is compared with where
the import is documented to point it (`expected_source`). Without MLflow's venv these tests
skip (they fail when CI=true).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.core.errors import NotFoundError, UnsupportedURIError
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.importers.mlflow.importer import ImportSummary, MlflowImportWarning, import_mlflow
from reporter.importers.mlflow.rest import RestSource
from reporter.importers.mlflow.source import SourceRegisteredModel
from reporter.store.rest.http import Http
from reporter.store.rest.registry import RestRegistry
from tests.conftest import CLI_CODE, PYTHON, python_env
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow, running_server
from tests.test_import_rest import fake_server, send

CLI = [PYTHON, "-c", CLI_CODE]

# Runs in MLflow's venv: `make` builds the registry, `change` changes it as a user would later;
# both print what MlflowClient reads back.
MLFLOW_SCRIPT = r"""
import json, shutil, sys, tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

root, where, mode = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3]
if where == "file":
    uri = str(root / "mlruns")
elif where == "sqlite":
    uri = f"sqlite:///{root / 'mlflow.db'}"
else:
    uri = where
mlflow.set_tracking_uri(uri)
c = MlflowClient()
PROBE = [[0.0], [1.4], [1.6], [3.0]]
HOSTILE = ["модель ✓ 模型 🚀", "l" * 200, "x..y", '<b>&amp;"quoted"\\']
made = {}


def fit(flip):
    from sklearn.linear_model import LogisticRegression

    y = [0, 0, 1, 1]
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [1 - v for v in y] if flip else y)


def log(name, flip, **kw):
    return mlflow.sklearn.log_model(
        fit(flip), name=name, serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"], **kw)


def make():
    mlflow.set_experiment("registry")
    with mlflow.start_run(run_name="first") as first:
        log("clf", False, registered_model_name="churn")                               # 1
        mlflow.log_text("read me\n", "notes/readme.txt")
    with mlflow.start_run(run_name="second") as second:
        log("clf", True)
    a, b = first.info.run_id, second.info.run_id
    c.update_registered_model("churn", description="# Churn\nwho leaves, *when*")
    c.set_registered_model_tag("churn", "team", "risk")
    c.set_registered_model_tag("churn", "nested/key.x", "välue ✓")
    mlflow.register_model(f"runs:/{b}/clf", "churn", tags={"flip": "yes"})              # 2
    c.create_model_version("churn", first.info.artifact_uri + "/notes", run_id=a)      # 3
    c.create_model_version("churn", f"runs:/{a}/clf", run_id=a, tags={"k": "v", "e": ""},
                           description="from runs:/", run_link="http://mlflow.example/r")  # 4
    c.create_model_version("churn", f"runs:/{b}/clf", run_id=b)                        # 5
    c.delete_model_version("churn", 2)  # a gap: 1, 3, 4
    c.delete_model_version("churn", 5)  # the highest: MLflow's next is 6 all the same
    c.update_model_version("churn", 1, description="the first")
    c.set_model_version_tag("churn", 1, "validated", "true")
    c.set_registered_model_alias("churn", "champion", 1)
    c.set_registered_model_alias("churn", "challenger", 4)
    c.set_registered_model_alias("churn", "notes", 3)
    c.transition_model_version_stage("churn", 1, "Production")
    c.transition_model_version_stage("churn", 4, "Staging")

    c.create_registered_model("old-name", tags={"a": "1"}, description="renamed later")
    c.create_model_version("old-name", "s3://elsewhere-bucket/model")
    c.set_registered_model_alias("old-name", "only", 1)
    c.rename_registered_model("old-name", "renamed")  # (the file store's fails on tagged versions)
    c.set_model_version_tag("renamed", 1, "where", "outside")
    c.create_registered_model("empty")
    for name in HOSTILE:
        c.create_registered_model(name, tags={"kind": "hostile"})
        c.create_model_version(name, f"runs:/{a}/clf", run_id=a)
    mlflow.genai.register_prompt(name="a-prompt", template="Hello {{name}}")

    mlflow.set_experiment("other")
    with mlflow.start_run(run_name="third"):
        log("net", False, registered_model_name="other-model")
    made["predict"] = {"plain": fit(False).predict(PROBE).tolist(),
                       "flipped": fit(True).predict(PROBE).tolist()}


def change():
    c.rename_registered_model("churn", "churn-v2")
    c.delete_model_version("churn-v2", 4)  # its alias goes with it
    c.set_registered_model_tag("churn-v2", "team", "retention")
    c.delete_registered_model_tag("churn-v2", "nested/key.x")
    c.set_registered_model_alias("churn-v2", "champion", 3)
    c.update_registered_model("churn-v2", description="moved")
    c.set_model_version_tag("churn-v2", 1, "validated", "again")
    c.update_model_version("churn-v2", 3, description="now described")
    c.transition_model_version_stage("churn-v2", 3, "Archived")


def version_dict(v):
    out = {k: getattr(v, k) for k in (
        "name", "creation_timestamp", "last_updated_timestamp", "description", "user_id",
        "current_stage", "source", "run_id", "run_link", "status", "status_message", "tags")}
    return {**out, "version": int(v.version), "aliases": sorted(v.aliases)}


def next_numbers(names):
    # the number MLflow gives each model's next version, asked of a copy of the store
    probe = Path(tempfile.mkdtemp())
    if where == "file":
        shutil.copytree(root / "mlruns", probe / "mlruns")
        other = str(probe / "mlruns")
    elif where == "sqlite":
        shutil.copy(root / "mlflow.db", probe / "mlflow.db")
        other = f"sqlite:///{probe / 'mlflow.db'}"
    else:
        return None
    pc = MlflowClient(tracking_uri=other, registry_uri=other)
    return {n: int(pc.create_model_version(n, "s3://probe/model").version) for n in names}


make() if mode == "make" else change()
models = {}
for m in c.search_registered_models(max_results=1000):
    full = c.get_registered_model(m.name)
    models[m.name] = {
        "creation_timestamp": full.creation_timestamp,
        "last_updated_timestamp": full.last_updated_timestamp,
        "description": full.description, "tags": full.tags,
        "aliases": {a: int(n) for a, n in full.aliases.items()},
        "latest": sorted([int(v.version), v.current_stage] for v in full.latest_versions),
        "by_alias": {a: version_dict(c.get_model_version_by_alias(m.name, a))
                     for a in full.aliases},
    }
searched = [version_dict(v) for v in c.search_model_versions(max_results=10000)]
runs = {}
logged = {}
for exp in c.search_experiments():
    for run in c.search_runs([exp.experiment_id]):
        runs[run.info.run_id] = run.info.artifact_uri
    for m in c.search_logged_models(experiment_ids=[exp.experiment_id]):
        logged[m.model_id] = [m.source_run_id, m.name]
print(json.dumps({
    **made,
    "models": models,
    "versions": [version_dict(c.get_model_version(v["name"], v["version"])) for v in searched],
    "searched": searched,
    "runs": runs,
    "logged": logged,
    "next": next_numbers(sorted(models)),
    "hostile": HOSTILE,
}))
"""


def run_mlflow(folder: Path, where: str, mode: str) -> dict[str, Any]:
    """Run the script in MLflow's venv in `folder` (SQLite's artifacts go to ./mlruns there)."""
    require_mlflow()
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", MLFLOW_SCRIPT, str(folder), where, mode],
        capture_output=True,
        text=True,
        cwd=folder,
        env=mlflow_env(MLFLOW_ALLOW_FILE_STORE="true"),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """A file store and a SQLite store holding the registry, each with what MLflow reads."""
    root = tmp_path_factory.mktemp("registries")
    out = {}
    for kind in ("file", "sqlite"):
        (root / kind).mkdir()
        out[kind] = (root / kind, run_mlflow(root / kind, kind, "make"))
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """An `mlflow server` (SQLite, proxied artifacts) holding the registry."""
    require_mlflow()
    root = tmp_path_factory.mktemp("served")
    with running_server(root, f"sqlite:///{root / 'db.sqlite'}", root / "artifacts") as url:
        yield url, run_mlflow(root, url, "make")


def source_of(kind: str, folder: Path) -> str:
    return str(folder / "mlruns") if kind == "file" else f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(params=["file", "sqlite", "rest"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, dict[str, Any]]:
    """(kind, what to import, what MLflow read back): a private copy of a local store."""
    kind = str(request.param)
    if kind == "rest":
        url, data = request.getfixturevalue("served")
        return kind, url, data
    folder, data = request.getfixturevalue("made")[kind]
    shutil.copytree(folder, tmp_path / "source")
    return kind, source_of(kind, tmp_path / "source"), data


def quiet_import(source: str, store: str, *names: str) -> ImportSummary:
    """Import, failing on any warning (nothing is to be skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MlflowImportWarning)
        return import_mlflow(source, store, names)


# --- what the registry reads back ------------------------------------------------------------


def optional(value: Any) -> Any:
    """MLflow's REST client reads an unset text as "" (its store has None): one value here."""
    return value or None


def expected_source(version: dict[str, Any], data: dict[str, Any]) -> str:
    """Where an imported version's source points (the README's rules): runs:/ as it was (run
    ids are kept), a logged model's `models:/<id>` at the files its run lists under the
    model's name, a path in a run's artifact root at the same file of the run, else as it was."""
    source = str(version["source"])
    if source.startswith("models:/m-"):
        run_id, name = data["logged"][source[len("models:/") :]]
        return f"runs:/{run_id}/{name}"
    for run_id, root in data["runs"].items():
        if source.startswith(root + "/"):
            return f"runs:/{run_id}/{source[len(root) + 1 :]}"
    return source


def check_version(got: ModelVersion, want: dict[str, Any], data: dict[str, Any]) -> None:
    """Compare one version, field by field, with what MLflow read back."""
    assert (got.name, got.version) == (want["name"], want["version"])
    assert (got.creation_timestamp, got.last_updated_timestamp) == (
        want["creation_timestamp"],
        want["last_updated_timestamp"],
    )
    assert (got.current_stage, got.status, got.status_message) == (
        want["current_stage"],
        want["status"],
        want["status_message"],
    )
    for key in ("description", "user_id", "run_id", "run_link"):
        assert optional(getattr(got, key)) == optional(want[key]), key
    assert got.tags == want["tags"]
    assert got.source == expected_source(want, data)


def check_registry(store: str, data: dict[str, Any], kind: str) -> None:
    """Compare everything `reporter.MlflowClient` reads with what MLflow's client read."""
    client = reporter.MlflowClient(store)
    searched = {m.name: m for m in client.search_registered_models(max_results=1000)}
    assert set(searched) == set(data["models"])  # the prompt is left out, as MLflow's search
    assert len(searched) >= 8
    for name, want in data["models"].items():
        got = client.get_registered_model(name)
        assert searched[name] == got
        assert (got.creation_timestamp, got.last_updated_timestamp) == (
            want["creation_timestamp"],
            want["last_updated_timestamp"],
        )
        assert optional(got.description) == optional(want["description"])
        assert (got.tags, got.aliases) == (want["tags"], want["aliases"])
        assert sorted([v.version, v.current_stage] for v in got.latest_versions) == want["latest"]
        for alias, version in want["by_alias"].items():
            by_alias = client.get_model_version_by_alias(name, alias)
            check_version(by_alias, version, data)
            assert by_alias.aliases == version["aliases"]
    versions = {(v.name, v.version): v for v in client.search_model_versions(max_results=10_000)}
    assert set(versions) == {(v["name"], v["version"]) for v in data["versions"]}
    assert len(versions) >= 8
    for want in data["versions"]:
        version = client.get_model_version(want["name"], want["version"])
        check_version(version, want, data)
        check_version(versions[want["name"], want["version"]], want, data)
        assert version.aliases == want["aliases"]
        assert client.get_model_version_download_uri(want["name"], want["version"]) == (
            expected_source(want, data)
        )
    for number in (2, 5):  # deleted in MLflow
        with pytest.raises(NotFoundError):
            client.get_model_version("churn", number)
    if data["next"] is not None:  # numbers MLflow gave deleted versions stay taken
        for name, number in data["next"].items():
            assert client.create_model_version(name, "s3://probe/model").version == number


def test_the_registry_reads_back_as_mlflow_reads_it(source, store_uri):
    kind, uri, data = source
    summary = quiet_import(uri, store_uri)
    check_registry(store_uri, data, kind)
    counts = summary.registry
    assert (counts.models_new, counts.models_updated, counts.models_unchanged) == (
        len(data["models"]),
        0,
        0,
    )
    deleted = 0 if kind == "rest" else 2  # a server does not list deleted versions
    assert counts.versions_new == len(data["versions"]) + deleted
    assert counts.prompts == (0 if kind == "rest" else 1)  # (MLflow's SQL search skips them)


def registry_files(store: str) -> dict[str, bytes]:
    folder = Path(store) / "registry"
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_second_import_changes_nothing(source, store_uri):
    kind, uri, data = source
    first = quiet_import(uri, store_uri)
    files = registry_files(store_uri)
    again = quiet_import(uri, store_uri)
    assert registry_files(store_uri) == files  # not one file written
    counts = again.registry
    assert (counts.models_new, counts.models_updated, counts.versions_new) == (0, 0, 0)
    assert counts.versions_updated == 0
    assert counts.models_unchanged == first.registry.models_new
    assert counts.versions_unchanged == first.registry.versions_new
    check_registry(store_uri, data, kind)


def test_models_load_by_alias_and_number_from_the_imported_store(source, store_uri):
    _, uri, data = source
    quiet_import(uri, store_uri)
    plain, flipped = data["predict"]["plain"], data["predict"]["flipped"]
    probe = [[0.0], [1.4], [1.6], [3.0]]
    for model_uri, want in (
        ("models:/churn@champion", plain),  # a logged model's models:/<id>
        ("models:/churn@challenger", plain),  # runs:/<run>/clf
        ("models:/churn/1", plain),
        ("models:/other-model/latest", plain),
        (f"models:/{data['hostile'][0]}/1", plain),
    ):
        assert reporter.pyfunc.load_model(model_uri).predict(probe).tolist() == want, model_uri
    with pytest.raises(NotFoundError):
        reporter.pyfunc.load_model("models:/churn/2")  # deleted in MLflow (it was `flipped`)
    assert flipped != plain


def test_small_pages_read_the_same_registry_from_a_server(served):
    url, data = served
    whole = RestSource(url).registered_models()
    paged = RestSource(url)
    paged.registry_page = 2  # the server pages both searches, with page tokens
    assert paged.registered_models() == whole
    models = [m for m in whole if isinstance(m, SourceRegisteredModel)]
    assert sorted(m.name for m in models) == sorted(data["models"])
    numbers = sorted((m.name, v.version) for m in models for v in m.versions)
    assert numbers == sorted((v["name"], v["version"]) for v in data["versions"])


# --- later imports ---------------------------------------------------------------------------


def test_what_mlflow_changed_since_comes_on_the_next_import(made, tmp_path, store_uri):
    folder, data = made["sqlite"]
    copy = tmp_path / "source"
    shutil.copytree(folder, copy)
    quiet_import(source_of("sqlite", copy), store_uri)
    changed = run_mlflow(copy, "sqlite", "change")  # renamed, a version deleted, ...
    summary = quiet_import(source_of("sqlite", copy), store_uri)
    check_registry(store_uri, changed, "sqlite")
    counts = summary.registry
    assert (counts.models_new, counts.models_updated) == (0, 1)  # renamed, not made anew
    assert (counts.versions_new, counts.versions_updated) == (0, 3)  # 1, 3 changed; 4 deleted
    with pytest.raises(NotFoundError):
        reporter.MlflowClient(store_uri).get_registered_model("churn")
    assert "churn-v2" not in data["models"]


def test_one_experiment_brings_the_versions_its_runs_made(made, tmp_path, store_uri):
    folder, data = made["sqlite"]
    shutil.copytree(folder, tmp_path / "source")
    uri = source_of("sqlite", tmp_path / "source")
    quiet_import(uri, store_uri, "other")
    client = reporter.MlflowClient(store_uri)
    assert [m.name for m in client.search_registered_models()] == ["other-model"]
    (version,) = client.search_model_versions()
    check_version(version, next(v for v in data["versions"] if v["name"] == "other-model"), data)
    summary = quiet_import(uri, store_uri)  # then everything: nothing twice
    assert (summary.registry.models_unchanged, summary.registry.versions_unchanged) == (1, 1)
    check_registry(store_uri, data, "sqlite")


def test_what_was_changed_here_since_the_import_is_kept_by_the_next(made, tmp_path, store_uri):
    """A re-import changes a model or version only when MLflow changed it after the store
    did: edits made here since (a tag, an alias, a description, a stage) stay, and are
    counted; MLflow's later changes still come."""
    folder, data = made["sqlite"]
    copy = tmp_path / "source"
    shutil.copytree(folder, copy)
    uri = source_of("sqlite", copy)
    quiet_import(uri, store_uri)
    client = reporter.MlflowClient(store_uri)
    client.set_registered_model_tag("churn", "owner", "store-side")
    client.set_registered_model_alias("churn", "here", 3)
    client.update_model_version("churn", 4, description="edited here")
    client.transition_model_version_stage("churn", 3, "Archived")
    files = registry_files(store_uri)
    summary = quiet_import(uri, store_uri)
    assert registry_files(store_uri) == files  # nothing overwritten
    assert summary.registry.kept == 3  # churn, its versions 4 and 3
    churn = client.get_registered_model("churn")
    assert churn.tags["owner"] == "store-side" and churn.aliases["here"] == 3
    assert client.get_model_version("churn", 4).description == "edited here"
    assert client.get_model_version("churn", 3).current_stage == "Archived"
    # the other models and versions still read as MLflow's
    other = data["models"]["other-model"]
    assert client.get_registered_model("other-model").description == optional(other["description"])


def test_one_experiment_keeps_the_numbers_of_deleted_versions(made, tmp_path, store_uri):
    """MLflow's SQL store forgets a deleted version's run: an import of one experiment still
    brings the model's deleted versions, so the next number here is MLflow's."""
    folder, data = made["sqlite"]
    shutil.copytree(folder, tmp_path / "source")
    quiet_import(source_of("sqlite", tmp_path / "source"), store_uri, "registry")
    assert reporter.register_model("s3://bucket/m", "churn").version == data["next"]["churn"]


# --- damaged and hostile sources -------------------------------------------------------------


def execute(db: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    con = sqlite3.connect(db)
    try:
        for sql, args in statements:
            con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def damage(kind: str, folder: Path) -> list[str]:
    """Damage one model, one version and one alias of the copied store; return what each
    warning must name."""
    if kind == "file":
        models = folder / "mlruns" / "models"
        # (no time MLflow would write; a record of another number: read, they would import
        # as made now, or as version 3 made in 1970)
        (models / "empty" / "meta.yaml").write_text(
            "name: empty\ncreation_timestamp: yesterday\n", encoding="utf-8"
        )
        (models / "churn" / "version-3" / "meta.yaml").write_text("version: abc\n")
        (models / "churn" / "aliases" / "challenger").write_text("four", encoding="utf-8")
        return [
            str(models / "empty" / "meta.yaml"),
            str(models / "churn" / "version-3" / "meta.yaml"),
            str(models / "churn" / "aliases" / "challenger"),
        ]
    execute(
        folder / "mlflow.db",
        ("UPDATE registered_models SET creation_time = 'soon' WHERE name = 'empty'", ()),
        ("UPDATE model_versions SET version = 'three' WHERE name = 'churn' AND version = 3", ()),
        ("UPDATE registered_model_aliases SET version = 'four' WHERE alias = 'challenger'", ()),
    )
    return ["registered model 'empty'", "version 'three' of", "alias 'challenger'"]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_a_damaged_record_is_skipped_with_a_warning_and_the_rest_imports(
    kind, made, tmp_path, store_uri
):
    folder, data = made[kind]
    copy = tmp_path / "source"
    shutil.copytree(folder, copy)
    named = damage(kind, copy)
    with pytest.warns(MlflowImportWarning) as caught:
        summary = import_mlflow(source_of(kind, copy), store_uri)
    messages = [str(w.message) for w in caught]
    for what in named:
        assert any(what in m for m in messages), (what, messages)
    assert len(summary.skipped) == 3
    client = reporter.MlflowClient(store_uri)
    names = {m.name for m in client.search_registered_models(max_results=1000)}
    assert names == set(data["models"]) - {"empty"}
    churn = client.get_registered_model("churn")
    assert churn.aliases == {"champion": 1}  # (`notes` shows once version 3 comes)
    assert sorted(v.version for v in client.search_model_versions("name = 'churn'")) == [1, 4]
    rest = [v for v in data["versions"] if (v["name"], v["version"]) != ("churn", 3)]
    for want in rest:
        check_version(client.get_model_version(want["name"], want["version"]), want, data)


REFUSED = ["../escaped", "a/../../b", "..", "c:d"]  # names MLflow's own client refuses
LONG = "y" * 2000


def inject_hostile(kind: str, folder: Path) -> None:
    """Put what MLflow's own client would not write into the copied store: names that are
    paths, a name far too long for a folder, a reserved alias, a tag key that leaves its
    folder."""
    if kind == "file":
        models = folder / "mlruns" / "models"
        for i, name in enumerate([*REFUSED, LONG]):
            (models / f"evil{i}" / "version-1").mkdir(parents=True)
            meta = {"name": name, "creation_timestamp": 1, "last_updated_timestamp": 1}
            (models / f"evil{i}" / "meta.yaml").write_text(json.dumps(meta), encoding="utf-8")
            version = {"name": name, "version": 1, "creation_timestamp": 1, "source": "/etc"}
            (models / f"evil{i}" / "version-1" / "meta.yaml").write_text(
                json.dumps(version), encoding="utf-8"
            )
        (models / "churn" / "aliases" / "latest").write_text("1", encoding="utf-8")
        return
    db = folder / "mlflow.db"
    for name in [*REFUSED, LONG]:
        execute(
            db,
            ("INSERT INTO registered_models (name, creation_time) VALUES (?, 1)", (name,)),
            (
                "INSERT INTO model_versions (name, version, creation_time, source, "
                "current_stage, status) VALUES (?, 1, 1, '/etc', 'None', 'READY')",
                (name,),
            ),
        )
    execute(
        db,
        ("INSERT INTO registered_model_tags (key, value, name) VALUES ('../k', 'v', 'churn')", ()),
        (
            "INSERT INTO registered_model_aliases (alias, version, name) VALUES ('v9', 1, 'churn')",
            (),
        ),
    )


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_hostile_names_are_refused_by_name_and_write_nothing_outside_the_store(
    kind, made, tmp_path, store_uri
):
    folder, data = made[kind]
    copy = tmp_path / "source"
    shutil.copytree(folder, copy)
    inject_hostile(kind, copy)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.warns(MlflowImportWarning) as caught:
        import_mlflow(source_of(kind, copy), store_uri)
    messages = [str(w.message) for w in caught]
    for name in REFUSED:
        assert any(f"Skipped registered model {name!r}: Invalid" in m for m in messages), name
    if kind == "sqlite":
        assert any("tag '../k' of registered model 'churn'" in m for m in messages)
        assert any("alias 'v9' of registered model 'churn'" in m for m in messages)
    else:
        assert any("alias 'latest' of registered model 'churn'" in m for m in messages)
    assert len(messages) == len(REFUSED) + (2 if kind == "sqlite" else 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "store"])
    client = reporter.MlflowClient(store_uri)
    long = client.get_model_version(LONG, 1)  # a name is never a path: any length is safe
    assert (long.name, long.source, long.creation_timestamp) == (LONG, "/etc", 1)
    client.delete_registered_model(LONG)
    check_registry(store_uri, data, kind)  # the rest as MLflow has it


# --- errors ----------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=python_env(), check=False
    )


def test_a_model_of_the_same_name_in_the_store_is_kept_and_the_sources_skipped(
    made, tmp_path, store_uri
):
    folder, _ = made["sqlite"]
    shutil.copytree(folder, tmp_path / "source")
    mine = reporter.MlflowClient(store_uri)
    mine.create_registered_model("churn", {"mine": "yes"}, "my own churn")
    mine.create_model_version("churn", "s3://mine/model")
    done = cli("import", "mlflow", source_of("sqlite", tmp_path / "source"), "--store", store_uri)
    assert done.returncode == 0, done.stderr
    assert "registered model 'churn': Registered Model (name=churn) already exists" in done.stdout
    assert "1 items were skipped" in done.stderr
    kept = mine.get_registered_model("churn")
    assert (kept.description, kept.tags, kept.aliases) == ("my own churn", {"mine": "yes"}, {})
    assert [v.source for v in mine.search_model_versions("name = 'churn'")] == ["s3://mine/model"]
    assert "renamed" in {m.name for m in mine.search_registered_models()}


def test_an_unreadable_registry_is_a_clear_error_and_the_runs_stay(made, tmp_path, store_uri):
    folder, data = made["sqlite"]
    copy = tmp_path / "source"
    shutil.copytree(folder, copy)
    execute(copy / "mlflow.db", ("ALTER TABLE model_versions DROP COLUMN run_link", ()))
    done = cli("import", "mlflow", source_of("sqlite", copy), "--store", store_uri)
    assert done.returncode == 1, done.stderr
    assert "Cannot read" in done.stderr and "run_link" in done.stderr
    assert "Traceback" not in done.stderr
    client = reporter.MlflowClient(store_uri)
    assert {r for r in data["runs"]} == {
        r.info.run_id
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
    }


def test_a_server_whose_registry_fails_is_a_clear_error(store_uri):
    def respond(handler: Any) -> None:
        if "registered-models" in handler.path:
            send(handler, 400, {"error_code": "INTERNAL_ERROR", "message": "database is locked"})
        else:
            send(handler, 200, {})  # no experiments

    with fake_server(respond) as url:
        done = cli("import", "mlflow", url, "--store", store_uri)
    assert done.returncode == 1, done.stderr
    assert "answered INTERNAL_ERROR: database is locked" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_server_without_a_registry_imports_its_runs_alone(store_uri):
    def respond(handler: Any) -> None:
        if "registered-models" in handler.path:
            send(handler, 404, b"not here")
        else:
            send(handler, 200, {})

    with fake_server(respond) as url:
        summary = quiet_import(url, store_uri)
    assert not summary.registry.any() and not summary.skipped


def test_a_tracking_server_store_refuses_an_import_saying_where_to_import():
    registry = RestRegistry(Http("http://127.0.0.1:9"))  # (never contacted)
    for call in (
        lambda: registry.import_model(RegisteredModel("m", 1, 1)),
        lambda: registry.import_version(ModelVersion("m", 1, 1, 1)),
    ):
        with pytest.raises(UnsupportedURIError, match="Import into a folder or an object store"):
            call()
