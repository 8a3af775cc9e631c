"""Options the commands share, each declared once, and the one rule that resolves them.

Every setting is taken from the flag, else the settings file (`--config FILE`, else
tracker-report.toml, else [tool.tracker-report] in pyproject.toml), else the environment
($TRACKER_TRACKING_URI for the store), else its default (`reporter.view.config.load_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = (
    "Store folder or URL [default: the settings file's store, else $TRACKER_TRACKING_URI, "
    "else ./tracker-store]. Example: --store ./tracker-store"
)


def store_option(function: F) -> F:
    """--store (passed as `store_flag`; None when not given, see `settings`)."""
    return click.option("--store", "store_flag", help=STORE_HELP)(function)


def config_option(function: F) -> F:
    """--config FILE (passed as `config_file`)."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="Settings file [default: tracker-report.toml, else [tool.tracker-report] in "
        "pyproject.toml]. Example: --config ci/report.toml",
    )(function)


def experiments_option(what: str) -> Callable[[F], F]:
    """--experiment NAME_OR_ID, repeatable (passed as `experiments`)."""
    return click.option(
        "--experiment",
        "experiments",
        multiple=True,
        help=f"{what} (name or id); repeatable. Example: --experiment churn",
    )


def profile_option(function: F) -> F:
    """--profile NAME (passed as `profile`)."""
    return click.option(
        "--profile",
        help="Publication profile: what to leave out [built in: public, internal; more as "
        "[profile.NAME] in the settings file]. Example: --profile public",
    )(function)


def port_option(default: int, where: str) -> Callable[[F], F]:
    """--port N (0 picks a free one)."""
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=default,
        show_default=True,
        help=f"Port {where}(0 picks a free one).",
    )


def interval_option(default: float, what: str) -> Callable[[F], F]:
    """--interval SECONDS between checks for changes."""
    return click.option(
        "--interval",
        type=click.FloatRange(min=0.1),
        default=default,
        show_default=True,
        help=f"Seconds between checks for changes{what}.",
    )


def stop_on_sigterm() -> None:
    """Make SIGTERM (a service manager, `kill`) stop a serving command as Ctrl-C does."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def settings(flags: dict[str, Any], config_file: str | None = None) -> Any:
    """Resolve every setting by the one rule (flag, settings file, environment, default)."""
    from reporter.view.config import load_config

    return load_config(flags, config_file)


def store_uri(store_flag: str | None, config_file: str | None = None) -> str:
    """Return the store a command works on, by the one rule."""
    return str(settings({"store": store_flag}, config_file).store)
