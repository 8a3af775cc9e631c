"""The contract with the templates: typed page contexts, built in one place.

Tests render every template with every context under StrictUndefined; a template may use
only what these dataclasses hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from reporter.site import charts
from reporter.site.datasets import DatasetView
from reporter.view import text
from reporter.view.models import ModelSummary

if TYPE_CHECKING:
    import numpy as np


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
    storage_path: str | None = None  # the storage page, linked from the top bar, when made
    models_path: str | None = None  # the Models page (registered models), when there are any


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
    group: str  # attributes, metrics, params, tags
    numeric: bool
    hidden: bool = False  # left out until the reader picks it (tags)
    better: str = ""  # a metric's direction, "min" or "max": its best value is marked
    sort: str = ""  # "ascending" or "descending" on the column the table is ordered by


@dataclass
class Cell:
    """A cell: shown text, sort key, optional link."""

    text: str
    sort: str
    link: str | None = None
    note: str = ""  # said on hover: "mean ± standard deviation of 3 child runs"
    best: bool = False  # the best value of its metric column among the top-level rows


@dataclass
class RunRow:
    """A row of the runs table: a top-level run (depth 0) or a run under its parent, folded
    until the reader opens the parent."""

    run_id: str
    name: str
    path: str
    status: str
    depth: int
    parent: str | None
    cells: list[Cell]
    children: int = 0  # its child runs in the table
    archived: bool = False  # its histories and files are in an archive store


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
    models: list[ModelListing] = field(default_factory=list)  # logged models, newest first
    group_data: list[str] = field(default_factory=list)  # groups/<n>.js of each group choice
    filter_example: str = ""  # the filter box's example: the page's metric, a param it logged


@dataclass
class ModelListing:
    """A logged model on its experiment's page, and the run page that shows it in full."""

    model: ModelSummary
    run: Crumb | None  # None: a model logged outside any run, shown in full on this page


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
    step: str = ""  # the step of the last value (an archived run shows only that value)


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


@dataclass(frozen=True)
class ArchiveNote:
    """Where an archived run went: its page says so, with the command that brings it back."""

    time: str  # when it was archived, UTC ("" when the summary does not say)
    location: str  # the archive store, as the profile shows paths ("" when left out)
    restore: str  # the command that restores it
    hidden: bool = False  # a local folder whose path the profile hides: only its name shown


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
    datasets: list[DatasetView] = field(default_factory=list)  # see reporter/site/datasets.py
    models: list[ModelSummary] = field(default_factory=list)  # the logged models it produced
    archived: ArchiveNote | None = None  # its histories and files are in an archive store


@dataclass
class IndexPageContext:
    """The index page."""

    experiments: list[ExperimentSummary]
    total_runs: int
    reports: list[Any] = field(default_factory=list)  # reports.ReportSummary, listed first
    selected: bool = False  # the build publishes chosen experiments (others may be left out)


@dataclass(frozen=True)
class StorageRow:
    """A line of the storage page's table of experiments: sizes in bytes (the template writes
    them for people with the `size` filter)."""

    name: str
    path: str | None  # the experiment's page; None for the line of the rest of the store
    runs: int
    deleted_runs: int | None  # None: not measured
    archived_runs: int
    events: int
    artifacts: int
    models: int
    other: int
    total: int
    files: int
    note: str = ""  # "usage log": the experiment `du --log` records in


@dataclass(frozen=True)
class StorageRun:
    """A line of the storage page's largest runs."""

    run: Crumb
    experiment: Crumb
    status: str
    archived: bool
    events: int
    artifacts: int
    models: int
    total: int


@dataclass(frozen=True)
class PolicyView:
    """What archiving by the [retention] policy would free."""

    archive_after: str  # as configured: "180d"
    keep: str  # the keep filter, "" for none
    archive_to: str  # where to, as the profile shows paths ("" when not configured)
    archive_hidden: bool  # a local folder whose path the profile hides: only its name shown
    runs: int
    bytes: int
    kept: int
    running: int
    problem: str  # why there is no figure ("" when there is one)
    command: str  # the command that does it


@dataclass(frozen=True)
class GrowthView:
    """What the growth chart shows, in words: the first and latest day and the change."""

    first_day: str
    last_day: str
    days: int  # days with a point
    first: int  # bytes on the first day (of the chart's total line)
    last: int
    change: str  # "+13%", or "" when the first day held nothing
    label: str  # what the total line is: "the store", "these 2 experiments"


# --- registered models ---------------------------------------------------------------------
@dataclass(frozen=True)
class MetricCell:
    """A version's value of a metric: as shown, and whether it is the best of the versions."""

    text: str
    value: float | None
    best: bool = False


@dataclass
class VersionRow:
    """A version of a registered model, as its rows show it."""

    version: int
    anchor: str  # "v3": the version's place on its model page
    aliases: list[str]
    stage: str  # "None" when it has none (MLflow's deprecated stages)
    status: str
    created: str
    description: Markup  # sanitised markdown
    tags: list[tuple[str, str]]
    user: str
    run_label: str | None  # the run's name (or id) when the site shows the run
    run_path: str | None
    run_note: str  # why there is no link: "not in this site", "no run"
    metrics: list[MetricCell]  # one per column of the page


@dataclass(frozen=True)
class AliasLine:
    """An alias, the version it names, and what the page says about that version."""

    alias: str
    version: int
    anchor: str
    verdict: str  # "rmse 0.412: the best of 8 versions", or "" without metrics


@dataclass
class RegisteredModelLine:
    """A registered model on the Models page: its newest versions and first metrics."""

    name: str
    path: str
    description: Markup
    tags: list[tuple[str, str]]
    aliases: list[AliasLine]
    versions: int
    updated: str
    metrics: list[str]  # the columns of `rows`
    rows: list[VersionRow]  # newest first, at most MODELS_PAGE_VERSIONS
    more: int  # versions on the model page only


@dataclass
class ModelsPageContext:
    """The Models page: every registered model the site shows."""

    models: list[RegisteredModelLine]


@dataclass(frozen=True)
class VersionChart:
    """A chart of one metric across a model's versions."""

    metric: str
    lower_is_better: bool
    rows: Markup  # JSON rows: version, value, alias, tip


@dataclass
class RegisteredModelPageContext:
    """A registered model's page: every version, their runs' metrics side by side (the best of
    each marked), and what each alias's version scores."""

    name: str
    description: Markup
    tags: list[tuple[str, str]]
    created: str
    updated: str
    aliases: list[AliasLine]
    metrics: list[tuple[str, bool]]  # (metric, lower is better): the columns of `versions`
    versions: list[VersionRow]  # newest first
    charts: list[VersionChart]


@dataclass
class StoragePageContext:
    """The storage page: what the published experiments hold, how it grew, what archiving by
    the policy, gc and compaction would free. Sizes in bytes."""

    measured: bool  # False: the store cannot measure itself from here (see `problem`)
    problem: str
    whole_store: bool  # the build publishes every experiment: store-wide figures shown
    total: int
    files: int
    runs: int  # runs measured (published experiments'; every run in a whole-store build)
    kinds: list[tuple[str, int, int]]  # (events|artifacts|models|other, bytes, files)
    experiments: list[StorageRow]
    rest: StorageRow | None  # a whole-store build: deleted experiments, store files
    largest: list[StorageRun]
    published_runs: int  # runs the largest list is chosen from
    deleted_runs: int | None
    deleted_bytes: int | None
    archived_runs: int
    archived_bytes: int  # the summaries archived runs leave here
    gc_bytes: int | None  # None: not measured
    gc_runs: int
    gc_experiments: int
    gc_age: str  # "30d"
    compaction_bytes: int  # an estimate
    policy: PolicyView | None
    growth: GrowthView | None
    usage_chart: Markup  # JSON rows of the usage-by-experiment chart
    growth_chart: Markup  # JSON rows of the growth chart ("null" without a usage log)
    unit: tuple[str, str]  # (usage chart unit, growth chart unit): "MB", "GB"
    log_experiment: Crumb | None  # the experiment holding the usage log, when published
    runs_filtered: bool  # a `runs` filter: experiments' sizes include runs not listed
    usage_log_experiment: str = "store-usage"
    shown_experiments: int = 0  # rows in the usage chart (the largest; the rest as one)


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
class Written:
    """What rendering and writing one part on its own did (`PartWriter.write_apart`, in the
    build or in a page worker): merged into the build's writer in the parts' order."""

    pages: list[str]  # page paths, in order
    seen: list[str]  # every path written (or measured)
    digests: dict[str, bytes]  # file path -> digest of its bytes (a file offered twice)
    sizes: list[tuple[int, str]]  # (bytes, path) when measuring
    written: int = 0
    unchanged: int = 0
    bytes: int = 0


@dataclass
class Made:
    """What page functions make: pages, extra files and warnings, returned (never appended to
    a caller's lists) and gathered by `make_site`. `written`: parts rendered and written
    already (by a page worker), for the writer to count in."""

    pages: list[Page] = field(default_factory=list)
    files: list[OutFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)

    def gather(self, other: Made) -> Made:
        """Add what another function made; return self."""
        self.pages += other.pages
        self.files += other.files
        self.warnings += other.warnings
        self.written += other.written
        return self

    def unique_files(self) -> list[OutFile]:
        """The files, each identical one once: a run page and a report chart may both offer
        a series as CSV. Different files for one path stay, for the writer to refuse."""
        seen: dict[str, list[OutFile]] = {}
        out = []
        for f in self.files:
            same_path = seen.setdefault(f.path, [])
            if f not in same_path:
                same_path.append(f)
                out.append(f)
        return out


@dataclass
class Site:
    """All pages and files of a build, and what the model warned about."""

    info: SiteInfo
    pages: list[Page]
    files: list[OutFile]
    warnings: list[str]
    experiments: int
    runs: int


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

    _kept: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict)

    def keys_of(self, run_id: str) -> list[str]:
        """Return the metric keys of a run, sorted."""
        return self.by_run.get(run_id, [])

    def keep_all(self, run_ids: Sequence[str], max_points: int) -> None:
        """Work out `kept` for every series of these runs at once (minmax_many): cheaper
        than a series at a time."""
        from reporter.site.downsample import minmax_many

        spans = [
            self.slices[(run_id, key)]
            for run_id in run_ids
            for key in self.by_run.get(run_id, ())
            if (*self.slices[(run_id, key)], max_points) not in self._kept
        ]
        for (a, b), found in zip(spans, minmax_many(self.value, spans, max_points), strict=True):
            self._kept[(a, b, max_points)] = found

    def kept(self, a: int, b: int, max_points: int) -> np.ndarray:
        """Return the indices (into [a, b)) of the points a chart of that series draws:
        `minmax_indices`, computed once per series however many charts and files draw it."""
        from reporter.site.downsample import minmax_indices

        found = self._kept.get((a, b, max_points))
        if found is None:
            found = self._kept[(a, b, max_points)] = minmax_indices(self.value[a:b], max_points)
        return found


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
    kind: str = "line"  # line: a metric with history; bars: one value per run (ranked bars)
    lower_is_better: bool = False  # how bars rank the runs
    log_ok: bool = True  # every value above 0: a log scale can show the chart
    # a run page's line chart: its one series is the run's series.js entry for this key
    # (window.TRACKER_SERIES[run id][key], the same points), so the page does not repeat it
    series_of: str | None = None

    @property
    def data(self) -> Markup:
        """The chart's JSON block, safe inside <script type="application/json">."""
        import numpy as np

        chart = charts.ChartData(
            key=self.title, kind=self.kind, lower_is_better=self.lower_is_better, log_ok=self.log_ok
        )
        m = self.metrics
        for name, run_id, start, a, b in self.series:
            # bars: the value a run logged last
            keep = np.array([b - a - 1]) if self.kind == "bars" else m.kept(a, b, self.max_points)
            chart.shown += len(keep)
            chart.total += b - a
            if self.series_of is None:
                chart.series.append(
                    charts.make_series(
                        name, run_id, start, m.step[a:b], m.value[a:b], m.time[a:b], keep
                    )
                )
        payload = chart.to_json()
        if self.series_of is not None:
            payload["series_of"] = self.series_of
        return json_block(payload)
