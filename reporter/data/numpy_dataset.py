"""`NumpyDataset` and `from_numpy` (MLflow's `mlflow.data.numpy_dataset`)."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from reporter.core.errors import InvalidArgumentError
from reporter.data import digest_utils
from reporter.data import schema as schemas
from reporter.data.dataset import Dataset
from reporter.data.sources import DatasetSource, code_source, resolve_source

log = logging.getLogger(__name__)


class NumpyDataset(Dataset):
    """Numpy features (an array, or a dict of named arrays) and optional targets."""

    def __init__(
        self,
        features: Any,
        source: DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self._features = features
        self._targets = targets
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        """Return MLflow's digest of the features and targets."""
        return digest_utils.compute_numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        """The features."""
        return self._features

    @property
    def targets(self) -> Any:
        """The targets, or None."""
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes, sizes and byte counts of features (and targets), per array of a dict."""

        def of(data: Any, attribute: str) -> Any:
            if isinstance(data, dict):
                return {key: getattr(array, attribute) for key, array in data.items()}
            return getattr(data, attribute)

        profile = {f"features_{a}": of(self._features, a) for a in ("shape", "size", "nbytes")}
        if self._targets is not None:
            profile.update(
                {f"targets_{a}": of(self._targets, a) for a in ("shape", "size", "nbytes")}
            )
        return profile

    @functools.cached_property
    def schema(self) -> schemas.TensorDatasetSchema | None:
        """Tensor specs of features and targets (MLflow's tensorspec), or None."""
        try:
            targets = None if self._targets is None else schemas.tensor_schema(self._targets)
            return schemas.TensorDatasetSchema(schemas.tensor_schema(self._features), targets)
        except Exception as exc:  # as MLflow: no schema rather than no dataset
            log.warning("Failed to infer schema for NumPy dataset. Exception: %s", exc)
            return None

    def to_dict(self) -> dict[str, Any]:
        """Return what a run records, schema and profile included (JSON text)."""
        schema = json.dumps(self.schema.to_dict()) if self.schema else None
        return {**super().to_dict(), "schema": schema, "profile": json.dumps(self.profile)}


def _check_arrays(what: str, data: Any) -> None:
    """Raise unless data is a numpy array or a dict of them."""
    import numpy as np

    arrays = data.values() if isinstance(data, dict) else [data]
    if not all(isinstance(a, np.ndarray) for a in arrays):
        raise InvalidArgumentError(
            f"from_numpy: {what} must be a numpy array or a dict of numpy arrays, "
            f"got {type(data).__name__}"
        )


def from_numpy(
    features: Any,
    source: str | DatasetSource | None = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """Describe numpy features (and targets) for `log_input`: where they came from (a path
    or URL; by default the code calling this), a name ("dataset" by default), a digest."""
    _check_arrays("features", features)
    if targets is not None:
        _check_arrays("targets", targets)
    resolved = code_source() if source is None else resolve_source(source)
    return NumpyDataset(features, resolved, targets, name, digest)
