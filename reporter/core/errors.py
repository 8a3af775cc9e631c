"""One base exception; each subclass names what failed and what is valid.

The base is MLflow's `MlflowException` too (`reporter.MlflowException`): every error carries
MLflow's `error_code` (a name such as ``RESOURCE_DOES_NOT_EXIST``), `message` and
`get_http_status_code()`, so MLflow code that inspects the errors it catches runs unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from reporter.core import error_codes

# MLflow's error codes (mlflow.protos.databricks_pb2.ErrorCode): name -> number
ERROR_CODES: dict[str, int] = {
    name: number for name, number in vars(error_codes).items() if name.isupper()
}
# MLflow's HTTP status of an error code (mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS); 500 else
HTTP_STATUS = {
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
}
_CODE_NAMES = {number: name for name, number in ERROR_CODES.items()}


def error_code_name(code: int | str) -> str:
    """Return MLflow's name of an error code given as its number or name (INTERNAL_ERROR if
    unknown, as MLflow does)."""
    if isinstance(code, str):
        return code if code in ERROR_CODES else "INTERNAL_ERROR"
    return _CODE_NAMES.get(code, "INTERNAL_ERROR")


class ReporterError(Exception):
    """Base class of every error this package raises on purpose (MLflow's `MlflowException`).

    `ReporterError(message, error_code=...)` takes MLflow's error code as a number (the
    constants of `reporter.exceptions`) or a name; each subclass has its own default.
    """

    error_code: str = "INTERNAL_ERROR"  # MLflow's name of the code; subclasses set theirs
    sqlstate: str | None = None  # MLflow's finer classification, kept when given
    error_class: str | None = None

    def __init__(
        self,
        message: object = "",
        error_code: int | str | None = None,
        sqlstate: str | None = None,
        error_class: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = error_code_name(error_code)
        if sqlstate is not None:
            self.sqlstate = sqlstate
        if error_class is not None:
            self.error_class = error_class
        self.json_kwargs = kwargs

    @property
    def message(self) -> str:
        """The error's text, as MLflow's `MlflowException.message`."""
        return str(self.args[0]) if self.args else ""

    def get_http_status_code(self) -> int:
        """Return the HTTP status MLflow's server answers this error with."""
        return HTTP_STATUS.get(self.error_code, 500)

    def serialize_as_json(self) -> str:
        """Return the error as MLflow's REST API body: error_code, message and extras."""
        extras = getattr(self, "json_kwargs", {})
        return json.dumps({"error_code": self.error_code, "message": self.message, **extras})

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> ReporterError:
        """Return an error with code INVALID_PARAMETER_VALUE (MLflow's constructor)."""
        return cls(message, error_code="INVALID_PARAMETER_VALUE", **kwargs)


class InvalidArgumentError(ReporterError, ValueError):
    """A caller passed a value that is not valid here; the message says what is."""

    error_code = "INVALID_PARAMETER_VALUE"


class InvalidFilterError(InvalidArgumentError):
    """A `search_runs` filter or order_by string does not parse.

    The message names the position (0-based character offset) and what was expected.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


class AlreadyExistsError(InvalidArgumentError):
    """An experiment (or other named thing) of that name exists already."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class NotFoundError(ReporterError, LookupError):
    """An experiment, run, artifact or store that does not exist."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class ParamConflictError(InvalidArgumentError):
    """A param was logged again with a different value."""


class RunStateError(ReporterError):
    """An operation that the current run state does not allow (e.g. a second active run)."""

    error_code = "INVALID_STATE"


class UnsupportedURIError(InvalidArgumentError):
    """A tracking URI with a scheme this installation cannot handle."""


class UnsupportedFeatureError(ReporterError, AttributeError):
    """An MLflow feature tracker-report leaves out (tracing, the model registry, ...).

    An AttributeError, so `hasattr(reporter, "trace")` is False and
    `getattr(reporter, "trace", None)` is None, as feature checks in libraries expect.
    """

    error_code = "NOT_IMPLEMENTED"

    def __init__(self, message: str, name: str | None = None, feature: str = "") -> None:
        super().__init__(message)
        self.name = name  # AttributeError's: the attribute that was asked for
        self.feature = feature


class StoreFormatError(ReporterError):
    """A store file that cannot be read: damaged, foreign schema or unknown version."""

    error_code = "DATA_LOSS"


class StoreWriteError(ReporterError, OSError):
    """A store write that failed (disk full, no permission); nothing already stored is lost."""


class StoreWarning(UserWarning):
    """A store file was skipped (damaged, foreign or unreadable); the rest was read."""
