"""Facts about where a run executes: system tags, run-name placeholders, the environment.

Each is gathered once per process and cached; a failure (no git, no network drive, odd user)
only leaves a tag out and logs at debug level, it never breaks a run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import logging
import os
import platform
import socket
import string
import subprocess
import sys
from collections.abc import Mapping

from reporter.core import env
from reporter.core import system_tags as tag_names
from reporter.core.errors import InvalidArgumentError

log = logging.getLogger(__name__)
PLACEHOLDERS = ("git_short", "git_commit", "git_branch", "date", "time", "user", "experiment")


@functools.lru_cache(maxsize=1)
def current_user() -> str:
    """Return the login name, or 'unknown'."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def source_name() -> str:
    """Return the script as MLflow records it in `mlflow.source.name`: `sys.argv[0]` as given
    (`train.py`, `-c`), or `<console>` when there is none."""
    return sys.argv[0] if sys.argv and sys.argv[0] else "<console>"


def _git(args: list[str], cwd: str) -> str | None:
    """Run a git command quickly; None on any failure."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@functools.lru_cache(maxsize=8)
def git_info(folder: str) -> Mapping[str, str]:
    """Return commit, branch, dirty flag and remote URL of the repo holding `folder`."""
    commit = _git(["rev-parse", "HEAD"], folder)
    if not commit:
        return {}
    info = {tag_names.TAG_GIT_COMMIT: commit}
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], folder)
    if branch and branch != "HEAD":  # a detached HEAD has no branch: MLflow records none
        info[tag_names.TAG_GIT_BRANCH] = branch
    status = _git(["status", "--porcelain", "--untracked-files=no"], folder)
    if status is not None:
        info[tag_names.TAG_GIT_DIRTY] = "true" if status else "false"
    remote = _git(["config", "--get", "remote.origin.url"], folder)
    if remote:
        info[tag_names.TAG_GIT_REMOTE] = strip_credentials(remote)
    return info


def strip_credentials(url: str) -> str:
    """Remove a user:password@ part from a URL (up to the last '@' of the host part, which a
    password may contain); scp-like `git@host:repo` has no credentials and stays."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host, slash, path = rest.partition("/")
    if "@" not in host:
        return url
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def source_folder() -> str:
    """Return the folder of the running script, where its git checkout is looked for (the
    working directory for `python -c`, a notebook or a console)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or source_name()
    return os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else os.getcwd()


def system_tags() -> dict[str, str]:
    """Return the system tags recorded at the start of every run."""
    tags = {
        tag_names.TAG_USER: current_user(),
        tag_names.TAG_SOURCE_NAME: source_name(),
        tag_names.TAG_SOURCE_TYPE: "LOCAL",
        tag_names.TAG_PYTHON: platform.python_version(),
    }
    with contextlib.suppress(OSError):
        tags[tag_names.TAG_HOST] = socket.gethostname()
    try:
        tags.update(git_info(source_folder()))
    except Exception as exc:  # a broken git never breaks a run
        log.debug("git lookup failed: %s", exc)
    return tags


def render_run_name(template: str, experiment: str, tags: Mapping[str, str]) -> str:
    """Fill {git_short}, {git_commit}, {git_branch}, {date}, {time}, {user}, {experiment}."""
    if "{" not in template:
        return template
    now = dt.datetime.now()
    commit = tags.get(tag_names.TAG_GIT_COMMIT, "nogit")
    values = {
        "git_commit": commit,
        "git_short": commit[:7],
        "git_branch": tags.get(tag_names.TAG_GIT_BRANCH, "HEAD" if commit != "nogit" else "nogit"),
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H%M%S"),
        "user": tags.get(tag_names.TAG_USER, current_user()),
        "experiment": experiment,
    }
    valid = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        # only the placeholders themselves: no attribute or index lookups ({user.__class__})
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        unknown = [f for f in fields if f not in values]
        if unknown:
            raise KeyError(unknown[0])
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise InvalidArgumentError(
            f"run_name {template!r} has an unknown or malformed placeholder ({exc}); "
            f"valid placeholders: {valid}"
        ) from None


@functools.lru_cache(maxsize=1)
def environment_requirements() -> str:
    """Return the installed distributions as requirements.txt lines (sorted)."""
    from importlib import metadata

    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            lines.add(f"{name}=={dist.version}")
    header = f"# python {platform.python_version()} on {platform.platform()}\n"
    return header + "\n".join(sorted(lines, key=str.lower)) + "\n"


def environment_logging_enabled() -> bool:
    """Return False when TRACKER_LOG_ENVIRONMENT is 0/false/no/off."""
    return env.log_environment()
