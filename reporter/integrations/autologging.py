"""`reporter.autolog()` (MLflow's `mlflow.autolog`): autologging for every supported library.

Each library has its own integration package (`reporter.integrations.sklearn`,
`reporter.integrations.xgboost`, `reporter.integrations.lightgbm`), all on one mechanism
(`reporter.integrations.patching`); this turns on the ones whose library is installed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)


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

    `mlflow.autolog`'s signature: scikit-learn, XGBoost, LightGBM and PyTorch Lightning
    (when the script imported Lightning before the call), each left alone when it is not
    installed or when `exclude_flavors` names it. `max_tuning_runs` and `pos_label` are passed
    on to `reporter.sklearn.autolog`; so is `log_datasets` (the training data as a run input).
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
        "disable": disable,
        "exclusive": exclusive,
        "silent": silent,
        "extra_tags": extra_tags,
    }
    if sklearn_autologging.FLAVOR_NAME not in excluded and _installed("sklearn"):
        sklearn_autologging.autolog_sklearn(
            log_datasets=log_datasets,
            max_tuning_runs=max_tuning_runs,
            pos_label=pos_label,
            **common,
        )
    if xgboost_autologging.FLAVOR_NAME not in excluded and _installed("xgboost"):
        xgboost_autologging.autolog(**common)
    if lightgbm_autologging.FLAVOR_NAME not in excluded and _installed("lightgbm"):
        lightgbm_autologging.autolog(**common)
    # Lightning takes seconds to import: turned on when the script imported it already
    # (MLflow also catches a later import; call reporter.pytorch.autolog() then)
    lightning_here = any(name in sys.modules for name in ("lightning", "pytorch_lightning"))
    if pytorch_autologging.FLAVOR_NAME not in excluded and (
        lightning_here or pytorch_autologging.is_enabled()
    ):
        pytorch_autologging.autolog(**common)


def _installed(module: str) -> bool:
    """Return True when a library can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        log.debug("%s is not installed; nothing to autolog", module)
        return False
