"""`PandasDataset` and `from_pandas` (MLflow's `mlflow.data.pandas_dataset`)."""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING, Any

from reporter.core.errors import InvalidArgumentError
from reporter.data import digest_utils
from reporter.data import schema as schemas
from reporter.data.dataset import Dataset
from reporter.data.sources import DatasetSource, code_source, resolve_source

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class PandasDataset(Dataset):
    """A pandas DataFrame for tracking, with optional target and prediction columns."""

    def __init__(
        self,
        df: pd.DataFrame,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for what, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidArgumentError(
                    f"The specified pandas DataFrame does not contain the specified {what} "
                    f"column '{column}'. Its columns: {', '.join(map(str, df.columns))}"
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        """Return MLflow's digest of the DataFrame."""
        return digest_utils.compute_pandas_digest(self._df)

    @property
    def df(self) -> pd.DataFrame:
        """The DataFrame."""
        return self._df

    @property
    def targets(self) -> str | None:
        """The name of the target column, or None."""
        return self._targets

    @property
    def predictions(self) -> str | None:
        """The name of the predictions column, or None."""
        return self._predictions

    @property
    def profile(self) -> dict[str, int]:
        """The row and element counts."""
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @functools.cached_property
    def schema(self) -> schemas.Schema | None:
        """One column spec per column (MLflow's colspec), or None if it cannot be inferred."""
        try:
            return schemas.frame_schema(self._df)
        except Exception as exc:  # as MLflow: no schema rather than no dataset
            log.debug("Failed to infer schema for Pandas dataset. Exception: %s", exc)
            return None

    def to_dict(self) -> dict[str, Any]:
        """Return what a run records, schema and profile included (JSON text)."""
        schema = json.dumps({"mlflow_colspec": self.schema.to_dict()}) if self.schema else None
        return {**super().to_dict(), "schema": schema, "profile": json.dumps(self.profile)}


def from_pandas(
    df: pd.DataFrame,
    source: str | DatasetSource | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """Describe a DataFrame for `log_input`: where it came from (a path or URL; by default
    the code calling this), its name ("dataset" by default) and its digest (computed)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    resolved = code_source() if source is None else resolve_source(source)
    return PandasDataset(df, resolved, targets, name, digest, predictions)
