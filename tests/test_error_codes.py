"""MLflow's error codes, kept once in `reporter.core.error_codes`: the facades
`reporter.protos.databricks_pb2` and `reporter.exceptions` offer them where MLflow does, and
the numbers and HTTP statuses are MLflow's (read from real MLflow, in its own venv)."""

from __future__ import annotations

from typing import Any

import pytest

import reporter.exceptions as exceptions
import reporter.protos.databricks_pb2 as pb
from reporter.core import error_codes
from reporter.core.errors import ERROR_CODES, HTTP_STATUS
from tests.mlflow_server import mlflow_json

MLFLOW_CODES = """
    import json
    import mlflow.exceptions as exceptions
    from mlflow.protos.databricks_pb2 import ErrorCode

    print(json.dumps({
        "codes": list(ErrorCode.items()),
        "exception_constants": {
            n: v for n, v in vars(exceptions).items() if n.isupper() and isinstance(v, int)
        },
        "http_status": list(exceptions.ERROR_CODE_TO_HTTP_STATUS.items()),
        "status_to_code": list(exceptions.HTTP_STATUS_TO_ERROR_CODE.items()),
    }))
"""


@pytest.fixture(scope="module")
def mlflows() -> dict[str, Any]:
    """MLflow's error codes, its exceptions' constants and its HTTP status maps."""
    facts: dict[str, Any] = mlflow_json(MLFLOW_CODES)
    return facts


def test_the_facades_offer_each_code_of_the_one_list():
    assert len(set(ERROR_CODES.values())) == len(ERROR_CODES) == 28  # a number each
    assert ERROR_CODES["RESOURCE_DOES_NOT_EXIST"] == error_codes.RESOURCE_DOES_NOT_EXIST == 3002
    for name, number in ERROR_CODES.items():
        assert getattr(pb, name) == number, name
        assert getattr(exceptions, name) == number, name
        assert pb.ErrorCode.Name(number) == name
        assert pb.ErrorCode.Value(name) == number
    assert pb.ErrorCode.keys() == list(ERROR_CODES)


def test_the_http_status_maps_go_both_ways():
    assert exceptions.ERROR_CODE_TO_HTTP_STATUS == HTTP_STATUS
    assert exceptions.HTTP_STATUS_TO_ERROR_CODE[404] == "ENDPOINT_NOT_FOUND"
    assert exceptions.get_error_code(409) == exceptions.ALREADY_EXISTS
    assert exceptions.get_error_code(418) == exceptions.INTERNAL_ERROR
    for status, name in exceptions.HTTP_STATUS_TO_ERROR_CODE.items():
        assert HTTP_STATUS[name] == status


def test_the_codes_are_mlflows_in_mlflows_order(mlflows):
    ours = list(ERROR_CODES.items())
    assert [(n, v) for n, v in mlflows["codes"] if n in ERROR_CODES] == ours


def test_the_exceptions_module_has_mlflows_constants(mlflows):
    theirs = mlflows["exception_constants"]
    assert {n: getattr(exceptions, n, None) for n in theirs} == theirs


def test_the_http_status_maps_are_mlflows(mlflows):
    assert list(HTTP_STATUS.items()) == [tuple(p) for p in mlflows["http_status"]]
    assert list(exceptions.ERROR_CODE_TO_HTTP_STATUS.items()) == list(HTTP_STATUS.items())
    theirs = [tuple(p) for p in mlflows["status_to_code"]]
    assert list(exceptions.HTTP_STATUS_TO_ERROR_CODE.items()) == theirs
