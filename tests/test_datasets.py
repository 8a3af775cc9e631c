"""Datasets as MLflow 3 makes them: `reporter.data`, the entities, the `datasets.*` filter, and
one script run under MLflow and under reporter that must read back the same datasets.

The digests, schemas and source JSON below were recorded from MLflow 3.17 (`.bench/
mlflow-venv`); the last test checks them against MLflow itself when its venv is there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import reporter.data
from reporter.core.datasets import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    InputTag,
    RunInputs,
    make_dataset_input,
)
from reporter.core.entities import Run
from reporter.core.errors import InvalidArgumentError, InvalidFilterError, NotFoundError
from reporter.data import sources
from reporter.query import filter as rf
from reporter.query import search
from tests.conftest import REPO, python_env
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow

BASIC = {"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"], "d": [True, False, True]}
BASIC_SCHEMA = (
    '{"mlflow_colspec": [{"type": "long", "name": "a", "required": true}, '
    '{"type": "double", "name": "b", "required": true}, '
    '{"type": "string", "name": "c", "required": true}, '
    '{"type": "boolean", "name": "d", "required": true}]}'
)


# data sets ------------------------------------------------------------------------------------
def test_a_pandas_dataset_records_what_mlflow_records():
    data = reporter.data.from_pandas(pd.DataFrame(BASIC), source="data/train.csv", targets="d")
    assert (data.name, data.digest, data.targets) == ("dataset", "8830017d", "d")
    assert data.to_dict() == {
        "name": "dataset",
        "digest": "8830017d",
        "source": '{"uri": "data/train.csv"}',
        "source_type": "local",
        "schema": BASIC_SCHEMA,
        "profile": '{"num_rows": 3, "num_elements": 12}',
    }
    assert data.profile == {"num_rows": 3, "num_elements": 12}
    assert data.schema is not None and data.schema.input_names() == ["a", "b", "c", "d"]
    assert data.df is not None and isinstance(data.source, sources.LocalArtifactDatasetSource)
    entity = data._to_mlflow_entity()
    assert (entity.name, entity.digest, entity.schema) == ("dataset", "8830017d", BASIC_SCHEMA)


@pytest.mark.parametrize(
    ("frame", "digest"),
    [
        ({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]}, "4cfd5140"),
        ({"a": [1, 2], "b": [0.5, 1.5]}, "ae351d10"),
        ({"a": [1], "b": [0.5]}, "9ed27b0a"),
    ],
)
def test_digests_are_mlflows(frame, digest):
    assert reporter.data.from_pandas(pd.DataFrame(frame), source="x").digest == digest


def test_a_digest_given_and_a_name_given_are_kept():
    data = reporter.data.from_pandas(pd.DataFrame(BASIC), source="x", name="iris", digest="v1")
    assert (data.name, data.digest) == ("iris", "v1")


def test_a_numpy_dataset_records_tensor_specs_and_shapes():
    features, targets = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    data = reporter.data.from_numpy(features, source="s3://b/k", targets=targets)
    record = data.to_dict()
    assert (record["digest"], record["source_type"], record["source"]) == (
        "929378ba",
        "s3",
        '{"uri": "s3://b/k"}',
    )
    schema = json.loads(record["schema"])["mlflow_tensorspec"]
    assert json.loads(schema["features"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}
    ]
    assert json.loads(record["profile"]) == {
        "features_shape": [4, 3],
        "features_size": 12,
        "features_nbytes": 96,
        "targets_shape": [4],
        "targets_size": 4,
        "targets_nbytes": 32,
    }
    named = reporter.data.from_numpy({"x": np.arange(6).reshape(2, 3), "y": np.array(["a", "b"])})
    assert named.digest == "62bdc1e7" and named.source._get_source_type() == "code"


def test_the_code_source_holds_mlflows_context_tags():
    data = reporter.data.from_pandas(pd.DataFrame(BASIC))
    assert data.to_dict()["source_type"] == "code"
    tags = json.loads(data.to_dict()["source"])["tags"]
    assert {"mlflow.user", "mlflow.source.name", "mlflow.source.type"} <= set(tags)
    assert tags["mlflow.source.type"] == "LOCAL" and not any(
        k.startswith("reporter.") for k in tags
    )


@pytest.mark.parametrize(
    ("raw", "source_type", "recorded"),
    [  # as MLflow 3.17 resolves them
        ("data/train.csv", "local", {"uri": "data/train.csv"}),
        ("file:///tmp/a.csv", "local", {"uri": "file:///tmp/a.csv"}),
        ("my.table", "local", {"uri": "my.table"}),
        (Path("rel/p.csv"), "local", {"uri": "rel/p.csv"}),
        ("s3://b/k.csv", "s3", {"uri": "s3://b/k.csv"}),
        ("S3://B/x", "s3", {"uri": "S3://B/x"}),
        ("gs://b/x", "gs", {"uri": "gs://b/x"}),
        (
            "abfss://c@a.dfs.core.windows.net/x",
            "abfss",
            {"uri": "abfss://c@a.dfs.core.windows.net/x"},
        ),
        ("viewfs://x/y", "viewfs", {"uri": "viewfs://x/y"}),
        ("https://x.org/a.csv", "http", {"url": "https://x.org/a.csv"}),
        ("http://localhost/x.csv", "http", {"url": "http://localhost/x.csv"}),
    ],
)
def test_sources_resolve_as_mlflow_resolves_them(raw, source_type, recorded):
    data = reporter.data.from_pandas(pd.DataFrame(BASIC), source=raw)
    assert (data.to_dict()["source_type"], json.loads(data.to_dict()["source"])) == (
        source_type,
        recorded,
    )
    assert reporter.data.get_source(data._to_mlflow_entity()) == data.source


@pytest.mark.parametrize("raw", ["runs:/abc/x", "models:/m/1", "foo://x/y", "file://remote/x"])
def test_a_source_no_resolver_knows_is_an_error_listing_the_valid_ones(raw):
    with pytest.raises(NotFoundError, match="Could not find a source information resolver") as err:
        reporter.data.from_pandas(pd.DataFrame(BASIC), source=raw)
    assert "s3" in str(err.value) and "https" in str(err.value)


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(InvalidArgumentError, match=r"targets column 'y'\. Its columns: a, b, c, d"):
        reporter.data.from_pandas(pd.DataFrame(BASIC), source="x", targets="y")
    with pytest.raises(InvalidArgumentError, match="a pandas DataFrame, got list"):
        reporter.data.from_pandas([1, 2], source="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="numpy array or a dict of numpy arrays"):
        reporter.data.from_numpy([1, 2], source="x")
    with pytest.raises(InvalidArgumentError, match="Unrecognized dataset type"):
        reporter.data.get_source("x")


def test_a_schema_mlflow_cannot_infer_is_none():
    data = reporter.data.from_pandas(pd.DataFrame({"u": np.array([1], dtype="uint64")}), source="x")
    assert data.schema is None and data.to_dict()["schema"] is None


def test_importing_reporter_data_loads_neither_pandas_nor_numpy():
    code = "import sys, reporter.data; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


# entities -------------------------------------------------------------------------------------
def test_a_dataset_input_holds_tags_then_the_context():
    data = reporter.data.from_pandas(pd.DataFrame(BASIC), source="x", name="iris")
    item = make_dataset_input(data, "training", {"split": "80/20"})
    assert item.tags == [InputTag("split", "80/20"), InputTag(DATASET_CONTEXT_TAG, "training")]
    assert item.context == "training" and item.dataset.name == "iris"
    assert item.to_dictionary()["tags"] == {"split": "80/20", "mlflow.data.context": "training"}
    assert DatasetInput.from_dict(item.to_dictionary()) == item


def test_a_run_round_trips_its_inputs_through_a_dict():
    run = Run.from_dict({"info": _INFO, "data": {}})
    assert run.inputs == RunInputs()
    item = DatasetInput(Dataset("d", "1", "local", '{"uri": "x"}'), [InputTag("k", "v")])
    again = Run.from_dict({**run.to_dict(), "inputs": RunInputs([item]).to_dictionary()})
    assert again.inputs.dataset_inputs == [item]


_INFO = {"run_id": "r", "experiment_id": "0", "status": "FINISHED"}


# the datasets.* filter ----------------------------------------------------------------------
DATASET_ROWS: list[dict[str, Any]] = [  # as search.with_datasets makes them
    {"run_id": "r1", "datasets.name": ("a", "b"), "datasets.digest": ("1", "2"),
     "datasets.context": ("training", "eval")},
    {"run_id": "r2", "datasets.name": ("b",), "datasets.digest": ("2",), "datasets.context": ()},
    {"run_id": "r3", "datasets.name": (), "datasets.digest": (), "datasets.context": ()},
    {"run_id": "r4", "datasets.name": ("a",), "datasets.digest": ("9",),
     "datasets.context": ("training",)},
]  # fmt: skip
# MLflow 3.17's answers for the same runs (a dataset comparison holds if one dataset matches)
DATASET_CASES: list[tuple[str, list[str]]] = [
    ("datasets.name = 'a'", ["r1", "r4"]),
    ("datasets.name != 'a'", ["r1", "r2"]),
    ("dataset.name IN ('a')", ["r1", "r4"]),
    ("datasets.name NOT IN ('a')", ["r1", "r2"]),
    ("datasets.name LIKE 'b%'", ["r1", "r2"]),
    ("datasets.name ILIKE 'B%'", ["r1", "r2"]),
    ("datasets.digest = '2'", ["r1", "r2"]),
    ("datasets.context = 'eval'", ["r1"]),
    ("datasets.context != 'eval'", ["r1", "r4"]),
    ("datasets.context IN ('c1', 'training')", ["r1", "r4"]),
    ("datasets.context NOT IN ('eval')", ["r1", "r4"]),
    ("datasets.name = 'a' AND datasets.context = 'eval'", ["r1"]),
    ("datasets.`name` = 'b' OR datasets.\"digest\" = '9'", ["r1", "r2", "r4"]),
    ("datasets.name NOT LIKE 'a'", ["r1", "r2"]),  # ours, as for every string
]
INVALID_DATASET_FILTERS: list[tuple[str, int, str]] = [
    ("datasets.name IS NULL", 14, "datasets.name does not support IS NULL; valid: =, !=, LIKE"),
    ("datasets.source = 'x'", 9, "unknown dataset key 'source'; valid: name, digest, context"),
    ("datasets.name = 1", 16, "datasets.name expects a quoted string such as '8', got number 1"),
    ("datasets.name < 'a'", 14, "does not support <"),
    ("foo.x = 'a'", 0, "valid: metrics, params, tags, attributes, datasets (or metric,"),
]


@pytest.mark.parametrize(("text", "expected"), DATASET_CASES)
def test_dataset_filters_answer_as_mlflow(text, expected):
    node = rf.parse_filter(text)
    assert node is not None
    assert [r["run_id"] for r in DATASET_ROWS if rf.matches(node, r)] == expected
    frame = pd.DataFrame(DATASET_ROWS)
    assert list(frame[rf.evaluate(node, frame)]["run_id"]) == expected


@pytest.mark.parametrize(("text", "position", "fragment"), INVALID_DATASET_FILTERS)
def test_invalid_dataset_filters_name_the_position(text, position, fragment):
    with pytest.raises(InvalidFilterError) as err:
        rf.parse_filter(text)
    assert err.value.position == position and fragment in str(err.value)


def test_runs_are_not_ordered_by_a_dataset():
    with pytest.raises(InvalidFilterError, match="cannot order by a dataset"):
        rf.parse_order_by(["datasets.name DESC"])


def test_a_frame_search_adds_dataset_columns_only_to_filter():
    frame = pd.DataFrame({"run_id": ["r1", "r2"], "lifecycle_stage": ["active", "active"]})
    used = {"r1": RunInputs([DatasetInput(Dataset("a", "1", "local", "{}"))])}
    found = search.search_frame(frame, "datasets.digest = '1'", inputs=used)
    assert list(found["run_id"]) == ["r1"] and list(found.columns) == list(frame.columns)
    assert search.needs_inputs("datasets.name = 'a'") and not search.needs_inputs("status = 'x'")
    with pytest.raises(InvalidFilterError, match="Cannot filter on datasets here"):
        search.search_frame(frame, "datasets.digest = '1'")


# one script under MLflow and under reporter -----------------------------------------------------
SCRIPT = """
import json, sys
lib, uri = sys.argv[1], sys.argv[2]
if lib == "mlflow":
    import mlflow
else:
    import reporter as mlflow
    import reporter.data
import numpy as np
import pandas as pd

mlflow.set_tracking_uri(uri)
mlflow.set_experiment("datasets")
df = pd.DataFrame({"x": [1.0, 2.5, None], "n": [1, 2, 3], "s": ["a", "b", "c"], "y": [0, 1, 0]})
train = mlflow.data.from_pandas(df, source="data/train.csv", name="train", targets="y")
with mlflow.start_run() as run:
    mlflow.log_input(train, context="training")
    mlflow.log_input(train, context="eval")  # the same name and digest: kept once, first wins
    mlflow.log_input(mlflow.data.from_pandas(df.head(2)), context="eval", tags={"split": "x"})
    mlflow.log_inputs(
        [mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), source="s3://b/f.npy")],
        contexts=["training"], tags_list=[None],
    )
used = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
found = mlflow.search_runs(
    filter_string=f"datasets.digest = '{train.digest}' AND datasets.context = 'training'",
    output_format="list",
)
print(json.dumps({
    "inputs": [
        {**d.dataset.to_dictionary(), "tags": [[t.key, t.value] for t in d.tags]} for d in used
    ],
    "found": [r.info.run_id == run.info.run_id for r in found],
    "last": len(mlflow.last_active_run().inputs.dataset_inputs),
}))
"""


def _run_script(python: Path | str, lib: str, uri: str, folder: Path, env: dict[str, str]) -> Any:
    """Run SCRIPT with one library; return what it printed."""
    script = folder / "log_datasets.py"
    script.write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run(
        [str(python), script.name, lib, uri],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_same_script_reads_back_the_same_datasets_under_mlflow_and_reporter(tmp_path):
    require_mlflow()
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    theirs = _run_script(VENV_PYTHON, "mlflow", "sqlite:///mlflow.db", tmp_path / "m", mlflow_env())
    ours = _run_script(sys.executable, "reporter", "store", tmp_path / "r", python_env())
    assert ours == theirs
    assert [d["name"] for d in ours["inputs"]] == ["train", "dataset", "dataset"]
    assert ours["inputs"][0]["tags"] == [["mlflow.data.context", "training"]]
    assert ours["found"] == [True] and ours["last"] == 3
    assert str(REPO) not in json.dumps(ours)  # the code source names the script as given


FRAMES_SCRIPT = """
import datetime as dt, json, sys, warnings
warnings.simplefilter("ignore")  # MLflow's hints about integer columns
if sys.argv[1] == "mlflow":
    import mlflow
else:
    import reporter as mlflow
    import reporter.data
import numpy as np
import pandas as pd

rng = np.random.default_rng(0)
ints = {k: np.array([1, 2], dtype=k) for k in ("int8", "int16", "int32", "uint8", "uint32")}
frames = {
    "numbers": pd.DataFrame({**ints, "f16": np.array([1, 2], dtype="float16"), "f": [0.5, None]}),
    "strings": pd.DataFrame({"s": ["x", None], "b": [True, False], "o": pd.Series(["a", np.nan])}),
    "nullable": pd.DataFrame({"I": pd.array([1, None], dtype="Int64"),
                              "S": pd.array(["a", None], dtype="string")}),
    "dates": pd.DataFrame({"t": pd.to_datetime(["2024-01-01", None]),
                           "z": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
                           "d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]}),
    "nested": pd.DataFrame({"l": [[1, 2], [3]], "e": [["a"], []], "n": [[[1], [2]], [[3]]],
                            "o": [{"k": 1}, {"k": 2, "j": "x"}], "y": [b"x", b"y"]}),
    "no_schema": pd.DataFrame({"u": np.array([1, 2], dtype="uint64"), "m": [1, "a"]}),
    "categories": pd.DataFrame({"c": pd.Categorical(["a", "b"]), 0: [1, 2]}),
    "empty": pd.DataFrame({"a": pd.Series([], dtype="int64"), "s": pd.Series([], dtype=object)}),
    "index": pd.DataFrame({"a": [1, 2]}, index=["r1", "r2"]),
    "long": pd.DataFrame({"x": rng.normal(size=25000), "s": rng.choice(["p", "q"], size=25000)}),
}
out = {k: mlflow.data.from_pandas(df, source="x.csv", name=k).to_dict() for k, df in frames.items()}
arrays = {
    "tensor": (np.arange(24.0).reshape(2, 3, 4), np.array([0, 1])),
    "named": ({"x": np.arange(6).reshape(2, 3), "y": np.array(["a", "b"])}, None),
    "bytes": (np.array([b"ab", b"c"]), np.array([1.5, 2.5], dtype="float32")),
    "long": (rng.normal(size=(30000, 2)), rng.integers(0, 2, size=30000)),
}
for k, (features, targets) in arrays.items():
    out[k] = mlflow.data.from_numpy(features, targets=targets, source="s3://b/k").to_dict()
print(json.dumps(out, sort_keys=True))
"""


def test_digests_schemas_and_profiles_match_mlflow_frame_by_frame(tmp_path):
    require_mlflow()
    script = tmp_path / "frames.py"
    script.write_text(textwrap.dedent(FRAMES_SCRIPT))

    def run(python: Path | str, lib: str, env: dict[str, str]) -> Any:
        done = subprocess.run(
            [str(python), str(script), lib], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    theirs = run(VENV_PYTHON, "mlflow", mlflow_env())
    ours = run(sys.executable, "reporter", python_env())
    assert ours == theirs
    assert ours["no_schema"]["schema"] is None and ours["nested"]["schema"] is not None
