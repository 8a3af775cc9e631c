"""One `log_model` for every flavor: a logged model, its files, its signature, its run link.

`log_model` (MLflow 3's flow): create the logged model PENDING in the active run's experiment
(or the current experiment when no run is active; it carries the run's params and user/source
tags), let the flavor save its files into a temporary folder, add the signature (inferred from
`input_example` when not given), the input example and `MLmodel`, upload the folder, record the
model as an output of the run, and mark it READY; any failure marks it FAILED and re-raises.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reporter.core import paths
from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import LoggedModelStatus
from reporter.core.version import __version__
from reporter.integrations.models.model import Model, ModelInfo, save_input_example
from reporter.integrations.models.signature import ModelSignature, signature_from_example

# arguments of MLflow's log_model that tracker-report does not act on: warned about once each
_warned: set[str] = set()
_warned_lock = threading.Lock()
UNSUPPORTED_REASONS = {
    "code_paths": "code files are not saved with the model",
    "conda_env": "no conda environment is saved (requirements.txt is)",
    "serialization_format": "scikit-learn models are saved with joblib",
    "skops_trusted_types": "scikit-learn models are saved with joblib, not skops",
    "extra_files": "extra files are not copied into the model",
    "prompts": "prompts are not part of tracker-report",
    "resources": "serving resources are not part of tracker-report",
    "auth_policy": "serving auth policies are not part of tracker-report",
}


def warn_unsupported(function: str, name: str) -> None:
    """Warn once per process that an argument has no effect, and why."""
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    reason = UNSUPPORTED_REASONS.get(name, "it has no effect in tracker-report")
    warnings.warn(f"{function}: {name}= is ignored: {reason}.", UserWarning, stacklevel=4)


@dataclass
class FlavorSave:
    """What a flavor contributes: how to save, predict and describe its model."""

    flavor: str
    save: Callable[[str], dict[str, Any]]  # writes model files into a folder -> flavors
    predict: Callable[[Any], Any] | None = None  # to infer the output schema of an example
    requirements: list[str] = field(default_factory=list)


def inside(folder: str, name: str) -> str:
    """The path of a file a model folder's MLmodel names, refused if it leads outside it."""
    path = os.path.join(folder, name)
    if not paths.within(path, folder):
        raise InvalidArgumentError(f"the model's file {name!r} is outside its folder")
    return os.path.realpath(path)


def versions(distributions: tuple[str, ...]) -> dict[str, str]:
    """Python's version and those of the installed `distributions` a model depends on."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in distributions:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def pinned(distributions: tuple[str, ...]) -> list[str]:
    """`requirements.txt` lines pinning the installed `distributions`."""
    return [f"{k}=={v}" for k, v in versions(distributions).items() if k != "python"]


def save_model(
    flavor: FlavorSave,
    path: str,
    *,
    signature: ModelSignature | None,
    input_example: Any,
    metadata: dict[str, Any] | None,
    ignored: Mapping[str, Any],
) -> None:
    """MLflow's `<flavor>.save_model`: the flavor's files, `MLmodel` (with the signature and
    input example) and `requirements.txt`, in a new local folder (an empty one will do)."""
    for arg, value in ignored.items():
        if value is not None:
            warn_unsupported("save_model", arg)
    if os.path.exists(path) and os.listdir(path):
        raise InvalidArgumentError(f"save_model: {path!r} exists and is not empty")
    flavors = flavor.save(path)
    example_info = save_input_example(path, input_example) if input_example is not None else None
    Model(
        flavors=flavors,
        signature=signature,
        saved_input_example_info=example_info,
        metadata=metadata,
    ).save(path)
    with open(os.path.join(path, "requirements.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(flavor.requirements) + "\n")


def _model_name(name: str | None, artifact_path: str | None) -> str:
    """Return the model's name from MLflow 3's `name=` or the older `artifact_path=`."""
    if name is not None and artifact_path is not None and name != artifact_path:
        raise InvalidArgumentError(
            f"log_model: give name= (MLflow 3) or artifact_path= (older), not both "
            f"({name!r} and {artifact_path!r})"
        )
    chosen = name if name is not None else artifact_path
    if chosen is not None and (not chosen or "/" in chosen or chosen in (".", "..")):
        raise InvalidArgumentError(
            f"log_model: the model name {chosen!r} must be a non-empty name without '/'"
        )
    return chosen or "model"


def _requirements(
    flavor: FlavorSave, pip_requirements: Any, extra_pip_requirements: Any
) -> list[str]:
    """Return the lines of requirements.txt: the flavor's, or the caller's, plus extras."""

    def lines(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
            with open(value, encoding="utf-8") as handle:
                return [ln.strip() for ln in handle if ln.strip() and not ln.startswith("#")]
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value]

    base = lines(pip_requirements) if pip_requirements is not None else list(flavor.requirements)
    return base + lines(extra_pip_requirements)


def log_model(
    flavor: FlavorSave,
    *,
    function: str,
    name: str | None,
    artifact_path: str | None,
    signature: ModelSignature | None,
    input_example: Any,
    metadata: dict[str, Any] | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    model_type: str | None,
    step: int,
    model_id: str | None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    ignored: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Log a model of one flavor as a logged model (see the module docstring)."""
    from reporter.tracking import fluent, model_fluent

    ignored = dict(ignored or {})
    registered_name = ignored.pop("registered_model_name", None)
    ignored.pop("await_registration_for", None)  # registering is done when it returns
    for arg, value in ignored.items():
        if value is not None:
            warn_unsupported(function, arg)
    model_name = _model_name(name, artifact_path)
    client = fluent._client()
    active = fluent.active_run()
    run_id = active.info.run_id if active else None
    if model_id is not None:
        model = client.get_logged_model(model_id)
        if params:
            client.log_model_params(model_id, {k: str(v) for k, v in params.items()})
        if tags:
            client.set_logged_model_tags(model_id, dict(tags))
    else:
        model_tags = client.inherited_model_tags(run_id) if run_id else {}
        model_params = dict(client.get_run(run_id).data.params) if run_id else {}
        model_params.update({k: str(v) for k, v in (params or {}).items()})
        model = client.create_logged_model(
            active.info.experiment_id if active else model_fluent._experiment_id(),
            name=model_name,
            source_run_id=run_id,
            tags={**model_tags, **{k: str(v) for k, v in (tags or {}).items()}},
            params=model_params,
            model_type=model_type,
        )
    model_fluent.remember_logged_model(model.model_id)
    try:
        with tempfile.TemporaryDirectory(prefix="reporter-model-") as tmp:
            folder = os.path.join(tmp, "model")
            os.makedirs(folder)
            flavors = flavor.save(folder)
            example_info = None
            if input_example is not None:
                example_info = save_input_example(folder, input_example)
                if signature is None and flavor.predict is not None:
                    signature = _inferred(flavor, input_example)
            created = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            meta = Model(
                flavors=flavors,
                model_id=model.model_id,
                run_id=run_id,
                artifact_path=model.artifact_location,
                utc_time_created=str(created),
                signature=signature,
                saved_input_example_info=example_info,
                metadata=metadata,
                extra={"tracker_report_version": __version__},
            )
            meta.save(folder)
            reqs = _requirements(flavor, pip_requirements, extra_pip_requirements)
            with open(os.path.join(folder, "requirements.txt"), "w", encoding="utf-8") as out:
                out.write("\n".join(reqs) + "\n")
            client.log_model_artifacts(model.model_id, folder)
        if run_id is not None:
            client.log_outputs(run_id, [_output(model.model_id, step)])
        final = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    except BaseException:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    version = None
    if registered_name is not None:  # MLflow: registered after the model is logged
        from reporter.tracking.registry_fluent import register_model

        version = register_model(final.model_uri, str(registered_name)).version
    return ModelInfo(
        registered_model_version=version,
        artifact_path=final.artifact_location,
        flavors=flavors,
        model_uri=final.model_uri,
        model_id=final.model_id,
        run_id=run_id,
        name=final.name,
        signature=signature,
        saved_input_example_info=example_info,
        utc_time_created=str(created),
        metadata=metadata,
        params=dict(final.params),
        tags=dict(final.tags),
        creation_timestamp=final.creation_timestamp,
        metrics=tuple(final.metrics),
    )


def _output(model_id: str, step: int) -> Any:
    from reporter.core.logged_models import LoggedModelOutput

    return LoggedModelOutput(model_id, int(step))


def _inferred(flavor: FlavorSave, example: Any) -> ModelSignature | None:
    """Infer a signature from an input example and the model's predictions; warn on failure."""
    assert flavor.predict is not None
    try:
        return signature_from_example(example, flavor.predict(example))
    except Exception as exc:  # a side task: the model is still logged
        warnings.warn(
            f"log_model: could not infer a signature from input_example ({exc}); the model "
            "is logged without one",
            UserWarning,
            stacklevel=4,
        )
        return None
