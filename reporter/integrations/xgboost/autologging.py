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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reporter.integrations import boosting, patching
from reporter.integrations.patching import Options

FLAVOR_NAME = "xgboost"
# train()'s arguments that are not params (MLflow's list)
UNLOGGED = (
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
        extra_tags=patching.extra_tags_of(extra_tags),
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

    boosting.patch_train_and_fits(
        boosting.Framework(
            integration=INTEGRATION,
            train=xgboost.training.train,
            modules=(xgboost, xgboost.training, xgboost.sklearn),
            wrappers=wrapper_classes(),
            unlogged=UNLOGGED,
            recorder=_recorder,
            early_stopping=_early_stopping,
            importance_kinds=lambda config: config.importance_types,
            importance=lambda model, kind: model.get_score(importance_type=kind),
            importance_indent=None,
            log_model=_save,
        )
    )


def _early_stopping(
    call: Any, model: Any, iterations: boosting.Iterations
) -> boosting.EarlyStop | None:
    """With `early_stopping_rounds`: the last iteration run and the best (None when XGBoost's
    early stopping never ran: the booster has no best iteration)."""
    best = getattr(model, "best_iteration", None)
    if not call.arguments.get("early_stopping_rounds") or best is None:
        return None
    return len(iterations.results) - 1, int(best), int(best)


def _metric_names(values: Mapping[str, Any]) -> dict[str, Any]:
    """XGBoost's metric names as MLflow keys: `ndcg@3` -> `ndcg_at_3`."""
    return {name.replace("@", "_at_"): value for name, value in values.items()}


def _recorder(iterations: boosting.Iterations) -> Any:
    """A TrainingCallback that adds each iteration's evaluation results to `iterations`
    (None when this XGBoost has no callback API)."""
    import xgboost

    base = getattr(getattr(xgboost, "callback", None), "TrainingCallback", None)
    if base is None:
        return None

    class Recorder(base):  # type: ignore[misc, valid-type]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            try:
                iterations.add(
                    {
                        f"{data}-{name}": _last(values)
                        for data, metrics in evals_log.items()
                        for name, values in _metric_names(metrics).items()
                    }
                )
            except Exception as exc:  # never stop training
                INTEGRATION.warn_once(
                    "evaluation", f"could not read the evaluation results: {exc!r}"
                )
            return False

    return Recorder()


def _last(values: Any) -> Any:
    """The current iteration's value: the last of a metric's values (a (mean, std) pair in
    cross-validation: its mean)."""
    value = values[-1]
    return value[0] if isinstance(value, tuple) else value


def _save(config: _Config, model: Any) -> None:
    from reporter.integrations import xgboost as flavor  # looked up now: patchable

    flavor.log_model(model, "model", model_format=config.model_format)
