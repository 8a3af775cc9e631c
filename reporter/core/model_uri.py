"""Model URIs, parsed once: `runs:/<run_id>/<path>`, `models:/<model_id>[/<path>]` (a logged
model) and `models:/<name>/<version|latest|stage>` or `models:/<name>@<alias>` (a registered
version). What each names is looked up by its callers (the client, the loaders, the server);
this module only says which kind of URI it is and its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import is_model_id

MODELS_SCHEME = "models:/"
RUNS_SCHEME = "runs:/"
RUN, LOGGED, REGISTERED, OTHER = "run", "logged", "registered", "other"


@dataclass(frozen=True)
class ModelURI:
    """A model URI's kind and parts (unused parts are "")."""

    uri: str
    kind: str  # RUN, LOGGED, REGISTERED or OTHER (a path, or another scheme)
    run_id: str = ""
    model_id: str = ""
    path: str = ""  # inside the run's artifacts or the logged model's files
    name: str = ""  # the registered model
    alias: str = ""  # `models:/<name>@<alias>`
    suffix: str = ""  # `models:/<name>/<suffix>`: a version number, "latest" or a stage

    def run_path(self) -> tuple[str, str]:
        """Return (run id, path) of a `runs:/` URI that names a path; a clear error else."""
        if self.kind != RUN or not self.run_id or not self.path:
            raise InvalidArgumentError(
                f"Model URI {self.uri!r} must look like runs:/<run_id>/<artifact_path>"
            )
        return self.run_id, self.path

    def registered(self) -> ModelURI:
        """Return self if it names a registered version; a clear error else."""
        if self.kind != REGISTERED or not self.name or not (self.alias or self.suffix):
            raise InvalidArgumentError(
                f"Model URI {self.uri!r}: a registered model's version is "
                "models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest or "
                "models:/<name>/<stage>"
            )
        return self


def parse_model_uri(uri: str) -> ModelURI:
    """Return what kind of model URI `uri` is, and its parts."""
    if uri.startswith(RUNS_SCHEME):
        run_id, _, path = uri[len(RUNS_SCHEME) :].strip("/").partition("/")
        return ModelURI(uri, RUN, run_id=run_id, path=path)
    if not uri.startswith(MODELS_SCHEME):
        return ModelURI(uri, OTHER)
    rest = uri[len(MODELS_SCHEME) :].strip("/")
    head, _, tail = rest.partition("/")
    if is_model_id(head):
        return ModelURI(uri, LOGGED, model_id=head, path=tail)
    if "@" in rest and "/" not in rest:
        name, _, alias = rest.partition("@")
        return ModelURI(uri, REGISTERED, name=name, alias=alias)
    name, _, suffix = rest.rpartition("/")
    return ModelURI(uri, REGISTERED, name=name, suffix=suffix)
