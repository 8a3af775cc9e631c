"""`log_input` and `log_inputs`: the fluent API for the datasets (and models) a run used.

As in MLflow, they log to the active run (starting one if none is active), the context
("training", "eval") becomes the input tag `mlflow.data.context`, and a run keeps each dataset
(name, digest) once, with the tags it was first logged with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reporter.core.datasets import DatasetInput, make_dataset_input
from reporter.core.errors import InvalidArgumentError
from reporter.tracking import fluent
from reporter.tracking.client import Client


def _dataset_input(
    dataset: Any, context: str | None, tags: Mapping[str, Any] | None
) -> DatasetInput | None:
    """Return what one dataset logs as, None for no dataset; a context or tags need one."""
    if dataset is None:
        if context or tags:
            raise InvalidArgumentError(
                "`dataset` must be specified if `context` or `tags` is specified."
            )
        return None
    return make_dataset_input(dataset, context, tags)


def _run_id() -> str:
    """Return the active run's id, starting a run if none is active (as MLflow does)."""
    run = fluent.active_run()
    return run.info.run_id if run is not None else fluent.start_run().info.run_id


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: Mapping[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset (from `reporter.data.from_pandas` / `from_numpy`) the active run used,
    and the context it was used in; or a logged model (`model`, a LoggedModelInput)."""
    item = _dataset_input(dataset, context, tags)
    client = Client(fluent.get_tracking_uri())
    client.log_inputs(_run_id(), [item] if item else None, [model] if model else None)


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[Mapping[str, str] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Record several datasets of the active run at once: `datasets`, `contexts` and
    `tags_list` are parallel lists of the same length (entries may be None)."""
    datasets, contexts, tags_list = (
        list(datasets or []),
        list(contexts or []),
        list(tags_list or []),
    )
    if not len(datasets) == len(contexts) == len(tags_list):
        raise InvalidArgumentError(
            "`log_inputs` requires `datasets`, `contexts`, `tags_list` to be non-empty list "
            f"and have the same length (got {len(datasets)}, {len(contexts)}, {len(tags_list)})."
        )
    if models:
        raise InvalidArgumentError(
            "'models' argument is only supported by Databricks managed MLflow (as in MLflow); "
            "use log_input(model=...) for each model."
        )
    items = [_dataset_input(*args) for args in zip(datasets, contexts, tags_list)]
    chosen = [item for item in items if item is not None]
    Client(fluent.get_tracking_uri()).log_inputs(_run_id(), chosen)
