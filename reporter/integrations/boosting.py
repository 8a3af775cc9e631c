"""What the gradient-boosting integrations (XGBoost, LightGBM) log the same way: a `train`
call's params, each iteration's evaluation results, the early-stopping results and the
feature importance, with MLflow's names. Each integration reads its framework's own objects
(callbacks, boosters) and hands plain values here."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reporter.integrations import importance, patching

EarlyStop = tuple[int, int, int]  # (stopped, best, index of best in Iterations.results)


@dataclass(frozen=True)
class Framework:
    """What one gradient-boosting framework's autologging does its own way; the rest (the run,
    params, callbacks, metrics, early stopping, importance, the model) is this module's."""

    integration: patching.Integration
    train: Callable[..., Any]  # the framework's own train()
    modules: Sequence[Any]  # every module naming it `train` (wrappers call it by that name)
    wrappers: Sequence[type]  # the scikit-learn wrappers whose own fit is patched
    unlogged: Sequence[str]  # train()'s arguments that are not params (MLflow's list)
    # a training callback adding each iteration's results to Iterations (None: no callback API)
    recorder: Callable[[Iterations], Any]
    # the early-stopping results of a train() call, None when it did not stop early
    early_stopping: Callable[[inspect.BoundArguments, Any, Iterations], EarlyStop | None]
    importance_kinds: Callable[[Any], Sequence[str]]  # (options) -> the kinds to log
    importance: Callable[[Any, str], Mapping[str, Any]]  # (model, kind) -> {feature: score}
    importance_indent: int | None  # the JSON's indent (MLflow's, which differs by framework)
    log_model: Callable[[Any, Any], None]  # (options, model): the Booster or the wrapper


def patch_train_and_fits(framework: Framework) -> None:
    """Patch a framework's `train` under every name its modules give it, invitable, and each
    scikit-learn wrapper's own `fit`."""
    integration = framework.integration
    train = framework.train

    def logged_train(
        options: Any, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        return _logged_train(framework, options, original, args, kwargs)

    patched = integration.top_level(train, logged_train, invitable=True)
    plan: list[tuple[Any, str, object]] = [
        (module, "train", patched)
        for module in framework.modules
        if module.__dict__.get("train") is train
    ]

    def logged_fit(
        options: patching.Options, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """A wrapper's top-level fit: the `train` call it makes logs params and metrics (it
        is invited to), the fit logs the wrapper as the model."""
        with integration.run(options) as run:
            if run is None:
                return original(*args, **kwargs)
            with patching.invite(integration.flavor, log_models=False):
                result = original(*args, **kwargs)
            if options.log_models:
                integration.attempt("log the model", framework.log_model, options, args[0])
            return result

    for cls in framework.wrappers:
        raw = patching.static_lookup(cls, "fit")
        if inspect.isfunction(raw):
            plan.append((cls, "fit", integration.top_level(raw, logged_fit)))
    integration.replace_all(plan)


def _logged_train(
    framework: Framework,
    options: Any,
    original: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A top-level `train` (or the one a wrapper's fit makes, invited): params, each
    iteration's results, early stopping, importance and the Booster, into one run."""
    integration = framework.integration
    log_models = logs_models(options)
    with integration.run(options) as run:
        if run is None:
            return original(*args, **kwargs)
        run_id = run.info.run_id
        call = bound(original, args, kwargs)
        if call is None:  # arguments train() itself will refuse: let it say so
            return original(*args, **kwargs)
        integration.attempt("log the params", log_params, run_id, call, framework.unlogged)
        iterations = Iterations()
        recorder = framework.recorder(iterations)
        if recorder is not None:
            call.arguments["callbacks"] = [*(call.arguments.get("callbacks") or []), recorder]
        try:
            model = original(*call.args, **call.kwargs)
        finally:
            integration.attempt("log the evaluation metrics", iterations.flush, run_id)
        if recorder is not None:
            integration.attempt(
                "log the early-stopping results",
                _log_early_stopping,
                framework,
                call,
                model,
                iterations,
                run_id,
            )
        for kind in framework.importance_kinds(options):
            integration.attempt(
                f"log the feature importance ({kind})",
                _log_importance,
                framework,
                model,
                kind,
                run_id,
            )
        if log_models:
            integration.attempt("log the model", framework.log_model, options, model)
        return model


def _log_early_stopping(
    framework: Framework,
    call: inspect.BoundArguments,
    model: Any,
    iterations: Iterations,
    run_id: str,
) -> None:
    stop = framework.early_stopping(call, model, iterations)
    if stop is not None:
        iterations.log_early_stopping(run_id, *stop)


def _log_importance(framework: Framework, model: Any, kind: str, run_id: str) -> None:
    scores = framework.importance(model, kind)
    log_importance(run_id, kind, scores, indent=framework.importance_indent)


def logs_models(options: patching.Options) -> bool:
    """Whether a `train` call logs its Booster: not when a wrapper's fit invited it (the fit
    logs the wrapper)."""
    return options.log_models and (patching.invitation() or {}).get("log_models", True)


def bound(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A `train` call's arguments by name (an `inspect.BoundArguments`), None when they do not
    fit its signature (the caller then trains with the call as given, and the framework
    answers it). Keyword-only arguments given by position are taken in order: XGBoost still
    accepts them, with a FutureWarning."""
    signature = inspect.signature(original)
    try:
        return signature.bind(*args, **kwargs)
    except TypeError:
        pass
    loose = [
        p.replace(kind=p.POSITIONAL_OR_KEYWORD) if p.kind == p.KEYWORD_ONLY else p
        for p in signature.parameters.values()
    ]
    try:
        return signature.replace(parameters=loose).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None


def log_params(run_id: str, call: inspect.BoundArguments, unlogged: Sequence[str]) -> None:
    """The booster params, then train()'s other arguments with their defaults, less
    `unlogged` (MLflow's `get_mlflow_run_params_for_fn_args`), values as `str()`."""
    from reporter.core.entities import Param
    from reporter.tracking import fluent

    params: dict[str, Any] = dict(call.arguments.get("params") or {})
    for name, spec in call.signature.parameters.items():
        if name in unlogged or spec.kind in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD):
            continue
        if name in call.arguments:
            params[name] = call.arguments[name]
        elif spec.default is not inspect.Parameter.empty:
            params[name] = spec.default
    fluent._client().log_batch(run_id, params=[Param(str(k), str(v)) for k, v in params.items()])


class Iterations:
    """Each iteration's evaluation results (`<eval name>-<metric>` -> value) as training
    reports them, logged together when it ends."""

    def __init__(self) -> None:
        self.results: list[dict[str, float]] = []
        self.times: list[int] = []

    def add(self, values: Mapping[str, float]) -> None:
        self.results.append(dict(values))
        self.times.append(int(time.time() * 1000))

    def flush(self, run_id: str) -> None:
        """Log every iteration's values, step = the iteration (from 0)."""
        from reporter.core.entities import Metric
        from reporter.tracking import fluent

        items = [
            Metric(key, float(value), at, step)
            for step, (values, at) in enumerate(zip(self.results, self.times, strict=True))
            for key, value in values.items()
        ]
        if items:
            fluent._client().log_batch(run_id, metrics=items)

    def log_early_stopping(self, run_id: str, stopped: int, best: int, best_index: int) -> None:
        """`stopped_iteration` and `best_iteration`, and the best iteration's results again
        one step after the last (so that a metric's latest value is its best)."""
        from reporter.core.entities import Metric
        from reporter.tracking import fluent

        step = len(self.results)
        now = int(time.time() * 1000)
        items = [
            Metric("stopped_iteration", float(stopped), now, 0),
            Metric("best_iteration", float(best), now, 0),
        ]
        if 0 <= best_index < step:
            items += [Metric(k, float(v), now, step) for k, v in self.results[best_index].items()]
        fluent._client().log_batch(run_id, metrics=items)


def log_importance(
    run_id: str, kind: str, scores: Mapping[str, Any], indent: int | None = None
) -> None:
    """`feature_importance_<kind>.json` and, with matplotlib, its bar chart `.png`."""
    from reporter.tracking import fluent

    client = fluent._client()
    client.log_text(
        run_id, json.dumps(dict(scores), indent=indent), f"feature_importance_{kind}.json"
    )
    if scores and importance.can_draw():
        figure = importance.figure(list(scores), list(scores.values()), kind)
        client.log_figure(run_id, figure, f"feature_importance_{kind}.png")
