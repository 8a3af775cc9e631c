"""MLflow 3's logged models: log_model's ModelInfo, models:/ and runs:/ URIs, the fluent and
client model API, signatures and input examples, pyfunc, and the warnings of what we lack."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import reporter as mlflow
import reporter.pyfunc
import reporter.sklearn
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.logged_models import LoggedModelOutput, LoggedModelStatus
from reporter.models import ModelSignature, infer_signature
from reporter.tracking import model_fluent


@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> Iterator[Path]:
    mlflow.set_tracking_uri(str(tmp_path / "store"))
    yield tmp_path / "store"
    mlflow.end_run()
    model_fluent.reset()


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(30), "b": rng.integers(0, 5, 30)})
    y = (X["a"] > 0.5).astype(int).to_numpy()
    return X, y


def test_log_model_returns_a_model_info_and_loads_back_from_both_uris() -> None:
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    with mlflow.start_run() as run:
        mlflow.log_param("C", "1.0")
        info = reporter.sklearn.log_model(clf, name="clf", input_example=X.head(2))
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    assert info.name == "clf" and set(info.flavors) == {"python_function", "sklearn"}
    assert info.params == {"C": "1.0"}  # a model logged in a run carries the run's params
    assert info.signature is not None and info.signature.inputs is not None
    assert [c.to_dict() for c in info.signature.inputs.inputs] == [
        {"type": "double", "name": "a", "required": True},
        {"type": "long", "name": "b", "required": True},
    ]
    expected = clf.predict(X)
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/clf"):
        assert (reporter.sklearn.load_model(uri).predict(X) == expected).all()
        assert (reporter.pyfunc.load_model(uri).predict(X) == expected).all()
    model = mlflow.get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY and model.source_run_id == run.info.run_id
    last = mlflow.last_logged_model()
    assert last is not None and last.model_id == info.model_id
    outputs = mlflow.get_run(run.info.run_id).outputs.model_outputs
    assert list(outputs) == [LoggedModelOutput(info.model_id, 0)]


def test_the_input_example_and_signature_are_saved_as_mlflow_saves_them(tmp_path: Path) -> None:
    X, y = _data()
    with mlflow.start_run():
        info = reporter.sklearn.log_model(
            LinearRegression().fit(X, y), artifact_path="reg", input_example=X.head(1)
        )
    folder = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path)))
    example = json.loads((folder / "input_example.json").read_text())
    assert example == {"columns": ["a", "b"], "data": [[X["a"][0], int(X["b"][0])]]}
    serving = json.loads((folder / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": example}
    assert info.saved_input_example_info == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    assert info.signature is not None
    assert info.signature.to_dict()["outputs"] == '[{"type": "double", "required": true}]'
    meta = reporter.models.Model.load(str(folder))
    assert meta.signature == info.signature and meta.model_id == info.model_id


def test_infer_signature_speaks_mlflows_types() -> None:
    frame = pd.DataFrame(
        {
            "f64": [1.0],
            "i64": [1],
            "s": ["x"],
            "b": [True],
            "i32": np.array([1], "int32"),
            "f32": np.array([1], "float32"),
        }
    )
    sig = infer_signature(frame, np.array([1]))
    assert sig.to_dict() == {
        "inputs": json.dumps(
            [
                {"type": t, "name": n, "required": True}
                for n, t in [
                    ("f64", "double"),
                    ("i64", "long"),
                    ("s", "string"),
                    ("b", "boolean"),
                    ("i32", "integer"),
                    ("f32", "float"),
                ]
            ]
        ),
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": None,
    }
    tensor = infer_signature(np.zeros((4, 3), "float32"))
    assert repr(tensor.inputs) == "[Tensor('float32', (-1, 3))]" and tensor.outputs is None
    assert ModelSignature.from_dict(sig.to_dict()) == sig
    with pytest.raises(InvalidArgumentError, match="cannot read a schema"):
        infer_signature(object())


def test_a_model_logged_without_a_run_has_no_source_run() -> None:
    X, y = _data()
    info = reporter.sklearn.log_model(LogisticRegression().fit(X, y), name="free")
    assert info.run_id is None and mlflow.active_run() is None
    assert mlflow.get_logged_model(info.model_id).source_run_id is None
    assert reporter.sklearn.load_model(info.model_uri).predict(X).shape == (30,)


def test_model_tags_params_metrics_and_search() -> None:
    X, y = _data()
    infos = []
    with mlflow.start_run() as run:
        for alpha in (0.1, 0.5, 0.9):
            info = reporter.sklearn.log_model(
                LogisticRegression(C=alpha).fit(X, y), name=f"m{alpha}", params={"alpha": alpha}
            )
            mlflow.log_metric("acc", alpha, model_id=info.model_id, step=1)
            infos.append(info)
    first = infos[0].model_id
    mlflow.set_logged_model_tags(first, {"stage": "dev", "owner": "me"})
    mlflow.delete_logged_model_tag(first, "owner")
    with pytest.raises(NotFoundError):
        mlflow.delete_logged_model_tag(first, "owner")
    mlflow.log_model_params({"extra": "1"}, model_id=first)
    model = mlflow.get_logged_model(first)
    assert model.tags["stage"] == "dev" and "owner" not in model.tags
    assert model.params["alpha"] == "0.1" and model.params["extra"] == "1"
    assert [(m.key, m.value, m.step, m.run_id) for m in model.metrics] == [
        ("acc", 0.1, 1, run.info.run_id)
    ]
    assert mlflow.get_run(run.info.run_id).data.metrics == {"acc": 0.9}  # the run's too
    found = mlflow.search_logged_models(
        filter_string="metrics.acc > 0.3",
        order_by=[{"field_name": "metrics.acc", "ascending": False}],
        output_format="list",
    )
    assert [m.model_id for m in found] == [infos[2].model_id, infos[1].model_id]
    frame = mlflow.search_logged_models(filter_string="params.alpha = '0.5'")
    assert list(frame["model_id"]) == [infos[1].model_id]
    assert list(frame.columns)[:3] == ["artifact_location", "creation_timestamp", "experiment_id"]
    names = mlflow.search_logged_models(filter_string="name LIKE 'm0.%'", output_format="list")
    assert len(names) == 3
    with pytest.raises(mlflow.InvalidFilterError):
        mlflow.search_logged_models(filter_string="nonsense ==")


def test_active_model_and_the_initialize_finalize_flow() -> None:
    with mlflow.set_active_model(name="agent") as active:
        assert mlflow.get_active_model_id() == active.model_id
        mlflow.log_model_params({"temperature": "0.2"})
    assert mlflow.get_active_model_id() is None
    assert mlflow.set_active_model(name="agent").model_id == active.model_id  # found by name
    assert mlflow.get_logged_model(active.model_id).params == {"temperature": "0.2"}
    pending = mlflow.initialize_logged_model(name="later", model_type="agent")
    assert pending.status == LoggedModelStatus.PENDING
    done = mlflow.finalize_logged_model(pending.model_id, "READY")
    assert done.status == LoggedModelStatus.READY and done.model_type == "agent"
    with pytest.raises(InvalidArgumentError, match="READY or FAILED"):
        mlflow.finalize_logged_model(pending.model_id, "PENDING")
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        mlflow.set_active_model(name="a", model_id=pending.model_id)


def test_unsupported_arguments_warn_once_and_are_never_silent() -> None:
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    with mlflow.start_run(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reporter.sklearn.log_model(clf, name="a", extra_files=["x.txt"])
        reporter.sklearn.log_model(clf, name="b", extra_files=["x.txt"])
    ignored = [w for w in caught if "extra_files" in str(w.message)]
    assert len(ignored) <= 1  # once per process (an earlier test may have used it up)
    from reporter.integrations.models import logging as model_logging

    assert "extra_files" in model_logging._warned


def test_bad_model_uris_and_names_get_clear_errors() -> None:
    X, y = _data()
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(NotFoundError, match="Registered Model with name=churn not found"):
        reporter.sklearn.load_model("models:/churn/3")
    with pytest.raises(NotFoundError, match="Registered Model with name=churn not found"):
        reporter.sklearn.load_model("models:/churn@champion")
    with pytest.raises(InvalidArgumentError, match="models:/<name>/<version>"):
        reporter.sklearn.load_model("models:/churn")
    with pytest.raises(NotFoundError):
        reporter.sklearn.load_model("models:/m-" + "0" * 32)
    with mlflow.start_run() as run:
        with pytest.raises(InvalidArgumentError, match="not both"):
            reporter.sklearn.log_model(clf, artifact_path="x", name="y")
        with pytest.raises(InvalidArgumentError, match="without '/'"):
            reporter.sklearn.log_model(clf, name="../escape")
    with pytest.raises(NotFoundError, match="logged no model named"):
        reporter.sklearn.load_model(f"runs:/{run.info.run_id}/nothing")


def test_a_failed_save_marks_the_model_failed() -> None:
    X, y = _data()

    class Broken(LogisticRegression):  # type: ignore[misc]
        def __reduce__(self) -> Any:
            raise RuntimeError("cannot pickle")

    with mlflow.start_run(), pytest.raises(RuntimeError, match="cannot pickle"):
        reporter.sklearn.log_model(Broken().fit(X, y), name="broken")
    failed = mlflow.last_logged_model()
    assert failed is not None and failed.status == LoggedModelStatus.FAILED


def test_metrics_logged_while_a_model_is_active_are_its_metrics() -> None:
    with mlflow.start_run() as run:
        with mlflow.set_active_model(name="agent") as active:
            mlflow.log_metric("quality", 0.8, step=2)
            mlflow.log_metrics({"latency": 12.0})
        mlflow.log_metric("after", 1.0)
    model = mlflow.get_logged_model(active.model_id)
    assert sorted((m.key, m.value, m.run_id) for m in model.metrics) == [
        ("latency", 12.0, run.info.run_id),
        ("quality", 0.8, run.info.run_id),
    ]
    assert set(mlflow.get_run(run.info.run_id).data.metrics) == {"quality", "latency", "after"}


def test_a_damaged_model_file_is_skipped_with_a_warning_naming_it(store: Path) -> None:
    from reporter.core.errors import StoreWarning

    keep = mlflow.initialize_logged_model(name="keep")
    broken = mlflow.initialize_logged_model(name="broken")
    mlflow.set_logged_model_tags(keep.model_id, {"a": "1"})
    (record,) = store.glob(f"models/*/_records/{broken.model_id}.json")
    record.write_text("{not json")
    (edit,) = store.glob(f"models/*/_edits/{keep.model_id}/*.edit")
    edit.write_text('{"set": {"status": "SOMETIMES"}}')
    mlflow.set_logged_model_tags(keep.model_id, {"b": "2"})
    model_fluent.reset()
    with pytest.warns(StoreWarning) as caught:
        found = mlflow.search_logged_models(output_format="list")
    assert [m.name for m in found] == ["keep"] and found[0].tags == {"b": "2"}
    named = " ".join(str(w.message) for w in caught)
    assert f"{broken.model_id}.json" in named and ".edit" in named
