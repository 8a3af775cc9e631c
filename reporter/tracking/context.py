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
import re
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


def _git(commands: list[list[str]], cwd: str) -> list[str | None]:
    """Run git commands side by side (each costs a process start); for each, its output, or
    None on any failure (not started, an error, over 5 s)."""
    procs: list[subprocess.Popen[str] | None] = []
    try:
        for args in commands:
            try:
                procs.append(
                    subprocess.Popen(
                        ["git", *args],
                        cwd=cwd,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            except OSError:
                procs.append(None)
        return [_git_output(proc) for proc in procs]
    finally:
        for proc in procs:
            if proc is not None and proc.poll() is None:  # timed out, or another failed
                proc.kill()
                proc.communicate()


def _git_output(proc: subprocess.Popen[str] | None) -> str | None:
    """Wait for one git command: its output, or None if it failed."""
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return out.strip() if proc.returncode == 0 else None


@functools.lru_cache(maxsize=8)
def git_info(folder: str) -> Mapping[str, str]:
    """Return commit, branch, dirty flag and remote URL of the repo holding `folder`."""
    [commit] = _git([["rev-parse", "HEAD"]], folder)  # alone: no repo is one process, not four
    if not commit:
        return {}
    info = {tag_names.TAG_GIT_COMMIT: commit}
    branch, status, remote = _git(
        [
            ["rev-parse", "--abbrev-ref", "HEAD"],
            ["status", "--porcelain", "--untracked-files=no"],
            ["config", "--get", "remote.origin.url"],
        ],
        folder,
    )
    if branch and branch != "HEAD":  # a detached HEAD has no branch: MLflow records none
        info[tag_names.TAG_GIT_BRANCH] = branch
    if status is not None:
        info[tag_names.TAG_GIT_DIRTY] = "true" if status else "false"
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
    lines = _installed_quickly()
    if lines is None:  # an unusual environment: importlib.metadata's own reading
        lines = _installed()
    header = f"# python {platform.python_version()} on {platform.platform()}\n"
    return header + "\n".join(sorted(lines, key=str.lower)) + "\n"


def _installed() -> set[str]:
    """Return `name==version` of every distribution importlib.metadata finds."""
    from importlib import metadata

    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            lines.add(f"{name}=={dist.version}")
    return lines


# A header line as the email parser reads one (`[\041-\071\073-\176]*:`); anything else in
# the header block (a continuation line, "From ", no colon) leaves the reading to importlib
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]*")
_METADATA_FILES = ("METADATA", "PKG-INFO", "")  # "": an egg-info that is itself the file
_HEADER_LINES = 64  # lines of a metadata file looked at for its name and version


def _installed_quickly() -> set[str] | None:
    """Return what `_installed` returns, found as importlib.metadata finds it (the
    `*.dist-info` and `*.egg-info` entries of each sys.path folder) but without importing it
    and its email parser (a tenth of a second); None when it might read something otherwise
    (another distribution finder, a zip file on sys.path, a header it would parse its way)."""
    import importlib.machinery

    finders = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    if finders != [importlib.machinery.PathFinder]:
        return None
    lines = set()
    entries: list[object] = list(sys.path)  # strings by type; a Path or bytes may be put there
    for root in entries:
        if not isinstance(root, str):
            return None
        try:
            children = os.listdir(root or ".")
        except OSError:
            if os.path.exists(root or "."):  # a zip file, or a folder it may read otherwise
                return None
            continue
        base_is_egg = os.path.basename(root).lower().endswith(".egg")
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")) or (base_is_egg and low == "egg-info"):
                line = _requirement(os.path.join(root, child))
                if line is None:
                    return None
                if line:  # "": no name, left out as importlib's reading leaves it out
                    lines.add(line)
    return lines


def _requirement(folder: str) -> str | None:
    """Return `name==version` of one distribution's metadata ("" if its name is empty); None
    if it is not plain."""
    for name in _METADATA_FILES:
        try:
            with open(os.path.join(folder, name) if name else folder, encoding="utf-8") as f:
                text = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            continue
        except (OSError, ValueError):  # unreadable, not UTF-8: importlib's own error
            return None
        if text:
            break
    else:
        return None
    headers: dict[str, str] = {}
    last = None
    lines = text.split("\n", _HEADER_LINES)  # read in text mode: every line ends in "\n"
    for line in lines[:_HEADER_LINES]:  # name and version come first: the rest, unsplit, waits
        if not line:  # the blank line after the headers
            break
        if line[0] in " \t":  # a folded header goes on: only the name's and version's count
            if last in (None, "name", "version"):
                return None
            continue
        if "name" in headers and "version" in headers:  # what follows changes neither
            break
        key, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(key):
            return None
        last = key.lower()
        headers.setdefault(last, value.lstrip(" \t"))
    else:
        if len(lines) > _HEADER_LINES:  # more header lines than read: not plain
            return None
    if "name" not in headers or "version" not in headers:
        return None
    return f"{headers['name']}=={headers['version']}" if headers["name"] else ""


def environment_logging_enabled() -> bool:
    """Return False when TRACKER_LOG_ENVIRONMENT is 0/false/no/off."""
    return env.log_environment()
