"""The site model: pure functions from a store snapshot to pages, with typed contexts.

Nothing here reads the store or writes a file: `make_site` takes what the loader read and
returns every page (template + context) and every extra file (data, copies) to write.
The dataclasses below are the contract with the templates (tests render each template with
each context under StrictUndefined).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from reporter.entities import RunStatus
from reporter.site import charts, text
from reporter.site.config import BuildConfig, Comparison
from reporter.site.loader import ExperimentData, StoreSnapshot
from reporter.store import schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SYSTEM_PREFIX = schema.SYSTEM_TAG_PREFIX
PREVIEW_BYTES = 256 * 1024
IMAGE_TYPES = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"}
TEXT_TYPES = {"txt", "log", "py", "cfg", "ini", "toml", "sh", "r", "sql", "xml", "out", "err"}
# Files a browser would run scripts in are previewed from their bytes: HTML in a sandboxed
# iframe, SVG as an <img>.
ACTIVE_TYPES = {"html", "htm", "shtml", "xhtml", "xht", "svg", "xml"}
# The only types copied under their own name: a browser and any static host treat them as
# images, media, plain text, data or downloads, never as a document that runs script. Every
# other file (.rss, .xsl, .shtm, no extension, anything new) is copied as <name>.txt.
INERT_TYPES = frozenset(
    {"png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "avif", "tif", "tiff"}
    | {"mp3", "wav", "ogg", "oga", "mp4", "webm", "m4a", "flac"}
    | {"txt", "log", "out", "err", "csv", "tsv", "md", "json", "jsonl", "ndjson", "yaml", "yml"}
    | {"toml", "ini", "cfg", "py", "r", "sql", "sh", "ipynb", "pdf"}
    | {"parquet", "feather", "arrow", "npy", "npz", "pkl", "pickle", "joblib", "pt", "pth"}
    | {"ckpt", "onnx", "h5", "hdf5", "bin", "safetensors", "pb", "tflite", "cbm", "ubj"}
    | {"zip", "gz", "tgz", "tar", "bz2", "xz", "zst", "7z", "whl"}
)


def site_artifact_path(path: str) -> str:
    """Return where an artifact is copied in the site: inert types as they are, any other file
    as <name>.txt, so no artifact can run script in the site's origin whatever its type."""
    return path if _ext(path) in INERT_TYPES else f"{path}.txt"


# --- the contract with the templates -------------------------------------------------------
@dataclass(frozen=True)
class Crumb:
    """One breadcrumb: label and site-relative path (None for the current page)."""

    label: str
    path: str | None


@dataclass(frozen=True)
class SiteInfo:
    """What every page shows about the whole site."""

    title: str
    version: str
    build_time: str
    base_url: str | None


@dataclass
class PageInfo:
    """What every page has: its path, title and breadcrumbs."""

    path: str
    title: str
    crumbs: list[Crumb]
    kind: str


@dataclass
class ExperimentSummary:
    """A line of the index page."""

    name: str
    path: str
    description: Markup
    runs: int
    by_status: dict[str, int]
    last_activity: str
    primary_metric: str | None
    best_value: str
    best_run: Crumb | None


@dataclass(frozen=True)
class Column:
    """A column of the runs table."""

    key: str
    label: str
    group: str  # attributes, params, metrics
    numeric: bool


@dataclass
class Cell:
    """A cell: shown text, sort key, optional link."""

    text: str
    sort: str
    link: str | None = None


@dataclass
class RunRow:
    """A row of the runs table."""

    run_id: str
    name: str
    path: str
    status: str
    depth: int
    parent: str | None
    cells: list[Cell]


@dataclass
class ExperimentPageContext:
    """The experiment page."""

    experiment_id: str
    name: str
    description: Markup
    columns: list[Column]
    rows: list[RunRow]
    charts: list[ChartBlock]
    primary_metric: str | None
    chart_note: str
    compare_path: str
    comparisons: list[Crumb] = field(default_factory=list)  # curated comparison pages
    runs_js: str = ""
    table_js: str = ""  # every row (table.js); `rows` holds only the first ones
    total_rows: int = 0
    group_choices: list[tuple[str, str]] = field(default_factory=list)  # (params|tags, key)
    explore: Markup = field(default_factory=lambda: Markup("null"))  # fields for the views
    scatter_spec: Markup = field(default_factory=lambda: Markup("null"))
    parallel_spec: Markup = field(default_factory=lambda: Markup("null"))


@dataclass
class ComparePageContext:
    """The compare page of an experiment: everything else comes from its data scripts."""

    name: str
    experiment_path: str
    runs_js: str
    site_root: str  # the site root, relative to the compare page (for series.js and images)
    title: str = "Compare runs"
    description: Markup = field(default_factory=lambda: Markup(""))
    fixed_runs: list[str] = field(default_factory=list)  # a curated comparison's runs


@dataclass
class MetricStat:
    """A line of the run page's metrics table."""

    key: str
    last: str
    min: str
    max: str
    steps: int


@dataclass
class ArtifactNode:
    """A file or folder of a run's artifacts, with an optional inline preview."""

    name: str
    path: str
    is_dir: bool
    size: str
    link: str | None
    preview: str  # image, text, table, markdown, model, html, none
    content: Any = None  # lines, rows, Markup, model metadata, html text or an image data URL
    children: list[ArtifactNode] = field(default_factory=list)
    note: str = ""  # withheld, not copied, copied as text


@dataclass
class RunPageContext:
    """The run page."""

    run_id: str
    name: str
    status: str
    experiment: Crumb
    start: str
    end: str
    duration: str
    user: str
    source: str
    commit: str
    commit_link: str | None
    parent: Crumb | None
    children: list[Crumb]
    params: list[tuple[str, str]]
    metrics: list[MetricStat]
    charts: list[ChartBlock]
    tags: list[tuple[str, str]]
    system_tags: list[tuple[str, str]]
    notes: Markup
    artifacts: list[ArtifactNode]
    artifact_mode: str


@dataclass
class IndexPageContext:
    """The index page."""

    experiments: list[ExperimentSummary]
    total_runs: int
    reports: list[Any] = field(default_factory=list)  # reports.ReportSummary, listed first


@dataclass
class Page:
    """A page to render: template, output path, typed context."""

    template: str
    info: PageInfo
    context: Any


@dataclass
class OutFile:
    """A non-template file: bytes to write, or a run's artifact to copy from the store."""

    path: str
    data: bytes | None = None
    artifact: tuple[str, str] | None = None  # (run id, artifact path)
    make: Callable[[], bytes] | None = None  # made when written (large generated data)
    size: int | None = None  # an artifact's size, known before it is read


@dataclass
class Site:
    """All pages and files of a build, and what the model warned about."""

    info: SiteInfo
    pages: list[Page]
    files: list[OutFile]
    warnings: list[str]
    experiments: int
    runs: int


# --- paths --------------------------------------------------------------------------------
def run_path(run_id: str) -> str:
    """Return a run page's path (stable across builds)."""
    return f"runs/{run_id}/index.html"


def experiment_slugs(names: dict[str, str]) -> dict[str, str]:
    """Map experiment ids to unique slugs from their names."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for exp_id, name in sorted(names.items(), key=lambda kv: (kv[1], kv[0])):
        slug = text.slugify(name, "experiment")
        if slug in used:
            slug = f"{slug}-{exp_id[:6]}"
        used.add(slug)
        out[exp_id] = slug
    return out


def json_block(value: Any) -> Markup:
    """Serialise for an inline <script type="application/json"> (no '</' can break out)."""
    raw = text.show_controls(
        json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    )
    safe = raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(safe.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --- metric series ------------------------------------------------------------------------
@dataclass
class MetricIndex:
    """Fast access to an experiment's metric points by (run_id, key)."""

    slices: dict[tuple[str, str], tuple[int, int]]
    value: np.ndarray
    step: np.ndarray
    time: np.ndarray
    by_run: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for run_id, key in self.slices:
            self.by_run.setdefault(run_id, []).append(key)
        for keys in self.by_run.values():
            keys.sort()

    def keys_of(self, run_id: str) -> list[str]:
        """Return the metric keys of a run, sorted."""
        return self.by_run.get(run_id, [])


def index_metrics(data: ExperimentData) -> MetricIndex:
    """Index the experiment's sorted metric points by series."""
    points = data.metrics
    return MetricIndex(points.slices(), points.value, points.step, points.time)


@dataclass
class ChartBlock:
    """A chart on a page: its id, title, the series it draws and the full-series downloads.

    The chart's JSON is made when the template asks for `data`, so the whole site's chart
    data is never held in memory at once.
    """

    id: str
    title: str
    note: str  # "N of M points" when downsampled, else ""
    downloads: list[Crumb]
    series: list[tuple[str, str, int | None, int, int]]  # run name, run id, start, a, b
    metrics: MetricIndex
    max_points: int

    @property
    def data(self) -> Markup:
        """The chart's JSON block, safe inside <script type="application/json">."""
        from reporter.site.downsample import minmax_indices

        chart = charts.ChartData(key=self.title)
        m = self.metrics
        for name, run_id, start, a, b in self.series:
            keep = minmax_indices(m.value[a:b], self.max_points)
            chart.series.append(
                charts.make_series(
                    name, run_id, start, m.step[a:b], m.value[a:b], m.time[a:b], keep
                )
            )
            chart.shown += len(keep)
            chart.total += b - a
        return json_block(chart.to_json())


def make_chart(
    chart_id: str,
    key: str,
    runs: list[tuple[str, str, int | None]],
    metrics: MetricIndex,
    max_points: int,
    files: list[OutFile],
) -> ChartBlock | None:
    """Plan one chart of a metric over some runs: (run_id, run name, start ms) each."""
    from reporter.site.downsample import minmax_indices

    series = []
    shown = total = 0
    downloads = []
    for run_id, name, start in runs:
        where = metrics.slices.get((run_id, key))
        if where is None:
            continue
        a, b = where
        kept = b - a if b - a <= max_points else len(minmax_indices(metrics.value[a:b], max_points))
        series.append((name, run_id, start, a, b))
        shown += kept
        total += b - a
        if kept < b - a:
            path = csv_path(run_id, key)
            if not any(f.path == path for f in files):
                files.append(OutFile(path, series_csv(metrics, a, b)))
            downloads.append(Crumb(f"{name}: full series (CSV)", path))
    if not series:
        return None
    note = f"{shown:,} of {total:,} points" if shown < total else ""
    return ChartBlock(chart_id, key, note, downloads, series, metrics, max_points)


def csv_path(run_id: str, key: str) -> str:
    """Return the path of a metric's full-series CSV."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"runs/{run_id}/metrics/{text.slugify(key, 'metric')}-{digest}.csv"


def series_csv(metrics: MetricIndex, a: int, b: int) -> bytes:
    """Return a full series as CSV bytes (step, value, timestamp)."""
    lines = ["step,value,timestamp"]
    lines += [
        f"{int(s)},{float(v)!r},{int(t)}"
        for s, v, t in zip(metrics.step[a:b], metrics.value[a:b], metrics.time[a:b], strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


# --- index and experiment pages ------------------------------------------------------------
def primary_metric(data: ExperimentData, config: BuildConfig) -> str | None:
    """Return the experiment's primary metric: configured, else the first one logged."""
    configured = config.primary_metric.get(data.experiment.name)
    if configured:
        return configured
    points = data.metrics
    if not len(points):
        return None
    import numpy as np

    return points.keys[int(points.key[int(np.argmin(points.time))])]


def ranked_runs(frame: pd.DataFrame, metric: str | None, config: BuildConfig) -> list[str]:
    """Return run ids, best first by the primary metric (then newest)."""
    if frame.empty:
        return []
    col = f"metrics.{metric}" if metric else None
    if col and col in frame.columns:
        ordered = frame.sort_values(
            [col, "start_time"],
            ascending=[config.lower_is_better(metric or ""), False],
            na_position="last",
            kind="stable",
        )
    else:
        ordered = frame.sort_values("start_time", ascending=False, kind="stable")
    return list(ordered["run_id"])


def summarize(data: ExperimentData, slug: str, config: BuildConfig) -> ExperimentSummary:
    """Build the index line of an experiment."""
    frame = data.runs
    metric = primary_metric(data, config)
    by_status = {s: int((frame["status"] == s).sum()) for s in RunStatus.ALL} if len(frame) else {}
    last = ""
    if len(frame):
        stamps = frame[["start_time", "end_time"]].max(axis=1, skipna=True)
        last = text.fmt_time(stamps.max())
    best_value, best_run = "", None
    col = f"metrics.{metric}"
    if metric and col in frame.columns and frame[col].notna().any():
        ranked = ranked_runs(frame, metric, config)[0]
        row = frame[frame["run_id"] == ranked].iloc[0]
        best_value = text.fmt_number(row[col])
        best_run = Crumb(str(row["run_name"]), run_path(ranked))
    return ExperimentSummary(
        name=data.experiment.name,
        path=f"experiments/{slug}/index.html",
        description=text.markdown(data.experiment.description, demote=2),
        runs=len(frame),
        by_status={k: v for k, v in by_status.items() if v},
        last_activity=last,
        primary_metric=metric,
        best_value=best_value,
        best_run=best_run,
    )


def table_columns(frame: pd.DataFrame) -> list[Column]:
    """Return the runs table's columns: attributes, every param, every metric."""
    cols = [
        Column("name", "Run", "attributes", False),
        Column("status", "Status", "attributes", False),
        Column("start", "Start (UTC)", "attributes", False),
        Column("duration", "Duration", "attributes", True),
        Column("user", "User", "attributes", False),
        Column("commit", "Commit", "attributes", False),
    ]
    params = sorted(c for c in frame.columns if c.startswith("params."))
    metrics = sorted(c for c in frame.columns if c.startswith("metrics."))
    cols += [Column(c, c.split(".", 1)[1], "params", _all_numbers(frame[c])) for c in params]
    cols += [Column(c, c.split(".", 1)[1], "metrics", True) for c in metrics]
    return cols


def _all_numbers(column: pd.Series) -> bool:
    """Return True if every logged value of a param column reads as a number (sort as such)."""
    import pandas as pd

    values = column.dropna()
    return bool(len(values)) and bool(pd.to_numeric(values, errors="coerce").notna().all())


def _sortable_number(value: Any) -> str:
    """Return a sort key string for a number ('' for missing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if number != number else repr(number)


def _cell(frame_row: dict[str, Any], col: Column) -> Cell:
    """Build one cell of the runs table."""
    if col.key == "name":
        return Cell(
            str(frame_row["run_name"] or frame_row["run_id"]),
            str(frame_row["run_name"]),
            run_path(frame_row["run_id"]),
        )
    if col.key == "status":
        return Cell(frame_row["status"], frame_row["status"])
    if col.key == "start":
        return Cell(
            text.fmt_time(frame_row["start_time"]), _sortable_number(frame_row["start_time"])
        )
    if col.key == "duration":
        start, end = frame_row["start_time"], frame_row["end_time"]
        seconds = (end - start) / 1000 if end == end and start == start else None
        return Cell(text.fmt_duration(start, end), _sortable_number(seconds))
    if col.key == "user":
        return Cell(str(frame_row["user_id"] or ""), str(frame_row["user_id"] or ""))
    if col.key == "commit":
        commit = frame_row.get(f"tags.{schema.TAG_GIT_COMMIT}") or ""
        return Cell(str(commit)[:7], str(commit))
    value = frame_row.get(col.key)
    if col.group == "params":  # shown as logged; numbers sort as numbers
        shown = "" if value is None or value != value else str(value)
        return Cell(shown, _sortable_number(shown) if col.numeric else shown)
    if col.numeric:
        return Cell(text.fmt_number(value) if value == value else "", _sortable_number(value))
    shown = "" if value is None or value != value else str(value)
    return Cell(shown, shown)


def run_rows(frame: pd.DataFrame, columns: list[Column]) -> list[RunRow]:
    """Return table rows, newest first, each child run right below its parent."""
    records = frame.sort_values("start_time", ascending=False, kind="stable").to_dict("records")
    ids = {r["run_id"] for r in records}
    children: dict[str, list[dict[str, Any]]] = {}
    top = []
    for rec in records:
        parent = rec.get("parent_run_id")
        if isinstance(parent, str) and parent in ids:
            children.setdefault(parent, []).append(rec)
        else:
            top.append(rec)
    rows: list[RunRow] = []

    def add(rec: dict[str, Any], depth: int) -> None:
        parent = rec.get("parent_run_id")
        rows.append(
            RunRow(
                run_id=rec["run_id"],
                name=str(rec["run_name"] or rec["run_id"]),
                path=run_path(rec["run_id"]),
                status=rec["status"],
                depth=depth,
                parent=parent if isinstance(parent, str) else None,
                cells=[_cell(rec, c) for c in columns],
            )
        )
        for child in children.get(rec["run_id"], []):
            add(child, depth + 1)

    for rec in top:
        add(rec, 0)
    return rows


def experiment_page(
    data: ExperimentData, slug: str, config: BuildConfig, files: list[OutFile]
) -> Page:
    """Build an experiment's page: runs table and one overlay chart per metric."""
    frame = data.runs
    metric = primary_metric(data, config)
    columns = table_columns(frame)
    metrics = index_metrics(data)
    top = ranked_runs(frame, metric, config)[: config.top_runs]
    names = dict(zip(frame["run_id"], frame["run_name"], strict=True)) if len(frame) else {}
    starts = dict(zip(frame["run_id"], frame["start_time"], strict=True)) if len(frame) else {}
    chosen = [(r, str(names[r]), _int(starts[r])) for r in top]
    keys = sorted({k for _, k in metrics.slices})
    blocks = []
    for i, key in enumerate(keys):
        block = make_chart(f"chart-{i}", key, chosen, metrics, config.max_points, files)
        if block is not None:
            blocks.append(block)
    note = ""
    if len(frame) > len(top):
        note = f"Charts show the top {len(top)} of {len(frame)} runs by {metric or 'start time'}."
    from reporter.site import table

    rows = run_rows(frame, columns) if len(frame) else []
    files.append(OutFile(f"experiments/{slug}/table.js", table.table_js(columns, rows)))
    context = ExperimentPageContext(
        experiment_id=data.experiment.experiment_id,
        name=data.experiment.name,
        description=text.markdown(data.experiment.description, demote=1),
        columns=columns,
        rows=rows[: table.FIRST_ROWS],
        total_rows=len(rows),
        table_js=f"experiments/{slug}/table.js",
        charts=blocks,
        primary_metric=metric,
        chart_note=note,
        compare_path=f"experiments/{slug}/compare.html",
        runs_js=f"experiments/{slug}/runs.js",
    )
    explore_views(context, frame, metric)
    context.group_choices = [
        (c.split(".", 1)[0], c.split(".", 1)[1])
        for c in sorted(frame.columns)
        if c.startswith("params.")
        or (c.startswith("tags.") and not c.startswith(f"tags.{schema.SYSTEM_TAG_PREFIX}"))
    ]
    path = f"experiments/{slug}/index.html"
    info = PageInfo(
        path,
        data.experiment.name,
        [Crumb("Experiments", "index.html"), Crumb(data.experiment.name, None)],
        "experiment",
    )
    return Page("experiment.html", info, context)


def _numeric(column: pd.Series) -> bool:
    """Return True if some value of a column reads as a number (the numeric views skip the
    rest); a param column with none is text (categories on the scatter)."""
    import pandas as pd

    return bool(pd.to_numeric(column.dropna(), errors="coerce").notna().any())


def explore_views(context: ExperimentPageContext, frame: pd.DataFrame, metric: str | None) -> None:
    """Describe the scatter (any param or metric) and parallel coordinates (numeric params
    against the primary metric) of an experiment page."""
    if frame.empty:
        return
    choices = [
        {
            "id": f"f{i}",
            "kind": col.split(".", 1)[0],
            "key": col.split(".", 1)[1],
            "label": f"{col.split('.', 1)[1]} ({col.split('.', 1)[0]})",
            "numeric": _numeric(frame[col]),
        }
        for i, col in enumerate(
            sorted(c for c in frame.columns if c.startswith(("params.", "metrics.")))
        )
    ]
    numeric = [c for c in choices if c["numeric"]]
    if not numeric:
        return
    # text params are categories on the scatter; metrics are always numbers
    choices = [c for c in choices if c["numeric"] or c["kind"] == "params"]
    primary = next((c for c in numeric if c["kind"] == "metrics" and c["key"] == metric), None)
    axes = [c for c in numeric if c["kind"] == "params"][:12]
    if primary is not None:
        axes.append(primary)
    context.explore = json_block(
        {
            "choices": choices,
            "parallel": [c["id"] for c in axes],
            "color": primary["id"] if primary else None,
        }
    )
    context.scatter_spec = json_block(charts.scatter_spec())
    if len(axes) >= 2:
        spec = charts.parallel_spec(
            [(str(c["id"]), str(c["key"])) for c in axes], str(primary["id"]) if primary else None
        )
        context.parallel_spec = json_block(spec)


def _int(value: Any) -> int | None:
    """Return an int, or None for missing/NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else int(number)


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
    warnings: list[str],
    withheld: dict[str, str] | None = None,
) -> list[ArtifactNode]:
    """Build the artifact tree of a run, with previews of small files."""
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
        if _ext(path) in ACTIVE_TYPES:
            _active_preview(node, read(run_id, path) if size <= PREVIEW_BYTES else None)
            continue
        if _ext(path) not in INERT_TYPES and node.link and "://" not in node.link:
            node.note = "copied as text: a page of the site never runs an artifact's scripts"
        if size <= PREVIEW_BYTES:
            _preview(node, read(run_id, path) if _wants_bytes(path) else None)
        if node.preview == "none" and node.link and _ext(path) in IMAGE_TYPES:
            node.preview = "image"
    for folder in folders.values():
        meta = next((c for c in folder.children if c.name == "MLmodel" and not c.is_dir), None)
        if meta is not None and isinstance(meta.content, dict):
            folder.preview, folder.content = "model", meta.content
    return root.children


def _active_preview(node: ArtifactNode, data: bytes | None) -> None:
    """Preview HTML in a sandboxed iframe and SVG as an image, from their bytes."""
    import base64

    if node.link and "://" not in node.link:
        node.note = "copied as text: a page of the site never runs an artifact's scripts"
    if data is None:
        return
    if _ext(node.path) == "svg":
        node.preview = "image"
        node.content = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
    elif _ext(node.path) != "xml":
        node.preview, node.content = "html", data.decode("utf-8", errors="replace")


def _ext(path: str) -> str:
    """Return the lower-case extension of a path."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _wants_bytes(path: str) -> bool:
    """Return True for files whose preview needs their content."""
    ext = _ext(path)
    name = path.rsplit("/", 1)[-1]
    return ext in TEXT_TYPES | {"json", "yaml", "yml", "md", "csv"} or name == "MLmodel"


def _preview(node: ArtifactNode, data: bytes | None) -> None:
    """Fill a node's preview from its content."""
    if data is None:
        return
    content = data.decode("utf-8", errors="replace")
    ext = _ext(node.path)
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
    files: list[OutFile],
) -> Page:
    """Build a run's page."""
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
    start = _int(row["start_time"])
    blocks = []
    for i, key in enumerate(metrics.keys_of(run_id)):
        block = make_chart(
            f"chart-{i}",
            key,
            [(run_id, str(row["run_name"]), start)],
            metrics,
            config.max_points,
            files,
        )
        if block is not None:
            blocks.append(block)
    commit = tags.get(schema.TAG_GIT_COMMIT, "")
    context = RunPageContext(
        run_id=run_id,
        name=str(row["run_name"] or run_id),
        status=row["status"],
        experiment=exp_crumb,
        start=text.fmt_time(row["start_time"]),
        end=text.fmt_time(row["end_time"]),
        duration=text.fmt_duration(row["start_time"], row["end_time"]),
        user=str(row["user_id"] or ""),
        source=tags.get(schema.TAG_SOURCE_NAME, ""),
        commit=commit,
        commit_link=text.commit_url(tags.get(schema.TAG_GIT_REMOTE), commit),
        parent=parent,
        children=children,
        params=params,
        metrics=metric_stats(run_id, metrics),
        charts=blocks,
        tags=sorted((k, v) for k, v in tags.items() if not k.startswith(SYSTEM_PREFIX)),
        system_tags=sorted((k, v) for k, v in tags.items() if k.startswith(SYSTEM_PREFIX)),
        notes=text.markdown(tags.get(schema.TAG_NOTE), demote=2),
        artifacts=artifacts,
        artifact_mode=config.artifacts,
    )
    info = PageInfo(
        run_path(run_id),
        context.name,
        [Crumb("Experiments", "index.html"), exp_crumb, Crumb(context.name, None)],
        "run",
    )
    return Page("run.html", info, context)


# --- the whole site ------------------------------------------------------------------------
def make_site(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    site: SiteInfo,
    read: PreviewReader,
    store_url: Callable[[str, str], str],
) -> Site:
    """Build every page and file of the site from a snapshot (no I/O)."""
    slugs = experiment_slugs(
        {d.experiment.experiment_id: d.experiment.name for d in snapshot.experiments}
    )
    pages: list[Page] = []
    files: list[OutFile] = []
    warnings = list(snapshot.warnings)

    def artifact_url(run_id: str, path: str) -> str | None:
        if path in snapshot.withheld.get(run_id, {}):
            return None
        if config.artifacts == "copy":  # a URL: 'a#1.png' must not end at the '#'
            return f"runs/{run_id}/artifacts/{urllib.parse.quote(site_artifact_path(path))}"
        if config.artifacts == "link":
            return store_url(run_id, path)
        return None

    summaries = []
    total_runs = 0
    metric_indexes: dict[str, MetricIndex] = {}
    names = sorted(d.experiment.name for d in snapshot.experiments)
    for spec in config.compare:  # a comparison of nothing is a mistake worth saying
        if spec.experiment is not None and spec.experiment not in names:
            warnings.append(
                f"Comparison {spec.name!r} names experiment {spec.experiment!r}, which is not in "
                f"the site; experiments: {', '.join(map(repr, names)) or 'none'}"
            )
    for data in snapshot.experiments:
        slug = slugs[data.experiment.experiment_id]
        summaries.append(summarize(data, slug, config))
        pages.append(experiment_page(data, slug, config, files))
        exp_crumb = Crumb(data.experiment.name, f"experiments/{slug}/index.html")
        metrics = metric_indexes[data.experiment.experiment_id] = index_metrics(data)
        records: list[dict[str, Any]] = (
            [{str(k): v for k, v in r.items()} for r in data.runs.to_dict("records")]
            if len(data.runs)
            else []
        )
        by_id = {r["run_id"]: r for r in records}
        kids: dict[str, list[Crumb]] = {}
        for rec in records:
            parent = rec.get("parent_run_id")
            if isinstance(parent, str) and parent in by_id:
                kids.setdefault(parent, []).append(
                    Crumb(str(rec["run_name"]), run_path(rec["run_id"]))
                )
        for rec in records:
            run_id = rec["run_id"]
            parent_id = rec.get("parent_run_id")
            parent = (
                Crumb(str(by_id[parent_id]["run_name"]), run_path(parent_id))
                if isinstance(parent_id, str) and parent_id in by_id
                else None
            )
            listing = snapshot.artifacts.get(run_id, [])
            hold = snapshot.withheld.get(run_id, {})
            tree = artifact_tree(run_id, listing, config, read, artifact_url, warnings, hold)
            pages.append(
                run_page(
                    rec, data, exp_crumb, metrics, kids.get(run_id, []), parent, tree, config, files
                )
            )
            if config.artifacts == "copy":
                limit = config.max_artifact_mb * 1024 * 1024
                files += [
                    OutFile(
                        f"runs/{run_id}/artifacts/{site_artifact_path(p)}",
                        artifact=(run_id, p),
                        size=size,
                    )
                    for p, size in listing
                    if size <= limit and p not in hold
                ]
        total_runs += len(records)
        exp_page = next(p for p in pages if p.info.path == f"experiments/{slug}/index.html")
        exp_page.context.comparisons = add_compare(
            data, slug, records, metrics, snapshot, artifact_url, pages, files, config, warnings
        )
    index = IndexPageContext(
        summaries,
        total_runs,
        add_reports(snapshot, config, slugs, metric_indexes, artifact_url, pages, files),
    )
    pages.insert(
        0,
        Page(
            "index.html",
            PageInfo("index.html", site.title, [Crumb("Experiments", None)], "index"),
            index,
        ),
    )
    pages.append(
        Page(
            "404.html",
            PageInfo(
                "404.html",
                "Page not found",
                [Crumb("Experiments", "index.html"), Crumb("Not found", None)],
                "404",
            ),
            None,
        )
    )
    return Site(site, pages, files, warnings, len(snapshot.experiments), total_runs)


def add_reports(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    slugs: dict[str, str],
    metric_indexes: dict[str, MetricIndex],
    artifact_url: Callable[[str, str], str | None],
    pages: list[Page],
    files: list[OutFile],
) -> list[Any]:
    """Add a page per Markdown report of the reports folder; return their index entries."""
    from reporter.site import reports

    folder = config.reports_folder()
    ctx = reports.Context(
        snapshot.experiments,
        config,
        lambda d: metric_indexes.get(d.experiment.experiment_id) or index_metrics(d),
        artifact_url,
        snapshot.artifacts,
        files,
        lambda d: f"experiments/{slugs[d.experiment.experiment_id]}/compare.html",
    )
    listed = []
    used: set[str] = set()
    for source in reports.find_reports(folder):
        rel = source.relative_to(folder).as_posix()
        slug = text.slugify(rel[:-3].replace("/", "-"), "report")
        if slug in used:
            slug += "-" + hashlib.sha1(rel.encode()).hexdigest()[:6]
        used.add(slug)
        path = f"reports/{slug}.html"
        context = reports.build_report(source, f"{folder.as_posix()}/{rel}", ctx)
        crumbs = [Crumb("Experiments", "index.html"), Crumb(context.title, None)]
        pages.append(Page("report.html", PageInfo(path, context.title, crumbs, "report"), context))
        listed.append(reports.summary(context, path))
    by_title = sorted(listed, key=lambda r: r.title.lower())
    return sorted(by_title, key=lambda r: r.date, reverse=True)  # newest first, undated last


def curated_runs(
    spec: Comparison, data: ExperimentData, records: list[dict[str, Any]], warnings: list[str]
) -> list[str]:
    """Return the run ids a curated comparison selects in an experiment, in its order."""
    from reporter import search

    if spec.runs:
        by_key: dict[str, list[str]] = {}
        for rec in records:  # a name may be shared: it selects every run that has it
            by_key.setdefault(str(rec["run_name"]), []).append(rec["run_id"])
            by_key.setdefault(rec["run_id"], []).append(rec["run_id"])
        chosen: list[str] = []
        for key in spec.runs:
            chosen += [r for r in by_key.get(key, []) if r not in chosen]
        missing = [key for key in spec.runs if key not in by_key]
        if missing and (chosen or spec.experiment == data.experiment.name):
            warnings.append(
                f"Comparison {spec.name!r}: no run named (or with id) "
                f"{', '.join(map(repr, missing))} in experiment "
                f"{data.experiment.name!r}"
            )
        return chosen
    if data.runs.empty:
        return []
    frame = search.search_frame(
        data.runs, spec.filter, list(spec.order_by) or None, max_results=spec.limit
    )
    return list(frame["run_id"])


def add_compare(
    data: ExperimentData,
    slug: str,
    records: list[dict[str, Any]],
    metrics: MetricIndex,
    snapshot: StoreSnapshot,
    artifact_url: Callable[[str, str], str | None],
    pages: list[Page],
    files: list[OutFile],
    config: BuildConfig,
    warnings: list[str],
) -> list[Crumb]:
    """Add an experiment's compare page, curated comparison pages, runs.js and series.js.

    Returns links to the curated comparisons, for the experiment page."""
    from reporter.site import compare

    limit = config.max_artifact_mb * 1024 * 1024

    def link(run_id: str, path: str, size: int) -> str | None:
        url = artifact_url(run_id, path)
        return None if url and config.artifacts == "copy" and size > limit else url

    images: dict[str, list[tuple[str, str]]] = {}
    for rec in records:
        run_id = rec["run_id"]
        for path, size in snapshot.artifacts.get(run_id, []):
            url = link(run_id, path, size) if compare.is_image(path) else None
            if url and "://" not in url:
                images.setdefault(run_id, []).append((path, url))
    keys = sorted({k for _, k in metrics.slices})
    base = f"experiments/{slug}"
    files.append(
        OutFile(
            f"{base}/runs.js",
            compare.runs_js(data.experiment.name, records, keys, images, config.lower_is_better),
        )
    )
    for rec in records:
        run_id = rec["run_id"]
        run_keys = metrics.keys_of(run_id)

        def make(rec: dict[str, Any] = rec, run_keys: list[str] = run_keys) -> bytes:
            run_id = rec["run_id"]
            listing = [
                (p, size, link(run_id, p, size))
                for p, size in sorted(snapshot.artifacts.get(run_id, []))
            ]
            return compare.series_js(
                run_id,
                str(rec["run_name"] or run_id),
                _int(rec["start_time"]),
                run_keys,
                metrics.slices,
                metrics.value,
                metrics.step,
                metrics.time,
                listing,
                config.max_points,
            )

        files.append(OutFile(f"runs/{run_id}/series.js", make=make))
    context = ComparePageContext(
        data.experiment.name, f"{base}/index.html", f"{base}/runs.js", "../.."
    )
    info = PageInfo(
        f"{base}/compare.html",
        f"Compare runs · {data.experiment.name}",
        [
            Crumb("Experiments", "index.html"),
            Crumb(data.experiment.name, f"{base}/index.html"),
            Crumb("Compare", None),
        ],
        "compare",
    )
    pages.append(Page("compare.html", info, context))
    links = []
    used: set[str] = set()
    for spec in config.compare:
        if spec.experiment not in (None, data.experiment.name):
            continue
        chosen = curated_runs(spec, data, records, warnings)
        if not chosen:
            if spec.experiment is not None:
                warnings.append(
                    f"Comparison {spec.name!r} selects no run in experiment "
                    f"{data.experiment.name!r}"
                )
            continue
        slug_ = text.slugify(spec.name, "comparison")
        if slug_ in used:  # "Best runs" and "best-runs": both keep a stable permalink
            slug_ += "-" + hashlib.sha1(spec.name.encode()).hexdigest()[:6]
        used.add(slug_)
        path = f"{base}/compare/{slug_}.html"
        curated = ComparePageContext(
            data.experiment.name,
            f"{base}/index.html",
            f"{base}/runs.js",
            "../../..",
            title=spec.name,
            description=text.markdown(spec.description, demote=1),
            fixed_runs=chosen,
        )
        crumbs = [
            Crumb("Experiments", "index.html"),
            Crumb(data.experiment.name, f"{base}/index.html"),
            Crumb(spec.name, None),
        ]
        pages.append(Page("compare.html", PageInfo(path, spec.name, crumbs, "compare"), curated))
        links.append(Crumb(spec.name, path))
    return links


def relative_url(target: str, page_path: str) -> str:
    """Return target (site-relative) as a link relative to the page at page_path."""
    if "://" in target or target.startswith(("#", "mailto:", "data:")):
        return target
    base = posixpath.dirname(page_path)
    path, _, fragment = target.partition("#")
    rel = posixpath.relpath(path, base or ".")
    if path.endswith("/"):
        rel += "/"
    return rel + (f"#{fragment}" if fragment else "")
