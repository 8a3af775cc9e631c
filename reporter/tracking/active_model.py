"""Each thread's active and last logged model (MLflow 3's `set_active_model`,
`last_logged_model`): state only, shared by the fluent run and model functions."""

from __future__ import annotations

import threading


class _ModelState(threading.local):
    active_model_id: str | None = None
    last_model_id: str | None = None


state = _ModelState()


def reset() -> None:
    """Forget this thread's active and last logged model."""
    state.active_model_id = None
    state.last_model_id = None
