"""The schema of a data set, inferred as MLflow's `mlflow.types.utils._infer_schema` does.

A DataFrame's schema is one column spec per column (`{"type": "long", "name": "a",
"required": true}`: required when no value is missing); an array's is a tensor spec (dtype and
shape, the first dimension variable: -1). The JSON is MLflow's, value for value, so a dataset
logged here and by MLflow records the same schema text. Inference that MLflow would refuse
(a uint64 column, values of mixed types) raises SchemaError: the dataset then has no schema.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias


class SchemaError(ValueError):
    """Data whose schema MLflow cannot infer either."""


class DataType(enum.Enum):
    """MLflow's column types, by name."""

    boolean = 1
    integer = 2
    long = 3
    float = 4
    double = 5
    string = 6
    binary = 7
    datetime = 8

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this type."""
        return {"type": self.name}


@dataclass(frozen=True)
class AnyType:
    """An undetermined type (inferred from None or an empty list)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this type."""
        return {"type": "any"}


@dataclass(frozen=True)
class Array:
    """A list of values of one type."""

    dtype: Type

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this type."""
        return {"type": "array", "items": self.dtype.to_dict()}


@dataclass(frozen=True)
class Property:
    """A named field of an object."""

    name: str
    dtype: Type
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this property: {name: {type..., required}}."""
        return {self.name: {**self.dtype.to_dict(), "required": self.required}}


@dataclass(frozen=True)
class Object:
    """A dict of named fields, kept sorted by name (as MLflow does)."""

    properties: tuple[Property, ...]

    @classmethod
    def of(cls, properties: Sequence[Property]) -> Object:
        """Return the object of these properties, sorted by name."""
        if not properties:
            raise SchemaError("an object with no properties")
        return cls(tuple(sorted(properties, key=lambda p: p.name)))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this type."""
        merged: dict[str, Any] = {}
        for prop in self.properties:
            merged.update(prop.to_dict())
        return {"type": "object", "properties": merged}


Type: TypeAlias = DataType | AnyType | Array | Object


@dataclass(frozen=True)
class ColSpec:
    """One column of a table: its type, name and whether a value is always present."""

    type: Type
    name: Any = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this column (MLflow's key order)."""
        out = self.type.to_dict()
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """One array: its numpy dtype name and shape (-1 for the variable first dimension)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of this tensor (MLflow's key order)."""
        spec = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.name is None:
            return {"type": "tensor", "tensor-spec": spec}
        return {"name": self.name, "type": "tensor", "tensor-spec": spec}


class Schema:
    """A list of column specs or of tensor specs (MLflow's `mlflow.types.Schema`)."""

    def __init__(self, inputs: Sequence[ColSpec | TensorSpec]) -> None:
        if not inputs:
            raise SchemaError("a schema with no inputs")
        named = [x.name is not None for x in inputs]
        if any(named) and not all(named):
            raise SchemaError("a schema of named and unnamed inputs")
        self.inputs = list(inputs)

    def input_names(self) -> list[Any]:
        """Return the names of the inputs (column names)."""
        return [x.name for x in self.inputs]

    def to_dict(self) -> list[dict[str, Any]]:
        """Return the JSON form: a list of specs."""
        return [x.to_dict() for x in self.inputs]

    def to_json(self) -> str:
        """Return the JSON text of `to_dict`."""
        return json.dumps(self.to_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.inputs == other.inputs

    def __repr__(self) -> str:
        return repr(self.inputs)


@dataclass(frozen=True)
class TensorDatasetSchema:
    """The schema of an array data set: its features and, optionally, its targets."""

    features: Schema
    targets: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON form: each part as JSON text under `mlflow_tensorspec`."""
        targets = self.targets.to_json() if self.targets is not None else None
        return {"mlflow_tensorspec": {"features": self.features.to_json(), "targets": targets}}


# inference ----------------------------------------------------------------------------------
def _merge(a: Type | Property, b: Type | Property) -> Any:
    """Merge two inferred types (MLflow's `_merge`); SchemaError if they do not fit."""
    if isinstance(a, AnyType):
        if isinstance(b, (AnyType, DataType)):
            return b
        return _merge(b, a)
    if isinstance(a, Array):
        if isinstance(b, AnyType) or a == b:
            return a
        if not isinstance(b, Array):
            raise SchemaError("an array and a non-array")
        if isinstance(a.dtype, DataType):
            if a.dtype == b.dtype or isinstance(b.dtype, AnyType):
                return Array(a.dtype)
            raise SchemaError("arrays of different types")
        return Array(_merge(a.dtype, b.dtype))
    if isinstance(a, Object):
        if isinstance(b, AnyType):
            return Object.of([replace(p, required=False) for p in a.properties])
        if not isinstance(b, Object):
            raise SchemaError("an object and a non-object")
        if a == b:
            return a
        one = {p.name: p for p in a.properties}
        two = {p.name: p for p in b.properties}
        merged = [replace(one[k], required=False) for k in one.keys() - two.keys()]
        merged += [_merge(one[k], two[k]) for k in one.keys() & two.keys()]
        merged += [replace(two[k], required=False) for k in two.keys() - one.keys()]
        return Object.of(merged)
    if isinstance(a, Property):
        if isinstance(b, AnyType):
            return replace(a, required=False)
        assert isinstance(b, Property)
        required = a.required and b.required
        if isinstance(a.dtype, DataType):
            if a.dtype == b.dtype or isinstance(b.dtype, AnyType):
                return Property(a.name, a.dtype, required)
            raise SchemaError("properties of different types")
        return Property(a.name, _merge(a.dtype, b.dtype), required)
    raise SchemaError(f"cannot merge {a!r} and {b!r}")


def _is_none_or_nan(value: Any) -> bool:
    """Return True for None, NaN (a Python float), pd.NA and pd.NaT (MLflow's rule)."""
    import pandas as pd

    if isinstance(value, float):
        return value != value
    return value is None or value is pd.NA or value is pd.NaT


def _scalar_type(value: Any) -> DataType:
    """Return the type of one value, by its exact Python or numpy type."""
    import numpy as np

    by_type = {
        bool: DataType.boolean,
        np.bool_: DataType.boolean,
        int: DataType.long,
        np.int64: DataType.long,
        np.int32: DataType.integer,
        float: DataType.double,
        np.float64: DataType.double,
        np.float32: DataType.float,
        str: DataType.string,
        np.str_: DataType.string,
        object: DataType.string,
        bytes: DataType.binary,
        np.bytes_: DataType.binary,
        bytearray: DataType.binary,
    }
    found = by_type.get(type(value))
    if found is not None:
        return found
    if type(value) in (dt.date, dt.datetime, np.datetime64):
        return DataType.datetime
    raise SchemaError(f"a value of type {type(value).__name__}")


def infer_type(value: Any) -> Type | None:
    """Return the type of a value: a dict is an object, a list an array (MLflow's rules)."""
    import numpy as np

    if _is_none_or_nan(value) or (isinstance(value, (list, dict)) and not value):
        return AnyType()
    if isinstance(value, dict):
        props = []
        for key, item in value.items():
            found = infer_type(item)
            if found is None or not isinstance(key, str):
                raise SchemaError("a dict with an empty array or a non-string key")
            props.append(Property(key, found, not isinstance(found, AnyType)))
        return Object.of(props)
    if isinstance(value, (list, np.ndarray)):
        return _array_type(value)
    return _scalar_type(value)


def _array_type(values: Any) -> Array | None:
    """Return the type of a list's items; None for an empty numpy array."""
    result: Array | None = None
    for item in values:
        found = infer_type(item)
        if found is None:
            continue
        if result is None:
            result = Array(found)
        elif isinstance(result.dtype, (Array, Object, AnyType)):
            result = Array(_merge(result.dtype, found))
        elif not isinstance(found, AnyType) and found != result.dtype:
            raise SchemaError("a list of values of several types")
    return result


def _numpy_type(dtype: Any) -> DataType:
    """Return the column type of a numpy or pandas dtype, by its kind and size."""
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return DataType.boolean
    if kind in "iu" and (size < 4 or (kind == "i" and size == 4)):
        return DataType.integer
    if kind in "iu" and (size < 8 or (kind == "i" and size == 8)):
        return DataType.long
    if kind == "f" and size <= 8:
        return DataType.float if size <= 4 else DataType.double
    named = {"U": DataType.string, "S": DataType.binary, "M": DataType.datetime}
    if kind in named:
        return named[kind]
    raise SchemaError(f"unsupported dtype {dtype}")


def _column_type(col: Any) -> Type:
    """Return the type of a DataFrame column (object columns by their values)."""
    import pandas as pd

    if not isinstance(col, pd.Series) or len(col.values.shape) > 1:
        raise SchemaError("not a one-dimensional column")
    if col.dtype.kind == "O":
        col = col.infer_objects()
    if col.dtype.kind != "O":
        return _numpy_type(col.dtype)
    try:
        found = infer_type(col.to_list())
        if not isinstance(found, Array):
            raise SchemaError("no value to infer from")
        return found.dtype
    except Exception:  # MLflow falls back to string on any failure, so does this
        if pd.api.types.is_string_dtype(col):
            return DataType.string
        raise


def _required(col: Any) -> bool:
    """Return True if no value of a column is missing (None, NaN, NA, NaT)."""
    import numpy as np

    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biufcmM":
        return not bool(col.isna().any())
    return not any(_is_none_or_nan(x) for x in col)


def frame_schema(df: Any) -> Schema:
    """Return the column schema of a DataFrame; SchemaError where MLflow has none."""
    return Schema([ColSpec(_column_type(df[c]), c, _required(df[c])) for c in df.columns])


def _tensor(array: Any, name: str | None = None) -> TensorSpec:
    """Return the tensor spec of a numpy array (strings as `str`, bytes as `bytes`)."""
    import numpy as np

    if not isinstance(array, np.ndarray) or array.ndim == 0:
        raise SchemaError("not an array with a first dimension")
    dtype = {"U": "str", "S": "bytes"}.get(array.dtype.char, array.dtype.name)
    return TensorSpec(dtype, (-1, *array.shape[1:]), name)


def tensor_schema(data: Any) -> Schema:
    """Return the tensor schema of an array, or of a dict of named arrays."""
    if isinstance(data, dict):
        return Schema([_tensor(array, name) for name, array in data.items()])
    return Schema([_tensor(data)])
