"""`reporter.sklearn.log_model` / `load_model`: scikit-learn estimators as run artifacts.

A model folder holds `model.pkl` (joblib), `MLmodel` (YAML: flavor, estimator class, params,
library versions) and `requirements.txt`. `reporter.sklearn.autolog()` logs every fit (see
`reporter.autolog`).
"""

from __future__ import annotations

import os
import platform
import tempfile
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError

MODEL_FILE = "model.pkl"
META_FILE = "MLmodel"


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


def save_model(sk_model: Any, path: str) -> None:
    """Save an estimator into a new local folder."""
    import joblib
    import yaml

    if not hasattr(sk_model, "get_params"):
        raise InvalidArgumentError(
            f"reporter.sklearn expects a scikit-learn estimator, got {type(sk_model).__name__}"
        )
    os.makedirs(path, exist_ok=True)
    joblib.dump(sk_model, os.path.join(path, MODEL_FILE))
    cls = type(sk_model)
    versions = _versions()
    meta = {
        "flavors": {
            "sklearn": {
                "pickled_model": MODEL_FILE,
                "serialization_format": "joblib",
                "sklearn_version": versions.get("scikit-learn"),
            }
        },
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
        "params": {k: repr(v) for k, v in sorted(sk_model.get_params(deep=False).items())},
        "library_versions": versions,
    }
    with open(os.path.join(path, META_FILE), "w", encoding="utf-8") as handle:
        yaml.safe_dump(meta, handle, sort_keys=False)
    reqs = [f"{k}=={v}" for k, v in versions.items() if k != "python"]
    with open(os.path.join(path, "requirements.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(reqs) + "\n")


def log_model(
    sk_model: Any, artifact_path: str = "model", *, name: str | None = None, **_ignored: Any
) -> str:
    """Save an estimator as an artifact folder of the active run; return its `runs:/` URI."""
    from reporter.tracking import fluent

    run = fluent.active_run() or fluent.start_run()
    target = name or artifact_path
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "model")
        save_model(sk_model, folder)
        fluent.log_artifacts(folder, target)
    return f"runs:/{run.info.run_id}/{target}"


def load_model(model_uri: str) -> Any:
    """Load an estimator from `runs:/<run_id>/<path>` or a local model folder."""
    import joblib

    from reporter.tracking.client import Client

    if model_uri.startswith("runs:/"):
        rest = model_uri[len("runs:/") :].strip("/")
        run_id, _, path = rest.partition("/")
        if not run_id or not path:
            raise InvalidArgumentError(
                f"Model URI {model_uri!r} must look like runs:/<run_id>/<artifact_path>"
            )
        local = Client().download_artifacts(run_id, path)
    else:
        local = model_uri[len("file://") :] if model_uri.startswith("file://") else model_uri
    pickled = os.path.join(local, MODEL_FILE)
    if not os.path.isfile(pickled):
        raise NotFoundError(f"No scikit-learn model at {model_uri!r} (missing {MODEL_FILE})")
    return joblib.load(pickled)
