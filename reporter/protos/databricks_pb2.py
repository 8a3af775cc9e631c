"""MLflow's `mlflow.protos.databricks_pb2` error codes, for code such as

except MlflowException as e:
    if e.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST): ...
"""

from __future__ import annotations

from reporter.core.error_codes import *  # noqa: F403 - MLflow's constants, from the one list
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
