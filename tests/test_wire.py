"""`reporter.core.wire` against real MLflow: what MLflow's `to_proto` + `message_to_json` print
for the same values, read in a child process of MLflow's venv; and strict decoding."""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

import pytest

from reporter.core import wire
from reporter.core.datasets import Dataset, DatasetInput, InputTag, RunInputs
from reporter.core.entities import Experiment, Metric, Run, RunData, RunInfo
from reporter.core.logged_models import LoggedModel, LoggedModelStatus
from reporter.core.model_links import RunOutputs
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow

MODEL_A, MODEL_B = "m-" + "a" * 32, "m-" + "b" * 32

# Runs in MLflow's venv: MLflow's JSON of the values built below, built with MLflow's entities
MLFLOW_JSON = r"""
import json
from mlflow.entities import (
    Dataset, DatasetInput, Experiment, ExperimentTag, InputTag, LoggedModel, LoggedModelStatus,
    Metric, Param, Run, RunData, RunInfo, RunInputs, RunTag,
)
from mlflow.utils.proto_json_utils import message_to_json

A, B = "m-" + "a" * 32, "m-" + "b" * 32
dump = lambda entity: json.loads(message_to_json(entity.to_proto()))
out = {"metrics": [dump(Metric("m", v, 5, 2)) for v in (1.5, float("nan"), float("inf"),
                                                       float("-inf"))]}
out["metric_linked"] = dump(Metric("m", 0.5, 5, 2, model_id=A, dataset_name="d",
                                   dataset_digest="x", run_id="r"))
tags = [ExperimentTag("team", "a"), ExperimentTag("mlflow.note.content", "about")]
out["experiment"] = dump(Experiment("7", "e", "mlflow-artifacts:/7", "active", tags=tags,
                                    creation_time=10, last_update_time=20))
info = RunInfo("r1", "7", "me", "FINISHED", 100, 200, "active",
               artifact_uri="mlflow-artifacts:/7/r1/artifacts", run_name="n")
ds = DatasetInput(Dataset("iris", "abc", "local", '{"uri": "x"}', '{"s": 1}', '{"p": 2}'),
                  [InputTag("mlflow.data.context", "training")])
data = RunData(metrics=[Metric("m", 0.5, 5, 2)], params=[Param("p", "1")],
               tags=[RunTag("t", "v")])
out["run"] = dump(Run(info, data, RunInputs([ds])))
out["model"] = dump(LoggedModel(
    "7", B, "model", "mlflow-artifacts:/7/models/m-bbb/artifacts", 10, 20, model_type="sk",
    source_run_id="r1", status=LoggedModelStatus.READY, tags={"k": "v"}, params={"a": "1"},
    metrics=[Metric("acc", 0.9, 5, 3, model_id=B, run_id="r1")]))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mlflow_json() -> dict[str, Any]:
    require_mlflow()
    answer = subprocess.run(
        [str(VENV_PYTHON), "-c", MLFLOW_JSON],
        capture_output=True, text=True, timeout=120, env=mlflow_env(), check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr[-3000:]
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


EXPERIMENT = Experiment(
    "7", "e", "mlflow-artifacts:/7", "active", {"team": "a", wire.DESCRIPTION_TAG: "about"}, 10, 20,
    "about",
)  # fmt: skip
DATASET = DatasetInput(
    Dataset("iris", "abc", "local", '{"uri": "x"}', '{"s": 1}', '{"p": 2}'),
    [InputTag("mlflow.data.context", "training")],
)
RUN = Run(
    RunInfo("r1", "7", "n", "me", "FINISHED", 100, 200, "mlflow-artifacts:/7/r1/artifacts"),
    RunData({"m": 0.5}, {"p": "1"}, {"t": "v"}),
    RunInputs([DATASET]),
    RunOutputs([]),  # a list, as the Parquet store's runs have it
)
MODEL = LoggedModel(
    "7", MODEL_B, "model", "mlflow-artifacts:/7/models/m-bbb/artifacts", 10, 20, "sk", "r1",
    LoggedModelStatus.READY, None, {"k": "v"}, {"a": "1"},
    (Metric("acc", 0.9, 5, 3, model_id=MODEL_B, run_id="r1"),),
)  # fmt: skip


def _without_empty(data: Any) -> Any:
    """Drop empty objects (MLflow leaves out an unset message; we print it empty)."""
    if isinstance(data, dict):
        return {k: _without_empty(v) for k, v in data.items() if v != {}}
    if isinstance(data, list):
        return [_without_empty(v) for v in data]
    return data


def test_metrics_print_as_mlflow_prints_them(mlflow_json: dict[str, Any]) -> None:
    ours = [wire.metric_to_json(Metric("m", v, 5, 2)) for v in (1.5, math.nan, math.inf, -math.inf)]
    assert ours == mlflow_json["metrics"]
    linked = Metric(
        "m", 0.5, 5, 2, model_id=MODEL_A, dataset_name="d", dataset_digest="x", run_id="r"
    )
    assert wire.metric_to_json(linked) == mlflow_json["metric_linked"]
    assert wire.metric_from_json(mlflow_json["metric_linked"]) == linked
    back = [wire.metric_from_json(m) for m in mlflow_json["metrics"]]
    assert [m.value for m in back][::2] == [1.5, math.inf] and math.isnan(back[1].value)


def test_experiments_runs_and_models_match_mlflow(mlflow_json: dict[str, Any]) -> None:
    theirs = dict(mlflow_json["experiment"])
    assert theirs.pop("workspace") == "default"  # MLflow 3.17's workspaces: not ours
    assert wire.experiment_to_json(EXPERIMENT) == theirs
    assert wire.experiment_from_json(mlflow_json["experiment"]) == EXPERIMENT
    latest = {"m": Metric("m", 0.5, 5, 2)}
    assert _without_empty(wire.run_to_json(RUN, latest)) == mlflow_json["run"]
    assert wire.run_from_json(mlflow_json["run"]) == RUN
    assert wire.logged_model_to_json(MODEL) == mlflow_json["model"]
    assert wire.logged_model_from_json(mlflow_json["model"]) == MODEL


def test_decoding_is_lenient_where_protobuf_is_and_strict_elsewhere() -> None:
    assert wire.int_from_json("42", "step") == 42 and wire.int_from_json(7.0, "step") == 7
    assert wire.double_from_json("-Infinity", "value") == -math.inf
    empty_type = {"info": {"model_id": MODEL_A, "experiment_id": "1", "model_type": ""}}
    assert wire.logged_model_from_json(empty_type).model_type is None  # the server sends ""
    assert wire.logged_model_from_json(empty_type).metrics == ()
    for bad, field in ((True, "step"), ("x", "step"), ([], "step")):
        with pytest.raises(wire.WireError, match=f"'{field}'"):
            wire.int_from_json(bad, field)
    with pytest.raises(wire.WireError, match=r"metric\.timestamp"):
        wire.metric_from_json({"key": "m", "value": 1})
    with pytest.raises(wire.WireError, match="expected a string"):
        wire.text_from_json(5, "name")
