"""Who may do what on a tracking server: users (hashed passwords, tokens, admins), grants of a
permission on experiments and on registered models to users and groups, and a default
permission for everyone else.

The state is the replay, in order, of append-only change records (dicts with an "op"), which
the store keeps like its other events (`AbstractStore.access_changes`) or a users file holds.
Permissions resolve as MLflow's basic-auth app does: an admin may do anything; a user's own
grants on an experiment come first, then their groups' grants, then the default; an explicit
DENY among them wins; creating an experiment (or a registered model) grants its creator
MANAGE on it. Registered models are granted by name or glob (`churn-*`); a model's own exact
grants follow it through renames and go with it when it is deleted (as MLflow's do) when the
server renames or deletes it. A rename or delete made on the store directly (the library,
`tracker-report import mlflow`) leaves grants as they are: `tracker-report grants` moves them.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.core.permissions import DENY, MANAGE, READ, Permission, get_permission, strongest

USER_NAME = re.compile(r"[^\x00-\x1f\x7f:\s](?:[^\x00-\x1f\x7f:]{0,254}[^\x00-\x1f\x7f:\s])?")
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+ /:-]{0,127}$")
TOKEN_PREFIX = "trk_"  # tokens look like trk_<id>_<secret>, so a leaked one is recognisable
OPS = (
    "user.add",
    "user.password",
    "user.admin",
    "user.remove",
    "token.add",
    "token.remove",
    "grant",
    "revoke",
    "default",
)


@dataclass(frozen=True)
class Identity:
    """The caller of a request, as the server established it (never as the client claims)."""

    user: str
    groups: tuple[str, ...] = ()
    admin: bool = False
    address: str = ""


@dataclass
class User:
    name: str
    password_hash: str | None
    admin: bool = False
    tokens: dict[str, str] = field(default_factory=dict)  # token id -> sha256 of the token
    version: int = 0  # the change that last touched it: a cached sign-in is good only for it


EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"  # MLflow's resource_type names
RESOURCES = (EXPERIMENT, REGISTERED_MODEL)


@dataclass(frozen=True)
class Grant:
    """A permission for `user:NAME`/`group:NAME` on experiments (a name pattern, or `id:ID`)
    or on registered models (a name pattern: `exact_pattern` of a name matches only it)."""

    who: str
    selector: str  # a name pattern of the resource's kind (or id:ID of an experiment)
    permission: Permission
    resource: str = EXPERIMENT
    stamp: str = ""  # a digest of the change that made it: a revoke may name this one grant

    def matches(self, experiment_id: str, name: str) -> bool:
        if self.resource == EXPERIMENT and self.selector.startswith("id:"):
            return self.selector[3:] == experiment_id
        return fnmatch.fnmatchcase(name, self.selector)


def exact_pattern(name: str) -> str:
    """Return the name pattern that matches only `name` (its glob characters escaped)."""
    return glob.escape(name)


def selector_of(resource: str, resource_id: str) -> str:
    """Return the selector naming one resource, as MLflow's permission endpoints name it: an
    experiment by its id, a registered model by its name (glob characters taken literally)."""
    return f"id:{resource_id}" if resource == EXPERIMENT else exact_pattern(resource_id)


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"Invalid user name {name!r}: use 1 to 256 characters, no ':' or control "
            "characters, not starting or ending with a space"
        )
    return name


def check_who(who: object) -> str:
    """Return a grantee, `user:NAME` or `group:NAME`; a clear error for anything else."""
    if isinstance(who, str) and who.startswith("user:"):
        check_user_name(who[5:])
        return who
    if isinstance(who, str) and who.startswith("group:") and GROUP_NAME.fullmatch(who[6:]):
        return who
    raise InvalidArgumentError(f"Invalid grantee {who!r}: use user:NAME or group:NAME")


def check_experiment_pattern(pattern: object) -> str:
    """Return an experiment selector: a name or glob (`vision-*`), or `id:ID`."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 500 or "\x00" in pattern:
        raise InvalidArgumentError(
            f"Invalid experiment selector {pattern!r}: give a name, a glob such as 'team-a/*', "
            "or id:ID"
        )
    if pattern.startswith("id:") and not pattern[3:].isdigit():
        raise InvalidArgumentError(f"Invalid experiment selector {pattern!r}: id: takes digits")
    return pattern


def check_model_pattern(pattern: object) -> str:
    """Return a registered-model selector: a name or a glob such as `churn-*`."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 1000 or "\x00" in pattern:
        raise InvalidArgumentError(
            f"Invalid registered model selector {pattern!r}: give a name or a glob such as "
            "'churn-*'"
        )
    return pattern


def _field(resource: str) -> str:
    """Return the key a grant's change record keeps its selector under: the resource's name."""
    if resource not in (EXPERIMENT, REGISTERED_MODEL):
        raise InvalidArgumentError(
            f"Grants are on {EXPERIMENT!r} or {REGISTERED_MODEL!r}, not {resource!r}"
        )
    return resource


def _stamp(change: Mapping[str, Any]) -> str:
    """Return a digest of a change record: which grant a later revoke names."""
    import json

    text = json.dumps(dict(change), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def hash_password(password: str) -> str:
    """Return an argon2id hash of a password (argon2-cffi, its recommended parameters)."""
    from argon2 import PasswordHasher

    if not isinstance(password, str) or not password:
        raise InvalidArgumentError("A password must not be empty")
    return PasswordHasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True if a password matches its argon2 hash (slow on purpose: about 0.1 s)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(PasswordHasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """Return (token id, token): the id names it in listings, the token is shown once."""
    token_id = secrets.token_hex(4)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


class AccessState:
    """Users, grants and the default permission: the replay of change records."""

    def __init__(self, default: Permission = READ) -> None:
        self.users: dict[str, User] = {}
        self.grants: dict[tuple[str, str], Grant] = {}  # on experiments
        self.model_grants: dict[tuple[str, str], Grant] = {}  # on registered models
        self.default = default  # the server's --default-permission until a change sets one
        self._tokens: dict[str, str] = {}  # sha256 -> user
        # answered before: (caller, resource, experiment id or "", name) -> permission
        self._permissions: dict[tuple[Identity, str, str, str], Permission] = {}
        self.generation = 0  # set by the server's Access when it installs this state
        self.applied = 0

    @classmethod
    def replay(
        cls, changes: Iterable[Mapping[str, Any]], default: Permission = READ
    ) -> AccessState:
        state = cls(default)
        for change in changes:
            state.apply(change)
        return state

    def apply(self, change: Mapping[str, Any]) -> None:
        """Apply one change record; one that no longer applies (a racing writer's, or a
        damaged one) is skipped, so a replay never fails."""
        self.applied += 1
        self._permissions.clear()
        op = change.get("op")
        name = change.get("user")
        user = self.users.get(name) if isinstance(name, str) else None
        if op == "user.add" and isinstance(name, str) and user is None:
            self.users[name] = User(
                name, change.get("password_hash"), bool(change.get("admin")), version=self.applied
            )
        elif op == "user.password" and user is not None:
            user.password_hash, user.version = change.get("password_hash"), self.applied
        elif op == "user.admin" and user is not None:
            user.admin, user.version = bool(change.get("admin")), self.applied
        elif op == "user.remove" and user is not None:
            for digest in user.tokens.values():
                self._tokens.pop(digest, None)
            del self.users[user.name]
            self.grants = {k: g for k, g in self.grants.items() if g.who != f"user:{user.name}"}
            self.model_grants = {
                k: g for k, g in self.model_grants.items() if g.who != f"user:{user.name}"
            }
        elif op == "token.add" and user is not None:
            digest = str(change.get("token_hash"))
            user.tokens[str(change.get("token_id"))] = digest
            self._tokens[digest] = user.name
        elif op == "token.remove" and user is not None:
            removed = user.tokens.pop(str(change.get("token_id")), None)
            if removed is not None:
                self._tokens.pop(removed, None)
                user.version = self.applied
        elif op == "grant" and REGISTERED_MODEL in change:
            try:
                grant = Grant(
                    check_who(change.get("who")),
                    check_model_pattern(change.get(REGISTERED_MODEL)),
                    get_permission(str(change.get("permission"))),
                    REGISTERED_MODEL,
                    _stamp(change),
                )
            except InvalidArgumentError:
                return
            self.model_grants[(grant.who, grant.selector)] = grant
        elif op == "grant":
            try:
                grant = Grant(
                    check_who(change.get("who")),
                    check_experiment_pattern(change.get("experiment")),
                    get_permission(str(change.get("permission"))),
                )
            except InvalidArgumentError:
                return
            self.grants[(grant.who, grant.selector)] = grant
        elif op == "revoke" and REGISTERED_MODEL in change:
            key = (str(change.get("who")), str(change.get(REGISTERED_MODEL)))
            stamp = change.get("stamp")  # only that grant (a newer one of the key stays)
            if stamp is None or (
                key in self.model_grants and self.model_grants[key].stamp == stamp
            ):
                self.model_grants.pop(key, None)
        elif op == "revoke":
            self.grants.pop((str(change.get("who")), str(change.get("experiment"))), None)
        elif op == "default":
            try:
                self.default = get_permission(str(change.get("permission")))
            except InvalidArgumentError:
                return

    # questions ---------------------------------------------------------------------------
    def user_of_token(self, token: str) -> User | None:
        name = self._tokens.get(token_hash(token))
        return self.users.get(name) if name is not None else None

    MEMO = 20_000  # answers kept: a write request asks for the same one again and again

    def permission(self, who: Identity, experiment_id: str, name: str) -> Permission:
        """Return the caller's permission on an experiment."""
        return self._answer(who, EXPERIMENT, experiment_id, name)

    def model_permission(self, who: Identity, name: str) -> Permission:
        """Return the caller's permission on the registered model of a name."""
        return self._answer(who, REGISTERED_MODEL, "", name)

    def _answer(self, who: Identity, resource: str, experiment_id: str, name: str) -> Permission:
        key = (who, resource, experiment_id, name)
        found = self._permissions.get(key)
        if found is None:
            grants = self.grants if resource == EXPERIMENT else self.model_grants
            found = self._resolve(grants, who, experiment_id, name)
            if len(self._permissions) >= self.MEMO:
                self._permissions.clear()
            self._permissions[key] = found
        return found

    def _resolve(
        self, grants: dict[tuple[str, str], Grant], who: Identity, experiment_id: str, name: str
    ) -> Permission:
        if who.admin:
            return MANAGE

        def of(grantee: str) -> list[Permission]:
            return [
                g.permission
                for (w, _), g in grants.items()
                if w == grantee and g.matches(experiment_id, name)
            ]

        own = of(f"user:{who.user}")
        group = [p for group_name in who.groups for p in of(f"group:{group_name}")]
        if DENY in own or DENY in group:  # an explicit DENY, the user's or a group's, wins
            return DENY
        found = strongest(own) or strongest(group)
        return found if found is not None else self.default

    # building change records (checked against the state, so a CLI or an API call that makes
    # no sense gets a clear error before anything is written) ------------------------------
    def add_user(self, name: str, password: str, admin: bool = False) -> dict[str, Any]:
        check_user_name(name)
        if name in self.users:
            raise AlreadyExistsError(f"User {name!r} already exists")
        return {"op": "user.add", "user": name, "password_hash": hash_password(password),
                "admin": bool(admin)}  # fmt: skip

    def set_password(self, name: str, password: str) -> dict[str, Any]:
        self.require_user(name)
        return {"op": "user.password", "user": name, "password_hash": hash_password(password)}

    def set_admin(self, name: str, admin: bool) -> dict[str, Any]:
        self.require_user(name)
        return {"op": "user.admin", "user": name, "admin": bool(admin)}

    def remove_user(self, name: str) -> dict[str, Any]:
        self.require_user(name)
        return {"op": "user.remove", "user": name}

    def add_token(self, name: str) -> tuple[dict[str, Any], str]:
        """Return (change, token): the token itself is not stored, only its hash."""
        self.require_user(name)
        token_id, token = new_token()
        change = {"op": "token.add", "user": name, "token_id": token_id,
                  "token_hash": token_hash(token)}  # fmt: skip
        return change, token

    def remove_token(self, name: str, token_id: str) -> dict[str, Any]:
        if token_id not in self.require_user(name).tokens:
            raise NotFoundError(f"User {name!r} has no token {token_id!r}")
        return {"op": "token.remove", "user": name, "token_id": token_id}

    def grant(
        self, who: str, selector: str, permission: str, resource: str = EXPERIMENT
    ) -> dict[str, Any]:
        """A grant on the experiments (or the registered models) the selector names."""
        check = check_experiment_pattern if resource == EXPERIMENT else check_model_pattern
        return {"op": "grant", "who": check_who(who), _field(resource): check(selector),
                "permission": get_permission(permission).name}  # fmt: skip

    def revoke(self, who: str, selector: str, resource: str = EXPERIMENT) -> dict[str, Any]:
        grants = self.grants if resource == EXPERIMENT else self.model_grants
        if (who, selector) not in grants:
            raise NotFoundError(f"No grant to {who} on {resource.replace('_', ' ')}s {selector!r}")
        return {"op": "revoke", "who": who, _field(resource): selector}

    def follow_rename(self, name: str, new_name: str) -> list[dict[str, Any]]:
        """Return the changes that move a registered model's exact grants to its new name.
        Worked out before the rename: each revoke names the grant it moves, so a grant made
        on the old name after the rename (its next owner's) stays."""
        old, new = exact_pattern(name), exact_pattern(new_name)
        moved = [g for g in self.model_grants.values() if g.selector == old]
        return [
            *(self.grant(g.who, new, g.permission.name, REGISTERED_MODEL) for g in moved),
            *({**self.revoke(g.who, old, REGISTERED_MODEL), "stamp": g.stamp} for g in moved),
        ]

    def after_rename(self, name: str, new_name: str) -> AccessState:
        """Return the grants as they would be once a registered model is renamed (its exact
        grants moved): what a rename check asks about the new name."""
        after = AccessState(self.default)
        after.users, after.grants = self.users, self.grants
        after.model_grants = dict(self.model_grants)
        for change in self.follow_rename(name, new_name):
            after.apply(change)
        return after

    def forget_model(self, name: str) -> list[dict[str, Any]]:
        """Return the changes that drop a deleted registered model's exact grants (a model made
        later under the name does not inherit them)."""
        old = exact_pattern(name)
        return [{**self.revoke(g.who, old, REGISTERED_MODEL), "stamp": g.stamp}
                for g in self.model_grants.values() if g.selector == old]  # fmt: skip

    def set_default(self, permission: str) -> dict[str, Any]:
        return {"op": "default", "permission": get_permission(permission).name}

    def require_user(self, name: str) -> User:
        user = self.users.get(name)
        if user is None:
            raise NotFoundError(f"User {name!r} does not exist")
        return user
