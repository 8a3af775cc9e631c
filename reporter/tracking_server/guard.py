"""Each endpoint's permission check and audit record, for `tracker-report server --auth`.

Every REST endpoint has a Rule: which experiment the request touches (named by experiment id,
experiment name, run id or logged model id) and what it needs there (READ, update = EDIT,
delete = MANAGE), as MLflow's basic-auth app checks them; searches are filtered to what the
caller may read instead. Writes (rule.write) leave an audit record, written in the same group
commit as the rows they changed, before the request is answered.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from reporter.core.access import Identity
from reporter.core.errors import NotFoundError
from reporter.core.permissions import Permission
from reporter.store.protocol import AbstractStore
from reporter.tracking_server.auth import Access, Authenticator, PermissionDenied

NEEDS = ("read", "update", "delete", "manage")
_PROCESS = uuid.uuid4().hex[:16]  # audit record ids: this process's prefix and a counter
_SEQUENCE = itertools.count()


@dataclass(frozen=True)
class Rule:
    """What an endpoint needs: `target` names how the request names its experiment
    ("experiment", "experiment_name", "run", "model", "create" for any signed-in user,
    "search" for results filtered by READ), or its registered model ("registered_model":
    the `name` parameter; "registry" when the endpoint checks for itself), `need` the
    capability, `write` if audited."""

    target: str
    need: str = "read"
    write: bool = False


@dataclass
class PendingAudit:
    """A write request's audit record, noted for the commit that answers the request."""

    record: dict[str, Any]
    noted: bool = False


PENDING: ContextVar[PendingAudit | None] = ContextVar("reporter_pending_audit", default=None)


class AuditBuffer:
    """Audit records waiting for the next group commit."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []

    def note(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            taken, self._records = self._records, []
        return taken

    def put_back(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._records[:0] = records


@dataclass
class Guard:
    """Authorisation over one store: the access state, and experiment names by id (kept for
    refresh_seconds, since a rename can change which name patterns match)."""

    authenticator: Authenticator
    store: AbstractStore
    clock: Callable[[], float] = time.monotonic
    _names: dict[str, tuple[str, float]] = field(default_factory=dict)
    _forgotten: int = 0  # renames through this server so far

    @property
    def access(self) -> Access:
        return self.authenticator.access

    def permission(self, who: Identity, experiment_id: str, name: str) -> Permission:
        return self.access.state().permission(who, experiment_id, name)

    def model_permission(self, who: Identity, name: str) -> Permission:
        return self.access.state().model_permission(who, name)

    def require_model(self, who: Identity, name: str, need: str) -> None:
        """Raise PERMISSION_DENIED unless the caller has `need` on the registered model of a
        name (whether or not it exists: its grants are by name)."""
        if not allows(self.model_permission(who, name), need):
            raise PermissionDenied(
                f"Permission denied: {who.user} may not {need} registered model {name!r}; ask "
                "a manager of it, or an admin, for access"
            )

    def forget(self, experiment_id: str) -> None:
        """Drop an experiment's cached name (after a rename through this server)."""
        self._forgotten += 1  # a name read before this is not cached after it
        self._names.pop(experiment_id, None)

    def known_experiment(self, rule: Rule, data: dict[str, Any]) -> str | None:
        """Return the id of the experiment a request touches when it is known without reading
        storage (None: ask `experiment_of`)."""
        if rule.target == "experiment":
            value = data.get("experiment_id")
            return str(value) if value not in (None, "") else "0"
        if rule.target == "run":
            run_id = data.get("run_id") or data.get("run_uuid")
            if isinstance(run_id, str) and self.store.knows_run(run_id):
                return self.store.experiment_of(run_id)
        return None

    def allowed(self, who: Identity, experiment_id: str, need: str) -> bool | None:
        """Return whether the caller has `need` on an experiment whose name is known and fresh
        (None: ask `require`, which reads the name)."""
        name = self._fresh_name(experiment_id)
        return None if name is None else allows(self.permission(who, experiment_id, name), need)

    def _fresh_name(self, experiment_id: str) -> str | None:
        """Return an experiment's cached name if read within refresh_seconds."""
        hit = self._names.get(experiment_id)
        if hit is None or self.clock() - hit[1] >= self.access.refresh_seconds:
            return None
        return hit[0]

    async def experiment_name(self, experiment_id: str) -> str | None:
        """Return an experiment's name (None if there is no such experiment)."""
        cached = self._fresh_name(experiment_id)
        if cached is not None:
            return cached
        now = self.clock()
        forgotten = self._forgotten
        try:
            exp = await run_in_threadpool(self.store.get_experiment, experiment_id)
        except NotFoundError:
            return None
        if forgotten == self._forgotten:  # no rename finished while it was read
            if len(self._names) > 100_000:
                self._names.clear()
            self._names[experiment_id] = (exp.name, now)
        return exp.name

    async def experiment_of(
        self, rule: Rule, data: dict[str, Any], path: dict[str, Any]
    ) -> str | None:
        """Return the id of the experiment a request touches (None: it names none that
        exists, and the endpoint answers RESOURCE_DOES_NOT_EXIST itself)."""
        known = self.known_experiment(rule, data)
        if known is not None:
            return known
        try:
            if rule.target == "experiment_name":
                exp = await run_in_threadpool(
                    self.store.get_experiment_by_name, str(data.get("experiment_name", ""))
                )
                return exp.experiment_id if exp is not None else None
            if rule.target == "run":
                run_id = str(data.get("run_id") or data.get("run_uuid") or "")
                return await run_in_threadpool(self.store.experiment_of, run_id)
            if rule.target == "model":
                model = await run_in_threadpool(
                    self.store.get_logged_model, str(path.get("model_id", ""))
                )
                return model.experiment_id
        except NotFoundError:
            return None
        return None

    async def require(self, who: Identity, experiment_id: str, need: str) -> None:
        """Raise PERMISSION_DENIED unless the caller has `need` on the experiment."""
        name = await self.experiment_name(experiment_id)
        if name is None:
            return  # no such experiment: the endpoint says so
        if not allows(self.permission(who, experiment_id, name), need):
            raise denied(who, experiment_id, need)

    async def require_rename(self, who: Identity, experiment_id: str, new_name: str) -> None:
        """Renaming needs MANAGE under the old name and the new one: grants by name pattern
        follow names, so a rename is a change of permissions."""
        await self.require(who, experiment_id, "manage")
        if not self.permission(who, experiment_id, new_name).can_manage:
            raise PermissionDenied(
                f"Permission denied: {who.user} may not manage experiment {experiment_id} under "
                "the new name; renaming changes which grants apply"
            )

    async def require_models(self, who: Identity, needs: dict[str, str]) -> list[str]:
        """Check the logged models a request links to (`models_named`); return their ids."""
        for model_id, need in needs.items():
            try:
                model = await run_in_threadpool(self.store.get_logged_model, model_id)
            except (NotFoundError, ValueError):
                continue  # the endpoint says it does not exist
            await self.require(who, model.experiment_id, need)
        return sorted(needs)

    async def readable(self, who: Identity, experiment_ids: list[str]) -> list[str]:
        """Return the experiments of the list that the caller may read."""
        out = []
        for exp_id in experiment_ids:
            name = await self.experiment_name(exp_id)
            if name is None or self.permission(who, exp_id, name).can_read:
                out.append(exp_id)  # an unknown id stays: the search reports it missing
        return out


def denied(who: Identity, experiment_id: str, need: str) -> PermissionDenied:
    return PermissionDenied(
        f"Permission denied: {who.user} may not {need} experiment {experiment_id}; "
        "ask a manager of it, or an admin, for access"
    )


def models_named(data: dict[str, Any]) -> dict[str, str]:
    """Return the logged models a write links to, with what each needs: points logged with a
    model_id need EDIT (update) on the model's experiment, inputs and outputs naming a model
    READ."""
    needs: dict[str, str] = {}
    metrics = data.get("metrics")
    for item in [data, *(metrics if isinstance(metrics, list) else [])]:
        if isinstance(item, dict) and isinstance(item.get("model_id"), str):
            needs[item["model_id"]] = "update"
    models = data.get("models")
    for item in models if isinstance(models, list) else []:
        if isinstance(item, dict) and isinstance(item.get("model_id"), str):
            needs.setdefault(item["model_id"], "read")
    return needs


IDENTITY_KEY = "reporter.identity"


def identity_of(scope: Any) -> Identity | None:
    """Return the caller the auth middleware established (None without --auth)."""
    who = scope.get(IDENTITY_KEY)
    return who if isinstance(who, Identity) else None


_CAN = {"read": "can_read", "update": "can_update", "delete": "can_delete", "manage": "can_manage"}


def allows(permission: Permission, need: str) -> bool:
    return bool(getattr(permission, _CAN[need]))


_NAMED = frozenset(
    ("run_id", "run_uuid", "model_id", "key", "name", "new_name", "status", "run_name", "path")
)  # what an audit record names of a write (values of these are names, not data)
_COUNTED = frozenset(("metrics", "params", "tags", "datasets"))  # ... and counts, by key


def audit_record(
    who: Identity, action: str, method: str, experiment_id: str | None, data: dict[str, Any]
) -> dict[str, Any]:
    """Return the audit record of a write: who, when, from where and what (names and counts
    of what was logged; values are left out, since they may be secrets)."""
    what: dict[str, Any] = {}
    for key in _NAMED.intersection(data):
        if isinstance(data[key], (str, int)):
            what[key] = str(data[key])[:500]
    if isinstance(data.get("models"), list) and all(isinstance(m, str) for m in data["models"]):
        what["models"] = data["models"][:50]
    for key in _COUNTED.intersection(data):
        items = data[key]
        if isinstance(items, list):
            names = sorted({str(i.get("key", "")) for i in items if isinstance(i, dict)} - {""})
            what[key] = {"count": len(items), "keys": names[:50]}
    return {
        "id": f"{_PROCESS}{os.getpid():x}-{next(_SEQUENCE):x}",
        "time": int(time.time() * 1000),
        "user": who.user,
        "address": who.address,
        "action": action,
        "method": method,
        "experiment_id": experiment_id,
        "what": what,
    }


def access_audit_record(
    who: Identity, change: dict[str, Any], method: str, experiment_id: str | None
) -> dict[str, Any]:
    """Return the audit record of a change of users or grants (never a hash)."""
    record = audit_record(who, f"access/{change['op']}", method, experiment_id, {})
    record["what"] = {k: v for k, v in change.items() if k not in ("password_hash", "token_hash")}
    return record
