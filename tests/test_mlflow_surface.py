"""MLflow 3's fluent surface and module paths: every name MLflow tracking code imports exists
with MLflow's signature and behaviour, and every name of a feature left out on purpose raises
an error naming the feature. Real MLflow (its own venv) is the reference where it runs."""

from __future__ import annotations

import inspect
import io
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import reporter
import reporter as mlflow
from reporter import artifacts
from reporter.core import unsupported
from reporter.store.registry import open_store
from reporter.utils import mlflow_tags
from tests.conftest import PYTHON, python_env
from tests.mlflow_server import VENV_PYTHON, mlflow_env, mlflow_json, require_mlflow

# Names of MLflow 3's `mlflow.__all__` that other engineers of issue 15 are adding (datasets,
# logged models, pyfunc). The lead empties this once their work is exported from `reporter`.
PROVIDED_ELSEWHERE: frozenset[str] = frozenset()
# Callables whose signature differs from MLflow's on purpose or elsewhere, with the reason.
SIGNATURE_EXCEPTIONS = {
    # a LoggedModel (its fields) that is also a context manager; MLflow's wraps one
    "ActiveModel": "experiment_id",
}

MLFLOW_FACTS = """
    import inspect, json, mlflow, mlflow.entities
    from mlflow.utils.lazy_load import LazyLoader

    def signature(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        return [
            [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
            for p in params
        ]

    names = sorted(set(mlflow.__all__))
    print(json.dumps({
        "all": names,
        "lazy": sorted(n for n in dir(mlflow) if isinstance(getattr(mlflow, n), LazyLoader)),
        "entities": sorted(mlflow.entities.__all__),
        "signatures": {
            n: signature(getattr(mlflow, n)) for n in names if callable(getattr(mlflow, n))
        },
    }))
"""


@pytest.fixture(scope="module")
def mlflow_facts() -> dict[str, Any]:
    """Names and signatures of MLflow 3's public API, read from MLflow's own venv."""
    facts: dict[str, Any] = mlflow_json(MLFLOW_FACTS)
    return facts


def second_store_run(run_id: str) -> reporter.Run:
    """Read a run through a new store object: only what was written to the store is seen."""
    store = open_store(mlflow.get_tracking_uri())
    try:
        return store.get_run(run_id)
    finally:
        store.close()


# left out on purpose ---------------------------------------------------------------------
def test_every_name_of_mlflows_all_is_provided_or_names_its_feature(mlflow_facts):
    assert len(mlflow_facts["all"]) > 100  # MLflow 3.17 has 117 distinct names
    lacking = []
    for name in sorted(set(mlflow_facts["all"]) - PROVIDED_ELSEWHERE):
        try:
            getattr(reporter, name)
        except reporter.UnsupportedFeatureError as err:
            assert err.name == name
            assert err.feature == unsupported.LEFT_OUT[name]
            assert err.feature in str(err) and "is not part of tracker-report" in str(err)
            assert f"mlflow.{name}" in str(err)
        except AttributeError:
            lacking.append(name)
    assert lacking == [], "MLflow names neither provided nor classified as left out"


def test_every_flavor_of_mlflow_is_provided_or_names_its_feature(mlflow_facts):
    for name in sorted(set(mlflow_facts["lazy"]) - PROVIDED_ELSEWHERE):
        if name in unsupported.LEFT_OUT:
            with pytest.raises(reporter.UnsupportedFeatureError, match=name):
                getattr(reporter, name)
        else:
            assert inspect.ismodule(getattr(reporter, name)), name


def test_the_classification_covers_all_of_mlflows_names_once(mlflow_facts):
    provided = {n for n in mlflow_facts["all"] if n not in unsupported.LEFT_OUT}
    assert provided - PROVIDED_ELSEWHERE <= set(dir(reporter)) | set(reporter._LAZY_SUBMODULES)
    # no name is both provided and classified as left out (the attribute would win silently)
    assert not set(unsupported.LEFT_OUT) & (set(vars(reporter)) | set(reporter._LAZY_SUBMODULES))
    assert not set(unsupported.LEFT_OUT) & PROVIDED_ELSEWHERE


def test_a_left_out_feature_keeps_hasattr_and_getattr_patterns_working():
    assert not hasattr(mlflow, "trace")
    assert getattr(mlflow, "start_span", None) is None
    with pytest.raises(AttributeError) as err:
        mlflow.load_prompt("prompts:/greeting/1")
    assert isinstance(err.value, reporter.ReporterError)
    assert err.value.error_code == "NOT_IMPLEMENTED"
    assert "the prompt registry" in str(err.value) and "not part of tracker-report" in str(
        err.value
    )
    with pytest.raises(reporter.UnsupportedFeatureError, match="the tensorflow model flavor"):
        mlflow.tensorflow.autolog()
    with pytest.raises(reporter.UnsupportedFeatureError, match="MLflow Tracing"):
        mlflow.context()  # MLflow 3's mlflow.context is tracing's, not a module
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'") as plain:
        mlflow.no_such_name  # noqa: B018
    assert not isinstance(plain.value, reporter.UnsupportedFeatureError)
    # `from reporter import trace` gets Python's own ImportError (it swallows AttributeErrors)
    with pytest.raises(ImportError, match="cannot import name 'trace'"):
        exec("from reporter import trace", {})


def test_importing_the_facades_and_asking_for_a_left_out_name_stays_light():
    code = (
        "import sys, reporter, reporter.exceptions, reporter.client, reporter.entities\n"
        "import reporter.artifacts, reporter.protos.databricks_pb2, reporter.utils.mlflow_tags\n"
        "hasattr(reporter, 'trace'); hasattr(reporter, 'pytorch')\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'PIL') if m in sys.modules))"
    )
    done = subprocess.run(
        [PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# signatures -------------------------------------------------------------------------------
def test_provided_functions_take_mlflows_arguments(mlflow_facts):
    checked, different = [], {}
    for name, theirs in sorted(mlflow_facts["signatures"].items()):
        skip = name in SIGNATURE_EXCEPTIONS or name in PROVIDED_ELSEWHERE
        if theirs is None or skip or not hasattr(reporter, name):
            continue
        ours = [
            [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
            for p in inspect.signature(getattr(reporter, name)).parameters.values()
        ]
        head = ours[: len(theirs)]
        if inspect.isclass(getattr(reporter, name)):  # constructors: names and kinds
            head, theirs = [p[:2] for p in head], [p[:2] for p in theirs]
        extra = ours[len(theirs) :]  # our additions never shift MLflow's positions
        if head != theirs or any(
            kind not in ("KEYWORD_ONLY", "VAR_KEYWORD") for _, kind, _ in extra
        ):
            different[name] = {"mlflow": theirs, "ours": ours}
        checked.append(name)
    assert different == {}
    for name in ("load_table", "log_metric", "log_metrics", "log_image", "get_parent_run"):
        assert name in checked


def test_entities_are_mlflows_names(mlflow_facts):
    assert set(reporter.entities.__all__) <= set(mlflow_facts["entities"])
    for name in ("FileInfo", "RunStatus", "ViewType", "ExperimentTag", "Metric", "Param"):
        assert name in reporter.entities.__all__
    for name in ("RunTag", "SourceType", "LifecycleStage", "Run", "RunInfo", "Experiment"):
        assert name in reporter.entities.__all__


# the same script under MLflow and under reporter -----------------------------------------
SAME_SCRIPT = """
    import importlib, json, os, sys
    lib = sys.argv[1]
    if lib == "mlflow":
        import mlflow
        mlflow.set_tracking_uri("sqlite:///db.sqlite")
    else:
        import reporter as mlflow
        mlflow.set_tracking_uri("store")
    import_ = lambda path: importlib.import_module(f"{lib}.{path}")
    arts = import_("artifacts")
    entities = import_("entities")
    pb = import_("protos.databricks_pb2")
    exceptions = import_("exceptions")
    tags = import_("utils.mlflow_tags")
    out = {}

    def record(name, fn):
        try:
            out[name] = fn()
        except mlflow.MlflowException as e:
            out[name] = {"error_code": e.error_code, "http": e.get_http_status_code()}

    def tree(path):
        return sorted(os.path.relpath(os.path.join(d, f), path)
                      for d, _, files in os.walk(path) for f in files)

    def infos(items):
        return [[i.path, i.is_dir, i.file_size] for i in items]

    mlflow.set_experiment("surface")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", "0.1")
        mlflow.log_text("hello", "a/b.txt")
        mlflow.log_text("bye", "a/c/d.txt")
        mlflow.log_dict({"k": [1, 2]}, "d.json")
        mlflow.log_text("{not json", "bad.json")
        mlflow.log_table({"x": [1, 2], "y": ["p", "q"]}, "t.json")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_param("lr", "0.2")
            mlflow.log_table({"x": [3], "y": ["r"]}, "t.json")
        record("param_conflict", lambda: mlflow.log_param("lr", "9"))
        record("delete_tag_missing", lambda: mlflow.delete_tag("nope"))
    rid, cid = parent.info.run_id, child.info.run_id
    names = {rid: "parent", cid: "child"}

    record("dl_file", lambda: os.path.relpath(
        arts.download_artifacts(f"runs:/{rid}/a/b.txt", dst_path="o1")))
    record("dl_dir", lambda: tree(arts.download_artifacts(f"runs:/{rid}/a", dst_path="o2")))
    record("dl_dir_path", lambda: os.path.relpath(
        arts.download_artifacts(f"runs:/{rid}/a", dst_path="o2")))
    record("dl_run_path", lambda: os.path.relpath(
        arts.download_artifacts(run_id=rid, artifact_path="a/c", dst_path="o3")))
    record("dl_root", lambda: tree(arts.download_artifacts(run_id=rid, dst_path="o4")))
    record("dl_missing", lambda: arts.download_artifacts(f"runs:/{rid}/nope.txt"))
    record("dl_both", lambda: arts.download_artifacts("x", run_id=rid))
    record("dl_neither", lambda: arts.download_artifacts())
    record("dl_uri_and_path", lambda: arts.download_artifacts("x", artifact_path="y"))
    record("dl_local_dst", lambda: os.path.relpath(
        arts.download_artifacts(os.path.abspath("o1/b.txt"), dst_path="o5")))
    record("dl_local", lambda: os.path.relpath(
        arts.download_artifacts(os.path.abspath("o1/b.txt"))))
    record("dl_local_missing", lambda: arts.download_artifacts(os.path.abspath("o1/none.txt")))
    record("load_text", lambda: arts.load_text(f"runs:/{rid}/a/b.txt"))
    record("load_text_file_uri", lambda: arts.load_text("file://" + os.path.abspath("o1/b.txt")))
    record("load_dict", lambda: arts.load_dict(f"runs:/{rid}/d.json"))
    record("load_dict_bad", lambda: arts.load_dict(f"runs:/{rid}/bad.json"))
    record("ls_run", lambda: infos(arts.list_artifacts(run_id=rid)))
    record("ls_run_path", lambda: infos(arts.list_artifacts(run_id=rid, artifact_path="a")))
    record("ls_uri_dir", lambda: infos(arts.list_artifacts(f"runs:/{rid}/a")))
    record("ls_uri_file", lambda: infos(arts.list_artifacts(f"runs:/{rid}/a/b.txt")))
    record("ls_missing", lambda: infos(arts.list_artifacts(f"runs:/{rid}/zzz")))
    record("ls_local", lambda: infos(arts.list_artifacts(os.path.abspath("o2"))))
    record("ls_bad_run", lambda: arts.list_artifacts(run_id="nope"))

    record("parent_of_child", lambda: names[mlflow.get_parent_run(cid).info.run_id])
    record("parent_of_parent", lambda: mlflow.get_parent_run(rid))
    record("parent_of_missing", lambda: mlflow.get_parent_run("nope"))
    record("load_table", lambda: [
        {k: names.get(v, v) for k, v in row.items()}
        for row in mlflow.load_table("t.json", extra_columns=["run_id"]).to_dict("records")])
    record("load_table_subset", lambda: mlflow.load_table(
        "t.json", run_ids=[cid]).to_dict("records"))
    record("load_table_missing", lambda: mlflow.load_table("nope.json"))

    record("get_run_missing", lambda: mlflow.get_run("nope"))
    record("create_duplicate", lambda: [mlflow.create_experiment("dup"),
                                        mlflow.create_experiment("dup")])
    record("bad_filter", lambda: mlflow.search_runs(filter_string="metrics.x >>> 1"))
    record("delete_experiment_tag_missing", lambda: mlflow.delete_experiment_tag("nope"))
    mlflow.set_experiment_tag("k", "v")
    mlflow.set_experiment_tag("keep", "1")
    mlflow.delete_experiment_tag("k")
    record("experiment_tags", lambda: mlflow.get_experiment_by_name("surface").tags)
    gone = mlflow.create_experiment("gone")
    mlflow.delete_experiment(gone)
    record("set_deleted", lambda: mlflow.set_experiment("gone"))
    mlflow.restore_experiment(gone)
    record("set_restored", lambda: mlflow.set_experiment("gone").lifecycle_stage)
    record("is_tracking_uri_set", mlflow.is_tracking_uri_set)
    record("flush", mlflow.flush_async_logging)

    RunStatus, ViewType = entities.RunStatus, entities.ViewType
    record("statuses", lambda: [RunStatus.to_string(RunStatus.FINISHED),
                                RunStatus.is_terminated(RunStatus.KILLED),
                                RunStatus.is_terminated(RunStatus.RUNNING),
                                RunStatus.to_string(RunStatus.from_string("FAILED")),
                                ViewType.to_string(ViewType.ALL),
                                entities.SourceType.to_string(entities.SourceType.LOCAL),
                                entities.LifecycleStage.view_type_to_stages(ViewType.ALL)])
    record("error_codes", lambda: [pb.ErrorCode.Name(pb.RESOURCE_DOES_NOT_EXIST),
                                   pb.ErrorCode.Value("INVALID_PARAMETER_VALUE"),
                                   exceptions.RESOURCE_ALREADY_EXISTS,
                                   exceptions.get_error_code(404),
                                   exceptions.MlflowException("m").error_code])
    error = exceptions.MlflowException("m", error_code=exceptions.INVALID_PARAMETER_VALUE)
    record("exception", lambda: [error.error_code, error.message, error.get_http_status_code(),
                                 json.loads(error.serialize_as_json())["error_code"]])
    rest = exceptions.RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "x"})
    record("rest_exception", lambda: [rest.error_code, rest.message])
    record("tags", lambda: {n: getattr(tags, n) for n in sys.argv[2].split(",")})
    info = entities.FileInfo("a", False, 3)
    record("file_info", lambda: [info == entities.FileInfo("a", False, 3), info.file_size])
    print(json.dumps(out, default=str))
"""


def run_same_script(folder: Path, library: str) -> dict[str, Any]:
    """Run SAME_SCRIPT under one library in its own folder and return what it recorded."""
    folder.mkdir()
    tags = ",".join(mlflow_tags.__all__)
    if library == "mlflow":
        command, env = [str(VENV_PYTHON)], mlflow_env()
    else:
        command, env = [PYTHON], python_env(TRACKER_LOG_ENVIRONMENT="0")
    done = subprocess.run(
        [*command, "-c", textwrap.dedent(SAME_SCRIPT), library, tags],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{library}: {done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_same_script_gives_the_same_answers_under_mlflow_and_reporter(tmp_path):
    require_mlflow()
    theirs = run_same_script(tmp_path / "mlflow", "mlflow")
    ours = run_same_script(tmp_path / "reporter", "reporter")
    assert theirs["load_table"]  # the script ran to its end under MLflow
    assert set(ours) == set(theirs)
    different = {key: {"mlflow": theirs[key], "ours": ours[key]} for key in theirs}
    different = {k: v for k, v in different.items() if v["mlflow"] != v["ours"]}
    assert different == {}


# exceptions --------------------------------------------------------------------------------
def test_errors_carry_mlflows_error_codes(client):
    from reporter.exceptions import MlflowException
    from reporter.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    with pytest.raises(MlflowException) as err:
        mlflow.get_run("0123456789abcdef")
    assert err.value.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
    assert err.value.get_http_status_code() == 404
    assert "0123456789abcdef" in err.value.message
    mlflow.create_experiment("twice")
    with pytest.raises(reporter.AlreadyExistsError) as dup:
        mlflow.create_experiment("twice")
    assert isinstance(dup.value, reporter.InvalidArgumentError)  # still a ValueError too
    assert (dup.value.error_code, dup.value.get_http_status_code()) == (
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    with mlflow.start_run():
        mlflow.log_param("a", 1)
        with pytest.raises(reporter.ParamConflictError) as conflict:
            mlflow.log_param("a", 2)
        assert conflict.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(reporter.RunStateError) as state:
            mlflow.start_run()
        assert state.value.error_code == "INVALID_STATE"


def test_mlflow_exception_is_constructed_as_mlflows():
    from reporter.exceptions import (
        INVALID_PARAMETER_VALUE,
        MissingConfigException,
        MlflowException,
        RestException,
    )

    err = MlflowException("bad value", error_code=INVALID_PARAMETER_VALUE, detail="x")
    assert (err.error_code, err.message, str(err)) == (
        "INVALID_PARAMETER_VALUE",
        "bad value",
        "bad value",
    )
    assert json.loads(err.serialize_as_json()) == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "bad value",
        "detail": "x",
    }
    assert MlflowException("m", error_code="NO_SUCH_CODE").error_code == "INTERNAL_ERROR"
    assert MlflowException.invalid_parameter_value("m").get_http_status_code() == 400
    rest = RestException({"error_code": "PERMISSION_DENIED", "message": "no"})
    assert (rest.error_code, rest.message, rest.get_http_status_code()) == (
        "PERMISSION_DENIED",
        "PERMISSION_DENIED: no",
        403,
    )
    assert MissingConfigException("m").error_code == "INTERNAL_ERROR"
    assert issubclass(reporter.NotFoundError, MlflowException)


# module paths -----------------------------------------------------------------------------
def test_module_paths_mlflow_code_imports_exist():
    from reporter.client import MlflowClient as FromClient
    from reporter.entities import FileInfo, SourceType
    from reporter.tracking import MlflowClient as FromTracking
    from reporter.tracking import is_tracking_uri_set
    from reporter.tracking.client import MlflowClient as FromTrackingClient
    from reporter.tracking.fluent import _get_experiment_id
    from reporter.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    assert FromClient is FromTracking is FromTrackingClient is reporter.Client
    assert is_tracking_uri_set is reporter.tracking.uri.is_tracking_uri_set
    assert (MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME) == ("mlflow.parentRunId", "mlflow.runName")
    assert FileInfo is reporter.tracking.client.FileInfo
    assert SourceType.to_string(4) == "LOCAL"
    exp = mlflow.set_experiment("paths")
    assert _get_experiment_id() == exp.experiment_id
    for name in ("artifacts", "client", "exceptions", "entities", "tracking"):
        assert inspect.ismodule(getattr(reporter, name)), name


# fluent functions -------------------------------------------------------------------------
def test_get_parent_run_returns_the_parent_of_a_nested_run():
    with (
        mlflow.start_run(run_name="parent") as parent,
        mlflow.start_run(run_name="child", nested=True) as child,
        mlflow.start_run(run_name="grandchild", nested=True) as grandchild,
    ):
        pass
    got = mlflow.get_parent_run(child.info.run_id)
    assert got is not None and got.info.run_id == parent.info.run_id
    assert got.info.run_name == "parent" and got.info.status == "FINISHED"
    up = mlflow.get_parent_run(grandchild.info.run_id)
    assert up is not None and up.info.run_id == child.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None
    with pytest.raises(reporter.NotFoundError):
        mlflow.get_parent_run("0123456789abcdef")


def test_load_table_reads_back_the_tables_of_two_runs_with_extra_columns():
    mlflow.set_experiment("tables")
    with mlflow.start_run(run_name="first") as first:
        mlflow.log_param("lr", "0.1")
        mlflow.log_table({"x": [1, 2], "run_id": ["a", "b"]}, "eval/t.json")
    with mlflow.start_run(run_name="second") as second:
        mlflow.log_param("lr", "0.2")
        mlflow.log_table(pd.DataFrame({"x": [3], "run_id": ["c"]}), "eval/t.json")
    with mlflow.start_run(run_name="no table"):
        mlflow.log_table({"x": [9]}, "other.json")
    table = mlflow.load_table(
        "eval/t.json", extra_columns=["run_id", "params.lr", "tags.mlflow.runName"]
    )
    # newest run first (search_runs' order); a clashing column gets a trailing underscore
    assert table.to_dict("list") == {
        "x": [3, 1, 2],
        "run_id": ["c", "a", "b"],
        "run_id_": [second.info.run_id, first.info.run_id, first.info.run_id],
        "params.lr": ["0.2", "0.1", "0.1"],
        "tags.mlflow.runName": ["second", "first", "first"],
    }
    only = mlflow.load_table("eval/t.json", run_ids=[first.info.run_id])
    assert only.to_dict("list") == {"x": [1, 2], "run_id": ["a", "b"]}
    with pytest.raises(reporter.NotFoundError, match=r"other\.json") as none:
        mlflow.load_table("other.json", run_ids=[first.info.run_id])
    assert none.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(reporter.InvalidArgumentError, match=r"params\.lr"):
        mlflow.load_table("eval/t.json", extra_columns=["params.nope"])


def test_load_table_reads_csv_and_parquet_tables():
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    with mlflow.start_run():
        mlflow.log_table(frame, "t.csv")
        mlflow.log_table(frame, "t.parquet")
    pd.testing.assert_frame_equal(mlflow.load_table("t.csv"), frame)
    pd.testing.assert_frame_equal(mlflow.load_table("t.parquet"), frame)


def test_is_tracking_uri_set_sees_the_environment_and_set_tracking_uri(monkeypatch, tmp_path):
    assert mlflow.is_tracking_uri_set()  # $TRACKER_TRACKING_URI (conftest)
    monkeypatch.delenv("TRACKER_TRACKING_URI")
    assert not mlflow.is_tracking_uri_set()
    mlflow.set_tracking_uri(str(tmp_path / "elsewhere"))
    assert mlflow.is_tracking_uri_set()


def test_delete_experiment_tag_and_restore_experiment():
    exp = mlflow.set_experiment("tagged")
    mlflow.set_experiment_tags({"team": "ml", "stage": "dev"})
    mlflow.delete_experiment_tag("stage")
    assert reporter.Client(mlflow.get_tracking_uri()).get_experiment(exp.experiment_id).tags == {
        "team": "ml"
    }
    with pytest.raises(reporter.NotFoundError, match="stage"):
        mlflow.delete_experiment_tag("stage")
    mlflow.delete_experiment(exp.experiment_id)
    assert mlflow.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    with pytest.raises(reporter.InvalidArgumentError, match="deleted"):
        mlflow.set_experiment("tagged")
    mlflow.restore_experiment(exp.experiment_id)
    assert mlflow.get_experiment(exp.experiment_id).lifecycle_stage == "active"
    assert mlflow.set_experiment("tagged").experiment_id == exp.experiment_id


def test_trace_location_is_refused_with_the_reason():
    with pytest.raises(reporter.InvalidArgumentError, match="tracing"):
        mlflow.set_experiment("x", trace_location=object())
    with pytest.raises(reporter.InvalidArgumentError, match="tracing"):
        mlflow.create_experiment("y", trace_location=object())
    assert mlflow.get_experiment_by_name("y") is None


def test_run_id_logs_to_a_run_that_is_not_active(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")  # no environment/requirements.txt
    with mlflow.start_run(run_name="earlier") as earlier:
        pass
    (tmp_path / "f.txt").write_text("file")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "g.txt").write_text("folder file")
    target = earlier.info.run_id
    with mlflow.start_run(run_name="active") as active:
        mlflow.log_metric("m", 1.0, step=2, run_id=target)
        mlflow.log_metrics({"n": 2.0, "o": 3.0}, step=1, run_id=target)
        mlflow.log_params({"p": "v"}, run_id=target)
        mlflow.log_artifact(str(tmp_path / "f.txt"), "files", run_id=target)
        mlflow.log_artifacts(str(tmp_path / "folder"), "dir", run_id=target)
        mlflow.log_text("text", "t.txt", run_id=target)
        mlflow.log_dict({"k": 1}, "d.json", run_id=target)
        mlflow.log_table({"a": [1]}, "tab.json", run_id=target)
        mlflow.log_stream(io.BytesIO(b"\x00raw"), "s.bin", run_id=target)
    client = reporter.Client(mlflow.get_tracking_uri())
    got = client.get_run(target)
    assert dict(got.data.metrics) == {"m": 1.0, "n": 2.0, "o": 3.0}
    assert dict(got.data.params) == {"p": "v"}
    assert [(m.step, m.value) for m in client.get_metric_history(target, "m")] == [(2, 1.0)]
    assert sorted(p for p, _ in client.store.list_artifacts(target)) == [
        "d.json",
        "dir/g.txt",
        "files/f.txt",
        "s.bin",
        "t.txt",
        "tab.json",
    ]
    assert artifacts.load_text(f"runs:/{target}/dir/g.txt") == "folder file"
    assert client.store.read_artifact(target, "s.bin") == b"\x00raw"
    untouched = client.get_run(active.info.run_id)
    assert dict(untouched.data.metrics) == {} and dict(untouched.data.params) == {}
    assert client.store.list_artifacts(active.info.run_id) == []


def test_log_metric_and_log_metrics_with_model_id_are_metrics_of_that_model():
    from reporter.tracking import model_fluent

    class Data:  # what log_metric reads of a dataset (mlflow.data's datasets have both)
        name, digest = "eval", "d1"

    with mlflow.start_run() as run:
        model = model_fluent.initialize_logged_model(name="m")
        mlflow.log_metric("acc", 0.5, step=1, model_id=model.model_id, dataset=Data())
        mlflow.log_metrics({"f1": 0.25}, step=2, model_id=model.model_id)
    points = {
        (m.key, m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id)
        for m in model_fluent.get_logged_model(model.model_id).metrics
    }
    rid = run.info.run_id
    assert points == {("acc", 0.5, 1, "eval", "d1", rid), ("f1", 0.25, 2, None, None, rid)}
    assert dict(mlflow.get_run(rid).data.metrics) == {"acc": 0.5, "f1": 0.25}


def test_log_stream_takes_binary_streams_only():
    with mlflow.start_run() as run:
        with open(__file__, "rb") as handle:
            mlflow.log_stream(handle, "code/test.py")
        with pytest.raises(reporter.InvalidArgumentError, match="binary stream"):
            mlflow.log_stream(io.StringIO("text"), "t.txt")
    assert artifacts.load_text(f"runs:/{run.info.run_id}/code/test.py") == Path(__file__).read_text(
        encoding="utf-8"
    )


# synchronous= and flush_async_logging: seen by a second store object at once -----------------
@pytest.fixture
def slow_flusher(monkeypatch: pytest.MonkeyPatch, store_uri: str) -> None:
    """Make the background flusher wait an hour: only an explicit flush writes rows."""
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "3600")
    reporter.tracking.uri.close_store(store_uri)  # the next use opens a store with it


def test_synchronous_true_writes_before_the_call_returns(slow_flusher):
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        mlflow.log_metric("buffered", 1.0, synchronous=False)
        mlflow.log_param("buffered", "x")
        assert second_store_run(run_id).data.metrics == {}  # still in memory: the control
        mlflow.log_metric("m", 1.0, synchronous=True)
        assert second_store_run(run_id).data.metrics == {"buffered": 1.0, "m": 1.0}
        calls = [
            (lambda: mlflow.log_metrics({"ms": 2.0}, synchronous=True), "metrics", "ms"),
            (lambda: mlflow.log_param("p", "1", synchronous=True), "params", "p"),
            (lambda: mlflow.log_params({"ps": "2"}, synchronous=True), "params", "ps"),
            (lambda: mlflow.set_tag("t", "1", synchronous=True), "tags", "t"),
            (lambda: mlflow.set_tags({"ts": "2"}, synchronous=True), "tags", "ts"),
        ]
        for call, field, key in calls:
            call()
            assert key in getattr(second_store_run(run_id).data, field), key


def test_flush_async_logging_writes_every_buffered_row(slow_flusher, tmp_path):
    other_uri = str(tmp_path / "other")
    other = reporter.Client(other_uri)
    other_run = other.create_run(other.create_experiment("other"))
    with mlflow.start_run() as run:
        mlflow.log_metrics({"a": 1.0, "b": 2.0}, step=3)
        other.log_metric(other_run.info.run_id, "c", 3.0)
        assert second_store_run(run.info.run_id).data.metrics == {}
        mlflow.flush_async_logging()
        assert second_store_run(run.info.run_id).data.metrics == {"a": 1.0, "b": 2.0}
        other_store = open_store(other_uri)
        assert other_store.get_run(other_run.info.run_id).data.metrics == {"c": 3.0}
        other_store.close()


def test_flush_artifact_async_logging_starts_no_run():
    with mlflow.start_run() as run:
        mlflow.log_text("x", "x.txt")
    mlflow.flush_artifact_async_logging()
    assert mlflow.active_run() is None
    assert artifacts.load_text(f"runs:/{run.info.run_id}/x.txt") == "x"
