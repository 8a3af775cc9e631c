"""`reporter.core.model_uri`: the one parser of runs:/ and models:/ URIs."""

from __future__ import annotations

import pytest

from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import new_model_id
from reporter.core.model_uri import LOGGED, OTHER, REGISTERED, RUN, parse_model_uri


def test_each_kind_and_its_parts():
    model_id = new_model_id()
    run = parse_model_uri("runs:/abc123/model/sub")
    assert (run.kind, run.run_id, run.path) == (RUN, "abc123", "model/sub")
    assert run.run_path() == ("abc123", "model/sub")
    logged = parse_model_uri(f"models:/{model_id}/MLmodel")
    assert (logged.kind, logged.model_id, logged.path) == (LOGGED, model_id, "MLmodel")
    assert parse_model_uri(f"models:/{model_id}").path == ""
    alias = parse_model_uri("models:/churn@champion")
    assert (alias.kind, alias.name, alias.alias, alias.suffix) == (
        REGISTERED,
        "churn",
        "champion",
        "",
    )
    numbered = parse_model_uri("models:/churn/3")
    assert (numbered.name, numbered.suffix) == ("churn", "3")
    assert parse_model_uri("models:/churn/latest").registered().suffix == "latest"
    assert parse_model_uri("/tmp/model").kind == OTHER
    assert parse_model_uri("s3://bucket/model").kind == OTHER


@pytest.mark.parametrize("uri", ["models:/churn", "models:/", "models:/@x"])
def test_a_registered_uri_without_a_version_says_what_is_valid(uri):
    with pytest.raises(InvalidArgumentError, match="models:/<name>/<version>"):
        parse_model_uri(uri).registered()


@pytest.mark.parametrize("uri", ["runs:/", "runs:/abc", "models:/churn/1"])
def test_a_runs_uri_without_a_path_says_what_is_valid(uri):
    with pytest.raises(InvalidArgumentError, match="runs:/<run_id>/<artifact_path>"):
        parse_model_uri(uri).run_path()
