"""Build settings: defaults, then tracker-report.toml or [tool.tracker-report], then flags."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporter.core import env
from reporter.core.errors import InvalidArgumentError
from reporter.core.secrets import SecretRules

ARTIFACT_MODES = ("copy", "link", "skip")
FULL_SERIES = ("auto", "always", "never")  # full-resolution CSVs of the series charts thin
SITE_LIMIT_MB = 1000.0  # GitHub Pages' limit on a published site
DIRECTIONS = ("min", "max")  # metric_direction values: lower or higher is better
CONFIG_FILE = "tracker-report.toml"
# The `sort` setting's attributes and the runs table's columns they name.
SORT_ATTRIBUTES = {"start_time": "start", "run_name": "name", "status": "status", "user_id": "user"}
SORT_HELP = (
    'e.g. "metrics.rmse ASC", "params.alpha DESC" or "start_time DESC"; valid: '
    "metrics.<key>, params.<key>, tags.<key>, start_time, run_name, status, user_id, each "
    "with ASC or DESC (a metric without one: best first)"
)
# Built-in publication profiles (--profile NAME); a [profile.NAME] table in the config file
# adds to or overrides them, or defines new ones. Secrets are masked in every profile.
PROFILES: dict[str, dict[str, Any]] = {
    "internal": {},
    "public": {
        "hide_users": True,
        "hide_paths": True,
        "exclude_tags": ("mlflow.user", "reporter.host", "mlflow.source.host"),
        "exclude_pickles": True,
    },
}


@dataclass(frozen=True)
class Comparison:
    """A named comparison (a `[[compare]]` table): chosen runs, or a filter, on its own page."""

    name: str
    experiment: str | None = None  # experiment name; None: every experiment it selects runs in
    runs: tuple[str, ...] = ()  # run ids or names
    filter: str | None = None  # search_runs grammar
    order_by: tuple[str, ...] = ()
    limit: int = 10
    description: str = ""

    @classmethod
    def from_table(cls, table: Any, where: str) -> Comparison:
        """Build from a config table; errors name the setting and what is valid."""
        if not isinstance(table, dict):
            raise InvalidArgumentError(f"Each [[compare]] in {where} must be a table")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InvalidArgumentError(
                f"Unknown [[compare]] setting(s) {', '.join(unknown)} in {where}; valid: "
                f"{', '.join(sorted(known))}"
            )
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"A [[compare]] in {where} needs a name")
        if bool(table.get("runs")) == bool(table.get("filter")):
            raise InvalidArgumentError(
                f"[[compare]] {name!r} in {where} needs exactly one of runs = [...] or filter"
            )
        from reporter.query import filter as run_filter

        run_filter.parse_filter(table.get("filter"))  # a bad filter fails the build early
        run_filter.parse_order_by(list(table.get("order_by", [])))
        limit = table.get("limit", 10)
        if not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"[[compare]] {name!r}: limit must be an integer >= 1")
        return cls(
            name=name,
            experiment=table.get("experiment"),
            runs=tuple(str(r) for r in table.get("runs", [])),
            filter=table.get("filter"),
            order_by=tuple(table.get("order_by", [])),
            limit=limit,
            description=str(table.get("description", "")),
        )


RETENTION_KEYS = ("archive_after", "keep", "archive_to")


@dataclass(frozen=True)
class RetentionPolicy:
    """The [retention] table: archive runs older than `archive_after_ms` into `archive_to`,
    except those the `keep` filter selects (and running runs, which are never archived)."""

    archive_after_ms: int | None
    keep: str | None
    archive_to: str | None


@dataclass(frozen=True)
class BuildConfig:
    """Everything `tracker-report build` needs to know."""

    store: str = "./tracker-store"
    out: str = "site"
    title: str = "Experiment report"
    base_url: str | None = None
    theme: str = "default"
    experiments: tuple[str, ...] = ()
    max_points: int = 500
    artifacts: str = "copy"
    max_artifact_mb: float = 50.0
    strict: bool = False
    clean: bool = False
    top_runs: int = 10
    primary_metric: dict[str, str] = field(default_factory=dict)  # experiment name -> metric
    metric_direction: dict[str, str] = field(default_factory=dict)  # metric -> "min" or "max"
    sort: str | None = None  # the runs table's order: "metrics.rmse ASC"; default: best first
    compare: tuple[Comparison, ...] = ()
    # what to publish (usually set per profile, see PROFILES)
    profile: str | None = None
    exclude_experiments: tuple[str, ...] = ()  # experiment name globs
    runs: str | None = None  # search_runs filter: only the runs it selects
    exclude_params: tuple[str, ...] = ()  # key globs
    exclude_tags: tuple[str, ...] = ()  # key globs
    exclude_artifacts: tuple[str, ...] = ()  # artifact path globs
    hide_users: bool = False  # blank the user of every run
    hide_paths: bool = False  # absolute paths shown as file names, home folders as ~
    exclude_pickles: bool = False  # pickled models and checkpoints (by name or content) left out
    mask_secrets: bool = True
    secret_keys: tuple[str, ...] = ()  # extra key regexes whose values are masked
    secret_allow: tuple[str, ...] = ()  # key globs never masked
    max_site_mb: float | None = None  # fail when the site would be larger
    site_limit_mb: float = SITE_LIMIT_MB  # warn (before writing) when the site would be larger
    # full-series CSV downloads: "auto" leaves them out when they would take the site over
    # site_limit_mb, "always" and "never" do what they say
    full_series: str = "auto"
    reports: str | None = None  # folder of Markdown reports (default ./reports, if it exists)
    # [retention]: archive_after = "180d", keep = "tags.keep = 'true'", archive_to = "s3://..."
    retention: dict[str, str] = field(default_factory=dict)
    storage_page: bool = True  # storage/index.html: what the published experiments hold
    # registered models the Models pages show (name globs; [] for none)
    registered_models: tuple[str, ...] = ("*",)
    # metric points read at once: bounds the build's memory (about 250 bytes a point at peak)
    batch_points: int = 1_000_000
    # processes making run pages beside the build's own, for experiments of more than one
    # batch (None: one on a machine of two cores or more; 0: the build alone)
    page_workers: int | None = None
    config_file: str | None = None

    def validate(self) -> BuildConfig:
        """Return self, or raise InvalidArgumentError naming the bad setting and what is valid."""
        if self.artifacts not in ARTIFACT_MODES:
            raise InvalidArgumentError(
                f"artifacts = {self.artifacts!r} is not valid; choose one of "
                f"{', '.join(ARTIFACT_MODES)}"
            )
        if not isinstance(self.max_points, int) or self.max_points < 10:
            raise InvalidArgumentError(
                f"max_points must be an integer >= 10, got {self.max_points!r}"
            )
        if not isinstance(self.batch_points, int) or self.batch_points < 1000:
            raise InvalidArgumentError(
                f"batch_points must be an integer >= 1000, got {self.batch_points!r}"
            )
        if self.page_workers is not None and (
            not isinstance(self.page_workers, int)
            or isinstance(self.page_workers, bool)
            or not 0 <= self.page_workers <= 64
        ):
            raise InvalidArgumentError(
                f"page_workers must be an integer from 0 to 64, got {self.page_workers!r}"
            )
        if not isinstance(self.top_runs, int) or self.top_runs < 1:
            raise InvalidArgumentError(f"top_runs must be an integer >= 1, got {self.top_runs!r}")
        if self.max_artifact_mb < 0:
            raise InvalidArgumentError("max_artifact_mb must be >= 0")
        if self.full_series not in FULL_SERIES:
            raise InvalidArgumentError(
                f"full_series = {self.full_series!r} is not valid; choose one of "
                f"{', '.join(FULL_SERIES)}"
            )
        if not isinstance(self.site_limit_mb, int | float) or not self.site_limit_mb > 0:
            raise InvalidArgumentError(f"site_limit_mb must be > 0, got {self.site_limit_mb!r}")
        if self.max_site_mb is not None and not self.max_site_mb > 0:
            raise InvalidArgumentError(f"max_site_mb must be > 0, got {self.max_site_mb!r}")
        if self.runs:
            from reporter.query import filter as run_filter

            try:
                run_filter.parse_filter(self.runs)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"runs filter of the settings: {exc}") from None
        self.secret_rules()  # a bad secret_keys pattern fails here
        if self.reports is not None and not Path(self.reports).is_dir():
            raise InvalidArgumentError(
                f"reports = {self.reports!r}: no such folder (it holds the Markdown reports; "
                "leave the setting out to use ./reports when it exists)"
            )
        if self.sort is not None:
            self.table_sort()  # a bad sort fails here
        if self.retention:
            self.retention_policy()  # a bad [retention] fails here
        bad = {k: v for k, v in self.metric_direction.items() if v not in DIRECTIONS}
        if bad:
            metric, value = next(iter(bad.items()))
            raise InvalidArgumentError(
                f'metric_direction for {metric!r} is {value!r}; valid: "min" (lower is '
                f'better) or "max" (higher is better)'
            )
        return self

    def retention_policy(self) -> RetentionPolicy:
        """Return the [retention] table as a policy, or raise InvalidArgumentError naming
        the bad key and what is valid."""
        where = f"[retention] in {self.config_file or 'the settings'}"
        unknown = sorted(set(self.retention) - set(RETENTION_KEYS))
        if unknown:
            raise InvalidArgumentError(
                f"Unknown key(s) {', '.join(unknown)} in {where}; valid: "
                f"{', '.join(RETENTION_KEYS)}"
            )
        for key, value in self.retention.items():
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(f"{key} in {where} must be a non-empty string")
        after = self.retention.get("archive_after")
        days_ms = None
        if after is not None:
            from reporter.core.durations import parse_duration

            try:
                days_ms = parse_duration(after)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"archive_after in {where}: {exc}") from None
        keep = self.retention.get("keep")
        if keep is not None:
            from reporter.query import filter as run_filter

            try:
                run_filter.parse_filter(keep)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"keep in {where}: {exc}") from None
        return RetentionPolicy(days_ms, keep, self.retention.get("archive_to"))

    def excluded_tags(self) -> tuple[str, ...]:
        """The exclude_tags globs; a tag name older stores used (`reporter.user`) also
        excludes MLflow's name for it (`mlflow.user`), which is how the store reads it."""
        from reporter.core.system_tags import LEGACY_NAMES

        return self.exclude_tags + tuple(
            LEGACY_NAMES[g] for g in self.exclude_tags if g in LEGACY_NAMES
        )

    def reports_folder(self) -> Path:
        """Return the folder of narrative reports (it may not exist when not configured)."""
        return Path(self.reports or "reports")

    def secret_rules(self) -> SecretRules:
        """Return fresh masking rules for one build (they record what they masked)."""
        return SecretRules(self.secret_keys, self.secret_allow, self.mask_secrets)

    def table_sort(self) -> tuple[str, bool | None] | None:
        """Return the runs table's configured order as (column key, ascending), where the
        direction is None when the setting leaves it to the column (best first for a metric,
        else ascending); None when the setting is not given."""
        if self.sort is None:
            return None
        from reporter.query import filter as run_filter

        where = f"sort = {self.sort!r}"
        if not isinstance(self.sort, str) or not self.sort.strip():
            raise InvalidArgumentError(f"{where}: give a column and a direction, {SORT_HELP}")
        try:
            ((column, ascending),) = run_filter.parse_order_by([self.sort])
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{where}: {exc}") from None
        key = SORT_ATTRIBUTES.get(column, column)
        if (
            not key.startswith(("metrics.", "params.", "tags."))
            and key not in SORT_ATTRIBUTES.values()
        ):
            raise InvalidArgumentError(
                f"{where}: the runs table has no column {column}; {SORT_HELP}"
            )
        given = self.sort.split()[-1].upper() in ("ASC", "DESC")
        return key, ascending if given else None

    def lower_is_better(self, metric: str) -> bool:
        """Return True if lower values of a metric are better: as configured in
        metric_direction, else guessed from its name (loss, error, rmse, mae, ...)."""
        from reporter.view import text

        direction = self.metric_direction.get(metric)
        return direction == "min" if direction else text.lower_is_better(metric)


KEYS = {f.name for f in dataclasses.fields(BuildConfig)} - {"config_file", "compare"}
TUPLES = {f.name for f in dataclasses.fields(BuildConfig) if f.type.startswith("tuple")}
OPTIONAL = {
    "base_url",
    "compare",
    "profile",
    "runs",
    "max_site_mb",
    "reports",
    "sort",
    "page_workers",
}


def _toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; errors name the file and the line."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgumentError(f"Cannot read config {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(
            f"Cannot read config {path}: it is not UTF-8 text (byte {exc.start}); a config "
            "file is TOML, e.g. tracker-report.toml"
        ) from None
    except OSError as exc:
        raise InvalidArgumentError(f"Cannot read config {path}: {exc.strerror}") from None


def find_config(explicit: str | None, cwd: Path) -> tuple[Path | None, dict[str, Any]]:
    """Return the config file used and its build settings."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise InvalidArgumentError(f"Config file {explicit} does not exist")
        if path.is_dir():
            raise InvalidArgumentError(f"Config file {explicit} is a folder, not a TOML file")
        data = _toml(path)
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("tracker-report", {})
        return path, data
    own = cwd / CONFIG_FILE
    if own.is_file():
        return own, _toml(own)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        section = _toml(pyproject).get("tool", {}).get("tracker-report")
        if section is not None:
            return pyproject, section
    return None, {}


def settings_from(data: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """Check a config mapping: known keys, right types; `build` sub-table allowed."""
    data = {**data, **data.pop("build", {})} if isinstance(data.get("build"), dict) else data
    data = {k.replace("-", "_"): v for k, v in data.items()}
    where = str(path or "settings")
    compare = data.pop("compare", [])
    if not isinstance(compare, list):
        raise InvalidArgumentError(f"compare in {where} must be a list of [[compare]] tables")
    profiles = data.pop("profile", None)  # profile = "public" picks one; [profile.X] defines
    if isinstance(profiles, str):
        data["profile"] = profiles
    elif profiles is not None and (
        not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values())
    ):
        raise InvalidArgumentError(
            f"profile in {where} must be a profile name or tables like [profile.public]"
        )
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise InvalidArgumentError(
            f"Unknown setting(s) {', '.join(unknown)} in {path}; valid settings: "
            f"{', '.join(sorted(KEYS))}"
        )
    for key in TUPLES & set(data):
        if isinstance(data[key], str) or not isinstance(data[key], (list, tuple)):
            raise InvalidArgumentError(
                f"Setting {key} in {where} must be a list, got {data[key]!r}"
            )
        data[key] = tuple(str(v) for v in data[key])
    if compare:
        data["compare"] = tuple(Comparison.from_table(t, where) for t in compare)
        names = [c.name for c in data["compare"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidArgumentError(
                f"[[compare]] names must be unique in {where}; used twice: "
                f"{', '.join(map(repr, twice))}"
            )
    defaults = BuildConfig()
    for key, value in data.items():
        expected = type(getattr(defaults, key))
        if key in OPTIONAL or expected is tuple:
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected):
            raise InvalidArgumentError(
                f"Setting {key} in {path} must be {expected.__name__}, got {value!r}"
            )
    return data


def load_config(
    flags: dict[str, Any], config: str | None = None, cwd: str | None = None
) -> BuildConfig:
    """Merge defaults, the config file and the flags that were given (flags win)."""
    where = Path(cwd or os.getcwd())
    path, data = find_config(config, where)
    profiles = {**{k: dict(v) for k, v in PROFILES.items()}}
    tables = data.get("profile")
    for name, table in tables.items() if isinstance(tables, dict) else ():
        if isinstance(table, dict):
            profiles[name] = {**profiles.get(name, {}), **table}
    settings = settings_from(data, path)
    name = flags.get("profile") or settings.get("profile")
    if name:
        if name not in profiles:
            raise InvalidArgumentError(
                f"Unknown profile {name!r}; valid: {', '.join(sorted(profiles))} (built in: "
                f"internal, public; add others as [profile.NAME] in {path or CONFIG_FILE})"
            )
        chosen = settings_from(
            {k: v for k, v in profiles[name].items() if k != "profile"},
            Path(f"[profile.{name}] of {path or 'the built-in profiles'}"),
        )
        settings.update(chosen)
        settings["profile"] = name
    store_env = env.tracking_uri()
    if store_env and "store" not in settings:
        settings["store"] = store_env
    settings.update({k: v for k, v in flags.items() if v is not None and v != ()})
    return BuildConfig(**settings, config_file=str(path) if path else None).validate()
