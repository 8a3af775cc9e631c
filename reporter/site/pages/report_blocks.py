"""Narrative reports: Markdown files in the reports folder become pages of the site.

A report has YAML front matter (title, author, date) and short codes, each on a line of its
own, that embed live content from the store:

    {{< runs experiment="energy" filter="metrics.rmse < 60" order_by="metrics.rmse ASC"
        limit="5" columns="params.max_depth,metrics.rmse" >}}
    {{< chart experiment="energy" metric="rmse" runs="baseline,candidate" >}}
    {{< compare experiment="energy" runs="baseline,candidate" >}}
    {{< image experiment="energy" run="candidate" path="plots/residuals.png" >}}

and one inline short code, for a number in a sentence: `{{< metric experiment="energy"
run="candidate" key="rmse" >}}`. Runs are named by run name or id. A short code that is not
valid fails the build with the file, the line and what is valid.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import shlex
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from reporter.core.errors import InvalidArgumentError
from reporter.view import numbers, text

if TYPE_CHECKING:
    from reporter.site.contract import ChartBlock, Column, MetricIndex, OutFile
    from reporter.view.config import BuildConfig
    from reporter.view.loader import ExperimentData

SHORTCODE = re.compile(r"\{\{<\s*(?P<name>[A-Za-z_]+)(?P<args>.*?)>\}\}", re.DOTALL)
BLOCKS: dict[str, tuple[set[str], set[str]]] = {
    "runs": ({"experiment"}, {"filter", "order_by", "limit", "columns"}),
    "chart": ({"experiment", "metric"}, {"runs", "limit"}),
    "compare": ({"experiment", "runs"}, set()),
    "image": ({"experiment", "run", "path"}, {"caption"}),
}
INLINE: dict[str, tuple[set[str], set[str]]] = {"metric": ({"experiment", "run", "key"}, set())}


@dataclass
class RunsBlock:
    """A runs table for a filter."""

    kind: str
    columns: list[Column]
    rows: list[tuple[str, str, list[str]]]  # run name, run page path, cell texts
    note: str


@dataclass
class CompareBlock:
    """Chosen runs side by side (params and metrics), with a link to the compare page."""

    kind: str
    runs: list[tuple[str, str]]  # name, run page path
    rows: list[tuple[str, list[str], bool, bool]]  # label, values, differs, numeric
    link: str


@dataclass
class ImageBlock:
    """An image artifact of a run."""

    kind: str
    src: str
    alt: str
    caption: str
    run: tuple[str, str]


@dataclass
class ChartHolder:
    """A metric chart (the experiment page's chart block)."""

    kind: str
    chart: ChartBlock


@dataclass
class ReportPageContext:
    """A narrative report page: front matter and its parts in order."""

    title: str
    author: str
    date: str
    source: str  # path of the Markdown file, for the footer
    parts: list[Any] = field(default_factory=list)  # Markup or a block
    has_charts: bool = False


@dataclass
class ReportSummary:
    """A report on the index page."""

    title: str
    path: str
    author: str
    date: str
    description: str


def find_reports(folder: Path) -> list[Path]:
    """Return the Markdown files of the reports folder, sorted (none if it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.md") if p.is_file())


def _fail(where: str, line: int, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where} line {line}: {message}")


def front_matter(source: str, where: str) -> tuple[dict[str, Any], str, int]:
    """Split YAML front matter from the body; return (meta, body, lines before the body)."""
    if not source.startswith("---"):
        return {}, source, 0
    lines = source.splitlines(keepends=True)
    for end in range(1, len(lines)):
        if lines[end].rstrip() in ("---", "..."):
            import yaml

            try:
                meta = yaml.safe_load("".join(lines[1:end])) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = (mark.line + 2) if mark is not None else 1
                raise _fail(where, line, f"front matter is not valid YAML ({exc})") from None
            if not isinstance(meta, dict):
                raise _fail(where, 1, "front matter must be a mapping (title: ..., author: ...)")
            return meta, "".join(lines[end + 1 :]), end + 1
    raise _fail(where, 1, "front matter opened with --- is never closed")


def parse_args(raw: str, where: str, line: int) -> dict[str, str]:
    """Parse `key="value" key2=value2` arguments of a short code."""
    try:
        tokens = shlex.split(raw)
    except ValueError as exc:
        raise _fail(where, line, f"cannot read the short code's arguments ({exc})") from None
    args: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise _fail(where, line, f'argument {token!r} is not key="value"')
        args[key] = value
    return args


def _check(
    name: str, args: dict[str, str], spec: tuple[set[str], set[str]], where: str, line: int
) -> None:
    required, optional = spec
    missing = sorted(required - set(args))
    unknown = sorted(set(args) - required - optional)
    if missing or unknown:
        valid = ", ".join(sorted(required)) + (
            f"; optional {', '.join(sorted(optional))}" if optional else ""
        )
        what = (
            f"missing {', '.join(missing)}" if missing else f"unknown argument {', '.join(unknown)}"
        )
        raise _fail(where, line, f"{{{{< {name} >}}}}: {what} (needs {valid})")


class Context:
    """What short codes can reach (experiments by name, their runs and metrics), and the
    files their charts make, which `report_pages` returns with the pages."""

    def __init__(
        self,
        experiments: list[ExperimentData],
        config: BuildConfig,
        metrics: Callable[[ExperimentData, list[str]], MetricIndex],  # some runs' points
        artifact_url: Callable[[str, str], str | None],
        artifacts: dict[str, list[tuple[str, int]]],
        compare_path: Callable[[ExperimentData], str],
        archived: AbstractSet[str] = frozenset(),  # runs whose histories are in an archive
    ) -> None:
        self.by_name = {d.experiment.name: d for d in experiments}
        self.archived = archived
        self.config = config
        self.metrics = metrics
        self.artifact_url = artifact_url
        self.artifacts = artifacts
        self.files: list[OutFile] = []  # what the reports' charts offer for download
        self.compare_path = compare_path
        self.charts = 0
        self._records: dict[str, list[dict[str, Any]]] = {}

    def experiment(self, name: str, where: str, line: int) -> ExperimentData:
        if name not in self.by_name:
            names = ", ".join(repr(n) for n in sorted(self.by_name)) or "none"
            raise _fail(where, line, f"no experiment {name!r} in the site; experiments: {names}")
        return self.by_name[name]

    def records(self, data: ExperimentData) -> list[dict[str, Any]]:
        """An experiment's runs as records, made once however many short codes ask."""
        key = data.experiment.experiment_id
        if key not in self._records:
            self._records[key] = (
                [{str(k): v for k, v in r.items()} for r in data.runs.to_dict("records")]
                if len(data.runs)
                else []
            )
        return self._records[key]

    def run(self, data: ExperimentData, key: str, where: str, line: int) -> dict[str, Any]:
        """Return a run by id, or the newest run with that name."""
        records = self.records(data)
        by_id = [r for r in records if r["run_id"] == key]
        named = sorted(
            (r for r in records if str(r["run_name"]) == key),
            key=lambda r: -(r["start_time"] if r["start_time"] == r["start_time"] else 0),
        )
        found = by_id or named
        if not found:
            raise _fail(
                where,
                line,
                f"no run named (or with id) {key!r} in experiment {data.experiment.name!r}",
            )
        return found[0]

    def runs(self, data: ExperimentData, keys: str, where: str, line: int) -> list[dict[str, Any]]:
        chosen = [self.run(data, k.strip(), where, line) for k in keys.split(",") if k.strip()]
        if not chosen:
            raise _fail(where, line, 'runs="..." names no run')
        return chosen


def _frame(data: ExperimentData, args: dict[str, str], where: str, line: int) -> Any:
    from reporter.query import search

    limit = args.get("limit", "10")
    if not limit.isdigit() or int(limit) < 1:
        raise _fail(where, line, f"limit must be a whole number >= 1, got {limit!r}")
    order = [o.strip() for o in args.get("order_by", "").split(",") if o.strip()] or None
    try:
        return search.search_frame(data.runs, args.get("filter"), order, max_results=int(limit))
    except InvalidArgumentError as exc:
        raise _fail(where, line, str(exc)) from None


def runs_block(ctx: Context, args: dict[str, str], where: str, line: int) -> RunsBlock:
    """A table of the runs a filter selects."""
    from reporter.site.contract import Column
    from reporter.site.paths import run_path
    from reporter.site.table import run_cell, table_columns

    data = ctx.experiment(args["experiment"], where, line)
    frame = _frame(data, args, where, line) if len(data.runs) else data.runs
    every = {c.key: c for c in table_columns(data.runs)}
    if "columns" in args:
        keys = [k.strip() for k in args["columns"].split(",") if k.strip()]
        unknown = [k for k in keys if k not in every]
        if unknown:
            raise _fail(
                where, line, f"unknown column {', '.join(unknown)}; valid: {', '.join(every)}"
            )
        columns = [every[k] for k in keys]
    else:
        columns = [
            c for c in every.values() if c.key in ("status", "start") or c.group == "metrics"
        ][:7]
    columns = [c for c in columns if c.key != "name"]
    records = [{str(k): v for k, v in raw.items()} for raw in frame.to_dict("records")]
    shown = [_column_texts(records, c, run_cell) for c in columns]
    rows = [
        (str(rec["run_name"] or rec["run_id"]), run_path(rec["run_id"]), [s[i] for s in shown])
        for i, rec in enumerate(records)
    ]
    note = f"Runs of {data.experiment.name}" + (
        f" where {args['filter']}" if args.get("filter") else ""
    )
    return RunsBlock("runs", [Column("name", "Run", "attributes", False), *columns], rows, note)


def _column_texts(
    records: list[dict[str, Any]], column: Column, cell: Callable[[dict[str, Any], Column], Any]
) -> list[str]:
    """Return a column's cells: a column of numbers (metrics, numeric params) with one number
    of decimals; any other column as the runs table shows it."""
    if column.group in ("metrics", "params") and column.numeric:
        values = [rec.get(column.key) for rec in records]
        return [t or "–" for t in _fixed_texts(values, typed=column.group == "params")]
    return [cell(rec, column).text for rec in records]


def _fixed_texts(values: list[Any], typed: bool) -> list[str]:
    """Return numbers (floats or numeric text) with one number of decimals for the whole set
    (a metric's: 4 significant digits of the typical value; `typed` values, params: the
    fewest that show each exactly); a missing value as ''."""
    present = [v for v in values if not _missing(v)]
    decimals = numbers.exact_decimals(present) if typed else numbers.column_decimals(present)
    return ["" if _missing(v) else numbers.fixed(v, decimals) for v in values]


def _missing(value: Any) -> bool:
    """Return True for None, NaN and ''."""
    return value is None or value == "" or (isinstance(value, float) and value != value)


def chart_block(ctx: Context, args: dict[str, str], where: str, line: int) -> ChartHolder:
    """A metric chart over chosen runs (default: the runs of the filter-less top by start)."""
    from reporter.site.series import int_or_none as _int
    from reporter.site.series import make_chart

    data = ctx.experiment(args["experiment"], where, line)
    if "runs" in args:
        chosen = ctx.runs(data, args["runs"], where, line)
    else:
        chosen = ctx.records(data)[: int(args.get("limit", "10") or 10)]
    runs = [(r["run_id"], str(r["run_name"] or r["run_id"]), _int(r["start_time"])) for r in chosen]
    metrics = ctx.metrics(data, [r[0] for r in runs])
    ctx.charts += 1
    chart_id = f"report-chart-{ctx.charts}"
    downloads = ctx.config.full_series != "never"
    block, csvs = make_chart(
        chart_id, args["metric"], runs, metrics, ctx.config.max_points, None, downloads
    )
    gone = [r for r in runs if r[0] in ctx.archived]
    if block is not None and block.kind == "line" and gone:  # one point is no history
        kept = [r for r in runs if r[0] not in ctx.archived]
        block, csvs = make_chart(
            chart_id, args["metric"], kept, metrics, ctx.config.max_points, None, downloads
        )
        if block is None:
            raise _fail(
                where,
                line,
                f"the runs that logged metric {args['metric']!r} are archived: their "
                "histories are in the archive (restore them to chart them)",
            )
        said = f"{text.counted(len(gone), 'archived run')} not charted"
        block.note = f"{block.note}; {said}" if block.note else said
    ctx.files += csvs
    if block is None:
        keys = sorted({k for (r, k) in metrics.slices if r in {x[0] for x in runs}})
        raise _fail(
            where,
            line,
            f"none of these runs logged metric {args['metric']!r}; "
            f"they have: {', '.join(keys) or 'no metrics'}",
        )
    return ChartHolder("chart", block)


def compare_block(ctx: Context, args: dict[str, str], where: str, line: int) -> CompareBlock:
    """Chosen runs side by side: every param and latest metric, differences marked."""
    from reporter.site.paths import run_path

    data = ctx.experiment(args["experiment"], where, line)
    chosen = ctx.runs(data, args["runs"], where, line)
    keys = sorted(
        {
            k
            for r in chosen
            for k, v in r.items()
            if k.startswith(("params.", "metrics.")) and v is not None and v == v
        }
    )
    rows = []
    for key in keys:
        values = [None if _missing(r.get(key)) else r.get(key) for r in chosen]
        shown = ["–" if v is None else str(v) for v in values]
        metric = key.startswith("metrics.")
        numeric = metric or all(_number(v) for v in values if v is not None)
        if numeric:  # one scale: one number of decimals
            shown = [t or "–" for t in _fixed_texts(values, typed=not metric)]
        label = key.split(".", 1)[1] + (" (metric)" if metric else "")
        rows.append((label, shown, len(set(map(str, values))) > 1, numeric))
    link = ctx.compare_path(data) + "#runs=" + ",".join(r["run_id"] for r in chosen)
    return CompareBlock(
        "compare",
        [(str(r["run_name"] or r["run_id"]), run_path(r["run_id"])) for r in chosen],
        rows,
        link,
    )


def _number(value: Any) -> bool:
    """Return True for a finite number or a param's text that reads as one."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def image_block(ctx: Context, args: dict[str, str], where: str, line: int) -> ImageBlock:
    """An image artifact of a run, as published with the site."""
    from reporter.site.pages.run import IMAGE_TYPES
    from reporter.site.paths import extension as _ext
    from reporter.site.paths import run_path

    data = ctx.experiment(args["experiment"], where, line)
    run = ctx.run(data, args["run"], where, line)
    path = args["path"]
    listing = dict(ctx.artifacts.get(run["run_id"], []))
    if path not in listing:
        raise _fail(where, line, f"run {args['run']!r} has no artifact {path!r}")
    if _ext(path) not in IMAGE_TYPES - {"svg"}:
        raise _fail(where, line, f"{path!r} is not an image (png, jpg, gif, webp, bmp)")
    url = ctx.artifact_url(run["run_id"], path)
    if not url or "://" in url or listing[path] > ctx.config.max_artifact_mb * 1024 * 1024:
        raise _fail(
            where,
            line,
            f"{path!r} is not copied into the site (artifacts = "
            f"{ctx.config.artifacts!r}, withheld or over max_artifact_mb)",
        )
    name = str(run["run_name"] or run["run_id"])
    return ImageBlock(
        "image", url, f"{name}: {path}", args.get("caption", ""), (name, run_path(run["run_id"]))
    )


def metric_value(ctx: Context, args: dict[str, str], where: str, line: int) -> str:
    """The latest value of a run's metric, formatted."""
    data = ctx.experiment(args["experiment"], where, line)
    run = ctx.run(data, args["run"], where, line)
    value = run.get(f"metrics.{args['key']}")
    if value is None or value != value:
        raise _fail(where, line, f"run {args['run']!r} has no metric {args['key']!r}")
    return numbers.human(value)


MAKERS = {"runs": runs_block, "chart": chart_block, "compare": compare_block, "image": image_block}


def build_report(path: Path, where: str, ctx: Context) -> ReportPageContext:
    """Read one report file and resolve its short codes against the store."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"Cannot read report {where}: {exc}") from None
    meta, body, offset = front_matter(source, where)
    parts: list[Any] = []
    chunk: list[str] = []

    def flush() -> None:
        if "".join(chunk).strip():
            parts.append(text.markdown("".join(chunk), demote=1))
        chunk.clear()

    lines = body.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        number = offset + i + 1
        current = lines[i]
        stripped = current.strip()
        block, end = current, i
        while stripped.startswith("{{<") and ">}}" not in block and end + 1 < len(lines):
            end += 1  # a block short code may continue over several lines
            block += lines[end]
        match = SHORTCODE.fullmatch(block.strip()) if stripped.startswith("{{<") else None
        if match is None and stripped.startswith("{{<") and (end > i or ">}}" not in block):
            raise _fail(
                where, number, 'a short code must be {{< name key="value" >}}, closed with >}}'
            )
        if match is not None and match.group("name") not in INLINE:
            i = end
            name = match.group("name")
            if name not in MAKERS:
                raise _fail(
                    where,
                    number,
                    f"unknown short code {name!r}; valid: {', '.join([*MAKERS, *INLINE])}",
                )
            args = parse_args(match.group("args").replace("\n", " "), where, number)
            _check(name, args, BLOCKS[name], where, number)
            flush()
            parts.append(MAKERS[name](ctx, args, where, number))
        else:
            chunk.append(
                SHORTCODE.sub(functools.partial(_inline, ctx, where=where, line=number), current)
            )
        i += 1
    flush()
    title = str(meta.get("title") or path.stem.replace("-", " ").replace("_", " ").title())
    date = meta.get("date", "")
    if isinstance(date, (dt.date, dt.datetime)):
        date = date.isoformat()
    return ReportPageContext(
        title=title,
        author=str(meta.get("author") or ""),
        date=str(date or ""),
        source=where,
        parts=parts,
        has_charts=any(isinstance(p, ChartHolder) for p in parts),
    )


def _inline(ctx: Context, match: re.Match[str], *, where: str, line: int) -> str:
    name = match.group("name")
    if name not in INLINE:
        raise _fail(
            where,
            line,
            f"{{{{< {name} >}}}} must be on a line of its own; only "
            f"{', '.join(INLINE)} goes inside a sentence",
        )
    args = parse_args(match.group("args"), where, line)
    _check(name, args, INLINE[name], where, line)
    return metric_value(ctx, args, where, line)


def summary(ctx: ReportPageContext, path: str) -> ReportSummary:
    """The index line of a report: title, author, date and its first paragraph."""
    first = next((str(p) for p in ctx.parts if isinstance(p, Markup)), "")
    para = re.search(r"<p>(.*?)</p>", first, re.DOTALL)
    plain = re.sub(r"<[^>]+>", "", para.group(1)) if para else ""
    import html

    return ReportSummary(ctx.title, path, ctx.author, ctx.date, html.unescape(plain).strip()[:240])
