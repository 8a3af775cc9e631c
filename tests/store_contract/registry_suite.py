"""The model registry's promises, through `AbstractStore.model_registry()` alone: every store
implementation runs them (StoreContract includes this class)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.store.protocol import AbstractRegistry, AbstractStore

# a version source every store takes (a tracking server refuses paths on its own disk)
SOURCE = "s3://models-bucket/churn"


def _race(calls: list[Any]) -> list[str]:
    """Run calls at once, one thread each; each one's outcome: "done" or "refused" (the
    name was taken)."""
    outcomes: list[str] = []
    barrier = threading.Barrier(len(calls))

    def attempt(call: Any) -> None:
        barrier.wait()
        try:
            call()
            outcomes.append("done")
        except AlreadyExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


class RegistryContract:
    @pytest.fixture
    def registry(self, store: AbstractStore) -> AbstractRegistry:
        return store.model_registry()

    def test_a_model_is_created_once_and_read_back(self, registry: AbstractRegistry) -> None:
        made = registry.create_model("churn", {"team": "risk"}, "# Churn\nwho leaves")
        assert (made.name, made.tags) == ("churn", {"team": "risk"})
        assert made.description == "# Churn\nwho leaves" and made.latest_versions == []
        with pytest.raises(AlreadyExistsError, match=r"Registered Model \(name=churn\) already"):
            registry.create_model("churn")
        assert registry.get_model("churn") == made
        assert [m.name for m in registry.list_models()] == ["churn"]
        with pytest.raises(NotFoundError, match="Registered Model with name=nope not found"):
            registry.get_model("nope")

    def test_versions_are_numbered_in_order_and_never_reused(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("m")
        made = [registry.create_version("m", f"{SOURCE}/{i}", run_id=f"r{i}") for i in range(3)]
        assert [v.version for v in made] == [1, 2, 3]
        assert (made[0].source, made[0].run_id, made[0].status) == (f"{SOURCE}/0", "r0", "READY")
        assert made[0].current_stage == "None"
        registry.delete_version("m", 3)
        with pytest.raises(NotFoundError, match=r"Model Version \(name=m, version=3\) not found"):
            registry.get_version("m", "3")
        assert registry.create_version("m", f"{SOURCE}/again").version == 4
        assert sorted(v.version for v in registry.list_versions()) == [1, 2, 4]
        assert [v.version for v in registry.get_model("m").latest_versions] == [4]
        with pytest.raises(InvalidArgumentError, match="must be an integer, got 'abc'"):
            registry.get_version("m", "abc")
        with pytest.raises(NotFoundError):
            registry.create_version("no such model", "/x")

    def test_threads_registering_at_once_get_distinct_numbers(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("busy")
        numbers: list[int] = []
        barrier = threading.Barrier(6)

        def register() -> None:
            barrier.wait()
            for _ in range(3):
                numbers.append(registry.create_version("busy", SOURCE).version)

        threads = [threading.Thread(target=register) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(numbers) == list(range(1, 19))

    def test_aliases_name_one_version_and_go_with_it(self, registry: AbstractRegistry) -> None:
        registry.create_model("m")
        for _ in range(3):
            registry.create_version("m", SOURCE)
        registry.set_alias("m", "champion", "1")
        registry.set_alias("m", "champion", 2)  # moved
        registry.set_alias("m", "challenger", 3)
        assert registry.get_model("m").aliases == {"champion": 2, "challenger": 3}
        assert registry.version_by_alias("m", "champion").version == 2
        assert registry.get_version("m", 2).aliases == ["champion"]
        registry.delete_version("m", 3)  # its alias goes with it
        assert registry.get_model("m").aliases == {"champion": 2}
        registry.delete_alias("m", "champion")
        with pytest.raises(InvalidArgumentError, match="alias champion not found"):
            registry.version_by_alias("m", "champion")
        for bad, message in (
            ("latest", "'latest' alias name"),
            ("v3", "Version alias name 'v3' is reserved"),
            ("a b", "Invalid alias name"),
            ("", "cannot be empty"),
        ):
            with pytest.raises(InvalidArgumentError, match=message):
                registry.set_alias("m", bad, 1)
        with pytest.raises(NotFoundError, match="version=9"):
            registry.set_alias("m", "x", 9)

    def test_tags_descriptions_and_stages_change_in_place(self, registry: AbstractRegistry) -> None:
        registry.create_model("m", {"a": "1"})
        registry.create_version("m", SOURCE, tags={"v": "1"})
        registry.set_model_tag("m", "b", 2)
        registry.delete_model_tag("m", "a")
        registry.set_version_tag("m", 1, "checked", True)
        registry.delete_version_tag("m", 1, "v")
        registry.update_model("m", "new words")
        registry.update_version("m", 1, description="first", current_stage="Production")
        model, version = registry.get_model("m"), registry.get_version("m", 1)
        assert (model.tags, model.description) == ({"b": "2"}, "new words")
        assert (version.tags, version.description) == ({"checked": "True"}, "first")
        assert [v.current_stage for v in model.latest_versions] == ["Production"]

    def test_a_rename_keeps_versions_and_aliases_and_frees_the_old_name(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("old")
        registry.create_version("old", SOURCE)
        registry.set_alias("old", "champion", 1)
        registry.create_model("taken")
        with pytest.raises(AlreadyExistsError):
            registry.rename_model("old", "taken")
        renamed = registry.rename_model("old", "new")
        assert renamed.name == "new" and renamed.aliases == {"champion": 1}
        assert registry.get_version("new", 1).name == "new"
        with pytest.raises(NotFoundError):
            registry.get_model("old")
        registry.create_model("old")  # the name is free again: a new model
        assert registry.get_model("old").latest_versions == []
        assert registry.create_version("old", f"{SOURCE}/n").version == 1

    def test_a_deleted_model_takes_its_versions_and_its_name_is_free(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("m")
        registry.create_version("m", SOURCE)
        registry.delete_model("m")
        assert registry.list_models() == [] and registry.list_versions() == []
        with pytest.raises(NotFoundError):
            registry.get_version("m", 1)
        registry.create_model("m")
        assert registry.create_version("m", f"{SOURCE}/2").version == 1
        assert [v.source for v in registry.list_versions()] == [f"{SOURCE}/2"]

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("", "Missing value for required parameter 'name'"),
            ("a/b", "Names cannot contain '/' or ':'"),
            ("../up", "Names cannot contain '/' or ':'"),
            ("c:d", "Names cannot contain '/' or ':'"),
            ("..", "must not resolve to other names"),
            ("nul\x00byte", "NUL"),
        ],
    )
    def test_hostile_names_are_refused_with_mlflows_message(
        self, registry: AbstractRegistry, name: str, message: str
    ) -> None:
        with pytest.raises(InvalidArgumentError, match=message):
            registry.create_model(name)
        assert registry.list_models() == []

    def test_any_other_name_is_kept_as_given(self, registry: AbstractRegistry) -> None:
        names = ["churn model v2", "модель", "a.b", "%2e%2e", "x" * 300, "<script>"]
        for name in names:
            registry.create_model(name)
            registry.create_version(name, SOURCE)
        assert sorted(m.name for m in registry.list_models()) == sorted(names)

    # found by an adversarial review -----------------------------------------------------------
    def test_a_rename_and_a_create_racing_for_one_name_leave_one_model_of_it(
        self, registry: AbstractRegistry
    ) -> None:
        for round_ in range(12):
            registry.create_model(f"x{round_}")
            registry.create_model(f"w{round_}")
            target = f"y{round_}"
            calls = [
                partial(registry.rename_model, f"x{round_}", target),
                partial(registry.create_model, target),
                partial(registry.rename_model, f"w{round_}", target),
            ]
            outcomes = _race(calls)
            named = [m.name for m in registry.list_models()].count(target)
            assert named == 1 and outcomes.count("refused") == 2, outcomes

    def test_a_version_created_while_its_model_is_renamed_is_returned_and_kept(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("r0")
        made: list[int] = []

        def register() -> None:
            for _ in range(8):
                # (renamed before the call found it: NotFoundError, nothing written)
                with contextlib.suppress(NotFoundError):
                    made.append(registry.create_version(current[0], SOURCE).version)

        current = ["r0"]
        worker = threading.Thread(target=register)
        worker.start()
        for i in range(1, 6):
            registry.rename_model(current[0], f"r{i}")
            current[0] = f"r{i}"
        worker.join()
        kept = sorted(v.version for v in registry.list_versions())
        assert kept == sorted(made)  # every version a call returned, and no other

    def test_a_name_deleted_and_registered_again_many_times_still_registers(
        self, registry: AbstractRegistry
    ) -> None:
        for _ in range(40):
            registry.create_model("again")
            registry.create_version("again", SOURCE)
            registry.delete_model("again")
        registry.create_model("again")
        assert registry.create_version("again", SOURCE).version == 1
        assert [m.name for m in registry.list_models()] == ["again"]

    def test_what_a_caller_changes_in_a_returned_entity_stays_with_the_caller(
        self, registry: AbstractRegistry
    ) -> None:
        registry.create_model("m", {"a": "1"})
        registry.create_version("m", SOURCE, tags={"v": "1"})
        registry.set_alias("m", "champion", 1)
        for version in (
            registry.get_version("m", 1),
            registry.version_by_alias("m", "champion"),
            registry.list_versions()[0],
            registry.get_model("m").latest_versions[0],
        ):
            version.description = "changed by the caller"
            version.tags["x"] = "y"
            version.aliases.append("mine")
        model = registry.get_model("m")
        model.tags["x"] = "y"
        model.aliases["mine"] = 1
        again = registry.get_version("m", 1)
        assert (again.description, again.tags, again.aliases) == (None, {"v": "1"}, ["champion"])
        assert registry.get_model("m").tags == {"a": "1"}
        assert registry.get_model("m").aliases == {"champion": 1}

    # imports (tracker-report import mlflow) ---------------------------------------------------
    def test_an_import_keeps_numbers_times_and_state_and_a_second_one_writes_nothing(
        self, registry: AbstractRegistry
    ) -> None:
        model = RegisteredModel(
            "imported",
            creation_timestamp=1_000,
            last_updated_timestamp=5_000,
            description="# from MLflow",
            tags={"team": "risk"},
            aliases={"champion": 3},  # recorded before version 3 is there
        )
        first = ModelVersion(
            "imported", 1, 1_100, 1_200, description="one", user_id="ana",
            current_stage="Production", source=f"{SOURCE}/1", run_id="r1",
            run_link="http://mlflow/r1", status="FAILED_REGISTRATION", status_message="no files",
            tags={"t": "1"},
        )  # fmt: skip
        gone = ModelVersion("imported", 2, 1_300, 1_400, source="REDACTED-SOURCE-PATH")
        third = ModelVersion("imported", 3, 1_500, 1_600, source=f"{SOURCE}/3", run_id="r3")

        def import_all() -> list[bool]:
            return [
                registry.import_model(model),
                registry.import_version(first),
                registry.import_version(gone, deleted=True),
                registry.import_version(third),
            ]

        assert import_all() == [True, True, True, True]
        read = registry.get_model("imported")
        assert (read.creation_timestamp, read.last_updated_timestamp) == (1_000, 5_000)
        assert (read.description, read.tags, read.aliases) == (
            "# from MLflow",
            {"team": "risk"},
            {"champion": 3},
        )
        got = registry.get_version("imported", 1)
        assert (got.creation_timestamp, got.last_updated_timestamp, got.current_stage) == (
            1_100,
            1_200,
            "Production",
        )
        assert (got.description, got.user_id, got.source, got.run_id, got.run_link) == (
            "one",
            "ana",
            f"{SOURCE}/1",
            "r1",
            "http://mlflow/r1",
        )
        assert (got.status, got.status_message, got.tags) == (
            "FAILED_REGISTRATION",
            "no files",
            {"t": "1"},
        )
        with pytest.raises(NotFoundError):
            registry.get_version("imported", 2)  # imported as deleted: its number is taken
        assert sorted(v.version for v in registry.list_versions()) == [1, 3]
        assert registry.version_by_alias("imported", "champion").version == 3
        assert [v.version for v in read.latest_versions] == [3, 1]  # None, then Production
        assert import_all() == [False, False, False, False]  # nothing differs: nothing written
        assert registry.get_model("imported") == read
        assert registry.create_version("imported", SOURCE).version == 4  # after the gap

    def test_an_import_brings_what_changed_and_refuses_another_model_or_version(
        self, registry: AbstractRegistry
    ) -> None:
        model = RegisteredModel("m", 1_000, 2_000, "old words", tags={"a": "1", "b": "2"})
        registry.import_model(model)
        for n in (1, 2):
            registry.import_version(ModelVersion("m", n, 1_000 + n, 1_000 + n, tags={"k": "v"}))
        changed = RegisteredModel(
            "m", 1_000, 3_000, "new words", tags={"b": "3", "c": "4"}, aliases={"live": 2}
        )
        assert registry.import_model(changed)
        read = registry.get_model("m")
        assert (read.description, read.tags, read.aliases, read.last_updated_timestamp) == (
            "new words",
            {"b": "3", "c": "4"},
            {"live": 2},
            3_000,
        )
        staged = ModelVersion(
            "m", 1, 1_001, 9_000, description="now", current_stage="Archived", tags={"j": "w"}
        )
        assert registry.import_version(staged)
        got = registry.get_version("m", 1)
        assert (got.description, got.current_stage, got.tags, got.last_updated_timestamp) == (
            "now",
            "Archived",
            {"j": "w"},
            9_000,
        )
        # deleted in the source since: deleted here, its alias with it
        assert registry.import_version(ModelVersion("m", 2, 1_002, 9_500), deleted=True)
        assert registry.import_model(replace(changed, aliases={}))
        assert registry.get_model("m").aliases == {}
        with pytest.raises(NotFoundError):
            registry.get_version("m", 2)
        assert not registry.import_version(ModelVersion("m", 2, 1_002, 9_500))  # stays deleted
        # another model or version of the same name or number: refused, nothing written
        with pytest.raises(AlreadyExistsError, match="created at 1000 ms"):
            registry.import_model(RegisteredModel("m", 42, 42))
        with pytest.raises(AlreadyExistsError, match=r"version=1\) already exists"):
            registry.import_version(ModelVersion("m", 1, 77, 77))
        assert registry.get_version("m", 1) == got
        with pytest.raises(NotFoundError):
            registry.import_version(ModelVersion("no such model", 1, 1, 1))
        with pytest.raises(InvalidArgumentError):
            registry.import_model(RegisteredModel("../up", 1, 1))
        with pytest.raises(InvalidArgumentError, match="reserved"):
            registry.import_model(RegisteredModel("x", 1, 1, aliases={"latest": 1}))
        assert [m.name for m in registry.list_models()] == ["m"]
