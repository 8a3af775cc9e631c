"""MLflow's model signatures: what a model takes and returns, inferred from example data.

`infer_signature(model_input, model_output)` reads the column names and types of a pandas
DataFrame or Series, or the dtype and shape of a numpy array (and of lists, through numpy),
and returns a `ModelSignature` whose `to_dict()` is exactly what MLflow writes in `MLmodel`:
column specs `{"type": "double", "name": "x", "required": true}` and tensor specs
`{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}`, as JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reporter.core.errors import InvalidArgumentError

# numpy dtype kind/size -> MLflow's column type
_COLUMN_TYPES = {
    ("f", 8): "double",
    ("f", 4): "float",
    ("i", 8): "long",
    ("i", 4): "integer",
    ("i", 2): "integer",
    ("i", 1): "integer",
    ("u", 4): "long",
    ("u", 2): "integer",
    ("u", 1): "integer",
    ("b", 1): "boolean",
}


@dataclass(frozen=True)
class ColSpec:
    """One named (or unnamed) column of a given type."""

    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON form."""
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    def __repr__(self) -> str:
        need = "required" if self.required else "optional"
        return f"{self.name!r}: {self.type} ({need})" if self.name else f"{self.type} ({need})"


@dataclass(frozen=True)
class TensorSpec:
    """An array of one dtype and shape (-1 for the batch dimension)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON form."""
        out: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.dtype}}
        out["tensor-spec"]["shape"] = list(self.shape)
        if self.name is not None:
            out["name"] = self.name
        return out

    def __repr__(self) -> str:
        return f"Tensor({self.dtype!r}, {self.shape!r})"


Spec = ColSpec | TensorSpec


class Schema:
    """A list of column or tensor specs: a model's inputs or outputs."""

    def __init__(self, inputs: Sequence[Spec]) -> None:
        self.inputs = list(inputs)

    def is_tensor_spec(self) -> bool:
        """Return True when the schema is made of tensors."""
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def input_names(self) -> list[str | None]:
        """Return the names of the columns (None where unnamed)."""
        return [spec.name for spec in self.inputs]

    def to_dict(self) -> list[dict[str, Any]]:
        """Return MLflow's JSON form (a list of specs)."""
        return [spec.to_dict() for spec in self.inputs]

    def to_json(self) -> str:
        """Return the JSON text MLflow writes in `MLmodel`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Parse the JSON text of a schema (MLflow's or ours)."""
        specs: list[Spec] = []
        for item in json.loads(text):
            if item.get("type") == "tensor":
                spec = item["tensor-spec"]
                specs.append(TensorSpec(spec["dtype"], tuple(spec["shape"]), item.get("name")))
            else:
                specs.append(ColSpec(item["type"], item.get("name"), item.get("required", True)))
        return cls(specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return repr(self.inputs)


class ModelSignature:
    """MLflow's `ModelSignature`: the input, output (and params) schemas of a model."""

    def __init__(
        self,
        inputs: Schema | None = None,
        outputs: Schema | None = None,
        params: Any = None,
    ) -> None:
        if inputs is None and outputs is None:
            raise InvalidArgumentError("ModelSignature needs inputs or outputs (or both)")
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict[str, Any]:
        """Return the `signature` mapping MLflow writes in `MLmodel`."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """Read the `signature` mapping of an `MLmodel` file."""
        inputs = Schema.from_json(data["inputs"]) if data.get("inputs") else None
        outputs = Schema.from_json(data["outputs"]) if data.get("outputs") else None
        return cls(inputs, outputs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSignature) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        def show(schema: Schema | None) -> str:
            return repr(schema) if schema is not None else "None"

        return (
            f"inputs: \n  {show(self.inputs)}\noutputs: \n  {show(self.outputs)}\n"
            f"params: \n  None\n"
        )


def _column_type(dtype: Any, values: Any = None) -> str:
    """Return MLflow's column type of a numpy/pandas dtype (object columns by their values)."""
    import numpy as np

    dtype = np.dtype(dtype) if not hasattr(dtype, "kind") else dtype
    if dtype.kind == "M":
        return "datetime"
    if dtype.kind in ("U", "S", "O"):
        sample = [v for v in (values if values is not None else []) if v is not None][:1]
        if sample and isinstance(sample[0], bytes):
            return "binary"
        if dtype.kind == "S":
            return "binary"
        return "string"
    found = _COLUMN_TYPES.get((dtype.kind, dtype.itemsize))
    if found is None:
        raise InvalidArgumentError(f"infer_signature: no MLflow column type for dtype {dtype}")
    return found


def _schema_of(data: Any, *, columns_for_1d: bool = False) -> Schema:
    """Return the schema of a DataFrame, Series, numpy array or list."""
    import numpy as np

    pd = _pandas_if_loaded()
    if pd is not None and isinstance(data, pd.DataFrame):
        return Schema([ColSpec(_column_type(data[c].dtype, data[c]), str(c)) for c in data.columns])
    if pd is not None and isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else None
        return Schema([ColSpec(_column_type(data.dtype, data), name)])
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if columns_for_1d and data.ndim == 1 and data.dtype.kind in "fiub":
            return Schema([ColSpec(_column_type(data.dtype))])
        return Schema([TensorSpec(str(data.dtype), (-1, *data.shape[1:]))])
    raise InvalidArgumentError(
        f"infer_signature: cannot read a schema from {type(data).__name__}; give a pandas "
        "DataFrame or Series, a numpy array, or a list"
    )


def _pandas_if_loaded() -> Any:
    """Return pandas if the caller's data could be pandas (it is imported), else None."""
    import sys

    return sys.modules.get("pandas")


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Return the signature of a model that takes `model_input` and returns `model_output`."""
    if params:
        raise InvalidArgumentError(
            "infer_signature: inference params are not supported by tracker-report"
        )
    inputs = _schema_of(model_input) if model_input is not None else None
    outputs = _schema_of(model_output) if model_output is not None else None
    return ModelSignature(inputs, outputs)


def signature_from_example(example: Any, output: Any) -> ModelSignature:
    """Return the signature `log_model` infers from an input example and the predictions.

    As MLflow does, a 1-D numeric prediction for a DataFrame input is one unnamed column.
    """
    pd = _pandas_if_loaded()
    is_frame = pd is not None and isinstance(example, pd.DataFrame)
    return ModelSignature(_schema_of(example), _schema_of(output, columns_for_1d=is_frame))
