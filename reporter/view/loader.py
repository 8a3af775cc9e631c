"""Read a store into memory for the build: the only part of the build that reads the store.

Reading never writes: no store file, no experiment record, no cache file is created.
"""

from __future__ import annotations

import fnmatch
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core.datasets import RunInputs
from reporter.core.entities import Experiment, LifecycleStage
from reporter.core.errors import NotFoundError
from reporter.store import registry
from reporter.store.protocol import AbstractStore
from reporter.store.records import MetricPoints, RunBatch
from reporter.view.points import SeriesSource, learn, read_ahead

if TYPE_CHECKING:
    import pandas as pd

    from reporter.core.secrets import SecretRules
    from reporter.view.config import BuildConfig
    from reporter.view.fetch import ArtifactBytes
    from reporter.view.models import ModelSummary
    from reporter.view.registry import RegisteredView


@dataclass
class ExperimentData:
    """One experiment: its record, its runs (search_runs shape) and its metric points."""

    experiment: Experiment
    runs: pd.DataFrame
    series: SeriesSource  # its published metric points, read a batch of runs at a time
    datasets: dict[str, RunInputs] = field(default_factory=dict)  # run id -> datasets it used
    models: list[ModelSummary] = field(default_factory=list)  # logged models, newest first
    points: PointsReader | None = None  # how `series` reads the points (for a page worker)


@dataclass
class PointsReader:
    """How an experiment's published points are read again, a batch of runs at a time: by the
    pages of this process, or of a page worker (it pickles; the store and rules do not)."""

    exp_id: str
    published: set[str] = field(default_factory=set)  # runs the site shows
    usage_runs: set[str] = field(default_factory=set)  # `du --log` runs among them
    log_keys: set[str] | None = None  # the usage log metrics the site may show (None: all)

    def read(
        self, store: AbstractStore, config: BuildConfig, rules: SecretRules, ids: list[str]
    ) -> MetricPoints:
        """Return the published points of these runs."""
        from reporter.view import publish

        points = store.read_metric_points(self.exp_id, ids)
        if self.log_keys is not None:
            points = publish.usage_log_points(points, self.usage_runs, self.log_keys)
        return publish.metric_points(points, self.published, config, rules)


@dataclass
class StoreSnapshot:
    """Everything the site shows, read once."""

    uri: str
    experiments: list[ExperimentData]
    artifacts: dict[str, list[tuple[str, int]]]  # run id -> [(path, size)]
    warnings: list[str] = field(default_factory=list)
    withheld: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> {path: reason}
    archived: dict[str, Archived] = field(default_factory=dict)  # run id -> where it went
    # experiment id -> what each batch's read said of its runs' lifecycles (RunBatch), for
    # the storage page's measure (`AbstractStore.usage(known=...)`): not read twice
    lifecycles: dict[str, list[Any]] = field(default_factory=dict)
    registry: list[RegisteredView] = field(default_factory=list)  # registered models shown


@dataclass(frozen=True)
class Archived:
    """An archived run (`tracker-report archive`): its summary is here, its metric histories
    and files are in the archive store."""

    location: str  # the archive store as the profile shows it ("" when it is left out)
    time: int | None  # ms: when it was archived


def archived_runs(raw: pd.DataFrame, shown: pd.DataFrame) -> dict[str, Archived]:
    """Return the archived runs of an experiment: read from its runs as stored (a profile that
    leaves out `reporter.*` tags still shows a run as archived), where they went as published
    (paths hidden, secrets masked, or left out with the tag)."""
    from reporter.store.archiving import TAG_ARCHIVE_LOCATION, TAG_ARCHIVE_TIME

    column = f"tags.{TAG_ARCHIVE_LOCATION}"
    if not len(raw) or column not in raw.columns or not len(shown):
        return {}
    ids = set(raw.loc[raw[column].notna(), "run_id"])
    if not ids:
        return {}
    out = {}
    rows = shown[shown["run_id"].isin(ids)]
    for rec in rows.to_dict("records"):
        location = rec.get(column)
        stamp = rec.get(f"tags.{TAG_ARCHIVE_TIME}")
        try:
            when = int(str(stamp)) if isinstance(stamp, str) else None
        except ValueError:
            when = None
        out[str(rec["run_id"])] = Archived(location if isinstance(location, str) else "", when)
    return out


def open_store(uri: str) -> AbstractStore:
    """Open an existing store for reading; NotFoundError with a hint if there is none."""
    store = registry.open_store(uri)
    store.require_existing()
    return store


def worker_uri(store: AbstractStore, opened_from: str) -> str | None:
    """Return the URI a build's workers open to read this very store (opened from the URI
    `opened_from`), or None when workers cannot share it (see AbstractStore.uri_for_workers;
    a scheme registered in this process is unknown to another)."""
    uri = store.uri_for_workers()
    if uri is None or not (registry.opens_alike(opened_from) and registry.opens_alike(uri)):
        return None
    return uri


def select_experiments(store: AbstractStore, wanted: tuple[str, ...]) -> list[Experiment]:
    """Return the active experiments, or the ones named in `wanted` (by name, id, `id:ID`
    for an id only, or a name glob such as 'team-a/*', which matches active experiments)."""
    every = sorted(store.list_experiments(), key=lambda e: e.name.lower())
    active = [e for e in every if e.lifecycle_stage == LifecycleStage.ACTIVE]
    if not wanted:
        return active
    chosen: list[Experiment] = []
    for item in wanted:
        if item.startswith("id:"):  # an id and nothing else (a name may look like an id)
            match = [e for e in every if e.experiment_id == item[3:]]
        else:
            match = [e for e in every if item in (e.name, e.experiment_id)]
        if (
            not match and not item.startswith("id:") and any(c in item for c in "*?[")
        ):  # a glob names active experiments
            match = [e for e in active if fnmatch.fnmatchcase(e.name, item)]
        if not match:
            names = ", ".join(repr(e.name) for e in active) or "none"
            raise NotFoundError(f"No experiment {item!r} in {store.uri}; available: {names}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def usage_log_keys(exps: list[Experiment], config: BuildConfig) -> set[str] | None:
    """Return the metrics a usage log run (`du --log`) may show in this build: each published
    experiment's own bytes; None (all of them) when the build publishes every experiment."""
    from reporter.view.usage_log import usage_metric_key, whole_store

    if whole_store(config):
        return None
    return {usage_metric_key(e.name) for e in exps}


def load(
    store: AbstractStore,
    config: BuildConfig | None = None,
    artifact_bytes: ArtifactBytes | None = None,
    read_workers: int = 0,
) -> StoreSnapshot:
    """Read the chosen experiments' runs, facts about their metric points and artifact
    listings, keeping only what the site may publish (see reporter.view.publish). Artifacts
    scanned for secrets are read through `artifact_bytes` (the build's, so that pages and
    copies reuse them).

    Each experiment is read in batches of runs (`BuildConfig.batch_points` points at most),
    so memory does not grow with the store: the points themselves are read again by the
    pages that show them (`ExperimentData.series`)."""
    from reporter.view import publish
    from reporter.view.config import BuildConfig
    from reporter.view.fetch import ArtifactBytes
    from reporter.view.models import published_models
    from reporter.view.registry import published_registry

    config = config or BuildConfig()
    if artifact_bytes is None:
        artifact_bytes = ArtifactBytes(store)
    rules = config.secret_rules()
    notes: list[str] = []
    readers = None  # (what read workers open, how many)
    if read_workers > 0 and (uri := worker_uri(store, config.store)) is not None:
        readers = (uri, read_workers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exps = [
            e
            for e in select_experiments(store, config.experiments)
            if not publish.matches(e.name, config.exclude_experiments)
        ]
        data = []
        log_keys = usage_log_keys(exps, config)
        artifacts: dict[str, list[tuple[str, int]]] = {}
        withheld: dict[str, dict[str, str]] = {}
        archived: dict[str, Archived] = {}
        seen: dict[str, str] = {}  # run id -> the experiment that shows it
        lifecycles: dict[str, list[Any]] = {}
        for exp in exps:
            read = _read_experiment(store, exp, config, rules, log_keys, seen, notes, readers)
            archived.update(read.archived)
            if config.storage_page:
                lifecycles[exp.experiment_id] = read.lifecycles
            kept = set(read.frame["run_id"]) if len(read.frame) else set()
            shown = publish.experiment(exp, config, rules)
            models = published_models(store, exp.experiment_id, kept, config, rules)
            data.append(
                ExperimentData(shown, read.frame, read.series, read.inputs, models, read.points)
            )
            every = store.list_experiment_artifacts(exp.experiment_id)
            listing = {r: f for r, f in every.items() if r in kept}
            withheld.update(
                publish.artifacts(exp.experiment_id, listing, config, rules, notes, artifact_bytes)
            )
            artifacts.update(listing)
        frames = [(d.experiment.experiment_id, d.runs) for d in data]
        registry = published_registry(store, frames, config, rules)
    # what reads said, in one order whichever reader (thread or worker) read what when
    said = sorted(dict.fromkeys(str(w.message) for w in caught))
    notes = said + notes + list(rules.report())
    return StoreSnapshot(
        store.uri, data, artifacts, notes, withheld, archived, lifecycles, registry
    )


@dataclass
class _Read:
    """One experiment as the loader read it."""

    frame: pd.DataFrame
    series: SeriesSource
    inputs: dict[str, RunInputs]
    archived: dict[str, Archived]
    points: PointsReader
    lifecycles: list[Any]  # RunBatch.lifecycles of each batch, in order


def _read_experiment(
    store: AbstractStore,
    exp: Experiment,
    config: BuildConfig,
    rules: SecretRules,
    log_keys: set[str] | None,
    seen: dict[str, str],
    notes: list[str],
    readers: tuple[str, int] | None = None,
) -> _Read:
    """Read an experiment a batch of runs at a time: the published runs frame, their inputs,
    where archived runs went, and the facts of their metric points (each batch's points are
    dropped once learnt, unless one batch held the whole experiment)."""
    from reporter.view import publish
    from reporter.view.datasets import published_inputs

    exp_id = exp.experiment_id
    reader = PointsReader(exp_id, log_keys=log_keys)
    published, usage_runs = reader.published, reader.usage_runs
    source = SeriesSource(
        functools.partial(reader.read, store, config, rules), {}, config.batch_points
    )
    frames = []
    inputs: dict[str, RunInputs] = {}
    archived: dict[str, Archived] = {}
    batches = 0
    points = None
    lifecycles = []
    for batch in _batches(store, exp_id, config.batch_points, readers):
        batches += 1
        lifecycles.append(batch.lifecycles)
        frame, points = batch.frame, batch.points
        if log_keys is not None:  # `du --log` runs: the published experiments' bytes only
            usage_runs |= publish.usage_log_runs(frame)
            frame, points = publish.usage_log(frame, points, log_keys)
        if len(frame):
            frame = frame[frame["lifecycle_stage"] != LifecycleStage.DELETED]
            frame = frame.reset_index(drop=True)
        raw = frame
        frame = publish.runs_frame(frame, config, rules)  # row by row: a batch at a time
        if len(frame):  # a file copied into another experiment's folder: show a run once
            # (a lookup per run of the batch: `isin(seen)` would cost every run seen so far)
            twice = frame["run_id"].map(seen.__contains__).astype(bool)
            for run_id in frame.loc[twice, "run_id"]:
                notes.append(
                    f"Run {run_id} is also in experiment {seen[run_id]!r}; shown "
                    f"there only (a store file of one experiment was copied into "
                    f"the folder of {exp.name!r}?)"
                )
            frame = frame[~twice].reset_index(drop=True)
            seen.update(dict.fromkeys(frame["run_id"], exp.name))
        kept = set(frame["run_id"]) if len(frame) else set()
        published |= kept
        gone = archived_runs(raw, frame)
        archived.update(gone)
        points = publish.metric_points(points, kept, config, rules)
        starts = dict(zip(frame["run_id"], frame["start_time"], strict=True)) if kept else {}
        learn(source, points, {r: _ms(v) for r, v in starts.items()}, kept - set(gone))
        used = {r: i for r, i in batch.inputs.items() if r in kept}
        inputs.update(published_inputs(used, config, rules))
        frames.append(frame)
    if batches == 1 and points is not None:
        source.cached = points  # one batch held the whole experiment: never read it again
    frame = _whole(frames)
    return _Read(frame, source, inputs, archived, reader, lifecycles)


def _batches(
    store: AbstractStore, exp_id: str, max_points: int, readers: tuple[str, int] | None
) -> Iterator[RunBatch]:
    """Yield an experiment's batches, each read while the one before is taken in: by a
    thread, or with read workers beside it when the experiment takes more than a batch."""
    from reporter.view.readers import ReadPool

    groups = store.experiment_batches(exp_id, max_points) if readers is not None else []
    if readers is not None and len(groups) > 1:
        uri, count = readers
        batches = ReadPool(store, uri, exp_id, groups, min(count, len(groups) - 1)).batches()
    elif groups:
        batches = read_ahead(store.read_run_batch(exp_id, g) for g in groups)
    else:
        batches = read_ahead(store.read_experiment_batches(exp_id, max_points))
    try:
        yield from batches
    finally:  # workers and threads stopped at once when the caller stops early
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _ms(value: object) -> float:
    """Return a start time in ms, NaN when missing."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return number


def _whole(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Join the batches' frames into one: runs by id (whatever the batches), the run columns
    first, then metrics, params and tags, each sorted (as one read makes them)."""
    import pandas as pd

    from reporter.core.entities import RUN_COLUMNS

    filled = [f for f in frames if len(f)]
    if not filled:
        if frames:
            return frames[0]
        return pd.DataFrame({n: pd.Series(dtype=object) for n in RUN_COLUMNS})
    frame = filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)
    base = [c for c in frame.columns if "." not in c]
    rest = sorted(
        (c for c in frame.columns if "." in c),
        key=lambda c: ({"metrics": 0, "params": 1, "tags": 2}.get(c.split(".", 1)[0], 3), c),
    )
    frame = frame[base + rest]
    return frame.sort_values("run_id", kind="stable").reset_index(drop=True)
