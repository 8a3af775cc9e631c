"""MLflow's basic-auth REST endpoints for users and experiment permissions, so MLflow's own
`AuthServiceClient` (`mlflow.server.get_app_client("basic-auth", tracking_uri=...)`) manages
a `tracker-report server --auth ...` as it manages `mlflow server --app-name basic-auth`:

* `/api/2.0/mlflow/users/create|get|update-password|update-admin|delete` (admins; a user may
  read themselves and change their own password, giving the current one);
* `/api/3.0/mlflow/users/permissions/grant|revoke|get` for resource_type "experiment" (by
  id) and "registered_model" (by name): the resource's managers and admins.

Changes go to the same change records as `tracker-report users` and `grants`, and each leaves
an audit record in the commit that answers it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reporter.core.access import (
    EXPERIMENT,
    REGISTERED_MODEL,
    Identity,
    User,
    selector_of,
    verify_password,
)
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.tracking_server import requests as req
from reporter.tracking_server.auth import PermissionDenied
from reporter.tracking_server.backend import Backend
from reporter.tracking_server.guard import PendingAudit, access_audit_record, identity_of


def user_json(user: User) -> dict[str, Any]:
    """MLflow's User message (no password hash, ever); ids are stable numbers per name."""
    number = int(hashlib.sha256(user.name.encode()).hexdigest()[:12], 16)
    return {"id": number, "username": user.name, "is_admin": user.admin}


class UsersApi:
    def __init__(self, backend: Backend) -> None:
        assert backend.guard is not None
        self.b = backend
        self.guard = backend.guard

    async def publish(self, who: Identity, change: dict[str, Any], exp_id: str | None) -> None:
        """Record a change, audited in the commit that answers the request."""
        await self.b.call(self.guard.access.publish, {**change, "by": who.user})
        if self.b.audit is not None:
            self.b.note_audit(PendingAudit(access_audit_record(who, change, "API", exp_id)))
            await self.b.commit.wait()

    @staticmethod
    def admin(who: Identity) -> None:
        if not who.admin:
            raise PermissionDenied(f"Permission denied: {who.user} is not an admin")

    async def create_user(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        self.admin(who)
        name, password = req.required(data, "username"), req.required(data, "password")
        state = self.guard.access.state()
        change = await self.b.call(state.add_user, name, password)
        await self.publish(who, change, None)
        return {"user": user_json(self.guard.access.state().require_user(name))}

    async def get_user(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        name = req.required(data, "username")
        if name != who.user:
            self.admin(who)
        return {"user": user_json(self.guard.access.state().require_user(name))}

    async def update_password(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        name, password = req.required(data, "username"), req.required(data, "password")
        state = self.guard.access.state()
        user = state.require_user(name)
        if not who.admin:
            if name != who.user:
                raise PermissionDenied(
                    f"Permission denied: {who.user} may change only their own password"
                )
            current = data.get("current_password")
            ok = isinstance(current, str) and user.password_hash is not None
            if not ok or not await self.b.call(
                verify_password, user.password_hash or "", str(current)
            ):
                raise PermissionDenied(
                    "Permission denied: the current password is wrong or missing"
                )
        await self.publish(who, await self.b.call(state.set_password, name, password), None)
        return {}

    async def update_admin(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        self.admin(who)
        name = req.required(data, "username")
        flag = data.get("is_admin")
        if not isinstance(flag, bool):
            raise InvalidArgumentError("is_admin must be true or false")
        await self.publish(who, self.guard.access.state().set_admin(name, flag), None)
        return {}

    async def delete_user(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        self.admin(who)
        name = req.required(data, "username")
        await self.publish(who, self.guard.access.state().remove_user(name), None)
        return {}

    async def _resource(self, who: Identity, data: dict[str, Any], need: str) -> tuple[str, str]:
        """Return (resource_type, id) of a permission request, after checking the caller has
        `need` on it (an experiment by id, or a registered model by name)."""
        kind = req.required(data, "resource_type")
        resource_id = req.required(data, "resource_id")
        if kind == EXPERIMENT:
            if await self.guard.experiment_name(resource_id) is None:
                raise NotFoundError(f"No experiment with id {resource_id!r}")
            if need:
                await self.guard.require(who, resource_id, need)
        elif kind == REGISTERED_MODEL:
            await self.b.call(self.b.client.get_registered_model, resource_id)
            if need:
                self.guard.require_model(who, resource_id, need)
        else:
            raise InvalidArgumentError(
                f"resource_type {kind!r} is not offered: this server grants permissions on "
                f"experiments ({EXPERIMENT!r}) and registered models ({REGISTERED_MODEL!r})"
            )
        return kind, resource_id

    async def grant(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        kind, resource_id = await self._resource(who, data, "manage")
        name = req.required(data, "username")
        state = self.guard.access.state()
        state.require_user(name)
        permission = req.required(data, "permission")
        change = state.grant(f"user:{name}", selector_of(kind, resource_id), permission, kind)
        await self.publish(who, change, resource_id if kind == EXPERIMENT else None)
        return {}

    async def revoke(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        kind, resource_id = await self._resource(who, data, "manage")
        name = req.required(data, "username")
        state = self.guard.access.state()
        change = state.revoke(f"user:{name}", selector_of(kind, resource_id), kind)
        await self.publish(who, change, resource_id if kind == EXPERIMENT else None)
        return {}

    async def get_permission(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        name = req.required(data, "username")
        # a manager may look at others' permissions; anyone at their own
        own = name == who.user or who.admin
        kind, resource_id = await self._resource(who, data, "" if own else "manage")
        state = self.guard.access.state()
        user = state.require_user(name)
        caller = Identity(name, (), user.admin)
        if kind == REGISTERED_MODEL:
            permission = state.model_permission(caller, resource_id)
        else:
            exp_name = await self.guard.experiment_name(resource_id) or ""
            permission = state.permission(caller, resource_id, exp_name)
        return {"allowed": permission.can_use, "permission": permission.name}


def routes(backend: Backend) -> list[Route]:
    """The routes, at MLflow's /api and /ajax-api paths (only with --auth)."""
    users = UsersApi(backend)
    table: list[
        tuple[str, str, Callable[[Identity, dict[str, Any]], Awaitable[dict[str, Any]]]]
    ] = [
        ("POST", "2.0/mlflow/users/create", users.create_user),
        ("GET", "2.0/mlflow/users/get", users.get_user),
        ("PATCH", "2.0/mlflow/users/update-password", users.update_password),
        ("PATCH", "2.0/mlflow/users/update-admin", users.update_admin),
        ("DELETE", "2.0/mlflow/users/delete", users.delete_user),
        ("POST", "3.0/mlflow/users/permissions/grant", users.grant),
        ("POST", "3.0/mlflow/users/permissions/revoke", users.revoke),
        ("GET", "3.0/mlflow/users/permissions/get", users.get_permission),
    ]
    out = []
    for method, path, handler in table:

        async def endpoint(request: Request, handler: Any = handler) -> JSONResponse:
            who = identity_of(request.scope)
            if who is None:
                raise PermissionDenied("Permission denied: sign in first")
            data = await req.params_of(request)
            if request.method == "DELETE" and not data:  # MLflow's client sends a JSON body
                data = await _json_body(request)
            return JSONResponse(await handler(who, data))

        for prefix in ("/api/", "/ajax-api/"):
            out.append(Route(prefix + path, endpoint, methods=[method]))
    return out


async def _json_body(request: Request) -> dict[str, Any]:
    import json

    body = await request.body()
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise InvalidArgumentError("Malformed JSON request body") from None
    return data if isinstance(data, dict) else {}
