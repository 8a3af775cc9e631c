"""MLflow's `mlflow.protos.databricks_pb2` error codes, for code such as

except MlflowException as e:
    if e.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST): ...
"""

from __future__ import annotations

from reporter.core.errors import ERROR_CODES


class ErrorCode:
    """The protobuf enum's helpers (protobuf's method names): a name from a number and back."""

    @staticmethod
    def Name(number: int) -> str:
        """Return the name of an error code number."""
        for name, value in ERROR_CODES.items():
            if value == number:
                return name
        raise ValueError(f"Enum ErrorCode has no name defined for value {number!r}")

    @staticmethod
    def Value(name: str) -> int:
        """Return the number of an error code name."""
        try:
            return ERROR_CODES[name]
        except KeyError:
            raise ValueError(f"Enum ErrorCode has no value defined for name {name!r}") from None

    @staticmethod
    def keys() -> list[str]:
        """Return every error code name."""
        return list(ERROR_CODES)


INTERNAL_ERROR = ERROR_CODES["INTERNAL_ERROR"]
TEMPORARILY_UNAVAILABLE = ERROR_CODES["TEMPORARILY_UNAVAILABLE"]
IO_ERROR = ERROR_CODES["IO_ERROR"]
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
MALFORMED_REQUEST = ERROR_CODES["MALFORMED_REQUEST"]
INVALID_STATE = ERROR_CODES["INVALID_STATE"]
PERMISSION_DENIED = ERROR_CODES["PERMISSION_DENIED"]
FEATURE_DISABLED = ERROR_CODES["FEATURE_DISABLED"]
CUSTOMER_UNAUTHORIZED = ERROR_CODES["CUSTOMER_UNAUTHORIZED"]
REQUEST_LIMIT_EXCEEDED = ERROR_CODES["REQUEST_LIMIT_EXCEEDED"]
RESOURCE_CONFLICT = ERROR_CODES["RESOURCE_CONFLICT"]
UNPARSEABLE_HTTP_ERROR = ERROR_CODES["UNPARSEABLE_HTTP_ERROR"]
NOT_IMPLEMENTED = ERROR_CODES["NOT_IMPLEMENTED"]
DATA_LOSS = ERROR_CODES["DATA_LOSS"]
INVALID_STATE_TRANSITION = ERROR_CODES["INVALID_STATE_TRANSITION"]
COULD_NOT_ACQUIRE_LOCK = ERROR_CODES["COULD_NOT_ACQUIRE_LOCK"]
RESOURCE_ALREADY_EXISTS = ERROR_CODES["RESOURCE_ALREADY_EXISTS"]
RESOURCE_DOES_NOT_EXIST = ERROR_CODES["RESOURCE_DOES_NOT_EXIST"]
QUOTA_EXCEEDED = ERROR_CODES["QUOTA_EXCEEDED"]
