"""MLflow 3's fluent logged-model functions: `get_logged_model`, `search_logged_models`,
`last_logged_model`, `set_active_model`, ...

Each thread remembers the last model `log_model` (or `initialize_logged_model`) made there, as
MLflow does, and its active model (`set_active_model`), which `log_model_params` and
`log_metric` use when no `model_id` is given.
"""

from __future__ import annotations

from dataclasses import fields
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus
from reporter.tracking import active_model, fluent

if TYPE_CHECKING:
    import pandas as pd

    from reporter.tracking.client import Client

SEARCH_COLUMNS = (
    "artifact_location",
    "creation_timestamp",
    "experiment_id",
    "last_updated_timestamp",
    "metrics",
    "model_id",
    "model_type",
    "name",
    "params",
    "source_run_id",
    "status",
    "status_message",
    "tags",
)


_state = active_model.state


def _client() -> Client:
    return fluent._client()


def _active_run_id() -> str | None:
    """Return the id of this thread's active run, or None."""
    active = fluent.active_run()
    return active.info.run_id if active else None


def _experiment_id() -> str:
    """Return the active run's experiment, else the current one (set_experiment, environment,
    Default): where a model goes when no experiment is given."""
    active = fluent.active_run()
    return active.info.experiment_id if active else fluent._current_experiment_id()


def remember_logged_model(model_id: str) -> None:
    """Make a model this thread's last logged model."""
    _state.last_model_id = model_id


def reset() -> None:
    """Forget this thread's last and active model (tests)."""
    active_model.reset()


def get_logged_model(model_id: str) -> LoggedModel:
    """Return a logged model by id."""
    return _client().get_logged_model(model_id)


def last_logged_model() -> LoggedModel | None:
    """Return the model this thread logged last, or None."""
    model_id = _state.last_model_id
    return get_logged_model(model_id) if model_id else None


@overload
def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    *,
    output_format: Literal["list"],
) -> list[LoggedModel]: ...


@overload
def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: Literal["pandas"] = "pandas",
) -> pd.DataFrame: ...


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
) -> list[LoggedModel] | pd.DataFrame:
    """Search logged models (of the current experiment by default); a DataFrame or a list."""
    fluent._check_output_format(output_format)
    ids = [str(i) for i in experiment_ids] if experiment_ids else [_experiment_id()]
    found = _client().search_logged_models(ids, filter_string, datasets, max_results, order_by)
    if output_format == "list":
        return found
    import pandas as pd

    return pd.DataFrame([m.to_dictionary() for m in found], columns=list(SEARCH_COLUMNS))


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set tags of a logged model."""
    _client().set_logged_model_tags(model_id, tags)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Remove a tag from a logged model."""
    _client().delete_logged_model_tag(model_id, key)


def log_model_params(params: dict[str, str], model_id: str | None = None) -> None:
    """Record params of a logged model (the active model when no id is given)."""
    target = model_id or _state.active_model_id or _state.last_model_id
    if target is None:
        raise InvalidArgumentError(
            "log_model_params: no model_id given and no active or logged model in this process"
        )
    _client().log_model_params(target, params)


def initialize_logged_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """Create a PENDING logged model (of the active run, if any) and return it."""
    model = _client().create_logged_model(
        str(experiment_id) if experiment_id is not None else _experiment_id(),
        name=name,
        source_run_id=source_run_id or _active_run_id(),
        tags=tags,
        params=params,
        model_type=model_type,
    )
    remember_logged_model(model.model_id)
    return model


def finalize_logged_model(model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
    """Mark a logged model READY or FAILED."""
    return _client().finalize_logged_model(model_id, status)


def create_external_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """Record a model whose files live elsewhere: READY at once, tagged as external."""
    model = initialize_logged_model(
        name,
        source_run_id,
        {**(tags or {}), "mlflow.external": "true"},
        params,
        model_type,
        experiment_id,
    )
    return finalize_logged_model(model.model_id, LoggedModelStatus.READY)


class ActiveModel(LoggedModel):
    """The model `set_active_model` made active; `with` restores the previous one."""

    _previous: str | None = None

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _state.active_model_id = self._previous


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a model active in this thread: by id, or by name (the newest of that name in the
    current experiment, created if there is none)."""
    if (name is None) == (model_id is None):
        raise InvalidArgumentError("set_active_model takes exactly one of name= or model_id=")
    client = _client()
    if model_id is not None:
        model = client.get_logged_model(model_id)
    else:
        named = [
            m
            for m in client.store.list_logged_models([_experiment_id()])
            if m.name == name and not m.deleted
        ]
        model = named[-1] if named else initialize_logged_model(name=name)
    active = ActiveModel(**{f.name: getattr(model, f.name) for f in fields(LoggedModel)})
    object.__setattr__(active, "_previous", _state.active_model_id)
    _state.active_model_id = model.model_id
    return active


def get_active_model_id() -> str | None:
    """Return this thread's active model id, or None."""
    return _state.active_model_id


def clear_active_model() -> None:
    """Make no model active in this thread."""
    _state.active_model_id = None


def log_outputs(models: list[LoggedModelOutput] | None = None) -> None:
    """Record logged models as outputs of the active run."""
    run_id = _active_run_id()
    if run_id is None:
        raise InvalidArgumentError("log_outputs needs an active run (start_run first)")
    if models:
        _client().log_outputs(run_id, models)
