"""MLflow's `mlflow.exceptions`: `MlflowException` is reporter's error base, with MLflow's
`error_code`, `message` and `get_http_status_code()`; the constants are MLflow's error codes."""

from __future__ import annotations

from reporter.core.errors import ERROR_CODES, HTTP_STATUS, ReporterError, UnsupportedFeatureError

MlflowException = ReporterError
MlflowNotImplementedException = UnsupportedFeatureError
ERROR_CODE_TO_HTTP_STATUS = dict(HTTP_STATUS)

INTERNAL_ERROR = ERROR_CODES["INTERNAL_ERROR"]
TEMPORARILY_UNAVAILABLE = ERROR_CODES["TEMPORARILY_UNAVAILABLE"]
BAD_REQUEST = ERROR_CODES["BAD_REQUEST"]
DEADLINE_EXCEEDED = ERROR_CODES["DEADLINE_EXCEEDED"]
CANCELLED = ERROR_CODES["CANCELLED"]
RESOURCE_EXHAUSTED = ERROR_CODES["RESOURCE_EXHAUSTED"]
ABORTED = ERROR_CODES["ABORTED"]
NOT_FOUND = ERROR_CODES["NOT_FOUND"]
ALREADY_EXISTS = ERROR_CODES["ALREADY_EXISTS"]
UNAUTHENTICATED = ERROR_CODES["UNAUTHENTICATED"]
INVALID_PARAMETER_VALUE = ERROR_CODES["INVALID_PARAMETER_VALUE"]
ENDPOINT_NOT_FOUND = ERROR_CODES["ENDPOINT_NOT_FOUND"]
INVALID_STATE = ERROR_CODES["INVALID_STATE"]
PERMISSION_DENIED = ERROR_CODES["PERMISSION_DENIED"]
CUSTOMER_UNAUTHORIZED = ERROR_CODES["CUSTOMER_UNAUTHORIZED"]
REQUEST_LIMIT_EXCEEDED = ERROR_CODES["REQUEST_LIMIT_EXCEEDED"]
RESOURCE_CONFLICT = ERROR_CODES["RESOURCE_CONFLICT"]
NOT_IMPLEMENTED = ERROR_CODES["NOT_IMPLEMENTED"]
DATA_LOSS = ERROR_CODES["DATA_LOSS"]
RESOURCE_ALREADY_EXISTS = ERROR_CODES["RESOURCE_ALREADY_EXISTS"]
RESOURCE_DOES_NOT_EXIST = ERROR_CODES["RESOURCE_DOES_NOT_EXIST"]


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


HTTP_STATUS_TO_ERROR_CODE = {
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    409: "ALREADY_EXISTS",
    404: "ENDPOINT_NOT_FOUND",
    403: "PERMISSION_DENIED",
    401: "UNAUTHENTICATED",
    400: "BAD_REQUEST",
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
