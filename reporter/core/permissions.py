"""Permissions on experiments, with the names and meanings of MLflow's basic-auth app
(`mlflow.server.auth.permissions`): READ, USE, EDIT, MANAGE, NO_PERMISSIONS and DENY."""

from __future__ import annotations

from dataclasses import dataclass

from reporter.core.errors import InvalidArgumentError


@dataclass(frozen=True)
class Permission:
    """What a permission allows, capability by capability."""

    name: str
    can_read: bool
    can_use: bool
    can_update: bool
    can_delete: bool
    can_manage: bool


READ = Permission("READ", True, False, False, False, False)
USE = Permission("USE", True, True, False, False, False)
EDIT = Permission("EDIT", True, True, True, False, False)
MANAGE = Permission("MANAGE", True, True, True, True, True)
NO_PERMISSIONS = Permission("NO_PERMISSIONS", False, False, False, False, False)
DENY = Permission("DENY", False, False, False, False, False)  # wins over any other grant

ALL_PERMISSIONS = {p.name: p for p in (READ, USE, EDIT, MANAGE, NO_PERMISSIONS, DENY)}
PRIORITY = {"DENY": -1, "NO_PERMISSIONS": 0, "READ": 1, "USE": 2, "EDIT": 3, "MANAGE": 4}


def get_permission(name: str) -> Permission:
    """Return the permission of a name (case-insensitive); a clear error for others."""
    found = ALL_PERMISSIONS.get(str(name).upper())
    if found is None:
        raise InvalidArgumentError(
            f"Invalid permission {name!r}; valid: {', '.join(ALL_PERMISSIONS)}"
        )
    return found


def strongest(permissions: list[Permission]) -> Permission | None:
    """Return the strongest of several grants; an explicit DENY wins; None for none."""
    if not permissions:
        return None
    if any(p is DENY for p in permissions):
        return DENY
    return max(permissions, key=lambda p: PRIORITY[p.name])
