"""Themes: a search path of template folders with a way back to the default theme.

A user theme folder may hold `templates/` (any single template overrides the default's; a
template can `{% extends "default/base.html" %}` to change only some blocks) and `static/`
(files added to or replacing the default's static files).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reporter.core.errors import InvalidArgumentError


def themes_root() -> Path:
    """Return the folder of the built-in themes (shipped inside the package)."""
    return Path(str(resources.files("reporter.themes")))


def builtin_themes() -> list[str]:
    """Return the names of the built-in themes."""
    root = themes_root()
    return sorted(p.name for p in root.iterdir() if (p / "templates").is_dir())


@dataclass(frozen=True)
class Theme:
    """Template and static folders, most specific first."""

    name: str
    template_dirs: tuple[Path, ...]
    static_dirs: tuple[Path, ...]  # applied in order: later ones win
    default_dir: Path


def resolve_theme(name_or_dir: str) -> Theme:
    """Return a built-in theme by name or a user theme folder layered over the default."""
    default = themes_root() / "default"
    if name_or_dir in builtin_themes():
        base = themes_root() / name_or_dir
        dirs: tuple[Path, ...] = (
            (base / "templates",)
            if base == default
            else (base / "templates", default / "templates")
        )
        statics: tuple[Path, ...] = (
            (default / "static",) if base == default else (default / "static", base / "static")
        )
        return Theme(name_or_dir, dirs, statics, default / "templates")
    folder = Path(name_or_dir)
    if not folder.is_dir():
        raise InvalidArgumentError(
            f"Unknown theme {name_or_dir!r}: not a built-in theme and not a folder. "
            f"Built-in themes: {', '.join(builtin_themes())}; or pass a folder holding "
            "templates/ and/or static/"
        )
    if not (folder / "templates").is_dir() and not (folder / "static").is_dir():
        raise InvalidArgumentError(
            f"Theme folder {folder} has neither templates/ nor static/; see examples/theme/"
        )
    dirs = tuple(p for p in (folder / "templates", default / "templates") if p.is_dir())
    statics = tuple(p for p in (default / "static", folder / "static") if p.is_dir())
    return Theme(str(folder), dirs, statics, default / "templates")
