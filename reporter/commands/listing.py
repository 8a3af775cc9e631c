"""`tracker-report experiments` and `tracker-report runs`: tables for CI logs and quick checks.

Both commands only read the store (no store file or Default experiment is created) and print
one of three formats: an aligned text table, CSV, or JSON (a list of records). Times are UTC.
CI logs are often public, so param, tag and run name values that look like secrets are masked
as in `tracker-report build` (same settings: mask_secrets, secret_keys, secret_allow).
pandas is imported inside the functions so that `tracker-report --help` stays fast.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import click

from reporter.commands.options import config_option, experiments_option, settings, store_option
from reporter.core.errors import InvalidArgumentError, InvalidFilterError

if TYPE_CHECKING:
    import pandas as pd

    from reporter.tracking.client import Client
    from reporter.view.config import BuildConfig

FORMATS = ("table", "csv", "json")
DEFAULT_MAX_RESULTS = 100
# Columns `--columns` accepts besides params.*, metrics.* and tags.*: the run attributes of a
# search_runs frame, plus `duration` and `experiment` (the experiment's name).
RUN_ATTRIBUTES = (
    "run_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "duration",
    "experiment_id",
    "experiment",
    "user_id",
    "lifecycle_stage",
    "artifact_uri",
    "parent_run_id",
)
DEFAULT_RUN_COLUMNS = ("run_id", "run_name", "status", "start_time", "duration")
# C0/C1 controls and bidi overrides: shown as escapes in the text table, so that a value can
# neither break the alignment nor change what the terminal shows.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# options shared by both commands -----------------------------------------------------------
def _format_option(function: Any) -> Any:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Aligned text table, CSV with a header line, or JSON (a list of records).",
    )(function)


def _open(store_flag: str | None, config_file: str | None) -> tuple[Client, BuildConfig]:
    """Return a client on the store the flag, config file or environment names (as for
    build), and the settings; the store must exist (NotFoundError with a hint otherwise)."""
    from reporter.tracking.client import Client

    config = settings({"store": store_flag}, config_file)
    client = Client(config.store)
    client.store.require_existing()
    return client, config


# output ------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Return a JSON value: numpy scalars as Python ones, NaN and missing as None, infinities
    as the strings "inf" / "-inf" (JSON has no number for them)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, (bool, int, str)):
        return value
    import pandas as pd

    return None if pd.isna(value) else str(value)


def _shown(value: Any) -> str:
    """Return a table cell: '-' when missing, control characters escaped."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    text = str(value)
    return _CONTROLS.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text)


def _emit(frame: pd.DataFrame, output_format: str, empty_message: str) -> None:
    """Print a frame as a table, CSV or JSON."""
    import pandas as pd

    if output_format == "json":
        records = [
            {str(col): _plain(value) for col, value in zip(frame.columns, row)}
            for row in frame.itertuples(index=False, name=None)
        ]
        click.echo(json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False))
        return
    if output_format == "csv":
        click.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
        return
    if frame.empty:
        click.echo(empty_message)
        return
    table = frame.copy()
    for col in table.columns:
        if not pd.api.types.is_float_dtype(table[col]) and not pd.api.types.is_integer_dtype(
            table[col]
        ):
            table[col] = [_shown(v) for v in table[col]]
    with pd.option_context("display.unicode.east_asian_width", True):
        text = table.to_string(index=False, na_rep="-")
    click.echo(text)


# experiments -------------------------------------------------------------------------------
@click.command("experiments")
@store_option
@config_option
@_format_option
@click.option(
    "--all",
    "include_deleted",
    is_flag=True,
    help="Also list deleted experiments, with a lifecycle_stage column.",
)
def experiments_command(
    store_flag: str | None, config_file: str | None, output_format: str, include_deleted: bool
) -> None:
    """List experiments: id, name, number of active runs and last activity (UTC).

    Last activity is the latest start or end of an active run, else the time the experiment
    was last changed. Ordered by name. Example:

        tracker-report experiments --store ./tracker-store --format csv
    """
    import pandas as pd

    from reporter.core.entities import LifecycleStage
    from reporter.view.text import fmt_time

    client, _ = _open(store_flag, config_file)
    experiments = [
        e
        for e in client.store.list_experiments()
        if include_deleted or e.lifecycle_stage == LifecycleStage.ACTIVE
    ]
    experiments.sort(key=lambda e: (e.name.lower(), e.name, e.experiment_id))
    runs = client.search_runs_frame([e.experiment_id for e in experiments])
    counts: dict[str, int] = {}
    latest: dict[str, float] = {}
    if len(runs):
        ids = runs["experiment_id"].astype(object)
        counts = {str(k): int(v) for k, v in ids.value_counts().items()}
        times = runs[["start_time", "end_time"]].astype("float64").max(axis=1)
        latest = {str(k): float(v) for k, v in times.groupby(ids).max().dropna().items()}
    rows = []
    for exp in experiments:
        when = latest.get(exp.experiment_id, exp.last_update_time or exp.creation_time)
        row: dict[str, Any] = {
            "id": exp.experiment_id,
            "name": exp.name,
            "runs": counts.get(exp.experiment_id, 0),
            "last_activity": fmt_time(when)[:16] or None,
        }
        if include_deleted:
            row["lifecycle_stage"] = exp.lifecycle_stage
        rows.append(row)
    columns = ["id", "name", "runs", "last_activity"]
    columns += ["lifecycle_stage"] if include_deleted else []
    frame = pd.DataFrame(rows, columns=columns).astype({"runs": "int64"})
    _emit(frame, output_format, "No experiments." if include_deleted else "No active experiments.")


# runs --------------------------------------------------------------------------------------
def _check_filter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Parse --filter now: a bad one is a usage error naming the position."""
    from reporter.query import filter as run_filter

    try:
        run_filter.parse_filter(value)
    except InvalidFilterError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


def _check_order_by(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """Parse --order-by clauses now: a bad one is a usage error naming the position."""
    from reporter.query import filter as run_filter

    try:
        run_filter.parse_order_by(list(value))
    except InvalidFilterError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


def parse_columns(text: str) -> list[str]:
    """Parse `run_name,metrics.rmse,params.depth` into frame column names.

    Entity prefixes are read as in the filter grammar (metric., param., tag. and
    attributes. work too); a bare name must be a run attribute, `duration` or `experiment`.
    """
    from reporter.query.filter import ENTITIES

    columns: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        prefix, dot, key = item.partition(".")
        entity = ENTITIES.get(prefix.lower()) if dot else None
        if entity is not None and entity != "attributes":
            if not key:
                raise InvalidArgumentError(f"column {item!r} names no key after {prefix!r}")
            column = f"{entity}.{key}"
        else:
            column = key if entity == "attributes" else item
            if column not in RUN_ATTRIBUTES:
                raise InvalidArgumentError(
                    f"unknown column {item!r}; valid: {', '.join(RUN_ATTRIBUTES)}, or "
                    "params.KEY, metrics.KEY, tags.KEY"
                )
        if column not in columns:
            columns.append(column)
    if not columns:
        raise InvalidArgumentError("no column given; example: run_name,metrics.rmse")
    return columns


def _check_columns(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    """Parse --columns now: an unknown attribute or prefix is a usage error."""
    if value is None:
        return []
    try:
        return parse_columns(value)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _run_table(
    found: pd.DataFrame, every: pd.DataFrame, columns: list[str], names: dict[str, str]
) -> pd.DataFrame:
    """Return the printed columns of the found runs (times as UTC text, duration as text).

    A params/metrics/tags column that no run of the experiments (`every`) has is an error.
    """
    import pandas as pd

    from reporter.view.text import fmt_duration, fmt_time

    if not columns:
        keys = [c for c in found.columns if c.startswith(("params.", "metrics."))]
        present = [c for c in keys if found[c].notna().any()]
        params = sorted(c for c in present if c.startswith("params."))
        metrics = sorted(c for c in present if c.startswith("metrics."))
        columns = [*DEFAULT_RUN_COLUMNS, *params, *metrics]
    else:
        missing = [c for c in columns if c not in RUN_ATTRIBUTES and c not in every.columns]
        if missing and len(every):  # with no runs at all, every key is missing: no error
            entity = missing[0].split(".", 1)[0]
            known = [str(c) for c in every.columns if str(c).startswith(f"{entity}.")]
            raise InvalidArgumentError(
                f"No {', '.join(missing)} in the selected experiments; their {entity}: "
                f"{', '.join(known) or 'none'}"
            )
    out: dict[str, Any] = {}
    for col in columns:
        if col == "duration":
            out[col] = [
                fmt_duration(s, e) or None for s, e in zip(found.start_time, found.end_time)
            ]
        elif col in ("start_time", "end_time"):
            out[col] = [fmt_time(v) or None for v in found[col]]
        elif col == "experiment":
            out[col] = [names.get(str(i)) for i in found["experiment_id"]]
        elif col not in found.columns:  # a key of no run (possible only with no runs at all)
            out[col] = [None] * len(found)
        elif col.startswith("metrics."):
            out[col] = found[col].astype("float64").to_numpy()
        else:
            out[col] = [None if pd.isna(v) else str(v) for v in found[col]]
    return pd.DataFrame(out, columns=columns, index=range(len(found)))


@click.command("runs")
@store_option
@config_option
@experiments_option("Only this experiment [default: every active experiment]")
@click.option(
    "--filter",
    "filter_string",
    callback=_check_filter,
    help="search_runs filter. Example: --filter \"metrics.rmse < 0.3 and params.depth = '5'\"",
)
@click.option(
    "--order-by",
    "order_by",
    multiple=True,
    callback=_check_order_by,
    help="Sort clause; repeatable [default: newest first]. Example: --order-by 'metrics.rmse ASC'",
)
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_RESULTS,
    show_default=True,
    help="Print at most this many runs (a note on stderr says when more match).",
)
@click.option(
    "--columns",
    callback=_check_columns,
    help="Comma-separated columns [default: run_id, run_name, status, start_time, duration, "
    "then every param and metric]. Example: --columns run_name,metrics.rmse,params.depth",
)
@_format_option
def runs_command(
    store_flag: str | None,
    config_file: str | None,
    experiments: tuple[str, ...],
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    columns: list[str],
    output_format: str,
) -> None:
    """List active runs with their params and latest metric values (times in UTC).

    Selects, orders and limits runs as search_runs does. Example:

        tracker-report runs --experiment churn --filter "metrics.rmse < 0.3"
            --order-by "metrics.rmse ASC" --max-results 5 --format json
    """
    from reporter.query import search
    from reporter.view import publish
    from reporter.view.loader import select_experiments

    client, config = _open(store_flag, config_file)
    chosen = select_experiments(client.store, experiments)
    names = {e.experiment_id: e.name for e in chosen}
    rules = config.secret_rules()
    # what the site would publish: the profile's runs and columns, secrets masked (one rule)
    every = publish.runs_frame(client.store.runs_frame(list(names)), config, rules)
    found = search.search_frame(every, filter_string, list(order_by), max_results=max_results + 1)
    more = len(found) > max_results
    found = found.head(max_results)
    frame = _run_table(found, every, columns, names)
    for line in rules.report():
        click.echo(f"note: {line} (mask_secrets = false in the config shows them)", err=True)
    _emit(frame, output_format, "No runs match.")
    if more:
        click.echo(
            f"More runs match: only the first {max_results} are shown (raise --max-results).",
            err=True,
        )
