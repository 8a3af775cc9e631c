"""`reporter.sklearn.log_model` / `load_model`: scikit-learn estimators as logged models.

A model folder holds `model.pkl` (joblib), `MLmodel` (YAML with MLflow's keys: the `sklearn`
and `python_function` flavors, the model id, signature and input example), and
`requirements.txt`. `log_model` returns a `ModelInfo` whose `model_uri` is `models:/<model_id>`
(see `reporter.integrations.models.logging`). `reporter.sklearn.autolog()` logs every fit (see
`reporter.autolog`).
"""

from __future__ import annotations

import os
import platform
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.integrations.models import logging as model_logging
from reporter.integrations.models.model import Model, ModelInfo
from reporter.integrations.models.signature import ModelSignature
from reporter.integrations.models.uris import download_model

MODEL_FILE = "model.pkl"
META_FILE = "MLmodel"
FLAVOR = "sklearn"


def _versions() -> dict[str, str]:
    """Return the versions of the libraries a pickled estimator depends on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("scikit-learn", "joblib", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _check_estimator(sk_model: Any) -> None:
    if not hasattr(sk_model, "get_params"):
        raise InvalidArgumentError(
            f"reporter.sklearn expects a scikit-learn estimator, got {type(sk_model).__name__}"
        )


def _save_files(sk_model: Any, path: str, pyfunc_predict_fn: str = "predict") -> dict[str, Any]:
    """Pickle an estimator into a folder; return its flavors (MLflow's keys)."""
    import joblib

    _check_estimator(sk_model)
    if not callable(getattr(sk_model, pyfunc_predict_fn, None)):
        raise InvalidArgumentError(
            f"pyfunc_predict_fn={pyfunc_predict_fn!r}: {type(sk_model).__name__} has no such method"
        )
    os.makedirs(path, exist_ok=True)
    joblib.dump(sk_model, os.path.join(path, MODEL_FILE))
    versions = _versions()
    return {
        "python_function": {
            "loader_module": "reporter.sklearn",
            "model_path": MODEL_FILE,
            "predict_fn": pyfunc_predict_fn,
            "python_version": versions["python"],
        },
        FLAVOR: {
            "pickled_model": MODEL_FILE,
            "serialization_format": "joblib",
            "sklearn_version": versions.get("scikit-learn"),
            "estimator_class": f"{type(sk_model).__module__}.{type(sk_model).__qualname__}",
        },
    }


def _requirements() -> list[str]:
    return [f"{k}=={v}" for k, v in _versions().items() if k != "python"]


def save_model(
    sk_model: Any,
    path: str,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    **ignored: Any,
) -> None:
    """Save an estimator into a new local model folder (MLflow's `sklearn.save_model`)."""
    _check_estimator(sk_model)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(sk_model, folder, pyfunc_predict_fn),
        requirements=_requirements(),
    )
    model_logging.save_model(
        flavor,
        path,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        ignored=ignored,
    )


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    serialization_format: Any = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    await_registration_for: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    extra_files: Any = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    name: str | None = None,
    skops_trusted_types: Any = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log an estimator as a logged model of the active run; return its `ModelInfo`.

    MLflow 3's arguments: `name=` (or the older `artifact_path=`), `signature`,
    `input_example` (the signature is inferred from it when not given), `params`, `tags`,
    `model_type`, `step`, `model_id`, `metadata`, `pip_requirements`. Arguments that need
    what tracker-report does not have (`registered_model_name`, ...) warn once.
    """
    _check_estimator(sk_model)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(sk_model, folder, pyfunc_predict_fn),
        predict=getattr(sk_model, pyfunc_predict_fn, None),
        requirements=_requirements(),
    )
    ignored = {
        "conda_env": conda_env,
        "code_paths": code_paths,
        "serialization_format": serialization_format,
        "registered_model_name": registered_model_name,
        "await_registration_for": await_registration_for,
        "extra_files": extra_files,
        "skops_trusted_types": skops_trusted_types,
        **kwargs,
    }
    return model_logging.log_model(
        flavor,
        function="reporter.sklearn.log_model",
        name=name,
        artifact_path=artifact_path,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        params=params,
        tags=tags,
        model_type=model_type,
        step=step,
        model_id=model_id,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        ignored=ignored,
    )


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load an estimator from `models:/<model_id>`, `runs:/<run_id>/<name>` or a folder."""
    import joblib

    local = download_model(model_uri, dst_path)
    meta = Model.load(local) if os.path.isfile(os.path.join(local, META_FILE)) else None
    flavor = (meta.flavors.get(FLAVOR) if meta else None) or {}
    pickled = os.path.join(local, str(flavor.get("pickled_model") or MODEL_FILE))
    if not os.path.isfile(pickled):
        raise NotFoundError(f"No scikit-learn model at {model_uri!r} (missing {MODEL_FILE})")
    if flavor.get("serialization_format") not in (None, "joblib", "pickle", "cloudpickle"):
        raise InvalidArgumentError(
            f"{model_uri}: a {flavor['serialization_format']} model; tracker-report loads "
            "joblib and pickle models"
        )
    return joblib.load(pickled)
