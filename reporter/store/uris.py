"""Tracking URIs: a plain path, `file:PATH` or `scheme://location`."""

from __future__ import annotations


def split_uri(uri: str) -> tuple[str, str]:
    """Return (scheme, location) of a tracking URI; a plain path is scheme ``file``."""
    if "://" in uri:
        scheme, _, rest = uri.partition("://")
        return scheme.lower(), rest
    if uri.startswith("file:"):
        return "file", uri[len("file:") :]
    if len(uri) > 2 and uri[1] == ":" and uri[0].isalpha() and uri[2] in "\\/":
        return "file", uri  # a Windows drive letter, not a scheme
    if ":" in uri.split("/", 1)[0] and not uri.startswith(("/", ".")):
        return uri.split(":", 1)[0].lower(), uri.split(":", 1)[1]
    return "file", uri
