"""A run's page: its metrics, params, tags, charts and the artifact tree with previews."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from reporter.core import system_tags
from reporter.site.contract import (
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
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData

PREVIEW_BYTES = 256 * 1024


IMAGE_TYPES = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"}


TEXT_TYPES = {"txt", "log", "py", "cfg", "ini", "toml", "sh", "r", "sql", "xml", "out", "err"}


# Files a browser would run scripts in are previewed from their bytes: HTML in a sandboxed
# iframe, SVG as an <img>.
ACTIVE_TYPES = {"html", "htm", "shtml", "xhtml", "xht", "svg", "xml"}


# --- run pages -----------------------------------------------------------------------------
def metric_stats(run_id: str, metrics: MetricIndex) -> list[MetricStat]:
    """Return last, min, max and step count of each metric of a run."""
    import numpy as np

    out = []
    for key in metrics.keys_of(run_id):
        a, b = metrics.slices[(run_id, key)]
        values = metrics.value[a:b]
        finite = values[~np.isnan(values)]
        out.append(
            MetricStat(
                key=key,
                last=text.fmt_number(values[-1]),
                min=text.fmt_number(finite.min()) if len(finite) else "NaN",
                max=text.fmt_number(finite.max()) if len(finite) else "NaN",
                steps=int(b - a),
            )
        )
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
            _preview(node, read(run_id, path) if _wants_bytes(path) else None)
        if node.preview == "none" and node.link and extension(path) in IMAGE_TYPES:
            node.preview = "image"
    for folder in folders.values():
        meta = next((c for c in folder.children if c.name == "MLmodel" and not c.is_dir), None)
        if meta is not None and isinstance(meta.content, dict):
            folder.preview, folder.content = "model", meta.content
    return root.children, warnings


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


def _preview(node: ArtifactNode, data: bytes | None) -> None:
    """Fill a node's preview from its content."""
    if data is None:
        return
    content = data.decode("utf-8", errors="replace")
    ext = extension(node.path)
    if node.name == "MLmodel":
        import yaml

        try:
            meta = yaml.safe_load(content)
        except yaml.YAMLError:
            meta = None
        node.preview, node.content = "text", content.splitlines()[:40]
        if isinstance(meta, dict):
            node.content = {
                "class": str(meta.get("estimator_class", "")),
                "params": {str(k): str(v) for k, v in (meta.get("params") or {}).items()},
                "versions": {
                    str(k): str(v) for k, v in (meta.get("library_versions") or {}).items()
                },
            }
        return
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


def run_page(
    row: dict[str, Any],
    data: ExperimentData,
    exp_crumb: Crumb,
    metrics: MetricIndex,
    children: list[Crumb],
    parent: Crumb | None,
    artifacts: list[ArtifactNode],
    config: BuildConfig,
) -> Made:
    """Make a run's page and the full-series downloads of its charts."""
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
    for i, key in enumerate(metrics.keys_of(run_id)):
        block, csvs = make_chart(
            f"chart-{i}", key, [(run_id, str(row["run_name"]), start)], metrics, config.max_points
        )
        made.files += csvs
        if block is not None:
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
        metrics=metric_stats(run_id, metrics),
        charts=blocks,
        tags=sorted((k, v) for k, v in tags.items() if not system_tags.is_system_tag(k)),
        system_tags=sorted((k, v) for k, v in tags.items() if system_tags.is_system_tag(k)),
        notes=text.markdown(tags.get(system_tags.TAG_NOTE), demote=2),
        artifacts=artifacts,
        artifact_mode=config.artifacts,
        datasets=make_dataset_views(data.datasets.get(run_id), exp_crumb.path or ""),
        models=[m for m in data.models if m.source_run_id == run_id],
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
