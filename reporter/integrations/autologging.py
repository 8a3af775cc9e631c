"""`reporter.autolog()` (MLflow's `mlflow.autolog`): autologging for every supported library.

Each library has its own integration package (`reporter.integrations.sklearn`,
`reporter.integrations.xgboost`, `reporter.integrations.lightgbm`,
`reporter.integrations.pytorch`), all on one mechanism (`reporter.integrations.patching`);
this turns on each installed one when the script imports its library
(`reporter.integrations.import_hooks`), as `mlflow.autolog` does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reporter.integrations import import_hooks, patching

log = logging.getLogger(__name__)
# the modules whose import turns each integration on
LIBRARIES = {
    "sklearn": ("sklearn",),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "pytorch": ("lightning", "pytorch_lightning"),
}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    log_traces: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: Mapping[str, Any] | None = None,
    exclude_flavors: Sequence[str] | None = None,
    *,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    pos_label: Any = None,
) -> None:
    """Enable (or with disable=True undo) autologging for every supported library.

    `mlflow.autolog`'s signature: scikit-learn, XGBoost, LightGBM and PyTorch Lightning, each
    turned on when the script imports it (now, if it has already; nothing is imported here,
    and a library installed after the call counts too), left alone when `exclude_flavors`
    names it or when its own autolog() configured it last (as MLflow does). `max_tuning_runs`
    and `pos_label` are passed on to `reporter.sklearn.autolog`; so is `log_datasets` (the
    training data as a run input).
    Input examples, signatures, traces and post-training metrics are not recorded; those
    options are accepted so that MLflow code runs unchanged.
    """
    # imported here: `import reporter` stays light for processes that only log
    from reporter.integrations.lightgbm import autologging as lightgbm_autologging
    from reporter.integrations.pytorch import autologging as pytorch_autologging
    from reporter.integrations.sklearn import autologging as sklearn_autologging
    from reporter.integrations.xgboost import autologging as xgboost_autologging

    excluded = set(exclude_flavors or ())
    common: dict[str, Any] = {
        "log_models": log_models,
        "exclusive": exclusive,
        "silent": silent,
        "extra_tags": extra_tags,
    }
    sklearn_options = {
        "log_datasets": log_datasets,
        "max_tuning_runs": max_tuning_runs,
        "pos_label": pos_label,
    }
    flavors: tuple[tuple[Any, Callable[..., None], dict[str, Any]], ...] = (
        (sklearn_autologging, sklearn_autologging.autolog_sklearn, sklearn_options),
        (xgboost_autologging, xgboost_autologging.autolog, {}),
        (lightgbm_autologging, lightgbm_autologging.autolog, {}),
    )
    hooks = [
        (integration, name, functools.partial(enable, **{**common, **own}))
        for integration, enable, own in flavors
        for name in LIBRARIES[integration.FLAVOR_NAME]
    ]
    hooks += [  # each Lightning package on its own import (neither imports the other)
        (
            pytorch_autologging,
            name,
            functools.partial(pytorch_autologging.autolog_imported, name, **common),
        )
        for name in LIBRARIES[pytorch_autologging.FLAVOR_NAME]
    ]
    for integration, name, enable in hooks:
        key = f"{__name__}:{name}"
        if disable or integration.FLAVOR_NAME in excluded:
            import_hooks.cancel(key)
            if disable and integration.is_enabled() and not _users(integration):
                with patching.configuring_globally():
                    integration.INTEGRATION.configure(None, lambda: None)
            continue
        import_hooks.when_imported(
            key, [name], functools.partial(_enable, integration, enable, bool(silent))
        )


def _users(integration: Any) -> bool:
    """True when the framework's own autolog() configured it last: mlflow.autolog() then
    leaves it as it is (as MLflow's does)."""
    return bool(integration.INTEGRATION.configured_by_user)


def _enable(integration: Any, enable: Callable[[], None], silent: bool) -> None:
    """Turn one integration on (from a post-import hook: a failure is a warning at the
    user's `import` line, none when silent, never an exception in the import)."""
    if _users(integration):
        return
    try:
        with patching.configuring_globally():
            enable()
    except Exception as exc:
        if silent:
            log.debug("could not turn on %s autologging", integration.FLAVOR_NAME, exc_info=True)
            return
        integration.INTEGRATION.warn(
            f"could not turn on {integration.FLAVOR_NAME} autologging: {type(exc).__name__}: {exc}",
            also_skipped=_library_folders(),
        )


def _library_folders() -> tuple[str, ...]:
    """The folders of the autologged libraries imported so far (one imports another: the
    warning's line is the user's import, not the library's)."""
    import os
    import sys

    names = {n for names in LIBRARIES.values() for n in names} | {"torch"}
    files = [getattr(sys.modules.get(name), "__file__", None) for name in sorted(names)]
    return tuple(os.path.dirname(file) + os.sep for file in files if file)
