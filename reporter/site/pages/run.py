"""A run's page: its metrics, params, tags, charts and the artifact tree with previews."""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reporter.core import system_tags
from reporter.site.contract import (
    ArchiveNote,
    ArtifactNode,
    Crumb,
    Made,
    MetricIndex,
    MetricStat,
    OutFile,
    Page,
    PageInfo,
    RunPageContext,
)
from reporter.site.datasets import make_dataset_views
from reporter.site.paths import INERT_TYPES, extension, run_path, site_artifact_path
from reporter.site.series import int_or_none, make_chart
from reporter.view import numbers, text
from reporter.view.config import BuildConfig
from reporter.view.loader import Archived, ExperimentData

PREVIEW_BYTES = 256 * 1024


IMAGE_TYPES = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"}


TEXT_TYPES = {"txt", "log", "py", "cfg", "ini", "toml", "sh", "r", "sql", "xml", "out", "err"}


# Files a browser would run scripts in are previewed from their bytes: HTML in a sandboxed
# iframe, SVG as an <img>.
ACTIVE_TYPES = {"html", "htm", "shtml", "xhtml", "xht", "svg", "xml"}


# --- run pages -----------------------------------------------------------------------------
def metric_stats(run_id: str, metrics: MetricIndex, archived: bool = False) -> list[MetricStat]:
    """Return last, min, max and step count of each metric of a run; a metric's three values
    share one number of decimals (they are on one scale, unlike the metrics of a column). An
    archived run kept only its latest values: those, with their step, and nothing else."""
    import numpy as np

    out = []
    for key in metrics.keys_of(run_id):
        a, b = metrics.slices[(run_id, key)]
        values = metrics.value[a:b]
        if archived:
            step = f"{int(metrics.step[b - 1]):,}"
            out.append(MetricStat(key, numbers.human(values[-1]), "", "", 0, step=step))
            continue
        finite = values[~np.isnan(values)]
        stats = [values[-1], *((finite.min(), finite.max()) if len(finite) else (np.nan,) * 2)]
        decimals = numbers.column_decimals(stats)
        if len({float(v) for v in stats if v == v}) == 1:  # one value: as it reads alone
            last, low, high = (numbers.human(v) for v in stats)
        else:
            last, low, high = (numbers.fixed(v, decimals) for v in stats)
        out.append(MetricStat(key=key, last=last, min=low, max=high, steps=int(b - a)))
    return out


PreviewReader = Callable[[str, str], bytes | None]  # (run_id, artifact path) -> bytes


def artifact_tree(
    run_id: str,
    files: list[tuple[str, int]],
    config: BuildConfig,
    read: PreviewReader,
    artifact_url: Callable[[str, str], str | None],
    withheld: dict[str, str] | None = None,
) -> tuple[list[ArtifactNode], list[str]]:
    """Build the artifact tree of a run, with previews of small files; return it and what
    it warns about (artifacts listed but too large to copy)."""
    warnings: list[str] = []
    root = ArtifactNode("", "", True, "", None, "none")
    folders: dict[str, ArtifactNode] = {"": root}
    withheld = withheld or {}
    limit = config.max_artifact_mb * 1024 * 1024
    for path, size in sorted(files):
        parent = ""
        for part in path.split("/")[:-1]:
            here = f"{parent}/{part}" if parent else part
            if here not in folders:
                node = ArtifactNode(part, here, True, "", None, "none")
                folders[parent].children.append(node)
                folders[here] = node
            parent = here
        node = ArtifactNode(path.rsplit("/", 1)[-1], path, False, text.fmt_size(size), None, "none")
        folders[parent].children.append(node)
        reason = withheld.get(path)
        if reason:
            node.note = f"withheld: {reason}"
            continue
        node.link = artifact_url(run_id, path)
        if node.link and config.artifacts == "copy" and size > limit:
            warnings.append(
                f"Artifact {path} of run {run_id} is {text.fmt_size(size)}, over the "
                f"{config.max_artifact_mb:g} MB limit: listed, not copied"
            )
            node.link, node.note = None, "not copied: over the size limit"
        if extension(path) in ACTIVE_TYPES:
            _active_preview(node, read(run_id, path) if size <= PREVIEW_BYTES else None)
            continue
        if extension(path) not in INERT_TYPES and node.link and "://" not in node.link:
            node.note = "copied as text: a page of the site never runs an artifact's scripts"
        if size <= PREVIEW_BYTES:
            model = _preview(node, read(run_id, path) if _wants_bytes(path) else None)
            if model is not None:  # the folder of an MLmodel file shows what it says
                folders[parent].preview, folders[parent].content = "model", model
        if node.preview == "none" and node.link and extension(path) in IMAGE_TYPES:
            node.preview = "image"
    return root.children, warnings


# --- the MLmodel of a model folder ----------------------------------------------------------
MODEL_LABELS = {
    "flavors": "Flavors",
    "signature": "Signature",
    "saved_input_example_info": "Input example",
    "model_id": "Model id",
    "model_uuid": "Model UUID",
    "run_id": "Run id",
    "artifact_path": "Artifact path",
    "utc_time_created": "Created (UTC)",
    "mlflow_version": "MLflow version",
    "model_size_bytes": "Size",
    "metadata": "Metadata",
    "databricks_runtime": "Databricks runtime",
}
MODEL_FIRST = ("flavors", "signature", "saved_input_example_info")  # then the file's order


@dataclass
class ModelEntry:
    """One top-level key of an MLmodel file as the run page shows it: a value as text, a
    mapping as rows, or named groups of rows (each flavor's settings, the signature's
    inputs and outputs)."""

    key: str  # as in the file: flavors, signature, model_id, ...
    label: str  # as shown: Flavors, Signature, Model id, ...
    text: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


@dataclass
class ModelPreview:
    """What a model folder's MLmodel file says: its estimator and every top-level key."""

    estimator: str
    entries: list[ModelEntry]


def model_preview(meta: dict[Any, Any]) -> ModelPreview:
    """Return the preview of a parsed MLmodel mapping: every top-level key, readably."""
    flavors = meta.get("flavors")
    sklearn = flavors.get("sklearn") if isinstance(flavors, dict) else None
    estimator = (sklearn or {}).get("estimator_class") if isinstance(sklearn, dict) else None
    estimator = estimator or meta.get("estimator_class")  # an older tracker-report MLmodel
    keys = [k for k in MODEL_FIRST if k in meta] + [k for k in meta if k not in MODEL_FIRST]
    return ModelPreview(str(estimator or ""), [_model_entry(str(k), meta[k]) for k in keys])


def _model_entry(key: str, value: Any) -> ModelEntry:
    """Return one top-level key of an MLmodel as the page shows it."""
    entry = ModelEntry(key, MODEL_LABELS.get(key, key))
    if key == "flavors" and isinstance(value, dict):
        entry.groups = [(str(name), _flat(settings)) for name, settings in value.items()]
    elif key == "signature" and isinstance(value, dict):
        entry.groups = [(str(part).capitalize(), _schema(raw)) for part, raw in value.items()]
    elif key == "model_size_bytes" and isinstance(value, int):
        entry.text = text.fmt_size(value)
    elif isinstance(value, dict) and value:
        entry.rows = _flat(value)
    else:
        entry.text = _shown(value)
    return entry


def _schema(raw: Any) -> list[tuple[str, str]]:
    """Return a signature part (MLflow keeps it as JSON text) as (name, type) rows."""
    from reporter.view.models import signature_specs

    try:
        return signature_specs(raw) if isinstance(raw, str) else _flat(raw)
    except (ValueError, TypeError, AttributeError):
        return [("", _shown(raw))]


def _flat(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Return a mapping as (dotted key, text) rows; anything else as one row."""
    if not isinstance(value, dict):
        return [(prefix, _shown(value))]
    rows = []
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        rows += _flat(item, name) if isinstance(item, dict) and item else [(name, _shown(item))]
    return rows


def _shown(value: Any) -> str:
    """Return a value of an MLmodel as text: lists comma-separated, empty as a dash."""
    if value is None or value == {} or value == []:
        return "–"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _active_preview(node: ArtifactNode, data: bytes | None) -> None:
    """Preview HTML in a sandboxed iframe and SVG as an image, from their bytes."""
    import base64

    if node.link and "://" not in node.link:
        node.note = "copied as text: a page of the site never runs an artifact's scripts"
    if data is None:
        return
    if extension(node.path) == "svg":
        node.preview = "image"
        node.content = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
    elif extension(node.path) != "xml":
        node.preview, node.content = "html", data.decode("utf-8", errors="replace")


def _wants_bytes(path: str) -> bool:
    """Return True for files whose preview needs their content."""
    ext = extension(path)
    name = path.rsplit("/", 1)[-1]
    return ext in TEXT_TYPES | {"json", "yaml", "yml", "md", "csv"} or name == "MLmodel"


def _preview(node: ArtifactNode, data: bytes | None) -> ModelPreview | None:
    """Fill a node's preview from its content; return what an MLmodel file says (else None)."""
    if data is None:
        return None
    content = data.decode("utf-8", errors="replace")
    ext = extension(node.path)
    if node.name == "MLmodel":
        import yaml

        node.preview, node.content = "text", content.splitlines()[:60]
        try:
            meta = yaml.safe_load(content)
        except yaml.YAMLError:
            return None
        return model_preview(meta) if isinstance(meta, dict) else None
    if ext == "md":
        node.preview, node.content = "markdown", text.markdown(content, demote=3)
    elif ext == "csv":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(content)))[:21]
        node.preview, node.content = "table", rows
    elif ext == "json":
        with contextlib.suppress(ValueError):
            content = json.dumps(json.loads(content), indent=2, ensure_ascii=False)
        node.preview, node.content = "text", content.splitlines()[:60]
    else:
        node.preview, node.content = "text", content.splitlines()[:60]
    return None


def archive_note(run_id: str, archived: Archived, config: BuildConfig) -> ArchiveNote:
    """Return what an archived run's page says: when, where to, and how to bring it back (a
    local archive folder, whose path a profile that hides paths leaves out, is named only)."""
    location = archived.location
    hidden = bool(location) and config.hide_paths and "://" not in location
    where = location if location and not hidden else "ARCHIVE"
    return ArchiveNote(
        time=text.fmt_time(archived.time) if archived.time is not None else "",
        location=location,
        restore=f"tracker-report restore {run_id} --from {shlex.quote(where)}",
        hidden=hidden,
    )


def run_page(
    row: dict[str, Any],
    data: ExperimentData,
    exp_crumb: Crumb,
    metrics: MetricIndex,
    children: list[Crumb],
    parent: Crumb | None,
    artifacts: list[ArtifactNode],
    config: BuildConfig,
    archived: Archived | None = None,
) -> Made:
    """Make a run's page and the full-series downloads of its charts (an archived run has
    neither: its metric histories are in the archive, and one point is no history)."""
    run_id = row["run_id"]
    tags = {
        k[len("tags.") :]: str(v)
        for k, v in row.items()
        if k.startswith("tags.") and isinstance(v, str)
    }
    params = sorted(
        (k[len("params.") :], str(v))
        for k, v in row.items()
        if k.startswith("params.") and isinstance(v, str)
    )
    start = int_or_none(row["start_time"])
    made = Made()
    blocks = []
    for i, key in enumerate(metrics.keys_of(run_id) if archived is None else ()):
        block, csvs = make_chart(
            f"chart-{i}",
            key,
            [(run_id, str(row["run_name"]), start)],
            metrics,
            config.max_points,
            config.lower_is_better(key),
            config.full_series != "never",
        )
        made.files += csvs
        if block is not None and block.kind == "line":  # single values: the metrics table
            block.series_of = run_id  # drawn from the run's series.js, which holds it
            blocks.append(block)
    commit = tags.get(system_tags.TAG_GIT_COMMIT, "")
    context = RunPageContext(
        run_id=run_id,
        name=str(row["run_name"] or run_id),
        status=row["status"],
        experiment=exp_crumb,
        start=text.fmt_time(row["start_time"]),
        end=text.fmt_time(row["end_time"]),
        duration=text.fmt_duration(row["start_time"], row["end_time"]),
        user=str(row["user_id"] or ""),
        source=tags.get(system_tags.TAG_SOURCE_NAME, ""),
        commit=commit,
        commit_link=text.commit_url(tags.get(system_tags.TAG_GIT_REMOTE), commit),
        parent=parent,
        children=children,
        params=params,
        metrics=metric_stats(run_id, metrics, archived is not None),
        charts=blocks,
        tags=sorted((k, v) for k, v in tags.items() if not system_tags.is_system_tag(k)),
        system_tags=sorted((k, v) for k, v in tags.items() if system_tags.is_system_tag(k)),
        notes=text.markdown(tags.get(system_tags.TAG_NOTE), demote=2),
        artifacts=artifacts,
        artifact_mode=config.artifacts,
        datasets=make_dataset_views(data.datasets.get(run_id), exp_crumb.path or ""),
        models=[m for m in data.models if m.source_run_id == run_id],
        archived=archive_note(run_id, archived, config) if archived is not None else None,
    )
    info = PageInfo(
        run_path(run_id),
        context.name,
        [Crumb("Experiments", "index.html"), exp_crumb, Crumb(context.name, None)],
        "run",
    )
    made.pages.append(Page("run.html", info, context))
    return made


def artifact_copies(
    run_id: str, listing: list[tuple[str, int]], withheld: dict[str, str], config: BuildConfig
) -> list[OutFile]:
    """The files that copy a run's artifacts into the site (none unless artifacts = "copy"):
    each under the size limit and not withheld."""
    if config.artifacts != "copy":
        return []
    limit = config.max_artifact_mb * 1024 * 1024
    return [
        OutFile(f"runs/{run_id}/artifacts/{site_artifact_path(p)}", artifact=(run_id, p), size=size)
        for p, size in listing
        if size <= limit and p not in withheld
    ]
