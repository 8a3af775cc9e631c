"""`tracker-report serve`: build, serve the site on 127.0.0.1, rebuild when anything changes
(`reporter.site.watch`). Pages are served by the standard library's HTTP server from the
output folder.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
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
from reporter.site.watch import watch

STOP_WAIT = 60.0  # seconds Ctrl-C waits for a rebuild in progress


class QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without a log line per request (errors still go to stderr)."""

    def log_message(self, format: str, *args: Any) -> None:
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):
            super().log_message(format, *args)


@click.command("serve")
@store_option
@click.option("--out", help="Output folder [default: ./site].")
@config_option
@profile_option
@port_option(8000, "on 127.0.0.1 ")
@interval_option(1.0, "")
def serve_command(
    store_flag: str | None,
    out: str | None,
    config_file: str | None,
    profile: str | None,
    port: int,
    interval: float,
) -> None:
    """Build the site, serve it on http://127.0.0.1:PORT/ and rebuild on changes.

    Only this machine can reach it. Ctrl-C stops it. Example:

        tracker-report serve --store ./tracker-store --port 8000
    """
    from reporter.site.build import build

    config = settings({"store": store_flag, "out": out, "profile": profile}, config_file)
    result = build(config)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(result.summary(), err=True)
    handler = functools.partial(QuietHandler, directory=str(result.out))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise click.UsageError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
            "choose another --port, or 0 for a free one"
        ) from None
    # SIGTERM (a service manager, `kill`) stops the server as cleanly as Ctrl-C does
    stop_on_sigterm()
    stop = threading.Event()
    say = functools.partial(click.echo, err=True)
    watcher = threading.Thread(target=watch, args=(config, stop, interval, say), daemon=True)
    watcher.start()
    bound = server.server_address[1]
    click.echo(f"Serving http://127.0.0.1:{bound}/ (Ctrl-C to stop)", err=False)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        # wait for a rebuild in progress: a thread still inside pyarrow when the interpreter
        # finalizes can abort the process
        watcher.join(timeout=STOP_WAIT)
        if watcher.is_alive():
            click.echo(f"The rebuild in progress did not end within {STOP_WAIT:.0f} s.", err=True)
    click.echo("Stopped.")
