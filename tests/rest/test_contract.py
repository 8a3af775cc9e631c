"""The store conformance suite on the REST store, against a real `mlflow server`.

Each test gets the session's server emptied (`fresh_server`). Where MLflow's REST API cannot
keep a promise of the protocol, the test is overridden here, skipped with the reason, or run
in the form that holds over REST (named `test_..._over_rest`).
"""

from __future__ import annotations

import pytest

from reporter.core.entities import LifecycleStage
from reporter.core.errors import InvalidArgumentError, UnsupportedURIError
from reporter.store.protocol import AbstractRegistry, AbstractStore
from tests.rest.conftest import Server
from tests.store_contract.suite import StoreContract

NOTE = "mlflow.note.content"  # MLflow keeps an experiment's description as this tag


class TestRestStore(StoreContract):
    @pytest.fixture
    def new_store_uri(self, fresh_server: Server) -> str:
        return fresh_server.url

    @pytest.fixture
    def registry(self, store: AbstractStore) -> AbstractRegistry:
        # the session's mlflow server is emptied of experiments between tests, not of
        # registered models (and its SQLite store loses races the suite runs); reporter's
        # registry client over REST is checked against tracker-report server in
        # tests/test_registry.py, and MLflow's client against both servers there
        pytest.skip("the registry suite needs a fresh registry; see tests/test_registry.py")

    @pytest.mark.skip(reason="a tracking server is a store from the start (it has Default)")
    def test_an_empty_uri_is_not_a_store_until_written(self, store: AbstractStore) -> None: ...

    def test_a_running_server_is_a_store(self, store: AbstractStore) -> None:
        store.require_existing()

    def test_an_experiment_reads_back_as_created(self, store: AbstractStore, exp_id: str) -> None:
        exp = store.get_experiment(exp_id)
        assert (exp.experiment_id, exp.name, exp.description) == (exp_id, "contract", "about")
        # as MLflow: the description is the mlflow.note.content tag, listed with the others
        assert exp.tags == {"team": "a", NOTE: "about"}
        assert exp.lifecycle_stage == LifecycleStage.ACTIVE
        assert store.get_experiment_by_name("contract") == exp
        assert store.get_experiment_by_name("no such") is None
        assert exp_id in {e.experiment_id for e in store.list_experiments()}
        assert store.create_experiment("contract") == exp_id
        store.require_experiment(exp_id)

    def test_edits_of_different_fields_all_stay(self, store: AbstractStore, exp_id: str) -> None:
        store.edit_experiment(exp_id, set_tags={"b": "2"})
        store.edit_experiment(exp_id, set_fields={"description": "new"})
        store.edit_experiment(exp_id, delete_tags=["team"])
        exp = store.get_experiment(exp_id)
        assert exp.tags == {"b": "2", NOTE: "new"} and exp.description == "new"
        with pytest.raises(InvalidArgumentError):
            store.edit_experiment(exp_id, set_fields={"artifact_location": "/elsewhere"})

    def test_an_imported_run_keeps_its_id(self, store: AbstractStore, exp_id: str) -> None:
        """Not applicable: the server makes run ids; an import is refused, saying where to."""
        with pytest.raises(UnsupportedURIError, match="folder or an object store"):
            store.ensure_run_marker(exp_id, "a" * 32, 1000)
        with pytest.raises(UnsupportedURIError, match="folder or an object store"):
            store.write_run_events(exp_id, "a" * 32, [], 1000)

    def test_compaction_keeps_every_event(self, store: AbstractStore, exp_id: str) -> None:
        """Not applicable: nothing to merge on a server; compact returns []."""
        assert store.compact([exp_id]) == [] and store.compact() == []

    @pytest.mark.skip(
        reason="MLflow's server drops a model input naming a logged model it does not have, "
        "and keeps a run's datasets in its own order, not the order they were logged"
    )
    def test_datasets_read_back_once_each_in_logging_order(
        self, store: AbstractStore, new_store_uri: str, exp_id: str
    ) -> None: ...

    @pytest.mark.skip(reason="MLflow's server neither lists nor reads deleted logged models")
    def test_logged_models_are_listed_per_experiment(
        self, store: AbstractStore, exp_id: str
    ) -> None: ...

    @pytest.mark.skip(reason="a tracking server's users and grants are kept in its own store")
    def test_access_changes_read_back_in_order_from_every_writer(
        self, store: AbstractStore, new_store_uri: str
    ) -> None: ...

    @pytest.mark.skip(reason="the audit trail is kept in the server's own store")
    def test_audit_records_read_back_once_each_in_time_order(
        self, store: AbstractStore
    ) -> None: ...
