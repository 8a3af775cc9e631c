"""The model registry's entities and rules, with MLflow's names (`mlflow.entities.model_registry`).

A registered model is a name with a description, tags and aliases; its versions are numbered
1, 2, 3, ... in the order they were created, never reused (a deleted version's number stays
taken), each pointing at a model's files (`source`: a logged model's `models:/<model_id>`, a
`runs:/` URI or a folder) and the run that made it. An alias (`champion`) names one version;
`models:/<name>@<alias>`, `models:/<name>/<version>` and `models:/<name>/latest` load it.

Values read back as MLflow 3's own store reads them: `ModelVersion.version` and the versions in
`RegisteredModel.aliases` are integers, `current_stage` is the text `"None"` unless a
(deprecated) stage was set, `status` is `READY`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from reporter.core.errors import InvalidArgumentError

MAX_TAG_KEY_LENGTH = 250  # MLflow's MAX_MODEL_REGISTRY_TAG_KEY_LENGTH
MAX_TAG_VALUE_LENGTH = 100_000  # MLflow's MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH
MAX_ALIAS_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 1_000_000
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
STAGES = ("None", "Staging", "Production", "Archived")  # MLflow's (deprecated) stages
READY = "READY"


class ModelVersionStatus:
    """MLflow's version statuses (a version is READY once created here)."""

    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = READY


@dataclass
class ModelVersion:
    """One version of a registered model (`mlflow.entities.model_registry.ModelVersion`)."""

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = "None"
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str = READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None
    params: list[Any] | None = None
    metrics: list[Any] | None = None
    deployment_job_state: Any = None
    # where the files are (a logged model's artifact location, a run's artifact folder): not
    # one of MLflow's fields, what `get_model_version_download_uri` answers
    storage_location: str | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Any:  # MLflow's entities iterate as (property, value) pairs
        for key in (
            "name", "version", "creation_timestamp", "last_updated_timestamp", "description",
            "user_id", "current_stage", "source", "run_id", "run_link", "status",
            "status_message", "tags", "aliases", "model_id",
        ):  # fmt: skip
            yield key, getattr(self, key)


@dataclass
class RegisteredModel:
    """A registered model (`mlflow.entities.model_registry.RegisteredModel`)."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    deployment_job_id: str | None = None
    deployment_job_state: Any = None

    def __iter__(self) -> Any:
        for key in (
            "name", "creation_timestamp", "last_updated_timestamp", "description",
            "latest_versions", "tags", "aliases",
        ):  # fmt: skip
            yield key, getattr(self, key)


@dataclass(frozen=True)
class RegisteredModelTag:
    key: str
    value: str


@dataclass(frozen=True)
class ModelVersionTag:
    key: str
    value: str


@dataclass(frozen=True)
class RegisteredModelAlias:
    alias: str
    version: str


# validation: MLflow's rules and messages ---------------------------------------------------
def check_model_name(name: Any, what: str = "name") -> str:
    """A registered model's name: non-empty, no `/` or `:`, not a path that normalises away."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"Missing value for required parameter '{what}'.")
    if "/" in name or ":" in name:
        raise InvalidArgumentError(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if "\x00" in name:
        raise InvalidArgumentError(f"Invalid model name {name!r}: it contains a NUL character.")
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"Invalid model name {name!r}: it is not text (a lone surrogate)."
            ) from None
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        raise InvalidArgumentError(
            f"Invalid value '{name}' for parameter '{what}' supplied: Names may be treated as "
            "files in certain cases, and must not resolve to other names when treated as such."
        )
    return name


def version_number(version: Any) -> int:
    """A version as its number: `3`, `"3"`; MLflow's error for anything else."""
    if isinstance(version, bool):
        raise InvalidArgumentError(f"Parameter 'version' must be an integer, got '{version}'.")
    if isinstance(version, float) and version.is_integer():
        return int(version)  # as MLflow's int(version)
    try:
        return int(str(version).strip()) if not isinstance(version, int) else version
    except ValueError:
        raise InvalidArgumentError(
            f"Parameter 'version' must be an integer, got '{version}'."
        ) from None


def check_alias(alias: Any) -> str:
    """An alias name: letters, digits, `_` and `-`; not `latest` nor `v<number>` (reserved)."""
    if not isinstance(alias, str) or alias == "":
        raise InvalidArgumentError("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidArgumentError(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidArgumentError(
            f"Registered model alias name '{alias[:40]}...' had length {len(alias)}, which "
            f"exceeded length limit of {MAX_ALIAS_LENGTH}"
        )
    if alias.lower() == "latest":
        raise InvalidArgumentError("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(alias):
        raise InvalidArgumentError(f"Version alias name '{alias}' is reserved.")
    return alias


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    """A registry tag: a non-empty key (250 characters at most), a value of 100,000 at most."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"Missing value for required parameter 'key'. Got {key!r}")
    if "\x00" in key:
        raise InvalidArgumentError(
            f"Invalid value {key!r} for parameter 'key' supplied: a NUL character is not allowed"
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidArgumentError(
            f"Invalid value '{key}' for parameter 'key' supplied: Names may be treated as files "
            "in certain cases, and must not resolve to other names when treated as such."
        )
    text = "" if value is None else str(value)
    for what, got, limit in (
        ("key", key, MAX_TAG_KEY_LENGTH),
        ("value", text, MAX_TAG_VALUE_LENGTH),
    ):
        if len(got) > limit:
            raise InvalidArgumentError(
                f"'{what}' exceeds the maximum length of {limit} characters (got {len(got)})"
            )
    return key, text


def check_description(description: Any) -> str | None:
    if description is None:
        return None
    text = str(description)
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgumentError(
            f"description exceeds the maximum length of {MAX_DESCRIPTION_LENGTH} characters"
        )
    return text
