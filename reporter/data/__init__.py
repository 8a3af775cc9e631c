"""MLflow's `mlflow.data`: describe the data a run used, for `log_input`.

    dataset = reporter.data.from_pandas(df, source="data/train.csv", targets="y")
    reporter.log_input(dataset, context="training")

A data set records a name, a digest (MLflow's, value for value: the same DataFrame has the same
digest under MLflow and here), its source, schema and profile; never the data itself.
pandas and numpy are imported when a data set is made, not when this module is.
"""

from __future__ import annotations

from typing import Any

from reporter.core import datasets as entities
from reporter.core.errors import InvalidArgumentError
from reporter.data.dataset import Dataset
from reporter.data.numpy_dataset import NumpyDataset, from_numpy
from reporter.data.pandas_dataset import PandasDataset, from_pandas
from reporter.data.sources import DatasetSource, source_from_json


def get_source(dataset: Any) -> DatasetSource:
    """Return the source of a data set, a recorded Dataset or a DatasetInput."""
    if isinstance(dataset, entities.DatasetInput):
        dataset = dataset.dataset
    if isinstance(dataset, entities.Dataset):
        return source_from_json(dataset.source, dataset.source_type)
    if isinstance(dataset, Dataset):
        return dataset.source
    raise InvalidArgumentError(
        f"Unrecognized dataset type {type(dataset).__name__}. Expected one of: "
        "reporter.data.Dataset, reporter.entities.Dataset, reporter.entities.DatasetInput."
    )


__all__ = [
    "Dataset",
    "DatasetSource",
    "NumpyDataset",
    "PandasDataset",
    "from_numpy",
    "from_pandas",
    "get_source",
]
