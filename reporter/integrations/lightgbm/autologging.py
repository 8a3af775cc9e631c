"""`reporter.lightgbm.autolog()`: MLflow's LightGBM autologging, on the shared mechanism.

Enabling it patches `lightgbm.train` and `fit` of LightGBM's scikit-learn wrappers
(`LGBMClassifier`, `LGBMRegressor`, `LGBMRanker`, `LGBMModel`). A top-level call records,
into the active run or a run of its own (see `reporter.integrations.patching`), what MLflow
records:

* params: the booster params given to `train`, and `train`'s other arguments with their
  defaults (`num_boost_round`, `keep_training_booster`), values as `str()`;
* metrics: each validation set's metrics at every iteration, named `<set name>-<metric>`
  (`training-l2`, `valid_0-binary_logloss`), step = the iteration; when the booster has a
  best iteration (early stopping), `stopped_iteration` (the iterations run) and
  `best_iteration`, and the best iteration's metrics again one step after the last;
* `feature_importance_split.json` / `.png` and `feature_importance_gain.json` / `.png`;
* the model (`log_models`): a Booster from `train`, the wrapper from `fit`.

A wrapper's `fit` logs through the `train` call it makes, and logs the wrapper as the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporter.integrations import boosting, patching
from reporter.integrations.patching import Options

FLAVOR_NAME = "lightgbm"
# train()'s arguments that are not params (MLflow's list)
UNLOGGED = (
    "params",
    "train_set",
    "valid_sets",
    "valid_names",
    "fobj",
    "feval",
    "init_model",
    "learning_rates",
    "callbacks",
)
IMPORTANCE_TYPES = ("split", "gain")
INTEGRATION = patching.Integration(FLAVOR_NAME)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Enable (or with disable=True undo) autologging of LightGBM training.

    `mlflow.lightgbm.autolog`'s signature. Input examples, signatures, datasets and model
    registration are not recorded; those options are accepted so MLflow code runs unchanged.
    """
    options = Options(
        log_models=bool(log_models),
        exclusive=bool(exclusive),
        silent=bool(silent),
        extra_tags=patching.extra_tags_of(extra_tags),
    )
    INTEGRATION.configure(None if disable else options, _patch_all)


def is_enabled() -> bool:
    """Return True while LightGBM autologging is on."""
    return INTEGRATION.enabled


def wrapper_classes() -> list[type]:
    """LightGBM's scikit-learn wrappers whose `fit` autologging patches."""
    import lightgbm.sklearn

    found = {
        value
        for value in vars(lightgbm.sklearn).values()
        if isinstance(value, type) and issubclass(value, lightgbm.sklearn.LGBMModel)
    }
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _patch_all() -> None:
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    boosting.patch_train_and_fits(
        boosting.Framework(
            integration=INTEGRATION,
            train=lightgbm.engine.train,
            modules=(lightgbm, lightgbm.engine, lightgbm.sklearn),
            wrappers=wrapper_classes(),
            unlogged=UNLOGGED,
            recorder=_recorder,
            early_stopping=_early_stopping,
            importance_kinds=lambda options: IMPORTANCE_TYPES,
            importance=_importance,
            importance_indent=2,
            log_model=_save,
        )
    )


def _early_stopping(
    call: Any, model: Any, iterations: boosting.Iterations
) -> boosting.EarlyStop | None:
    """When the booster has a best iteration (early stopping; LightGBM counts from 1): the
    iterations run, the best, and the best's index."""
    best = int(getattr(model, "best_iteration", 0) or 0)
    return (len(iterations.results), best, best - 1) if best > 0 else None


def _recorder(iterations: boosting.Iterations) -> Any:
    """A LightGBM callback adding each iteration's `<set>-<metric>` values to `iterations`."""

    def record(env: Any) -> None:
        try:
            # MLflow's keys: `ndcg@3` -> `ndcg_at_3`
            results = env.evaluation_result_list
            iterations.add({f"{i[0]}-{i[1]}".replace("@", "_at_"): i[2] for i in results})
        except Exception as exc:  # never stop training
            INTEGRATION.warn_once("evaluation", f"could not read the evaluation results: {exc!r}")

    return record  # (no `order`: LightGBM runs it before its own, early stopping's last too)


def _importance(model: Any, kind: str) -> dict[str, Any]:
    scores = model.feature_importance(importance_type=kind).tolist()
    return dict(zip(model.feature_name(), scores, strict=True))


def _save(options: Options, model: Any) -> None:
    from reporter.integrations import lightgbm as flavor  # looked up now: patchable

    flavor.log_model(model, "model")
