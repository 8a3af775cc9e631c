"""`tracker-report server`: a team tracking server that MLflow clients log to unchanged.

It serves MLflow's REST API and proxied artifact API over the store, and the report site at
`/`, rebuilt as runs arrive. Several worker processes (`--workers`) or machines may serve one
store: the server keeps no state of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import threading
from typing import Any

import click

from reporter.commands.options import (
    config_option,
    interval_option,
    port_option,
    profile_option,
    settings,
    stop_on_sigterm,
    store_option,
)

STOP_WAIT = 60.0


def _free_port(host: str, port: int) -> int:
    """Return the port to listen on (a free one for 0); UsageError if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port, "
                "or 0 for a free one"
            ) from None
        return int(probe.getsockname()[1])


@click.command("server")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@port_option(5000, "")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Server processes sharing the port.",
)
@click.option("--out", help="Where the site is built and served from [default: ./site].")
@click.option("--no-site", is_flag=True, help="Serve only the APIs, no site at /.")
@config_option
@profile_option
@interval_option(2.0, " to rebuild the site")
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0.001),
    default=16.0,
    show_default=True,
    help="Largest API request body (413 above).",
)
@click.option(
    "--max-artifact-mb",
    type=click.FloatRange(min=0.001),
    default=2048.0,
    show_default=True,
    help="Largest artifact upload (413 above).",
)
@click.option("--access-log", is_flag=True, help="Log a line per request.")
@click.option(
    "--auth",
    type=click.Choice(["none", "basic", "proxy"]),
    default="none",
    show_default=True,
    help="Who may call: anyone (none); users with passwords or tokens (basic, see "
    "`tracker-report users`); or the identity a trusted proxy sends (proxy).",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="CIDR",
    help="Address or network of a proxy whose identity header is believed (repeatable).",
)
@click.option(
    "--user-header",
    default="X-Forwarded-Email",
    show_default=True,
    help="With --auth proxy: the header naming the signed-in user.",
)
@click.option("--groups-header", help="With --auth proxy: a header listing the user's groups.")
@click.option(
    "--admin-group",
    "admin_groups",
    multiple=True,
    help="With --auth proxy: members of this group are admins (repeatable).",
)
@click.option(
    "--default-permission",
    type=click.Choice(["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False),
    default="READ",
    show_default=True,
    help="Permission on experiments without a grant for the caller (MLflow's default).",
)
@click.option(
    "--users-file",
    type=click.Path(dir_okay=False),
    help="Keep users and grants in this file instead of in the store.",
)
def server_command(
    store_flag: str | None,
    host: str,
    port: int,
    workers: int,
    out: str | None,
    no_site: bool,
    config_file: str | None,
    profile: str | None,
    interval: float,
    max_body_mb: float,
    max_artifact_mb: float,
    access_log: bool,
    auth: str,
    trusted_proxies: tuple[str, ...],
    user_header: str,
    groups_header: str | None,
    admin_groups: tuple[str, ...],
    default_permission: str,
    users_file: str | None,
) -> None:
    """Serve MLflow's tracking API, its artifact API and the report site.

    MLflow clients log to it unchanged (MLFLOW_TRACKING_URI=http://HOST:PORT), and so does
    `reporter` (set_tracking_uri("http://HOST:PORT")). Ctrl-C or SIGTERM stops it after the
    requests in flight are answered and written. Example:

        tracker-report server --store ./tracker-store --port 5000
    """
    import uvicorn

    from reporter.tracking_server.app import MB, OPTIONS_ENV, ServerOptions, asgi
    from reporter.tracking_server.protocol import TimedHeadProtocol

    config = settings({"store": store_flag, "out": out, "profile": profile}, config_file)
    from reporter.core.errors import ReporterError
    from reporter.store.registry import open_store
    from reporter.tracking_server.auth import AuthOptions

    auth_options = AuthOptions(
        mode=auth,
        trusted_proxies=list(trusted_proxies),
        user_header=user_header,
        groups_header=groups_header,
        admin_groups=list(admin_groups),
        default_permission=default_permission.upper(),
        users_file=users_file,
    )
    try:
        auth_options.check()  # a bad --trusted-proxy is a usage error, before anything starts
    except ReporterError as exc:
        raise click.UsageError(str(exc)) from None
    open_store(config.store).create_if_missing()  # a new team server starts on a new store
    bound = _free_port(host, port)
    site_dir = None
    if not no_site:
        from reporter.site.build import build

        result = build(config)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(result.summary(), err=True)
        site_dir = str(result.out)
    options = {
        "store": config.store,
        "max_body_bytes": int(max_body_mb * MB),
        "max_artifact_bytes": int(max_artifact_mb * MB),
        "site_dir": site_dir,
        "auth": dataclasses.asdict(auth_options),
        "site_flags": {"store": store_flag, "out": out, "profile": profile},
        "config_file": config_file,
        "rebuild_seconds": interval,
    }
    stop = threading.Event()
    watcher = None
    if site_dir is not None:
        from reporter.site.watch import watch

        say = functools.partial(click.echo, err=True)
        watcher = threading.Thread(target=watch, args=(config, stop, interval, say), daemon=True)
        watcher.start()
    click.echo(f"Serving http://{host}:{bound}/ (Ctrl-C to stop)")
    common: dict[str, Any] = {
        "host": host,
        "port": bound,
        "log_level": "info",
        "access_log": access_log,
        "timeout_graceful_shutdown": 30,
        "timeout_keep_alive": 5,
        "http": TimedHeadProtocol,  # closes connections whose request head is late
        # the peer is the connection's own address: X-Forwarded-For is no one's proof
        "proxy_headers": False,
    }
    # uvicorn drains requests on SIGTERM/SIGINT, then raises the signal again with the handler
    # found before it: this one, so the process ends through the `finally` below, exit 0
    stop_on_sigterm()
    try:
        if workers == 1:
            uvicorn.run(asgi(ServerOptions(**options)), **common)
        else:
            os.environ[OPTIONS_ENV] = json.dumps(options)
            uvicorn.run(
                "reporter.tracking_server.app:from_environment",
                factory=True,
                workers=workers,
                **common,
            )
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=STOP_WAIT)
    click.echo("Stopped.")
