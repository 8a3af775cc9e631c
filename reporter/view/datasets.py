"""The datasets runs used, as a site may publish them: the same rules as run tags.

A dataset's source can name a machine's paths (`{"uri": "/home/ana/data/train.csv"}`), a URL
with a credential in it, or, for data made by code, MLflow's context tags (`mlflow.user`,
`mlflow.source.name`). Those tags follow the profile's `exclude_tags` and `hide_users`; every
text is masked where it looks like a secret; paths are cut to file names under `hide_paths`.
Names, digests, schemas and profiles are shown as logged (a schema's column names are the
data's, and are masked only where they look like a credential).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reporter.core import secrets, system_tags
from reporter.core.datasets import DatasetInput, InputTag, RunInputs
from reporter.view import publish
from reporter.view.config import BuildConfig


def published_inputs(
    inputs: Mapping[str, RunInputs], config: BuildConfig, rules: secrets.SecretRules
) -> dict[str, RunInputs]:
    """Return each run's inputs with what the profile leaves out removed or masked."""
    return {
        run_id: replace(
            item, dataset_inputs=[_published(d, config, rules) for d in item.dataset_inputs]
        )
        for run_id, item in inputs.items()
    }


def _published(item: DatasetInput, config: BuildConfig, rules: secrets.SecretRules) -> DatasetInput:
    """Return one dataset input as published."""
    data = item.dataset
    tags = [
        InputTag(t.key, _text(rules.mask("tag", t.key, t.value), config))
        for t in item.tags
        if not publish.matches(t.key, config.excluded_tags())
    ]
    dataset = replace(
        data,
        name=_text(rules.mask_text("dataset name", "name", data.name), config),
        source=_source(data.source, config, rules),
        schema=_masked_json(data.schema, rules),
    )
    return DatasetInput(dataset, tags)


def _text(value: str, config: BuildConfig) -> str:
    """Return a value with the machine's paths cut when the profile hides them."""
    return publish.shown_path(value) if config.hide_paths else value


def _source(text: str, config: BuildConfig, rules: secrets.SecretRules) -> str:
    """Return a source's JSON as published: code-source tags as run tags, every string
    masked; a source that is not JSON is masked as text."""
    try:
        source = json.loads(text)
    except ValueError:
        return _text(rules.mask_text("dataset source", "source", text), config)
    if not isinstance(source, dict):
        return _text(rules.mask_text("dataset source", "source", text), config)
    tags = source.get("tags")
    if isinstance(tags, dict):
        kept = {
            str(k): v
            for k, v in tags.items()
            if not publish.matches(str(k), config.excluded_tags())
            and not (config.hide_users and k == system_tags.TAG_USER)
        }
        source = {
            **source,
            "tags": {k: _value(k, v, config, rules, "tag") for k, v in kept.items()},
        }
    source = {k: v if k == "tags" else _value(k, v, config, rules) for k, v in source.items()}
    return json.dumps(source)


def _value(
    key: str, value: Any, config: BuildConfig, rules: secrets.SecretRules, kind: str = ""
) -> Any:
    """Return one string of a source as published (other values as they are)."""
    if not isinstance(value, str):
        return value
    masked = rules.mask(kind, key, value) if kind else rules.mask_text("dataset source", key, value)
    return _text(masked, config)


def _masked_json(text: str | None, rules: secrets.SecretRules) -> str | None:
    """Return a schema's JSON with credential-shaped parts masked."""
    if text is None:
        return None
    return rules.mask_text("dataset schema", "schema", text)
