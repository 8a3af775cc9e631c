"""One base exception; each subclass names what failed and what is valid."""

from __future__ import annotations


class ReporterError(Exception):
    """Base class of every error this package raises on purpose."""

    @property
    def message(self) -> str:
        """The error's text, as MLflow's `MlflowException.message`."""
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(ReporterError, ValueError):
    """A caller passed a value that is not valid here; the message says what is."""


class InvalidFilterError(InvalidArgumentError):
    """A `search_runs` filter or order_by string does not parse.

    The message names the position (0-based character offset) and what was expected.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


class NotFoundError(ReporterError, LookupError):
    """An experiment, run, artifact or store that does not exist."""


class ParamConflictError(InvalidArgumentError):
    """A param was logged again with a different value."""


class RunStateError(ReporterError):
    """An operation that the current run state does not allow (e.g. a second active run)."""


class UnsupportedURIError(InvalidArgumentError):
    """A tracking URI with a scheme this installation cannot handle."""


class StoreFormatError(ReporterError):
    """A store file that cannot be read: damaged, foreign schema or unknown version."""


class StoreWriteError(ReporterError, OSError):
    """A store write that failed (disk full, no permission); nothing already stored is lost."""


class StoreWarning(UserWarning):
    """A store file was skipped (damaged, foreign or unreadable); the rest was read."""
