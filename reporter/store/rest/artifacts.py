"""Where a run's (or a logged model's) files live on a tracking server, as URLs.

A server started with `--serve-artifacts` names artifact roots `mlflow-artifacts:/<path>`
(or `mlflow-artifacts://host:port/<path>`); their files are at
`<server>/api/2.0/mlflow-artifacts/artifacts/<path>/<file>` (PUT uploads, GET downloads) and
`GET <server>/api/2.0/mlflow-artifacts/artifacts?path=<path>/<folder>` lists a folder. A root
given as such a URL is taken as it is. Any other root (a local path, s3://, ...) belongs to a
server without proxied artifacts: this client cannot reach it, and says so.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from reporter.core.errors import UnsupportedURIError
from reporter.store.rest.http import ARTIFACTS_API, quote_path

PROXY_SCHEME = "mlflow-artifacts:"


@dataclass(frozen=True)
class Root:
    """An artifact root on a server's proxied artifact API."""

    server: str  # the server's base URL
    path: str  # the root's path under the artifact API ("1/<run_id>/artifacts")

    def join(self, rel: str) -> str:
        """Return the API path of a file or folder below the root."""
        return posixpath.join(self.path, rel) if rel else self.path

    def file_url(self, rel: str) -> str:
        """Return the URL that uploads (PUT) and downloads (GET) a file below the root."""
        return f"{self.server}{ARTIFACTS_API}/{quote_path(self.join(rel))}"

    @property
    def list_url(self) -> str:
        """Return the URL that lists a folder (GET with `path`)."""
        return f"{self.server}{ARTIFACTS_API}"


def resolve_root(artifact_uri: str, server: str, owner: str) -> Root:
    """Return the proxied location of an artifact root as the server names it."""
    if artifact_uri.startswith(PROXY_SCHEME):
        rest = artifact_uri[len(PROXY_SCHEME) :]
        base = server
        if rest.startswith("//"):  # mlflow-artifacts://host:port/path names another server
            netloc, _, rest = rest[2:].partition("/")
            if netloc:
                base = f"{urlsplit(server).scheme}://{netloc}"
        return Root(base, rest.strip("/"))
    parts = urlsplit(artifact_uri)
    marker = ARTIFACTS_API + "/"
    if parts.scheme in ("http", "https") and marker in parts.path:
        prefix, _, path = parts.path.partition(marker)
        return Root(f"{parts.scheme}://{parts.netloc}{prefix}", unquote(path).strip("/"))
    raise UnsupportedURIError(
        f"The artifacts of {owner} live at {artifact_uri!r}, which the tracking server "
        f"{server} does not serve: it was started without --serve-artifacts, so its clients "
        "must reach that location themselves. Start the server with --serve-artifacts "
        "(and --artifacts-destination) to log and read artifacts through it."
    )
