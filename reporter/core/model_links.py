"""How runs and logged models point at each other: a run's model inputs and outputs.

Kept apart from `logged_models` (which needs `entities`) so that `entities.Run` can hold them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoggedModelOutput:
    """A model a run produced, and the step it produced it at (`run.outputs.model_outputs`)."""

    model_id: str
    step: int = 0

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"model_id": self.model_id, "step": self.step}


@dataclass(frozen=True, slots=True)
class LoggedModelInput:
    """A model a run used as input."""

    model_id: str


@dataclass(frozen=True)
class RunOutputs:
    """What a run produced: its logged models."""

    model_outputs: Sequence[LoggedModelOutput] = ()

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"model_outputs": [m.to_dictionary() for m in self.model_outputs]}
