"""Remove for good the runs and experiments deleted at least some time ago (`mlflow gc`).

A run is due when its latest `lifecycle_stage` event says `deleted` and was stamped at least
`older_than_ms` ago; an experiment when its lifecycle is `deleted` and its `last_update_time`
is that old (MLflow's rule). Nothing else is touched: no active run, no file of another run.

The order of the removals is what makes a kill -9 at any moment safe, and a rerun finish:
* a run: first its events are gathered so that every compacted file holding any of its parts
  also holds the part with its deletion event (its raw parts compacted, the files holding it
  merged: rows are only copied), and gc waits `wait_s` for compactions already under way;
  then its logged models go (files, edits, record last), its run folder (artifacts,
  heartbeat, `run.json` last), its parts, and last the part holding its deletion event. Until
  that last step the run reads as deleted (with less and less data); after it, not at all.
  Rows of other runs in shared files are never absent: a shared file is replaced by one
  without the removed parts, published before the old one is deleted
  (`compaction.remove_parts`);
* an experiment: every file of its runs and models, then its edits, then its record, then
  the edit that deleted it. Until its record goes it reads as deleted; a rerun recognises the
  edit left without a record as its own leftover and finishes.

Writers logging meanwhile lose nothing: their part files are never touched, and shared files
are rewritten publish-then-delete. Why gather and wait: a compaction that read a run's older
parts before gc began could publish them after gc removed the run's deletion event, and the
run would read as active again. Once every file holding the run's parts holds its deletion
too, and the compactions that read older files are done, every copy a compaction makes holds
the deletion as well. A compaction slower than `wait_s` (paused, or on a slow link) could
still bring older parts back: gc lists again after removing and removes what came back, and
a compaction, once it has published, checks that every part it copied is still held by
another file, dropping those that are not (`compaction.drop_orphans`), so a run gc removed
while a compaction held its parts does not come back however late that compaction is.
A run whose process still heart-beats is left alone (it would write new parts after gc).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from reporter.core.durations import format_duration
from reporter.core.entities import Experiment, LifecycleStage
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.store.parquet import compaction, reader, schema, usage
from reporter.store.parquet.fs import FileInfo, StoreFS
from reporter.store.parquet.usage import ExperimentEvents, ExperimentFiles, run_of, sizes
from reporter.store.usage import GcItem, GcReport, Size, total

log = logging.getLogger(__name__)
VERIFY_ROUNDS = 5  # listings after a removal, to remove what a racing compaction brought back
WAIT_S = 5.0  # how long gc lets compactions under way finish before it removes events
DEFAULT_EXPERIMENT_ID = "0"  # the Default experiment cannot be deleted


@dataclass(frozen=True)
class RunTarget:
    """A deleted run to remove, with what it frees."""

    run_id: str
    exp_id: str
    name: str | None  # its run name
    deleted_time: int | None
    size: Size
    models: tuple[str, ...]  # logged models whose source run it is


@dataclass(frozen=True)
class ExperimentTarget:
    """A deleted experiment to remove with every run and model it holds."""

    exp_id: str
    name: str | None  # None: a leftover of an interrupted gc (its record is gone already)
    deleted_time: int | None
    runs: int
    size: Size


@dataclass
class GcPlan:
    """What a gc removes: chosen first, so a dry run shows exactly what a real run removes."""

    runs: list[RunTarget] = field(default_factory=list)
    experiments: list[ExperimentTarget] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    too_recent: int = 0

    def report(self, uri: str, older_than_ms: int, now_ms: int, dry_run: bool) -> GcReport:
        """Return the report of this plan (of what was removed, or would be)."""
        items = [
            GcItem("experiment", e.exp_id, e.exp_id, e.name, e.deleted_time, e.size, e.runs)
            for e in self.experiments
        ]
        items += [
            GcItem("run", r.run_id, r.exp_id, r.name, r.deleted_time, r.size) for r in self.runs
        ]
        return GcReport(
            uri, older_than_ms, now_ms, dry_run, tuple(items), tuple(self.skipped), self.too_recent
        )


# experiment records and edits ----------------------------------------------------------------
@dataclass(frozen=True)
class ExperimentState:
    """An experiment's lifecycle as its record and edit files say, and which edit decides."""

    stage: str | None  # None: neither the record nor any edit says
    last_update_time: int | None
    deciding_edit: str | None  # the latest edit that set lifecycle_stage


def experiment_state(fs: StoreFS, files: ExperimentFiles) -> ExperimentState:
    """Read an experiment's record and edits (in name order, the later winning)."""
    record_rel = fs.join(schema.EXPERIMENTS_FOLDER, f"{files.exp_id}.json")
    edits = sorted(
        (i.path for i in files.records if i.path.endswith(schema.EDIT_SUFFIX)),
        key=lambda p: p.rsplit("/", 1)[-1],
    )
    found = fs.read_many([record_rel, *edits])
    stage: str | None = None
    updated: int | None = None
    deciding: str | None = None
    with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
        record = json.loads(found[record_rel]) if record_rel in found else {}
        stage = record.get("lifecycle_stage")
        updated = record.get("last_update_time")
    for rel in edits:
        try:
            changes = json.loads(found[rel])["set"]
        except (ValueError, TypeError, KeyError):
            continue  # damaged, or removed since listed: readers skip it too
        if not isinstance(changes, dict):
            continue
        if "lifecycle_stage" in changes:
            stage, deciding = changes["lifecycle_stage"], rel
        if isinstance(changes.get("last_update_time"), int):
            updated = changes["last_update_time"]
    return ExperimentState(stage, updated, deciding)


def model_owners(fs: StoreFS, files: ExperimentFiles) -> dict[str, str]:
    """Return {model id: its source run id} from an experiment's model records."""
    prefix = fs.join(schema.MODELS_FOLDER, files.exp_id, schema.RECORDS_FOLDER) + "/"
    records = [
        info.path
        for infos in files.model_files.values()
        for info in infos
        if info.path.startswith(prefix)
    ]
    out = {}
    for rel, data in fs.read_many(records).items():
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            owner = json.loads(data).get("source_run_id")
            if isinstance(owner, str) and owner:
                out[rel[len(prefix) : -len(".json")]] = owner
    return out


# choosing ---------------------------------------------------------------------------------------
@dataclass
class Choice:
    """What a plan is chosen from: the store's files, records and events, and the rule."""

    fs: StoreFS
    files: dict[str, ExperimentFiles]
    records: dict[str, Experiment]
    read: Callable[[str], ExperimentEvents]  # an experiment's lifecycle events (cached)
    now_ms: int
    older_than_ms: int
    timeout_ms: float
    owners: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # exp -> run -> models

    @property
    def threshold(self) -> int:
        """Deletions at or before this time (ms) are old enough."""
        return self.now_ms - self.older_than_ms

    def age(self, when: int | None) -> str:
        """Return how long ago a time was, for messages."""
        return "at an unknown time" if when is None else format_duration(self.now_ms - when)

    def live(self, exp_id: str) -> set[str]:
        """Return the runs of an experiment whose process still heart-beats."""
        return usage.live_runs(self.files[exp_id], self.now_ms, self.timeout_ms)

    def models_of(self, exp_id: str, run_id: str) -> tuple[str, ...]:
        """Return the logged models whose source run is this run (records read once)."""
        if exp_id not in self.owners:
            by_run: dict[str, list[str]] = {}
            for model_id, owner in model_owners(self.fs, self.files[exp_id]).items():
                by_run.setdefault(owner, []).append(model_id)
            self.owners[exp_id] = {r: sorted(ms) for r, ms in by_run.items()}
        return tuple(self.owners[exp_id].get(run_id, ()))


def _experiment_target(choice: Choice, exp_id: str, when: int | None) -> ExperimentTarget:
    files = choice.files.get(exp_id, ExperimentFiles(exp_id))
    record = choice.records.get(exp_id)
    name = record.name if record else None
    return ExperimentTarget(exp_id, name, when, len(files.run_ids()), sizes(files.all_files()))


def _stage_of(choice: Choice, exp_id: str) -> tuple[str | None, int | None]:
    """Return an experiment's lifecycle and last update; for an id with no record, what a gc
    interrupted after removing its record left (None when it is not such a leftover)."""
    record = choice.records.get(exp_id)
    if record is not None:
        return record.lifecycle_stage, record.last_update_time
    state = experiment_state(choice.fs, choice.files.get(exp_id, ExperimentFiles(exp_id)))
    if state.deciding_edit is None:
        return None, None  # files of no experiment, not left by a gc: not ours to remove
    return state.stage, state.last_update_time


def _choose_experiments(choice: Choice, plan: GcPlan, experiment_ids: Sequence[str] | None) -> None:
    """Add the deleted experiments that are due (or the ones named, which must be)."""
    named = experiment_ids is not None
    ids = list(dict.fromkeys(experiment_ids or ())) if named else sorted(choice.files)
    not_deleted, too_young = [], []
    for exp_id in ids:
        if exp_id not in choice.files and exp_id not in choice.records:
            known = ", ".join(sorted(choice.records)) or "none"
            raise NotFoundError(
                f"No experiment with id {exp_id!r} in {choice.fs.uri}; known ids: {known}"
            )
        if not named and exp_id == DEFAULT_EXPERIMENT_ID:
            continue  # the Default experiment cannot be deleted
        stage, when = _stage_of(choice, exp_id)
        if stage != LifecycleStage.DELETED:
            not_deleted.append(exp_id)
        elif (when or 0) > choice.threshold:
            too_young.append(f"{exp_id} (deleted {choice.age(when)} ago)")
        elif exp_id in choice.files and choice.live(exp_id):
            reason = f"{len(choice.live(exp_id))} of its runs still log (heartbeat); gc it later"
            plan.skipped.append((exp_id, reason))
        else:
            plan.experiments.append(_experiment_target(choice, exp_id, when))
    if named and not_deleted:
        raise InvalidArgumentError(
            f"Experiments {', '.join(not_deleted)} are not deleted; gc removes only deleted "
            "experiments (delete them first: Client().delete_experiment(id))"
        )
    if named and too_young and choice.older_than_ms:
        raise InvalidArgumentError(
            f"Experiments {', '.join(too_young)} were deleted less than "
            f"{format_duration(choice.older_than_ms)} ago; give a smaller --older-than"
        )
    plan.too_recent += len(too_young)


def _run_target(choice: Choice, exp_id: str, run_id: str, when: int | None) -> RunTarget:
    files = choice.files[exp_id]
    events_bytes, _, raw_files = files.run_events(run_id)
    models = choice.models_of(exp_id, run_id)
    model_files = total([sizes(files.model_files.get(m, [])) for m in models])
    folder = sizes(files.run_files.get(run_id, []))
    size = Size(events_bytes, raw_files) + folder + model_files
    name = choice.read(exp_id).names.get(run_id)
    return RunTarget(run_id, exp_id, name, when, size, models)


def _choose_runs(
    choice: Choice, plan: GcPlan, run_ids: Sequence[str] | None, skip_exps: Collection[str]
) -> None:
    """Add the deleted runs that are due (or the ones named, which must be), outside the
    experiments removed whole."""
    where = {r: e for e, files in choice.files.items() for r in files.run_ids()}
    if run_ids is not None:
        unknown = [r for r in run_ids if r not in where]
        if unknown:
            raise NotFoundError(f"No run with id {', '.join(unknown)} in {choice.fs.uri}")
        wanted: dict[str, list[str]] = {}
        for run_id in dict.fromkeys(run_ids):
            wanted.setdefault(where[run_id], []).append(run_id)
    else:
        wanted = {e: sorted(files.run_ids()) for e, files in choice.files.items()}
    not_deleted, too_young = [], []
    for exp_id in sorted(wanted):
        if exp_id in skip_exps or (run_ids is None and exp_id not in choice.records):
            continue
        lifecycles = choice.read(exp_id).lifecycles
        live = choice.live(exp_id)
        for run_id in wanted[exp_id]:
            life = lifecycles.get(run_id)
            if life is None or life.stage != LifecycleStage.DELETED:
                not_deleted.append(run_id)
            elif (life.time or 0) > choice.threshold:
                too_young.append(f"{run_id} (deleted {choice.age(life.time)} ago)")
            elif run_id in live:
                plan.skipped.append((run_id, "its process still logs (heartbeat); remove later"))
            else:
                plan.runs.append(_run_target(choice, exp_id, run_id, life.time))
    if run_ids is not None and not_deleted:
        raise InvalidArgumentError(
            f"Runs {', '.join(not_deleted)} are not deleted; gc removes only deleted runs "
            "(delete them first: Client().delete_run(run_id))"
        )
    if run_ids is not None and too_young and choice.older_than_ms:
        raise InvalidArgumentError(
            f"Runs {', '.join(too_young)} were deleted less than "
            f"{format_duration(choice.older_than_ms)} ago; give a smaller --older-than"
        )
    plan.too_recent += len(too_young)


def plan(
    choice: Choice,
    experiment_ids: Sequence[str] | None = None,
    run_ids: Sequence[str] | None = None,
) -> GcPlan:
    """Choose what to remove: with no ids, every deleted run and experiment that is due; with
    ids, exactly those (each must be deleted, and due when an age is given)."""
    out = GcPlan()
    if run_ids is None or experiment_ids is not None:
        _choose_experiments(choice, out, experiment_ids)
    if run_ids is not None or experiment_ids is None:
        removed = {e.exp_id for e in out.experiments}
        _choose_runs(choice, out, run_ids, removed)
    return out


# removing ---------------------------------------------------------------------------------------
def _delete_all(fs: StoreFS, infos: Sequence[FileInfo], last: Collection[str] = ()) -> None:
    """Delete files, those whose name is in `last` after the others."""
    ordered = sorted(infos, key=lambda i: (i.path.rsplit("/", 1)[-1] in last, i.path))
    for info in ordered:
        fs.delete(info.path)


def _prune_folders(fs: StoreFS, rels: Sequence[str]) -> None:
    """Remove the empty folders left below (and at) these folders of a local store."""
    if not fs.local:
        return  # an object store has no folders
    for rel in rels:
        top = fs.full(rel)
        for folder, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _remove_model(fs: StoreFS, exp_id: str, model_id: str) -> None:
    """Remove a logged model: its files, its edits, then its record."""
    base = fs.join(schema.MODELS_FOLDER, exp_id)
    _delete_all(fs, fs.list_files(fs.join(base, model_id)))
    _delete_all(fs, fs.list_files(fs.join(base, schema.EDITS_FOLDER, model_id)))
    fs.delete(fs.join(base, schema.RECORDS_FOLDER, f"{model_id}.json"))
    _prune_folders(fs, [fs.join(base, model_id), fs.join(base, schema.EDITS_FOLDER, model_id)])


def _remove_parts(fs: StoreFS, exp_id: str, parts: set[str]) -> None:
    """Remove these part ids from raw parts, compacted files and archive summaries."""
    if parts:
        compaction.remove_parts(fs, exp_id, parts)
        compaction.remove_parts(fs, exp_id, parts, folder=schema.ARCHIVED_FOLDER)


def still_due(
    fs: StoreFS, exp_id: str, targets: Sequence[RunTarget], threshold_ms: int
) -> dict[str, str]:
    """Read an experiment's lifecycles again; return {run id: the part holding its deletion
    event} of the targets still deleted long enough (one restored since the plan is not)."""
    lifecycles = usage.read_experiment_events(fs, exp_id).lifecycles
    out = {}
    for target in targets:
        life = lifecycles.get(target.run_id)
        if life is None or life.stage != LifecycleStage.DELETED or life.part is None:
            continue
        if (life.time or 0) <= threshold_ms:
            out[target.run_id] = life.part
    return out


def _unsettled(files: ExperimentFiles, finals: dict[str, str]) -> tuple[list[str], list[str]]:
    """Return the raw parts of these runs other than their deletion parts, and the compacted
    files holding some of a run's other parts without its deletion part."""
    raw = [p for p in files.raw if run_of(p) in finals and p != finals[run_of(p)]]
    bad = []
    for shared in files.shared.values():
        if shared.info.path.split("/")[-2] != schema.COMPACTED_FOLDER:
            continue
        held = set(shared.parts)
        runs = {run_of(p) for p in held if run_of(p) in finals and p != finals[run_of(p)]}
        if any(finals[r] not in held for r in runs):
            bad.append(shared.info.path)
    return raw, bad


def gather(fs: StoreFS, exp_id: str, finals: dict[str, str]) -> bool:
    """Bring every part of these runs into compacted files that also hold each run's deletion
    part (compact their raw parts, merge the files holding them); return True if the
    listing showed them so already. Removes no row: files are published, then replaced."""
    files = usage.list_experiment_files(fs, exp_id)
    raw, bad = _unsettled(files, finals)
    if not raw and not bad:
        return True
    mine = {p: i for p, i in files.raw.items() if run_of(p) in finals}
    if mine:
        compaction.compact_parts(fs, exp_id, mine)
    files = usage.list_experiment_files(fs, exp_id)
    holders = [
        shared.info
        for shared in files.shared.values()
        if shared.info.path.split("/")[-2] == schema.COMPACTED_FOLDER
        and any(run_of(p) in finals for p in shared.parts)
    ]
    if len(holders) > 1 or bad:
        compaction.merge_compacted(fs, exp_id, reader.Listing(compacted=holders))
    return False


def settle(fs: StoreFS, due: dict[str, dict[str, str]], wait_s: float) -> dict[str, dict[str, str]]:
    """Gather each experiment's doomed runs (see `gather`), then wait `wait_s` for the
    compactions already under way, and check again; return the experiments whose runs are
    settled (the others, still changing after VERIFY_ROUNDS tries, are left for a rerun).

    Why: a compaction that read a run's older parts before gc began may publish them after
    gc removed the run's deletion event, and the run would read as active again. Once every
    file holding a run's parts holds its deletion too, and the compactions that read the
    files before are done, any copy a compaction makes holds the deletion as well."""
    pending = {e: finals for e, finals in due.items() if finals}
    for _round in range(VERIFY_ROUNDS if pending else 0):
        for exp_id, finals in pending.items():
            gather(fs, exp_id, finals)
        time.sleep(wait_s)
        pending = {
            e: finals
            for e, finals in pending.items()
            if any(_unsettled(usage.list_experiment_files(fs, e), finals))
        }
        if not pending:
            break
    return {e: finals for e, finals in due.items() if finals and e not in pending}


def remove_runs(
    fs: StoreFS, exp_id: str, targets: Sequence[RunTarget], finals: dict[str, str]
) -> None:
    """Remove settled deleted runs of one experiment: their logged models and run folders,
    then their events, the parts that hold their deletion events last."""
    for target in targets:  # what surrounds the events first: the run keeps reading deleted
        for model_id in target.models:
            _remove_model(fs, exp_id, model_id)
        folder = fs.join(schema.RUNS_FOLDER, exp_id, target.run_id)
        _delete_all(fs, fs.list_files(folder), last=(schema.RUN_MARKER_FILE,))
        _prune_folders(fs, [folder])
    ids = {t.run_id for t in targets}
    final = set(finals.values())
    for _round in range(VERIFY_ROUNDS):  # then the events, each deletion event last
        left = usage.list_experiment_files(fs, exp_id).parts_of(ids)
        if not left:
            return
        _remove_parts(fs, exp_id, left - final)
        _remove_parts(fs, exp_id, left & final)
    log.warning("parts of removed runs of %s keep coming back; run gc again", exp_id)


def remove_experiment(fs: StoreFS, target: ExperimentTarget, threshold_ms: int) -> bool:
    """Remove a deleted experiment, every run and model it holds, its edits, and its record;
    return False (nothing removed) when it no longer reads deleted long enough (restored, or
    deleted again, since the plan was made)."""
    exp_id = target.exp_id
    state = experiment_state(fs, usage.list_experiment_only(fs, exp_id))
    if state.stage != LifecycleStage.DELETED or (state.last_update_time or 0) > threshold_ms:
        return False
    runs = fs.join(schema.RUNS_FOLDER, exp_id)
    models = fs.join(schema.MODELS_FOLDER, exp_id)
    for _round in range(VERIFY_ROUNDS):  # runs and models: whatever a writer adds meanwhile
        files = usage.list_experiment_only(fs, exp_id)
        run_files = [i for infos in files.run_files.values() for i in infos]
        model_files = [i for infos in files.model_files.values() for i in infos]
        event_files = [*files.raw.values(), *files.compacted, *files.archived, *files.stray]
        if not (run_files or model_files or event_files):
            break
        _delete_all(fs, run_files, last=(schema.RUN_MARKER_FILE,))
        records = f"/{schema.RECORDS_FOLDER}/"
        _delete_all(fs, [i for i in model_files if records not in i.path])
        _delete_all(fs, [i for i in model_files if records in i.path])
        _delete_all(fs, event_files)
    _prune_folders(fs, [runs, models])
    # then what says it exists: its edits, its record, and last the edit that deleted it
    edits = [i for i in files.records if i.path.endswith(schema.EDIT_SUFFIX)]
    deciding = state.deciding_edit
    _delete_all(fs, [i for i in edits if i.path != deciding])
    fs.delete(fs.join(schema.EXPERIMENTS_FOLDER, f"{exp_id}.json"))
    if deciding is not None:
        fs.delete(deciding)
    _prune_folders(fs, [fs.join(schema.EXPERIMENTS_FOLDER, exp_id)])
    return True


def collect(fs: StoreFS, chosen: GcPlan, threshold_ms: int, wait_s: float) -> GcPlan:
    """Remove what a plan chose (runs by experiment, then experiments); return what was
    removed, with what was left and why."""
    done = GcPlan(skipped=list(chosen.skipped), too_recent=chosen.too_recent)
    by_exp: dict[str, list[RunTarget]] = {}
    for target in chosen.runs:
        by_exp.setdefault(target.exp_id, []).append(target)
    due = {e: still_due(fs, e, targets, threshold_ms) for e, targets in by_exp.items()}
    for exp_id, targets in by_exp.items():
        restored = sorted(t.run_id for t in targets if t.run_id not in due[exp_id])
        done.skipped += [(r, "no longer deleted (restored since gc began)") for r in restored]
    settled = settle(fs, due, wait_s)
    for exp_id, targets in sorted(by_exp.items()):
        finals = settled.get(exp_id, {})
        busy = sorted(r for r in due[exp_id] if r not in finals)
        done.skipped += [(r, "its events kept changing (compactions); run gc again") for r in busy]
        removing = [t for t in targets if t.run_id in finals]
        if removing:
            remove_runs(fs, exp_id, removing, finals)
            done.runs += removing
    for exp in chosen.experiments:
        if remove_experiment(fs, exp, threshold_ms):
            done.experiments.append(exp)
        else:
            done.skipped.append((exp.exp_id, "no longer deleted (restored since gc began)"))
    return done
