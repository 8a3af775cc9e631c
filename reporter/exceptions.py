"""MLflow's `mlflow.exceptions`: `MlflowException` is reporter's error base, with MLflow's
`error_code`, `message` and `get_http_status_code()`; the constants are MLflow's error codes."""

from __future__ import annotations

from reporter.core.error_codes import *  # noqa: F403 - MLflow's constants, from the one list
from reporter.core.errors import ERROR_CODES, HTTP_STATUS, ReporterError, UnsupportedFeatureError

MlflowException = ReporterError
MlflowNotImplementedException = UnsupportedFeatureError
ERROR_CODE_TO_HTTP_STATUS = dict(HTTP_STATUS)


class RestException(MlflowException):
    """An error answer of a tracking server's REST API: its JSON body (error_code, message)."""

    def __init__(self, json: dict[str, object]) -> None:
        self.json = json
        code = str(json.get("error_code") or "INTERNAL_ERROR")
        message = f"{code}: {json.get('message', 'Response: ' + str(json))}"
        super().__init__(message, error_code=code)

    def __reduce__(self) -> tuple[type[RestException], tuple[dict[str, object]]]:
        return RestException, (self.json,)


class MissingConfigException(MlflowException):
    """An expected configuration file or folder is missing."""


def get_error_code(http_status: int) -> int:
    """Return MLflow's error code (a number) for an HTTP status; INTERNAL_ERROR if none."""
    return ERROR_CODES[HTTP_STATUS_TO_ERROR_CODE.get(http_status, "INTERNAL_ERROR")]


# the reverse of ERROR_CODE_TO_HTTP_STATUS, as MLflow makes it: where several codes share a
# status, the last listed, but for 400, 404 and 500
HTTP_STATUS_TO_ERROR_CODE = {status: name for name, status in HTTP_STATUS.items()} | {
    400: "BAD_REQUEST",
    404: "ENDPOINT_NOT_FOUND",
    500: "INTERNAL_ERROR",
}

__all__ = [
    "ERROR_CODE_TO_HTTP_STATUS",
    "HTTP_STATUS_TO_ERROR_CODE",
    "MissingConfigException",
    "MlflowException",
    "MlflowNotImplementedException",
    "RestException",
    "get_error_code",
]
