"""`Dataset`: what every data set of `reporter.data` has (MLflow's `mlflow.data.dataset`)."""

from __future__ import annotations

import json
from typing import Any

from reporter.core import datasets as entities
from reporter.data.sources import DatasetSource

DEFAULT_NAME = "dataset"  # MLflow's name for a data set logged without one


class Dataset:
    """A data set for tracking: its name, digest, source, schema and profile."""

    def __init__(
        self, source: DatasetSource, name: str | None = None, digest: str | None = None
    ) -> None:
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        """Return the digest of the content (each kind of data set computes its own)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The name given, else "dataset" (as MLflow names it)."""
        return self._name if self._name is not None else DEFAULT_NAME

    @property
    def digest(self) -> str:
        """A short hash of the content (8 hex digits, as MLflow computes it), or the one given."""
        return self._digest

    @property
    def source(self) -> DatasetSource:
        """Where the data came from."""
        return self._source

    @property
    def schema(self) -> Any:
        """The inferred schema, or None."""
        return None

    @property
    def profile(self) -> Any:
        """Summary numbers (row count...), or None."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return what a run records: name, digest, source (JSON), source type, and the
        schema and profile (JSON) where the data set has them."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source._get_source_type(),
        }

    def to_json(self) -> str:
        """Return the JSON text of `to_dict`."""
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> entities.Dataset:
        """Return the entity a run records (MLflow's method name)."""
        return entities.Dataset.from_dict(self.to_dict())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} digest={self.digest!r}>"
