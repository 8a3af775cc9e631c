"""Every promise of the store protocol, tested through `AbstractStore` alone (see __init__)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reporter.core.datasets import DATASET_CONTEXT_TAG, Dataset, DatasetInput, InputTag
from reporter.core.entities import RUN_COLUMNS, LifecycleStage, Metric, Param, RunStatus, RunTag
from reporter.core.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    ParamConflictError,
)
from reporter.core.logged_models import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelStatus,
    new_model_id,
)
from reporter.store import records, registry
from reporter.store.protocol import AbstractStore
from tests.store_contract.registry_suite import RegistryContract


def _now() -> int:
    return int(time.time() * 1000)


def _dataset_input(name: str, digest: str, context: str | None = None) -> DatasetInput:
    tags = [InputTag(DATASET_CONTEXT_TAG, context)] if context else []
    schema = '{"mlflow_colspec": [{"type": "long", "name": "a", "required": true}]}'
    data = Dataset(name, digest, "local", '{"uri": "data/train.csv"}', schema, '{"num_rows": 3}')
    return DatasetInput(data, tags)


class StoreContract(RegistryContract):
    """Subclasses provide `new_store_uri`: the URI of a new, empty store of their kind."""

    @pytest.fixture
    def new_store_uri(self) -> str:
        raise NotImplementedError("a store implementation's test class provides new_store_uri")

    @pytest.fixture
    def store(self, new_store_uri: str) -> Iterator[AbstractStore]:
        store = registry.open_store(new_store_uri)
        yield store
        store.close()  # before the test's server and folder go away

    @pytest.fixture
    def exp_id(self, store: AbstractStore) -> str:
        return store.create_experiment("contract", tags={"team": "a"}, description="about")

    def new_run(self, store: AbstractStore, exp_id: str, name: str = "r") -> str:
        run = store.create_run(exp_id, name, "tester", _now(), [RunTag("t", "1")])
        return run.info.run_id

    # the store ---------------------------------------------------------------------------
    def test_an_empty_uri_is_not_a_store_until_written(self, store: AbstractStore) -> None:
        with pytest.raises(NotFoundError):
            store.require_existing()
        store.create_experiment("first")
        store.require_existing()

    def test_the_content_digest_follows_every_write(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        before = store.content_digest()
        assert store.content_digest() == before
        run_id = self.new_run(store, exp_id)
        store.end_run(run_id, RunStatus.FINISHED, _now())
        after_run = store.content_digest()
        assert after_run != before
        store.write_artifact_bytes(run_id, "a.txt", b"x")
        assert store.content_digest() != after_run

    # experiments -------------------------------------------------------------------------
    def test_an_experiment_reads_back_as_created(self, store: AbstractStore, exp_id: str) -> None:
        exp = store.get_experiment(exp_id)
        assert (exp.experiment_id, exp.name, exp.description) == (exp_id, "contract", "about")
        assert exp.tags == {"team": "a"} and exp.lifecycle_stage == LifecycleStage.ACTIVE
        assert store.get_experiment_by_name("contract") == exp
        assert store.get_experiment_by_name("no such") is None
        assert exp_id in {e.experiment_id for e in store.list_experiments()}
        assert store.create_experiment("contract") == exp_id  # the same name: the same one
        store.require_experiment(exp_id)

    def test_racing_exclusive_creates_have_one_winner(self, store: AbstractStore) -> None:
        """MLflow's create_experiment: of processes creating one name at once, exactly one
        succeeds and the others are told it exists (none has its tags dropped silently)."""
        import concurrent.futures

        def create(index: int) -> str | None:
            try:
                store.create_experiment("raced", tags={"by": str(index)}, exclusive=True)
            except AlreadyExistsError:
                return None
            return str(index)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            winners = [w for w in pool.map(create, range(8)) if w is not None]
        assert len(winners) == 1
        exp = store.get_experiment_by_name("raced")
        assert exp is not None and exp.tags.get("by") == winners[0]
        with pytest.raises(AlreadyExistsError):
            store.create_experiment("raced", exclusive=True)
        assert store.create_experiment("raced") == exp.experiment_id  # set_experiment's way

    def test_unknown_experiments_are_not_found(self, store: AbstractStore, exp_id: str) -> None:
        with pytest.raises(NotFoundError):
            store.get_experiment("0" * 12)
        with pytest.raises(NotFoundError):
            store.require_experiment("0" * 12)

    def test_a_bad_experiment_name_is_refused(self, store: AbstractStore) -> None:
        with pytest.raises(InvalidArgumentError):
            store.create_experiment(" ")

    def test_edits_of_different_fields_all_stay(self, store: AbstractStore, exp_id: str) -> None:
        store.edit_experiment(exp_id, set_tags={"b": "2"})
        store.edit_experiment(exp_id, set_fields={"description": "new"})
        store.edit_experiment(exp_id, delete_tags=["team"])
        exp = store.get_experiment(exp_id)
        assert exp.tags == {"b": "2"} and exp.description == "new"
        with pytest.raises(InvalidArgumentError):
            store.edit_experiment(exp_id, set_fields={"artifact_location": "/elsewhere"})

    def test_update_records_renames_and_lifecycle(self, store: AbstractStore, exp_id: str) -> None:
        from dataclasses import replace

        exp = store.get_experiment(exp_id)
        store.update_experiment(replace(exp, name="renamed", lifecycle_stage="deleted"))
        again = store.get_experiment(exp_id)
        assert (again.name, again.lifecycle_stage) == ("renamed", LifecycleStage.DELETED)
        assert store.get_experiment_by_name("renamed") == again

    # runs ---------------------------------------------------------------------------------
    def test_a_run_reads_back_what_was_logged(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id, "first")
        store.log_batch(
            run_id,
            metrics=[Metric("loss", 0.5, 1000, 1), Metric("loss", 0.25, 2000, 2)],
            params=[Param("lr", "0.1")],
            tags=[RunTag("k", "v")],
        )
        store.flush()
        run = store.get_run(run_id)
        assert (run.info.run_id, run.info.experiment_id) == (run_id, exp_id)
        assert (run.info.run_name, run.info.status) == ("first", RunStatus.RUNNING)
        assert run.data.params == {"lr": "0.1"}
        assert run.data.tags["k"] == "v" and run.data.tags["t"] == "1"
        assert run.data.metrics == {"loss": 0.25}
        history = store.get_metric_history(run_id, "loss")
        assert [(m.value, m.step, m.timestamp) for m in history] == [
            (0.5, 1, 1000),
            (0.25, 2, 2000),
        ]
        assert store.experiment_of(run_id) == exp_id

    def test_a_param_keeps_its_first_value(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        store.log_batch(run_id, params=[Param("lr", "0.1")])
        store.log_batch(run_id, params=[Param("lr", "0.1")])  # the same value: accepted
        with pytest.raises(ParamConflictError):
            store.log_batch(run_id, params=[Param("lr", "0.2")])
        store.flush()
        assert store.get_run(run_id).data.params == {"lr": "0.1"}

    def test_tags_are_deleted_and_attributes_set(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        store.delete_tag(run_id, "t")
        with pytest.raises(NotFoundError):
            store.delete_tag(run_id, "never set")
        store.set_attributes(run_id, run_name="renamed")
        with pytest.raises(InvalidArgumentError):
            store.set_attributes(run_id, colour="red")
        store.flush()
        run = store.get_run(run_id)
        assert "t" not in run.data.tags and run.info.run_name == "renamed"

    def test_ending_and_resuming_a_run(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        end = _now()
        store.end_run(run_id, RunStatus.FINISHED, end)
        run = store.get_run(run_id)
        assert (run.info.status, run.info.end_time) == (RunStatus.FINISHED, end)
        assert store.resume_run(run_id).info.status == RunStatus.RUNNING
        store.end_run(run_id, RunStatus.FAILED, end + 1)
        assert store.get_run(run_id).info.status == RunStatus.FAILED

    def test_unknown_runs_are_not_found(self, store: AbstractStore, exp_id: str) -> None:
        for call in (store.get_run, store.experiment_of):
            with pytest.raises(NotFoundError):
                call(uuid.uuid4().hex)
        assert not store.knows_run(uuid.uuid4().hex)

    def test_knows_run_only_what_it_has_looked_up(
        self, store: AbstractStore, exp_id: str, new_store_uri: str
    ) -> None:
        """knows_run is True only where queueing rows needs no lookup in storage: for runs
        this store object created or found, never for a run it has not seen."""
        run_id = self.new_run(store, exp_id)
        assert store.knows_run(run_id)
        other = registry.open_store(new_store_uri)
        try:
            assert not other.knows_run(run_id)  # made by another process: not looked up yet
            assert other.experiment_of(run_id) == exp_id
            assert other.knows_run(run_id)
        finally:
            other.close()

    def test_runs_of_an_experiment_as_a_frame_and_as_runs(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        ids = {self.new_run(store, exp_id, f"r{i}") for i in range(3)}
        for i, run_id in enumerate(sorted(ids)):
            store.log_batch(run_id, metrics=[Metric("m", float(i), 1, 0)])
            store.end_run(run_id, RunStatus.FINISHED, _now())
        frame = store.runs_frame([exp_id])
        assert set(RUN_COLUMNS) <= set(frame.columns) and set(frame["run_id"]) == ids
        assert {"metrics.m", "params.lr"} & set(frame.columns) == {"metrics.m"}
        assert set(frame["status"]) == {RunStatus.FINISHED}
        assert {r.info.run_id for r in store.list_runs([exp_id])} == ids
        runs, points = store.read_experiment(exp_id)
        assert set(runs["run_id"]) == ids and len(points) == 3
        assert set(points.slices()) == {(run_id, "m") for run_id in ids}
        assert store.runs_frame([]).empty or len(store.runs_frame([])) == 0

    def test_batches_read_one_by_one_are_the_batches_read_in_turn(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        """`experiment_batches` cuts an experiment into batches of whole runs (each run once),
        and `read_run_batch` of each reads what `read_experiment_batches` yields for it:
        a read worker may read any batch (a store that reads an experiment as one batch
        returns no batches)."""
        ids = set()
        for i in range(5):
            run_id = self.new_run(store, exp_id, f"r{i}")
            store.log_batch(run_id, metrics=[Metric("m", float(s), 1, s) for s in range(40)])
            store.end_run(run_id, RunStatus.FINISHED, _now())
            ids.add(run_id)
        groups = store.experiment_batches(exp_id, 100)
        whole = list(store.read_experiment_batches(exp_id, 100))
        if not groups:
            assert len(whole) == 1
            return
        assert sorted(r for g in groups for r in g) == sorted(ids) and len(groups) > 1
        assert len(whole) == len(groups)
        for group, batch in zip(groups, whole, strict=True):
            one = store.read_run_batch(exp_id, group)
            assert list(one.frame["run_id"]) == list(batch.frame["run_id"])
            assert set(one.frame["run_id"]) == set(group)
            assert one.points.slices() == batch.points.slices()
            assert list(one.points.value) == list(batch.points.value)

    def test_a_uri_for_workers_opens_this_very_store(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        """What a build's workers open (`uri_for_workers`) reads what this store holds, in a
        store object of its own (as another process makes one); None: no workers share it."""
        run_id = self.new_run(store, exp_id)
        store.log_batch(run_id, metrics=[Metric("m", 1.5, 1, 0)])
        store.end_run(run_id, RunStatus.FINISHED, _now())
        store.flush()
        uri = store.uri_for_workers()
        if uri is None:
            pytest.skip(f"{type(store).__name__} at {store.uri} is not shared with workers")
        other = registry.open_store(uri)
        try:
            other.require_existing()
            assert other.get_experiment(exp_id).name == "contract"
            runs, points = other.read_experiment(exp_id)
            assert list(runs["run_id"]) == [run_id]
            assert list(points.value) == [1.5]
        finally:
            other.close()

    def test_an_imported_run_keeps_its_id(self, store: AbstractStore, exp_id: str) -> None:
        run_id = uuid.uuid4().hex
        store.ensure_run_marker(exp_id, run_id, 1000)
        rows: list[records.Row] = [
            (records.KIND_ATTR, "run_name", None, "imported", 0, 1000),
            (records.KIND_ATTR, "status", None, RunStatus.FINISHED, 0, 1000),
            (records.KIND_ATTR, "start_time", None, "1000", 0, 1000),
            (records.KIND_PARAM, "p", None, "1", 0, 1000),
            (records.KIND_METRIC, "m", 2.5, None, 3, 1000),
        ]
        store.write_run_events(exp_id, run_id, rows, 1000)
        run = store.get_run(run_id)
        assert (run.info.run_name, run.info.status) == ("imported", RunStatus.FINISHED)
        assert run.data.params == {"p": "1"} and run.data.metrics == {"m": 2.5}
        with pytest.raises(InvalidArgumentError):
            store.ensure_run_marker(exp_id, "../escape", 1000)

    def test_close_writes_what_is_buffered_and_the_store_stays_usable(
        self, store: AbstractStore, new_store_uri: str, exp_id: str
    ) -> None:
        run_id = self.new_run(store, exp_id)
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
        store.close()
        assert registry.open_store(new_store_uri).get_run(run_id).data.metrics == {"m": 1.0}
        store.log_batch(run_id, metrics=[Metric("m", 2.0, 2, 1)])
        store.flush()
        assert len(store.get_metric_history(run_id, "m")) == 2

    def test_compaction_keeps_every_event(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        for step in range(3):
            store.log_batch(run_id, metrics=[Metric("m", float(step), step, step)])
            store.flush()
        store.end_run(run_id, RunStatus.FINISHED, _now())
        before = store.get_run(run_id)
        results = store.compact([exp_id])
        assert all(r.experiment_id == exp_id for r in results)
        store.clear_cache()
        assert store.get_run(run_id) == before
        assert [m.value for m in store.get_metric_history(run_id, "m")] == [0.0, 1.0, 2.0]

    # datasets a run used -----------------------------------------------------------------------
    def test_datasets_read_back_once_each_in_logging_order(
        self, store: AbstractStore, new_store_uri: str, exp_id: str
    ) -> None:
        run_id, other = self.new_run(store, exp_id), self.new_run(store, exp_id)
        train, test = (
            _dataset_input("iris", "a1b2c3d4", "training"),
            _dataset_input("iris", "ffff0000"),
        )
        store.log_inputs(run_id, [train, test, _dataset_input("iris", "a1b2c3d4", "eval")])
        store.log_inputs(run_id, models=[LoggedModelInput("m-" + "0" * 32)])
        store.flush()
        again = registry.open_store(new_store_uri)  # another writer: the first event still wins
        again.log_inputs(
            run_id, [_dataset_input("iris", "a1b2c3d4", "eval"), _dataset_input("z", "1")]
        )
        again.close()
        store.clear_cache()
        expected = [train, test, _dataset_input("z", "1")]
        run = store.get_run(run_id)
        assert run.inputs.dataset_inputs == expected
        assert [m.model_id for m in run.inputs.model_inputs] == ["m-" + "0" * 32]
        assert store.get_run(other).inputs.dataset_inputs == []
        listed = {r.info.run_id: r.inputs.dataset_inputs for r in store.list_runs([exp_id])}
        assert listed == {run_id: expected, other: []}
        found = store.list_run_inputs([exp_id])
        assert set(found) == {run_id} and found[run_id].dataset_inputs == expected
        frame = store.runs_frame([exp_id])  # datasets are not columns of the runs frame
        assert not [c for c in frame.columns if "iris" in c or c.startswith(("inputs", "datasets"))]
        assert set(run.data.tags) == {"t"}  # nor tags
        for run_ in (run_id, other):
            store.end_run(run_, RunStatus.FINISHED, _now())
        store.compact([exp_id])
        store.clear_cache()
        assert store.get_run(run_id).inputs == run.inputs
        assert store.list_run_inputs([exp_id])[run_id].dataset_inputs == expected

    def test_bad_dataset_inputs_are_refused(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        with pytest.raises(NotFoundError):
            store.log_inputs(uuid.uuid4().hex, [_dataset_input("x", "1")])
        too_long = _dataset_input("x", "0" * 37)  # MLflow's limit on a digest is 36
        no_source = DatasetInput(Dataset("x", "1", "local", None))  # type: ignore[arg-type]
        for bad in (too_long, no_source, "not an input"):
            with pytest.raises(InvalidArgumentError):
                store.log_inputs(run_id, [bad])  # type: ignore[list-item]
        store.flush()
        assert store.get_run(run_id).inputs.dataset_inputs == []

    # artifacts ------------------------------------------------------------------------------
    def test_artifacts_are_written_listed_and_read(
        self, store: AbstractStore, exp_id: str, tmp_path: Path
    ) -> None:
        run_id = self.new_run(store, exp_id)
        store.write_artifact_bytes(run_id, "dir/a.txt", b"alpha")
        local = tmp_path / "b.bin"
        local.write_bytes(b"\x00beta")
        store.log_artifact_file(run_id, str(local), "b.bin")
        assert sorted(store.list_artifacts(run_id)) == [("b.bin", 5), ("dir/a.txt", 5)]
        assert store.read_artifact(run_id, "dir/a.txt") == b"alpha"
        assert store.read_artifact(run_id, "b.bin", exp_id) == b"\x00beta"
        listed = {k: sorted(v) for k, v in store.list_experiment_artifacts(exp_id).items()}
        assert listed == {run_id: [("b.bin", 5), ("dir/a.txt", 5)]}
        target = tmp_path / "out" / "a.txt"
        store.download_artifact_file(run_id, "dir/a.txt", str(target))
        assert target.read_bytes() == b"alpha"
        assert "://" in store.artifact_link(run_id, "dir/a.txt")
        assert store.artifact_uri(run_id)

    def test_missing_and_hostile_artifact_paths(self, store: AbstractStore, exp_id: str) -> None:
        run_id = self.new_run(store, exp_id)
        with pytest.raises(NotFoundError):
            store.read_artifact(run_id, "missing.txt")
        for hostile in ("../escape.txt", "/etc/passwd", "a/../../b"):
            with pytest.raises((InvalidArgumentError, NotFoundError)):
                store.read_artifact(run_id, hostile)
            with pytest.raises(InvalidArgumentError):
                store.write_artifact_bytes(run_id, hostile, b"x")
        assert store.list_artifacts(run_id) == []

    # logged models ----------------------------------------------------------------------------
    def new_model(self, store: AbstractStore, exp_id: str, run_id: str | None = None) -> str:
        now = _now()
        model = LoggedModel(
            experiment_id=exp_id,
            model_id=new_model_id(),
            name="model",
            artifact_location="",
            creation_timestamp=now,
            last_updated_timestamp=now,
            source_run_id=run_id,
            status=LoggedModelStatus.PENDING,
            tags={"mlflow.user": "tester"},
            params={"alpha": "0.1"},
        )
        return store.create_logged_model(model).model_id

    def test_a_logged_model_reads_back_with_its_edits(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        run_id = self.new_run(store, exp_id)
        model_id = self.new_model(store, exp_id, run_id)
        created = store.get_logged_model(model_id)
        assert (created.name, created.source_run_id, created.experiment_id) == (
            "model",
            run_id,
            exp_id,
        )
        assert created.status == LoggedModelStatus.PENDING and created.metrics == ()
        assert created.model_uri == f"models:/{model_id}" and created.artifact_location
        point = Metric("acc", 0.9, _now(), 3, model_id=model_id, run_id=run_id)
        store.edit_logged_model(model_id, set_fields={"status": "READY"}, metrics=[point])
        store.edit_logged_model(model_id, set_tags={"stage": "dev"}, delete_tags=["mlflow.user"])
        store.edit_logged_model(model_id, params={"alpha": "9", "beta": "2"})
        model = store.get_logged_model(model_id)
        assert model.status == LoggedModelStatus.READY
        assert model.tags == {"stage": "dev"}
        assert model.params == {"alpha": "0.1", "beta": "2"}  # a param keeps its first value
        assert list(model.metrics) == [point]
        assert model.last_updated_timestamp >= created.last_updated_timestamp

    def test_logged_models_are_listed_per_experiment(
        self, store: AbstractStore, exp_id: str
    ) -> None:
        other = store.create_experiment("other models")
        mine = {self.new_model(store, exp_id) for _ in range(3)}
        theirs = self.new_model(store, other)
        store.edit_logged_model(theirs, set_fields={"deleted": True})
        assert {m.model_id for m in store.list_logged_models([exp_id])} == mine
        (listed,) = store.list_logged_models([other])
        assert listed.model_id == theirs and listed.deleted
        both = store.list_logged_models([exp_id, other])
        assert [m.creation_timestamp for m in both] == sorted(m.creation_timestamp for m in both)

    def test_unknown_and_malformed_model_ids(self, store: AbstractStore, exp_id: str) -> None:
        self.new_model(store, exp_id)
        with pytest.raises(NotFoundError):
            store.get_logged_model(new_model_id())
        for bad in ("../x", "m-" + "g" * 32, "", "m-1/../../etc"):
            with pytest.raises(InvalidArgumentError):
                store.get_logged_model(bad)
        with pytest.raises(InvalidArgumentError):
            store.edit_logged_model(self.new_model(store, exp_id), set_fields={"name": "x"})

    def test_a_logged_model_keeps_its_files(
        self, store: AbstractStore, exp_id: str, tmp_path: Path
    ) -> None:
        model_id = self.new_model(store, exp_id)
        local = tmp_path / "MLmodel"
        local.write_text("flavors: {}\n")
        store.log_model_artifact_file(model_id, str(local), "MLmodel")
        store.log_model_artifact_file(model_id, str(local), "sub/copy")
        assert sorted(store.list_model_artifacts(model_id)) == [("MLmodel", 12), ("sub/copy", 12)]
        assert store.read_model_artifact(model_id, "sub/copy") == b"flavors: {}\n"
        store.download_model_artifact_file(model_id, "MLmodel", str(tmp_path / "out" / "M"))
        assert (tmp_path / "out" / "M").read_text() == "flavors: {}\n"
        with pytest.raises(NotFoundError):
            store.read_model_artifact(model_id, "missing")
        with pytest.raises(InvalidArgumentError):
            store.log_model_artifact_file(model_id, str(local), "../../escape")

    # access control and the audit trail (kept for the tracking server) -------------------
    def test_access_changes_read_back_in_order_from_every_writer(
        self, store: AbstractStore, new_store_uri: str
    ) -> None:
        other = registry.open_store(new_store_uri)
        try:
            changes = [
                {"op": "grant", "who": f"user:u{i}", "experiment": "x", "permission": "READ"}
                for i in range(6)
            ]
            for i, change in enumerate(changes):  # two writers, taking turns
                (store if i % 2 else other).publish_access_change(change)
            for reader in (store, other):
                got = [{k: v for k, v in c.items() if k != "time"} for c in reader.access_changes()]
                assert got == changes
        finally:
            other.close()

    def test_audit_records_read_back_once_each_in_time_order(self, store: AbstractStore) -> None:
        now = _now()
        batches: list[list[dict[str, Any]]] = [
            [{"id": f"a{i}-{j}", "time": now + i, "user": "ann", "action": "x"} for j in range(3)]
            for i in range(5)
        ]
        for batch in reversed(batches):
            store.append_audit(batch)
        flat = sorted((r for b in batches for r in b), key=lambda r: (r["time"], r["id"]))
        assert store.read_audit() == flat
        assert store.read_audit(since_ms=now + 3) == [r for r in flat if r["time"] >= now + 3]
