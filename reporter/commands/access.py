"""`tracker-report users`, `grants` and `audit`: who may use a tracking server (--auth), on
which experiments, and what they did. Users and grants are kept in the store (or in a users
file); each change is appended, never rewritten, and is also recorded in the audit trail."""

from __future__ import annotations

import getpass
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reporter.commands.listing import _emit, _format_option
from reporter.commands.options import config_option, settings, store_option

F = TypeVar("F", bound=Callable[..., Any])


def _access_options(function: F) -> F:
    function = click.option(
        "--users-file",
        type=click.Path(dir_okay=False),
        help="Users and grants kept in this file instead of the store (as the server's "
        "--users-file).",
    )(function)
    return config_option(store_option(function))


class _Log:
    """The access log of a store (or users file), and the audit trail of the store."""

    def __init__(self, store_flag: str | None, config_file: str | None, users_file: str | None):
        from reporter.store.access import open_access_log
        from reporter.store.registry import open_store

        config = settings({"store": store_flag}, config_file)
        self.store = open_store(config.store)
        self.store.create_if_missing()
        self.log = open_access_log(self.store, users_file)

    def state(self) -> Any:
        from reporter.core.access import AccessState

        return AccessState.replay(self.log.changes())

    def publish(self, change: dict[str, Any], summary: str) -> None:
        """Record a change, and its audit record (as the server's own changes are)."""
        from reporter.core.access import Identity
        from reporter.tracking_server.guard import access_audit_record

        who = Identity(f"cli:{getpass.getuser()}", address=f"local:{os.uname().nodename}")
        self.log.publish({**change, "by": who.user})
        self.store.append_audit([access_audit_record(who, change, "CLI", None)])
        click.echo(summary)


def _password(password_stdin: bool, name: str) -> str:
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin read an empty line: give a password")
        return line
    return str(
        click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True)
    )


# users --------------------------------------------------------------------------------------
@click.group("users")
def users_group() -> None:
    """Users of `tracker-report server --auth basic` (and admins for --auth proxy).

    Example:

        tracker-report users add alice --store ./tracker-store
    """


@users_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May do anything, and manage users and grants.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--no-password", is_flag=True, help="A user who signs in through a proxy (--auth proxy)."
)
@_access_options
def users_add(
    name: str,
    admin: bool,
    password_stdin: bool,
    no_password: bool,
    store_flag: str | None,
    config_file: str | None,
    users_file: str | None,
) -> None:
    """Add a user (asks for the password twice unless --password-stdin)."""
    from reporter.core.access import check_user_name
    from reporter.core.errors import AlreadyExistsError

    log = _Log(store_flag, config_file, users_file)
    state = log.state()
    if name in state.users:  # before asking for a password
        raise AlreadyExistsError(f"User {name!r} already exists in {log.log.where}")
    check_user_name(name)
    if no_password:
        change = {"op": "user.add", "user": name, "password_hash": None, "admin": admin}
    else:
        change = state.add_user(name, _password(password_stdin, name), admin)
    log.publish(change, f"Added user {name}{' (admin)' if admin else ''} to {log.log.where}")


@users_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@_access_options
def users_passwd(
    name: str,
    password_stdin: bool,
    store_flag: str | None,
    config_file: str | None,
    users_file: str | None,
) -> None:
    """Set a user's password (their signed-in sessions end at once)."""
    log = _Log(store_flag, config_file, users_file)
    state = log.state()
    state.require_user(name)
    log.publish(
        state.set_password(name, _password(password_stdin, name)), f"Changed {name}'s password"
    )


@users_group.command("remove")
@click.argument("name")
@_access_options
def users_remove(
    name: str, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """Remove a user, their tokens and their own grants."""
    log = _Log(store_flag, config_file, users_file)
    log.publish(log.state().remove_user(name), f"Removed user {name}")


@users_group.command("admin")
@click.argument("name")
@click.option("--on/--off", "on", default=True, show_default=True)
@_access_options
def users_admin(
    name: str, on: bool, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """Make a user an admin (--on) or not (--off)."""
    log = _Log(store_flag, config_file, users_file)
    log.publish(
        log.state().set_admin(name, on), f"{name} is {'now' if on else 'no longer'} an admin"
    )


@users_group.command("token")
@click.argument("name")
@_access_options
def users_token(
    name: str, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """Issue a token for a user (MLFLOW_TRACKING_TOKEN); it is shown once, stored hashed."""
    log = _Log(store_flag, config_file, users_file)
    change, token = log.state().add_token(name)
    log.publish(change, f"Token {change['token_id']} for {name} (shown once; keep it secret):")
    click.echo(token)


@users_group.command("revoke-token")
@click.argument("name")
@click.argument("token_id")
@_access_options
def users_revoke_token(
    name: str,
    token_id: str,
    store_flag: str | None,
    config_file: str | None,
    users_file: str | None,
) -> None:
    """Revoke one of a user's tokens (by the id `users list` shows)."""
    log = _Log(store_flag, config_file, users_file)
    log.publish(log.state().remove_token(name, token_id), f"Revoked token {token_id} of {name}")


@users_group.command("list")
@_format_option
@_access_options
def users_list(
    output_format: str, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """List users, whether they are admins, and their token ids (never passwords)."""
    import pandas as pd

    state = _Log(store_flag, config_file, users_file).state()
    rows = [
        {
            "user": u.name,
            "admin": u.admin,
            "password": "set" if u.password_hash else "-",
            "tokens": ",".join(sorted(u.tokens)),
        }
        for u in sorted(state.users.values(), key=lambda u: u.name)
    ]
    _emit(
        pd.DataFrame(rows, columns=["user", "admin", "password", "tokens"]),
        output_format,
        "No users.",
    )


# grants -------------------------------------------------------------------------------------
def _who(user: str | None, group: str | None) -> str:
    if bool(user) == bool(group):
        raise click.UsageError("Give exactly one of --user NAME or --group NAME")
    return f"user:{user}" if user else f"group:{group}"


def _grantee_options(function: F) -> F:
    function = click.option("--group", help="A group (as the proxy's groups header names it).")(
        function
    )
    return click.option("--user", help="A user name.")(function)


@click.group("grants")
def grants_group() -> None:
    """Permissions on experiments and registered models: READ, USE, EDIT, MANAGE,
    NO_PERMISSIONS or DENY (MLflow's), per user or group, on experiments by name, glob or
    id:ID, on registered models by name or glob.

    Example:

        tracker-report grants set --user bob --experiment 'churn-*' --permission EDIT
        tracker-report grants set --group risk --registered-model 'churn*' --permission MANAGE
    """


def _target(experiment: str | None, registered_model: str | None) -> tuple[str, str]:
    """Return (resource, selector) of --experiment or --registered-model."""
    from reporter.core.access import EXPERIMENT, REGISTERED_MODEL

    if (experiment is None) == (registered_model is None):
        raise click.UsageError("Give exactly one of --experiment or --registered-model")
    if experiment is not None:
        return EXPERIMENT, experiment
    return REGISTERED_MODEL, str(registered_model)


@grants_group.command("set")
@_grantee_options
@click.option("--experiment", help="A name, a glob such as 'team-a/*', or id:ID.")
@click.option("--registered-model", help="A registered model's name, or a glob such as 'churn*'.")
@click.option(
    "--permission",
    required=True,
    type=click.Choice(
        ["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS", "DENY"], case_sensitive=False
    ),
)
@_access_options
def grants_set(
    user: str | None,
    group: str | None,
    experiment: str | None,
    registered_model: str | None,
    permission: str,
    store_flag: str | None,
    config_file: str | None,
    users_file: str | None,
) -> None:
    """Grant a permission (replacing an earlier grant to the same user or group on the same
    experiments)."""
    who = _who(user, group)
    resource, target = _target(experiment, registered_model)
    log = _Log(store_flag, config_file, users_file)
    change = log.state().grant(who, target, permission, resource)
    kind = resource.replace("_", " ")
    log.publish(change, f"Granted {change['permission']} on {kind}s {target!r} to {who}")


@grants_group.command("remove")
@_grantee_options
@click.option("--experiment", help="As it was granted.")
@click.option("--registered-model", help="As it was granted.")
@_access_options
def grants_remove(
    user: str | None,
    group: str | None,
    experiment: str | None,
    registered_model: str | None,
    store_flag: str | None,
    config_file: str | None,
    users_file: str | None,
) -> None:
    """Remove a grant."""
    who = _who(user, group)
    resource, target = _target(experiment, registered_model)
    log = _Log(store_flag, config_file, users_file)
    change = log.state().revoke(who, target, resource)
    log.publish(change, f"Removed {who}'s grant on {resource.replace('_', ' ')}s {target!r}")


@grants_group.command("default")
@click.argument(
    "permission",
    type=click.Choice(["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False),
)
@_access_options
def grants_default(
    permission: str, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """Set the permission of everyone without a grant (overrides --default-permission)."""
    log = _Log(store_flag, config_file, users_file)
    log.publish(log.state().set_default(permission), f"Default permission: {permission.upper()}")


@grants_group.command("list")
@_format_option
@_access_options
def grants_list(
    output_format: str, store_flag: str | None, config_file: str | None, users_file: str | None
) -> None:
    """List the grants, and the default permission if one was set."""
    import pandas as pd

    state = _Log(store_flag, config_file, users_file).state()
    rows = [
        {"who": g.who, "experiment": g.selector, "registered_model": "",
         "permission": g.permission.name}
        for g in sorted(state.grants.values(), key=lambda g: (g.selector, g.who))
    ] + [
        {"who": g.who, "experiment": "", "registered_model": g.selector,
         "permission": g.permission.name}
        for g in sorted(state.model_grants.values(), key=lambda g: (g.selector, g.who))
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["who", "experiment", "registered_model", "permission"])
    _emit(frame, output_format, "No grants.")
    if output_format == "table":
        click.echo(f"Everyone else: {state.default.name} (unless the server says otherwise)")


# audit --------------------------------------------------------------------------------------
SINCE = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str | None, now: float | None = None) -> int | None:
    """Return the epoch ms of `--since`: a duration back from now (30m, 7d) or a date or
    time (2026-12-01, 2026-12-01T10:00, UTC unless it says)."""
    import datetime as dt

    if not text:
        return None
    now = time.time() if now is None else now
    match = SINCE.match(text.strip())
    if match:
        return int((now - int(match.group(1)) * UNITS[match.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give a duration back from now (30m, 12h, 7d, 2w) or a date or time "
            "(2026-12-01, 2026-12-01T10:00)",
            param_hint="--since",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


@click.command("audit")
@store_option
@config_option
@click.option("--experiment", help="Only writes to this experiment (name or id).")
@click.option("--user", help="Only writes by this user.")
@click.option("--since", help="Only writes since then: 30m, 12h, 7d, or 2026-12-01.")
@_format_option
def audit_command(
    store_flag: str | None,
    config_file: str | None,
    experiment: str | None,
    user: str | None,
    since: str | None,
    output_format: str,
) -> None:
    """List the audit trail: every write through the server (and every change of users and
    grants), who made it, when and from where. Nothing can change it through the API.

    Example:

        tracker-report audit --store ./tracker-store --user alice --since 7d
    """
    import datetime as dt
    import json

    import pandas as pd

    from reporter.store.registry import open_store

    since_ms = parse_since(since)
    config = settings({"store": store_flag}, config_file)
    store = open_store(config.store)
    store.require_existing()
    exp_id = None
    if experiment:
        from reporter.view.loader import select_experiments

        exp_id = select_experiments(store, (experiment,))[0].experiment_id
    rows = []
    for record in store.read_audit(since_ms):
        if user is not None and record.get("user") != user:
            continue
        if exp_id is not None and record.get("experiment_id") != exp_id:
            continue
        when = dt.datetime.fromtimestamp(int(record["time"]) / 1000, dt.timezone.utc)
        rows.append(
            {
                "time": when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                "user": record.get("user"),
                "address": record.get("address"),
                "action": record.get("action"),
                "experiment_id": record.get("experiment_id"),
                "what": json.dumps(record.get("what", {}), sort_keys=True),
            }
        )
    columns = ["time", "user", "address", "action", "experiment_id", "what"]
    _emit(pd.DataFrame(rows, columns=columns), output_format, "No audit records match.")
