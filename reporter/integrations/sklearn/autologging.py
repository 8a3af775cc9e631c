"""`reporter.autolog()` / `reporter.sklearn.autolog()`: MLflow's scikit-learn autologging.

Enabling it patches `fit` (and `fit_transform` / `fit_predict` where a class has them) of every
scikit-learn estimator class MLflow patches: `sklearn.utils.all_estimators()` plus `Pipeline`,
`GridSearchCV` and `RandomizedSearchCV`, less the data-preparation modules MLflow leaves out
(`sklearn.preprocessing`, `.impute`, `.feature_extraction`, `.feature_selection`,
`ColumnTransformer`). Each top-level fit then records, into the active run (or a run of its own,
ended FINISHED, or FAILED when the fit raises):

* params: `estimator.get_params(deep=True)` (shallow for a parameter search), values as `str()`;
* tags `estimator_name` and `estimator_class`;
* training metrics by estimator type, MLflow's names: `training_accuracy_score`,
  `training_precision_score`, `training_recall_score`, `training_f1_score` (weighted averages
  unless `pos_label` is given), `training_log_loss` and `training_roc_auc` (with
  `predict_proba`), or `training_mean_squared_error`, `training_root_mean_squared_error`,
  `training_mean_absolute_error`, `training_r2_score`; and `training_score` (`estimator.score`);
* the fitted model as the `model` artifact (`log_models=True`);
* `estimator.html` (scikit-learn's HTML diagram of the estimator) and, for a classifier, the
  plots `training_confusion_matrix.png` and, on two classes, `training_roc_curve.png` and
  `training_precision_recall_curve.png` (`artifacts.py`; without matplotlib the plots are
  skipped with one warning);
* for a parameter search: `best_cv_score`, `best_<param>` params, `cv_results.csv`, the
  `best_estimator` model, and one child run per candidate (the best `max_tuning_runs`) holding
  its params and its `cv_results_` aggregates (`mean_test_score`, `rank_test_score`, ...).

Fits made inside a top-level fit (the steps of a pipeline, the candidates of a search, the
members of an ensemble) are not logged on their own: the thread-local guard every integration
shares (`reporter.integrations.patching`, which also patches, restores, runs and warns) says
"inside", and scikit-learn's joblib tasks carry it into their worker threads. As in MLflow,
nothing is logged inside `cross_val_score`, `cross_validate`, `cross_val_predict`, `learning_curve`,
`validation_curve` and `permutation_test_score`.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import math
import numbers
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reporter.core.errors import InvalidArgumentError
from reporter.integrations import patching
from reporter.integrations.patching import ABSENT, AutologgingWarning, Options

log = logging.getLogger(__name__)

FLAVOR_NAME = "sklearn"
TAG_AUTOLOGGING = patching.TAG_AUTOLOGGING  # on the runs autologging creates
TRAINING_PREFIX = "training_"
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
# Nothing is logged inside these (MLflow's list): their fits are folds, not models.
UNLOGGED_APIS = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "permutation_test_score",
    "validation_curve",
)
# ... and inside the helpers that fit their folds, which they look up at call time: this also
# covers a `from sklearn.model_selection import cross_val_score` made before autolog().
UNLOGGED_HELPERS = ("_fit_and_score", "_fit_and_predict", "_permutation_test_score")
_NESTED_MARK = "_reporter_autolog_nested"
__all__ = ["AutologgingWarning", "autolog", "autolog_sklearn", "is_enabled"]


@dataclass(frozen=True)
class _Config(Options):
    """The options of the autolog() call in force."""

    log_datasets: bool = True
    max_tuning_runs: int | None = 5
    pos_label: Any = None


INTEGRATION = patching.Integration(FLAVOR_NAME)
_attempt = INTEGRATION.attempt
_warn = INTEGRATION.warn
_warn_once = INTEGRATION.warn_once


# public entry points --------------------------------------------------------------------
def autolog_sklearn(
    *,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Patch (or with disable=True restore) the scikit-learn estimators' fit methods."""
    runs: Any = max_tuning_runs  # checked as given: callers pass anything
    if runs is not None and (
        isinstance(runs, bool) or not isinstance(runs, numbers.Integral) or runs < 0
    ):
        raise InvalidArgumentError(
            f"max_tuning_runs must be a non-negative integer or None, got {runs!r}"
        )
    config = _Config(
        log_models=bool(log_models),
        log_datasets=bool(log_datasets),
        exclusive=bool(exclusive),
        silent=bool(silent),
        max_tuning_runs=None if runs is None else int(runs),
        pos_label=pos_label,
        extra_tags=patching.extra_tags_of(extra_tags),
    )
    INTEGRATION.configure(None if disable else config, _patch_all)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Enable (or with disable=True undo) autologging of scikit-learn fits.

    `mlflow.sklearn.autolog`'s signature. Each top-level `fit` / `fit_transform` /
    `fit_predict` logs params, `estimator_name` / `estimator_class` tags, `training_*`
    metrics and (log_models) the `model` artifact into the active run, or a run of its own;
    a parameter search adds `best_cv_score`, `best_<param>` params and up to max_tuning_runs
    child runs (None: all). Every fit saves `estimator.html`; a classifier's also saves
    `training_confusion_matrix.png` (and with two classes `training_roc_curve.png` and
    `training_precision_recall_curve.png`). With log_datasets the training data is a run
    input (`dataset`, context `train`; its digest, schema and profile, never the data).
    Input examples, signatures, post-training metrics and model registration are not
    recorded; the models are joblib pickles whatever serialization_format says.
    """
    autolog_sklearn(
        log_models=log_models,
        log_datasets=log_datasets,
        disable=disable,
        exclusive=exclusive,
        silent=silent,
        max_tuning_runs=max_tuning_runs,
        pos_label=pos_label,
        extra_tags=extra_tags,
    )


def is_enabled() -> bool:
    """Return True while scikit-learn autologging is on."""
    return INTEGRATION.enabled


# patching ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _all_estimators() -> tuple[type, ...]:
    """Return every estimator class scikit-learn lists (it imports all of sklearn once)."""
    from sklearn.utils import all_estimators

    return tuple(cls for _, cls in all_estimators())


def estimators_to_patch() -> list[type]:
    """Return the estimator classes whose fit methods autologging patches (MLflow's set)."""
    import sklearn.model_selection
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    classes = set(_all_estimators()) | {Pipeline, GridSearchCV, RandomizedSearchCV}
    for name in ("HalvingGridSearchCV", "HalvingRandomSearchCV"):  # once the user enabled them
        try:
            extra = getattr(sklearn.model_selection, name, None)
        except ImportError:  # experimental, and not enabled
            continue
        if isinstance(extra, type):
            classes.add(extra)
    return sorted(
        (
            cls
            for cls in classes
            if not cls.__module__.startswith(EXCLUDED_MODULES)
            and f"{cls.__module__}.{cls.__name__}" not in EXCLUDED_CLASSES
        ),
        key=lambda cls: (cls.__module__, cls.__qualname__),
    )


def _patched_attribute(raw: object) -> object | None:
    """Return a stand-in for a fit method that logs, or None for attributes left alone.

    A plain function is wrapped; scikit-learn's `available_if` descriptors (e.g.
    `Pipeline.fit_transform`) are copied with their function wrapped; anything else (a
    property, as `FeatureAgglomeration.fit_predict`) is not patched.
    """
    if isinstance(raw, types.FunctionType):
        return _fit_wrapper(raw)
    fn = getattr(raw, "fn", None)
    if isinstance(fn, types.FunctionType) and hasattr(type(raw), "__get__"):
        replacement = copy.copy(raw)
        try:
            replacement.fn = _fit_wrapper(fn)  # type: ignore[attr-defined]
        except AttributeError:
            return None
        return replacement
    return None


def _patch_all() -> None:
    """Patch every estimator class's fit methods, then scikit-learn's joblib helpers."""
    plan: list[tuple[type, str, object]] = []
    # Resolve every original before replacing any, so that a subclass inheriting `fit` wraps
    # the base's original function, not its wrapper.
    for cls in estimators_to_patch():
        for name in FIT_METHODS:
            raw = patching.static_lookup(cls, name)
            if raw is ABSENT:
                continue
            replacement = _patched_attribute(raw)
            if replacement is not None:
                plan.append((cls, name, replacement))
    INTEGRATION.replace_all(plan)
    _patch_unlogged_apis()
    _patch_joblib_propagation()


def _patch_unlogged_apis() -> None:
    """Make the cross-validation functions run their fits inside the guard (nothing logged)."""
    import sklearn.model_selection
    from sklearn.model_selection import _validation

    targets = [(sklearn.model_selection, name) for name in UNLOGGED_APIS]
    targets += [(_validation, name) for name in (*UNLOGGED_APIS, *UNLOGGED_HELPERS)]
    for module, name in targets:
        original = module.__dict__.get(name)
        if isinstance(original, types.FunctionType):
            INTEGRATION.replace(module, name, patching.guarded(original))


def _patch_joblib_propagation() -> None:
    """Carry the depth guard into scikit-learn's joblib tasks (threads run them elsewhere).

    `sklearn.utils.parallel.Parallel.__call__` marks its tasks while this thread is inside an
    autologged fit; a marked task (`_FuncWrapper`) runs inside the guard in whichever worker
    thread executes it, so e.g. `IsolationForest(n_jobs=2)`'s trees are not logged as runs.
    """
    try:
        from sklearn.utils import parallel
    except ImportError:
        return
    parallel_cls = getattr(parallel, "Parallel", None)
    task_cls = getattr(parallel, "_FuncWrapper", None)
    if not isinstance(parallel_cls, type) or not isinstance(task_cls, type):
        return
    parallel_call = parallel_cls.__dict__.get("__call__")
    task_call = task_cls.__dict__.get("__call__")
    if not isinstance(parallel_call, types.FunctionType) or not isinstance(
        task_call, types.FunctionType
    ):
        return

    def marked(tasks: Iterable[Any]) -> Iterator[Any]:
        for task in tasks:
            try:
                func = task[0]
                if isinstance(func, task_cls):
                    setattr(func, _NESTED_MARK, True)
            except Exception:  # not a (func, args, kwargs) task: joblib will say so
                pass
            yield task

    @functools.wraps(parallel_call)
    def patched_parallel_call(self: Any, iterable: Iterable[Any]) -> Any:
        if not patching.inside():
            return parallel_call(self, iterable)
        return parallel_call(self, marked(iterable))

    @functools.wraps(task_call)
    def patched_task_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self, _NESTED_MARK, False):
            return task_call(self, *args, **kwargs)
        with patching.nested():
            return task_call(self, *args, **kwargs)

    for cls, name, replacement in (
        (parallel_cls, "__call__", patched_parallel_call),
        (task_cls, "__call__", patched_task_call),
    ):
        INTEGRATION.replace(cls, name, replacement)


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return `original` (a fit method) wrapped to log top-level calls."""
    return INTEGRATION.top_level(original, _autologged_fit)


# one autologged fit -----------------------------------------------------------------------
def _autologged_fit(
    config: _Config,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run a top-level fit inside a run, logging what it learned; return fit's result."""
    estimator, args = args[0], args[1:]
    with INTEGRATION.run(config) as active:
        if active is None:
            return original(estimator, *args, **kwargs)
        inputs = _attempt("read the training data", _fit_inputs, original, args, kwargs)
        run_id = active.info.run_id
        _attempt("log params and tags", _log_pretraining, run_id, estimator)
        result = original(estimator, *args, **kwargs)
        if inputs is not None:
            what = "log the training results"
            _attempt(what, _log_posttraining, config, active, estimator, *inputs)
        return result


def _fit_inputs(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """Return (X, y, sample_weight) of a fit call, X and y copied as MLflow does (fit may
    change them in place); y and sample_weight may be None."""
    params = list(inspect.signature(original).parameters.values())[1:]  # after self
    names = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    x_name = names[0] if names else "X"
    y_name = names[1] if len(names) > 1 else "y"
    X = args[0] if args else kwargs.get(x_name)
    y = args[1] if len(args) > 1 else kwargs.get(y_name)
    sample_weight = kwargs.get("sample_weight")
    if "sample_weight" in names and len(args) > names.index("sample_weight"):
        sample_weight = args[names.index("sample_weight")]
    return _copied(X), _copied(y), sample_weight


def _copied(value: Any) -> Any:
    """Return a deep copy of value, or value itself when it cannot be copied."""
    if value is None:
        return None
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def _str_params(params: Mapping[str, Any]) -> list[Any]:
    """Return Param entities, values as `str()` (MLflow's rendering)."""
    from reporter.core.entities import Param

    return [Param(str(key), str(value)) for key, value in params.items()]


def _estimator_tags(estimator: Any) -> dict[str, str]:
    """MLflow's tags naming an estimator's class."""
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def is_parameter_search(estimator: Any) -> bool:
    """Return True for GridSearchCV, RandomizedSearchCV and the other BaseSearchCV kinds."""
    try:
        from sklearn.model_selection._search import BaseSearchCV
    except ImportError:
        from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

        return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))
    return isinstance(estimator, BaseSearchCV)


def _log_pretraining(run_id: str, estimator: Any) -> None:
    """Log the estimator's params (deep unless a search: its seed is untuned) and tags."""
    from reporter.core.entities import RunTag
    from reporter.tracking import fluent

    params = estimator.get_params(deep=not is_parameter_search(estimator))
    tags = [RunTag(k, v) for k, v in _estimator_tags(estimator).items()]
    fluent._client().log_batch(run_id, params=_str_params(params), tags=tags)


def _log_metrics(run_id: str, metrics: Mapping[str, Any]) -> None:
    """Log metrics at step 0, now."""
    from reporter.core.entities import Metric
    from reporter.tracking import fluent

    if metrics:
        now = int(time.time() * 1000)
        items = [Metric(key, value, now, 0) for key, value in metrics.items()]
        fluent._client().log_batch(run_id, metrics=items)


def _log_dataset(run_id: str, X: Any, y: Any) -> None:
    """Record the training data as MLflow does: a DataFrame as a pandas dataset (without its
    targets), an array (sparse ones densified) as a numpy dataset with them; context train."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import issparse

    from reporter.core.datasets import DATASET_CONTEXT_TAG, DatasetInput, InputTag
    from reporter.data import from_numpy, from_pandas
    from reporter.tracking import fluent

    if isinstance(X, pd.DataFrame):
        dataset: Any = from_pandas(X)
    else:
        features = X.toarray() if issparse(X) else X
        if not isinstance(features, np.ndarray):
            return  # MLflow skips other kinds of data too
        targets = y.toarray() if issparse(y) else y
        dataset = from_numpy(features, targets=targets) if y is not None else from_numpy(features)
    tags = [InputTag(DATASET_CONTEXT_TAG, "train")]
    entity = DatasetInput(dataset._to_mlflow_entity(), tags)
    fluent._client().log_inputs(run_id, [entity])


def _log_posttraining(
    config: _Config, run: Any, estimator: Any, X: Any, y: Any, sample_weight: Any
) -> None:
    """Log training metrics, a search's results and child runs, and the model(s)."""
    run_id = run.info.run_id
    if config.log_datasets:
        _attempt("log the training dataset", _log_dataset, run_id, X, y)
    metrics = training_metrics(estimator, X, y, sample_weight, config.pos_label)
    _attempt("log training metrics", _log_metrics, run_id, metrics)
    what = "log the training artifacts"
    _attempt(what, _log_training_artifacts, config, run_id, estimator, X, y, sample_weight)
    if is_parameter_search(estimator):
        _log_parameter_search(config, run, estimator)
    if config.log_models:
        from reporter.integrations import sklearn as flavor  # looked up now: patchable

        _attempt("log the model", flavor.log_model, estimator, "model")
        best = getattr(estimator, "best_estimator_", None)
        if best is not None and is_parameter_search(estimator):
            what = "log the best estimator"
            _attempt(what, flavor.log_model, best, "best_estimator")


def _log_training_artifacts(
    config: _Config, run_id: str, estimator: Any, X: Any, y: Any, sample_weight: Any
) -> None:
    """Log estimator.html and a classifier's training plots; a failure warns (each kind
    once after autolog()) and never reaches the fit."""
    from reporter.integrations.sklearn import artifacts
    from reporter.tracking import fluent

    client = fluent._client()
    html = functools.partial(artifacts.estimator_html, estimator)
    what = f"log {artifacts.ESTIMATOR_HTML}"
    _attempt(what, lambda: client.log_text(run_id, html(), artifacts.ESTIMATOR_HTML))
    plots = _training_plots(config, estimator, X, y, sample_weight)
    if plots and not _matplotlib_installed():
        names = ", ".join(plot.artifact_file for plot in plots)
        _warn_once(
            "no matplotlib",
            f"matplotlib is not installed: the training plots ({names}) are not logged "
            "(pip install matplotlib)",
        )
        return
    failed: dict[str, Exception] = {}
    for plot in plots:
        try:
            client.log_figure(run_id, plot.draw(), plot.artifact_file, dpi=artifacts.DPI)
        except Exception as exc:
            failed[plot.artifact_file] = exc
    if failed:  # one warning for the fit, and not again for the same failure
        names, first = ", ".join(failed), next(iter(failed.values()))
        key = f"plots {names}: {type(first).__name__}"
        _warn_once(key, f"could not log {names}: {type(first).__name__}: {first}")


def _training_plots(
    config: _Config, estimator: Any, X: Any, y: Any, sample_weight: Any
) -> list[Any]:
    """Return the training plots MLflow saves for this fit (none unless a classifier)."""
    from sklearn.base import is_classifier

    from reporter.integrations.sklearn import artifacts

    if not _computed("is_classifier", lambda: is_classifier(estimator)):
        return []
    try:
        return artifacts.classifier_plots(estimator, X, y, sample_weight, TRAINING_PREFIX)
    except Exception as exc:
        message = f"could not plan the training plots: {type(exc).__name__}: {exc}"
        _warn_once(f"plots {type(exc).__name__}", message)
        return []


def _matplotlib_installed() -> bool:
    """Return True when matplotlib's Figure and Agg canvas can be imported."""
    import importlib

    try:
        for module in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
            importlib.import_module(module)
    except ImportError:
        return False
    return True


# training metrics --------------------------------------------------------------------------
def _computed(name: str, func: Callable[[], Any]) -> Any:
    """Return func(), or None when it fails (a metric that does not apply is just left out)."""
    try:
        return func()
    except Exception as exc:
        log.debug("autologging: metric %s skipped: %s: %s", name, type(exc).__name__, exc)
        return None


def training_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None, pos_label: Any = None
) -> dict[str, float]:
    """Return MLflow's `training_*` metrics for a fitted estimator; the ones that cannot be
    computed (no labels, no predict_proba, an unsupported target) are left out."""
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, Any] = {}
    if X is None or y is None:
        return {}
    if _computed("is_classifier", lambda: is_classifier(estimator)):
        out.update(_classifier_metrics(estimator, X, y, sample_weight, pos_label))
    elif _computed("is_regressor", lambda: is_regressor(estimator)):
        out.update(_regressor_metrics(estimator, X, y, sample_weight))
    if _computed("score", lambda: hasattr(estimator, "score")):
        out[TRAINING_PREFIX + "score"] = _computed(
            "score", lambda: _score(estimator, X, y, sample_weight)
        )
    return {key: float(value) for key, value in out.items() if _is_number(value)}


def _is_number(value: Any) -> bool:
    """Return True for a real number (numpy scalars included), not for bools, None or arrays."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and getattr(value, "ndim", None) == 0 and dtype.kind in "iuf"


def _score(estimator: Any, X: Any, y: Any, sample_weight: Any) -> Any:
    """Return estimator.score on the training data (weighted when score takes weights)."""
    if (
        sample_weight is not None
        and "sample_weight" in inspect.signature(estimator.score).parameters
    ):
        return estimator.score(X, y, sample_weight=sample_weight)
    return estimator.score(X, y)


def _classifier_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any, pos_label: Any
) -> dict[str, Any]:
    """Precision, recall and F1 (support-weighted averages, or binary with pos_label),
    accuracy, and with predict_proba the log loss and ROC AUC (weighted one-vs-one)."""
    from sklearn import metrics

    p = TRAINING_PREFIX
    out: dict[str, Any] = {}
    y_pred = _computed("predict", lambda: estimator.predict(X))
    if y_pred is not None:
        averaging: dict[str, Any] = {"average": "weighted" if pos_label is None else "binary"}
        if pos_label is not None:
            averaging["pos_label"] = pos_label
        for name, func in (
            ("precision_score", metrics.precision_score),
            ("recall_score", metrics.recall_score),
            ("f1_score", metrics.f1_score),
        ):
            out[p + name] = _computed(
                name,
                functools.partial(func, y, y_pred, sample_weight=sample_weight, **averaging),
            )
        out[p + "accuracy_score"] = _computed(
            "accuracy_score",
            lambda: metrics.accuracy_score(y, y_pred, normalize=True, sample_weight=sample_weight),
        )
    if _computed("predict_proba", lambda: hasattr(estimator, "predict_proba")):
        proba = _computed("predict_proba", lambda: estimator.predict_proba(X))
        if proba is not None:
            out[p + "log_loss"] = _computed(
                "log_loss", lambda: metrics.log_loss(y, proba, sample_weight=sample_weight)
            )
            # Binary: the score of the greater label, as roc_auc_score expects.
            scores = proba[:, 1] if getattr(proba, "shape", (0, 0))[1:] == (2,) else proba
            out[p + "roc_auc"] = _computed(
                "roc_auc",
                lambda: metrics.roc_auc_score(
                    y, scores, average="weighted", sample_weight=sample_weight, multi_class="ovo"
                ),
            )
    return out


def _regressor_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> dict[str, Any]:
    """(Root) mean squared error, mean absolute error and R², outputs averaged uniformly."""
    from sklearn import metrics

    p = TRAINING_PREFIX
    y_pred = _computed("predict", lambda: estimator.predict(X))
    if y_pred is None:
        return {}
    kwargs = {"sample_weight": sample_weight, "multioutput": "uniform_average"}
    out: dict[str, Any] = {}
    for name, func in (
        ("mean_squared_error", metrics.mean_squared_error),
        ("mean_absolute_error", metrics.mean_absolute_error),
        ("r2_score", metrics.r2_score),
    ):
        out[p + name] = _computed(name, functools.partial(func, y, y_pred, **kwargs))
    mse = out[p + "mean_squared_error"]
    if _is_number(mse):
        out[p + "root_mean_squared_error"] = math.sqrt(float(mse))
    return out


# parameter search --------------------------------------------------------------------------
def _log_parameter_search(config: _Config, run: Any, search: Any) -> None:
    """Log best_cv_score, best_<param> params, cv_results.csv and the child runs."""
    from reporter.tracking import fluent

    run_id = run.info.run_id
    if hasattr(search, "best_score_"):
        what = "log best_cv_score"
        _attempt(what, _log_metrics, run_id, {"best_cv_score": search.best_score_})
    if hasattr(search, "best_params_"):
        best = {f"best_{name}": value for name, value in search.best_params_.items()}
        client = fluent._client()
        _attempt("log the best params", client.log_batch, run_id, (), _str_params(best))
    if hasattr(search, "cv_results_"):
        _attempt("log the search's child runs", _log_child_runs, config, run, search)
        _attempt("log cv_results.csv", _log_cv_results, run_id, search.cv_results_)


def _log_cv_results(run_id: str, cv_results: Mapping[str, Any]) -> None:
    """Save the search's cv_results_ as the run's `cv_results.csv`."""
    import pandas as pd

    from reporter.tracking import fluent

    text = pd.DataFrame.from_dict(dict(cv_results)).to_csv(index=False)
    fluent._client().log_text(run_id, text, "cv_results.csv")


def _rank_column(search: Any, cv_results: Mapping[str, Any]) -> str | None:
    """Return the cv_results_ column ranking the candidates: rank_test_score, else (several
    scorers) the refit scorer's, else the first rank_test_* column."""
    if "rank_test_score" in cv_results:
        return "rank_test_score"
    refit = getattr(search, "refit", None)
    if isinstance(refit, str) and f"rank_test_{refit}" in cv_results:
        return f"rank_test_{refit}"
    return next((key for key in cv_results if key.startswith("rank_test_")), None)


def best_candidates(search: Any, max_tuning_runs: int | None) -> list[int]:
    """Return the indexes of the candidates to log as child runs, best ranked first."""
    cv_results = search.cv_results_
    count = len(cv_results["params"])
    column = _rank_column(search, cv_results)
    order = list(range(count))
    if column is not None:
        ranks = cv_results[column]
        order.sort(key=lambda i: ranks[i])  # stable: ties keep cv_results_ order
    return order if max_tuning_runs is None else order[:max_tuning_runs]


def _log_child_runs(config: _Config, parent: Any, search: Any) -> None:
    """Create one finished child run per logged candidate: its params and cv metrics."""
    from reporter.core.entities import Metric, RunStatus
    from reporter.tracking import context, fluent

    client = fluent._client()
    cv_results = search.cv_results_
    indexes = best_candidates(search, config.max_tuning_runs)
    total = len(cv_results["params"])
    if not config.silent:
        log.info(
            "autologging %d of %d parameter search candidates as child runs of run %s",
            len(indexes),
            total,
            parent.info.run_id,
        )
    seed = search.estimator
    base_params = seed.get_params(deep=not is_parameter_search(seed))
    metric_keys = [key for key in cv_results if not key.startswith(("param", "split"))]
    tags = {
        **context.system_tags(),
        TAG_AUTOLOGGING: FLAVOR_NAME,
        **config.extra_tags,
        **_estimator_tags(seed),
    }
    start = parent.info.start_time
    end = int(time.time() * 1000)
    for i in indexes:
        params = {**base_params, **cv_results["params"][i]}
        values = {key: cv_results[key][i] for key in metric_keys}
        metrics = [
            Metric(key, float(value), end, 0) for key, value in values.items() if _is_number(value)
        ]
        child = client.create_run(
            parent.info.experiment_id,
            start_time=start,
            tags=tags,
            parent_run_id=parent.info.run_id,
        )
        child_id = child.info.run_id
        try:
            client.log_batch(child_id, metrics=metrics, params=_str_params(params))
        except BaseException:
            client.set_terminated(child_id, RunStatus.FAILED, end)  # never left RUNNING
            raise
        client.set_terminated(child_id, RunStatus.FINISHED, end)
