"""A model folder's `MLmodel` file (`Model`) and what `log_model` returns (`ModelInfo`).

`MLmodel` is YAML with MLflow's keys: `flavors` (how to load the model: `python_function` and
the framework's own), `model_id`, `run_id`, `artifact_path`, `signature`,
`saved_input_example_info`, `utc_time_created`, `metadata`. MLflow's loaders read ours and ours
read MLflow's (for the flavors tracker-report has).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.integrations.models.signature import ModelSignature

MLMODEL_FILE = "MLmodel"
INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_INPUT_FILE = "serving_input_example.json"


@dataclass
class Model:
    """The parsed `MLmodel` file of a model folder."""

    flavors: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str | None = None
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_uuid(self) -> str | None:
        """MLflow's other name for the model id."""
        return self.model_id

    def get_input_schema(self) -> Any:
        """Return the input schema of the signature, or None."""
        return self.signature.inputs if self.signature else None

    def get_output_schema(self) -> Any:
        """Return the output schema of the signature, or None."""
        return self.signature.outputs if self.signature else None

    def to_dict(self) -> dict[str, Any]:
        """Return the `MLmodel` mapping."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "artifact_path": self.artifact_path,
                "flavors": self.flavors,
                "model_id": self.model_id,
                "model_uuid": self.model_id,
                "run_id": self.run_id,
                "utc_time_created": self.utc_time_created,
            }
        )
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return {k: v for k, v in out.items() if v is not None}

    def save(self, path: str) -> None:
        """Write the `MLmodel` file into a model folder."""
        import yaml

        with open(os.path.join(path, MLMODEL_FILE), "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.to_dict(), handle, sort_keys=True, default_flow_style=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """Build from an `MLmodel` mapping (MLflow's or ours)."""
        known = {
            "flavors",
            "model_id",
            "model_uuid",
            "run_id",
            "artifact_path",
            "utc_time_created",
            "signature",
            "saved_input_example_info",
            "metadata",
        }
        signature = data.get("signature")
        return cls(
            flavors=dict(data.get("flavors") or {}),
            model_id=data.get("model_id") or data.get("model_uuid"),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            utc_time_created=str(data["utc_time_created"]) if "utc_time_created" in data else None,
            signature=ModelSignature.from_dict(dict(signature)) if signature else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            metadata=data.get("metadata"),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def load(cls, path: str) -> Model:
        """Read `MLmodel` from a local model folder (or the file itself)."""
        import yaml

        file = path if os.path.isfile(path) else os.path.join(path, MLMODEL_FILE)
        try:
            with open(file, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except FileNotFoundError:
            raise NotFoundError(f"No {MLMODEL_FILE} file in {path!r}: not a model folder") from None
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(f"{file} is not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{file} is not an MLmodel mapping")
        return cls.from_dict(data)

    def load_input_example(self, path: str) -> Any:
        """Return the saved input example of the model folder at `path`, or None."""
        info = self.saved_input_example_info
        if not info:
            return None
        with open(os.path.join(path, info["artifact_path"]), encoding="utf-8") as handle:
            data = json.load(handle)
        if info.get("type") == "dataframe":
            import pandas as pd

            return pd.DataFrame(data["data"], columns=data["columns"])
        if info.get("type") == "ndarray":
            import numpy as np

            return np.asarray(data)
        return data


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` returns (MLflow 3's `mlflow.models.model.ModelInfo`)."""

    artifact_path: str
    flavors: dict[str, Any]
    model_uri: str
    model_id: str
    run_id: str | None
    name: str
    signature: ModelSignature | None
    saved_input_example_info: dict[str, Any] | None
    utc_time_created: str
    metadata: dict[str, Any] | None
    params: dict[str, str]
    tags: dict[str, str]
    creation_timestamp: int
    registered_model_version: int | None = None
    metrics: tuple[Any, ...] = ()

    @property
    def model_uuid(self) -> str:
        """MLflow's other name for the model id."""
        return self.model_id

    @property
    def signature_dict(self) -> dict[str, Any] | None:
        """Return the signature as the `MLmodel` mapping."""
        return self.signature.to_dict() if self.signature else None


def _plain(value: Any) -> Any:
    """Return a cell as a JSON value at full precision (numpy scalars as Python numbers)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    return value


def save_input_example(path: str, example: Any) -> dict[str, Any]:
    """Write `input_example.json` and `serving_input_example.json`; return the MLmodel info.

    The formats are MLflow's: a DataFrame as `{"columns", "data"}` (pandas "split" orient),
    an array as nested lists, a dict or list as itself.
    """
    import sys

    import numpy as np

    pd = sys.modules.get("pandas")
    info: dict[str, Any] = {"artifact_path": INPUT_EXAMPLE_FILE}
    if pd is not None and isinstance(example, pd.DataFrame):
        rows = [[_plain(v) for v in row] for row in example.itertuples(index=False, name=None)]
        body: Any = {"columns": [str(c) for c in example.columns], "data": rows}
        serving: Any = {"dataframe_split": body}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, (np.ndarray, list, tuple)):
        body = np.asarray(example).tolist()
        serving = {"inputs": body}
        info["type"] = "ndarray"
    elif isinstance(example, dict):
        body = example
        serving = {"inputs": example}
        info["type"] = "json_object"
    else:
        raise InvalidArgumentError(
            f"input_example: cannot save a {type(example).__name__}; give a pandas DataFrame, "
            "a numpy array, a list or a dict"
        )
    with open(os.path.join(path, INPUT_EXAMPLE_FILE), "w", encoding="utf-8") as handle:
        json.dump(body, handle)
    with open(os.path.join(path, SERVING_INPUT_FILE), "w", encoding="utf-8") as handle:
        json.dump(serving, handle, indent=2)
    info["serving_input_path"] = SERVING_INPUT_FILE
    return info
