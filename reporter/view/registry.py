"""The model registry as a site may publish it: registered models, their versions with
aliases, and the run behind each version with its latest metrics.

The same rules as runs: models the build's `registered_models` globs leave out are not shown;
names, descriptions and tags are masked where they hold credentials (a tag whose key looks
secret is masked whole); system tags (`mlflow.*`) are not shown; users are blanked when the
profile hides them; a version's source (a path or URI of the store) is never shown. A
version's run is named and linked only when the site publishes that run; otherwise the page
says the run is not in the site, and neither its id nor its metrics appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core import secrets
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.view import publish

if TYPE_CHECKING:
    import pandas as pd

    from reporter.store.protocol import AbstractStore
    from reporter.view.config import BuildConfig

SYSTEM_PREFIX = "mlflow."


@dataclass(frozen=True)
class VersionRun:
    """The published run behind a version."""

    run_id: str
    experiment_id: str
    name: str
    metrics: dict[str, float]  # the run's latest value of each published metric


@dataclass(frozen=True)
class VersionView:
    """A version of a registered model, as the site shows it."""

    version: int
    aliases: list[str]
    stage: str
    status: str
    created: int | None  # ms since the epoch
    description: str
    tags: list[tuple[str, str]]
    user: str
    run: VersionRun | None  # None: no run, or one the site does not publish
    has_run: bool  # the version names a run (published or not)


@dataclass(frozen=True)
class RegisteredView:
    """A registered model, as the site shows it (versions newest first)."""

    name: str
    description: str
    tags: list[tuple[str, str]]
    aliases: dict[str, int]  # alias -> version
    created: int | None
    updated: int | None
    versions: list[VersionView] = field(default_factory=list)


def published_registry(
    store: AbstractStore,
    runs: Iterable[tuple[str, pd.DataFrame]],
    config: BuildConfig,
    rules: secrets.SecretRules,
) -> list[RegisteredView]:
    """Return the registered models the site shows, by name; `runs` are the published runs
    frames with the id of their experiment."""
    if not config.registered_models:
        return []
    registry = store.model_registry()
    models = [
        m for m in registry.list_models() if publish.matches(m.name, config.registered_models)
    ]
    if not models:
        return []
    names = {m.name for m in models}
    published = _published_runs(runs)
    versions: dict[str, list[ModelVersion]] = {}
    for version in registry.list_versions():
        if version.name in names:
            versions.setdefault(version.name, []).append(version)
    out = [
        _model(m, sorted(versions.get(m.name, []), key=lambda v: -v.version), published, config,
               rules)
        for m in models
    ]  # fmt: skip
    return sorted(out, key=lambda m: m.name.lower())


def _published_runs(runs: Iterable[tuple[str, pd.DataFrame]]) -> dict[str, VersionRun]:
    import math

    out: dict[str, VersionRun] = {}
    for experiment_id, frame in runs:
        if not len(frame):
            continue
        metric_columns = [c for c in frame.columns if c.startswith("metrics.")]
        names = frame["run_name"] if "run_name" in frame.columns else None
        for i, run_id in enumerate(frame["run_id"]):
            metrics = {}
            for column in metric_columns:
                value = frame[column].iat[i]
                if isinstance(value, (int, float)) and not math.isnan(value):
                    metrics[column[8:]] = float(value)
            name = names.iat[i] if names is not None else None
            out[str(run_id)] = VersionRun(
                str(run_id), experiment_id, name if isinstance(name, str) else "", metrics
            )
    return out


def _tags(
    tags: dict[str, str], kind: str, config: BuildConfig, rules: secrets.SecretRules
) -> list[tuple[str, str]]:
    tag_globs = config.excluded_tags()
    shown = []
    for key, value in sorted(tags.items()):
        if key.startswith(SYSTEM_PREFIX) or publish.matches(key, tag_globs):
            continue
        value = rules.mask(kind, key, str(value))
        shown.append(
            (
                publish.shown_key(f"{kind} key", key, config, rules),
                publish.shown_path(value) if config.hide_paths else value,
            )
        )
    return shown


def _text(kind: str, key: str, value: Any, config: BuildConfig, rules: secrets.SecretRules) -> str:
    text = rules.mask_text(kind, key, str(value or ""))
    return publish.HOME_FOLDER.sub("~", text) if config.hide_paths else text


def _model(
    model: RegisteredModel,
    versions: list[ModelVersion],
    runs: dict[str, VersionRun],
    config: BuildConfig,
    rules: secrets.SecretRules,
) -> RegisteredView:
    name = rules.mask_name("registered model name", model.name)
    if config.hide_paths:
        name = publish.HOME_FOLDER.sub("~", name)
    shown_versions = [
        VersionView(
            version=v.version,
            aliases=sorted(v.aliases),
            stage=v.current_stage or "None",
            status=v.status or "",
            created=v.creation_timestamp,
            description=_text("model version description", name, v.description, config, rules),
            tags=_tags(v.tags, "model version tag", config, rules),
            user="" if config.hide_users else _text("user", "user_id", v.user_id, config, rules),
            run=runs.get(v.run_id or ""),
            has_run=bool(v.run_id),
        )
        for v in versions
    ]
    return RegisteredView(
        name=name,
        description=_text("registered model description", name, model.description, config, rules),
        tags=_tags(model.tags, "registered model tag", config, rules),
        aliases={rules.mask_name("alias", a): int(v) for a, v in sorted(model.aliases.items())},
        created=model.creation_timestamp,
        updated=model.last_updated_timestamp,
        versions=shown_versions,
    )
