"""`reporter.xgboost.autolog()`: MLflow's XGBoost autologging, on the shared mechanism.

Enabling it patches `xgboost.train` and `fit` of XGBoost's scikit-learn wrappers (every
subclass of `xgboost.XGBModel`: `XGBClassifier`, `XGBRegressor`, `XGBRanker`, ...). A top-level
call records, into the active run or a run of its own (as `reporter.integrations.patching`
says), what MLflow records:

* params: the booster params given to `train`, and `train`'s other arguments with their
  defaults (`num_boost_round`, `early_stopping_rounds`, `maximize`, `verbose_eval`,
  `custom_metric`), values as `str()`;
* metrics: each evaluation set's metrics at every iteration, named `<eval name>-<metric>`
  (`train-rmse`, `validation_0-logloss`; `@` in a metric name becomes `_at_`), step = the
  iteration; with early stopping, `stopped_iteration` and `best_iteration`, and the best
  iteration's metrics again one step after the last;
* `feature_importance_<type>.json` and `feature_importance_<type>.png` for each of
  `importance_types` (default `["weight"]`);
* the model (`log_models`): a Booster from `train`, the wrapper's own class from `fit`, in
  `model_format` (`ubj` by default).

`fit` of a wrapper logs through the `train` call it makes (its params and metrics are the
booster's, as in MLflow), and logs the wrapper as the model. Nothing in scikit-learn's
integration logs an XGBoost wrapper: its `fit` inside a scikit-learn search or pipeline is a
nested call, logged by the top-level one only.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reporter.integrations import patching
from reporter.integrations.patching import Options

FLAVOR_NAME = "xgboost"
# train()'s arguments that are not params (MLflow's list)
UNLOGGED_TRAIN_ARGS = (
    "params",
    "dtrain",
    "evals",
    "obj",
    "feval",
    "evals_result",
    "xgb_model",
    "callbacks",
    "learning_rates",
)
INTEGRATION = patching.Integration(FLAVOR_NAME)


@dataclass(frozen=True)
class _Config(Options):
    importance_types: tuple[str, ...] = ("weight",)
    model_format: str = "ubj"


def autolog(
    importance_types: Sequence[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "ubj",
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Enable (or with disable=True undo) autologging of XGBoost training.

    `mlflow.xgboost.autolog`'s signature. Input examples, signatures, datasets and model
    registration are not recorded; those options are accepted so MLflow code runs unchanged.
    """
    from reporter.integrations.xgboost.model import MODEL_FORMATS

    if model_format not in MODEL_FORMATS:
        from reporter.core.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"model_format={model_format!r}: valid formats are {', '.join(MODEL_FORMATS)}"
        )
    types_ = ("weight",) if importance_types is None else tuple(map(str, importance_types))
    config = _Config(
        log_models=bool(log_models),
        exclusive=bool(exclusive),
        silent=bool(silent),
        extra_tags={str(k): str(v) for k, v in (extra_tags or {}).items()},
        importance_types=types_,
        model_format=model_format,
    )
    INTEGRATION.configure(None if disable else config, _patch_all)


def is_enabled() -> bool:
    """Return True while XGBoost autologging is on."""
    return INTEGRATION.enabled


def wrapper_classes() -> list[type]:
    """XGBoost's scikit-learn wrappers whose `fit` autologging patches."""
    import xgboost
    import xgboost.sklearn

    found = {xgboost.XGBModel}
    for module in (xgboost, xgboost.sklearn):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, xgboost.XGBModel):
                found.add(value)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _patch_all() -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    train = xgboost.training.train
    patched_train = INTEGRATION.top_level(train, _logged_train)
    # `xgboost.train` and the names the wrappers call it by (xgboost.sklearn imported it)
    plan: list[tuple[Any, str, object]] = [
        (module, "train", patched_train)
        for module in (xgboost, xgboost.training, xgboost.sklearn)
        if module.__dict__.get("train") is train
    ]
    for cls in wrapper_classes():
        raw = patching.static_lookup(cls, "fit")
        if inspect.isfunction(raw):
            plan.append((cls, "fit", INTEGRATION.top_level(raw, _logged_fit)))
    INTEGRATION.replace_all(plan)


# one training ---------------------------------------------------------------------------------
def _logged_fit(
    config: _Config, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A wrapper's top-level fit: its `train` call logs params and metrics, the fit the model."""
    estimator = args[0]
    with INTEGRATION.run(config) as run:
        if run is None:
            return original(*args, **kwargs)
        with patching.invite(FLAVOR_NAME, log_models=False):
            result = original(*args, **kwargs)
        if config.log_models:
            _log_model(config, estimator)
        return result


def _logged_train(
    config: _Config, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A top-level `xgboost.train` (or the one a wrapper's fit makes, invited)."""
    invited = patching.invitation() or {}
    with INTEGRATION.run(config) as run:
        if run is None:
            return original(*args, **kwargs)
        run_id = run.info.run_id
        bound = _bound(original, args, kwargs)
        INTEGRATION.attempt("log the params", _log_params, run_id, bound)
        recorder = _recorder()
        if recorder is not None:
            callbacks = [*(bound.arguments.get("callbacks") or []), recorder]
            bound.arguments["callbacks"] = callbacks
        try:
            model = original(*bound.args, **bound.kwargs)
        finally:
            if recorder is not None:
                INTEGRATION.attempt("log the evaluation metrics", recorder.flush, run_id)
        if recorder is not None and bound.arguments.get("early_stopping_rounds"):
            INTEGRATION.attempt(
                "log the early-stopping results", _log_early_stopping, run_id, model, recorder
            )
        for kind in config.importance_types:
            INTEGRATION.attempt(
                f"log the feature importance ({kind})", _log_importance, run_id, model, kind
            )
        if config.log_models and invited.get("log_models", True):
            _log_model(config, model)
        return model


def _bound(original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
    return inspect.signature(original).bind(*args, **kwargs)


def _log_params(run_id: str, bound: inspect.BoundArguments) -> None:
    """The booster params, then train()'s other arguments with their defaults (MLflow's)."""
    from reporter.core.entities import Param
    from reporter.tracking import fluent

    params: dict[str, Any] = dict(bound.arguments.get("params") or {})
    for name, spec in bound.signature.parameters.items():
        if name in UNLOGGED_TRAIN_ARGS or spec.kind in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD):
            continue
        if name in bound.arguments:
            params[name] = bound.arguments[name]
        elif spec.default is not inspect.Parameter.empty:
            params[name] = spec.default
    items = [Param(str(k), str(v)) for k, v in params.items()]
    fluent._client().log_batch(run_id, params=items)


def _metric_names(values: Mapping[str, Any]) -> dict[str, Any]:
    """XGBoost's metric names as MLflow keys: `ndcg@3` -> `ndcg_at_3`."""
    return {name.replace("@", "_at_"): value for name, value in values.items()}


def _recorder() -> Any:
    """A TrainingCallback that keeps each iteration's evaluation results (None when this
    XGBoost has no callback API)."""
    import xgboost

    base = getattr(getattr(xgboost, "callback", None), "TrainingCallback", None)
    if base is None:
        return None

    class Recorder(base):  # type: ignore[misc, valid-type]
        """Each iteration's `<eval>-<metric>` values, logged together after training."""

        def __init__(self) -> None:
            super().__init__()
            self.results: list[dict[str, float]] = []
            self.times: list[int] = []

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            try:
                now: dict[str, float] = {}
                for data, metrics in evals_log.items():
                    for name, values in _metric_names(metrics).items():
                        now[f"{data}-{name}"] = float(_last(values))
                self.results.append(now)
                self.times.append(int(time.time() * 1000))
            except Exception as exc:  # never stop training
                INTEGRATION.warn_once(
                    "evaluation", f"could not read the evaluation results: {exc!r}"
                )
            return False

        def flush(self, run_id: str) -> None:
            from reporter.core.entities import Metric
            from reporter.tracking import fluent

            items = [
                Metric(key, value, at, step)
                for step, (values, at) in enumerate(zip(self.results, self.times, strict=True))
                for key, value in values.items()
            ]
            if items:
                fluent._client().log_batch(run_id, metrics=items)

    return Recorder()


def _last(values: Any) -> Any:
    """The current iteration's value: the last of a metric's values (a (mean, std) pair in
    cross-validation: its mean)."""
    value = values[-1]
    return value[0] if isinstance(value, tuple) else value


def _log_early_stopping(run_id: str, model: Any, recorder: Any) -> None:
    """`stopped_iteration`, `best_iteration`, and the best iteration's metrics at the step
    after the last (MLflow's)."""
    from reporter.core.entities import Metric
    from reporter.tracking import fluent

    extra_step = len(recorder.results)
    best = int(model.best_iteration)
    now = int(time.time() * 1000)
    items = [
        Metric("stopped_iteration", float(extra_step - 1), now, 0),
        Metric("best_iteration", float(best), now, 0),
    ]
    if 0 <= best < extra_step:
        items += [Metric(k, v, now, extra_step) for k, v in recorder.results[best].items()]
    fluent._client().log_batch(run_id, metrics=items)


def _log_importance(run_id: str, model: Any, kind: str) -> None:
    """`feature_importance_<kind>.json` (XGBoost's scores) and its bar chart."""
    from reporter.integrations import importance
    from reporter.tracking import fluent

    scores = model.get_score(importance_type=kind)
    client = fluent._client()
    client.log_text(run_id, json.dumps(scores), f"feature_importance_{kind}.json")
    if scores and importance.can_draw():
        figure = importance.figure(list(scores), list(scores.values()), kind)
        client.log_figure(run_id, figure, f"feature_importance_{kind}.png")


def _log_model(config: _Config, model: Any) -> None:
    from reporter.integrations import xgboost as flavor  # looked up now: patchable

    INTEGRATION.attempt(
        "log the model", lambda: flavor.log_model(model, "model", model_format=config.model_format)
    )
