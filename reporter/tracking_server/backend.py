"""What the endpoints share: the store, a tracking client over it, the group commit, and
how the server names artifact locations (`mlflow-artifacts:` URIs, as `mlflow server
--serve-artifacts` does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from reporter.store.protocol import AbstractStore
from reporter.tracking.client import Client
from reporter.tracking_server.commit import GroupCommit
from reporter.tracking_server.guard import PENDING, AuditBuffer, Guard, PendingAudit

T = TypeVar("T")

ARTIFACTS_SCHEME = "mlflow-artifacts:"
MODELS_FOLDER = "models"
RUN_ARTIFACTS = "artifacts"


@dataclass
class Backend:
    """One server process's view of its store."""

    client: Client
    store: AbstractStore
    commit: GroupCommit
    guard: Guard | None = None  # with --auth: who may do what
    audit: AuditBuffer | None = None  # with --auth: audit records for the next commit

    def note_audit(self, pending: PendingAudit) -> None:
        """Queue a write's audit record for the next commit (once)."""
        if self.audit is not None and not pending.noted:
            self.audit.note(pending.record)
            pending.noted = True

    def _note_pending(self) -> None:
        pending = PENDING.get()
        if pending is not None:
            self.note_audit(pending)

    async def call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run blocking store work in the thread pool."""
        return await run_in_threadpool(function, *args, **kwargs)

    async def queue_rows(self, run_id: str, queue: Callable[[], None]) -> None:
        """Queue a known run's rows at once, then wait until they are in a published file.

        Queueing appends to an in-memory buffer, so for a run whose experiment the store
        knows it runs on the event loop, sparing a thread hop per request; an unknown run
        (whose lookup reads storage) is queued from the thread pool."""
        if self.store.knows_run(run_id):
            queue()
        else:
            await run_in_threadpool(queue)
        self._note_pending()
        await self.commit.wait()

    async def write(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a write in the thread pool, then wait until its rows are in a published file."""
        result = await run_in_threadpool(function, *args, **kwargs)
        self._note_pending()
        await self.commit.wait()
        return result


def experiment_location(experiment_id: str) -> str:
    """Return an experiment's artifact location as the server names it."""
    return f"{ARTIFACTS_SCHEME}/{experiment_id}"


def run_location(experiment_id: str, run_id: str) -> str:
    """Return a run's artifact URI as the server names it."""
    return f"{ARTIFACTS_SCHEME}/{experiment_id}/{run_id}/{RUN_ARTIFACTS}"


def model_location(experiment_id: str, model_id: str) -> str:
    """Return a logged model's artifact URI as the server names it."""
    return f"{ARTIFACTS_SCHEME}/{experiment_id}/{MODELS_FOLDER}/{model_id}/{RUN_ARTIFACTS}"
