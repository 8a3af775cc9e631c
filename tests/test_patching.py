"""The autologging mechanism every integration shares (`reporter.integrations.patching`),
on a toy framework: a module function and a class hierarchy, patched and put back."""

from __future__ import annotations

import threading
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import reporter
import reporter as mlflow
from reporter.integrations import patching
from reporter.integrations.patching import AutologgingWarning, Integration, Options


def make_framework() -> types.ModuleType:
    """A framework of its own per test: `train` (a function) and `Model.fit` / `Sub.fit`
    (a subclass inheriting it), `fit` calling `train` as XGBClassifier.fit calls xgb.train."""
    lib = types.ModuleType("toylib")

    def train(params: dict[str, Any], rounds: int) -> dict[str, Any]:
        if params.get("explode"):
            raise ValueError("bad params")
        if params.get("interrupt"):
            raise KeyboardInterrupt
        return {"params": params, "rounds": rounds}

    class Model:
        def fit(self, rounds: int) -> Model:
            self.booster = lib.train({"kind": type(self).__name__}, rounds)
            return self

    class Sub(Model):
        pass

    lib.train = train  # type: ignore[attr-defined]
    lib.Model = Model  # type: ignore[attr-defined]
    lib.Sub = Sub  # type: ignore[attr-defined]
    return lib


Args = tuple[Any, ...]
Kwargs = dict[str, Any]


@dataclass(frozen=True)
class ToyOptions(Options):
    fail_logging: bool = False


class Toy:
    """An integration of the toy framework, the way real ones are written."""

    def __init__(self, lib: types.ModuleType, flavor: str = "toy") -> None:
        self.lib = lib
        self.integration = Integration(flavor)

    def autolog(self, disable: bool = False, **options: Any) -> None:
        self.integration.configure(None if disable else ToyOptions(**options), self.patch)

    def patch(self) -> None:
        lib, it = self.lib, self.integration
        plan = [(lib, "train", it.top_level(lib.train, self.logged_train))]
        fit = patching.static_lookup(lib.Model, "fit")
        assert isinstance(fit, types.FunctionType)
        plan += [(cls, "fit", it.top_level(fit, self.logged_fit)) for cls in (lib.Model, lib.Sub)]
        it.replace_all(plan)

    def log(self, options: ToyOptions, run_id: str, api: str) -> None:
        if options.fail_logging:
            raise RuntimeError("store on fire")
        reporter.Client().log_param(run_id, "api", api)

    def logged_train(self, options: ToyOptions, original: Any, args: Args, kwargs: Kwargs) -> Any:
        with self.integration.run(options) as run:
            if run is None:
                return original(*args, **kwargs)
            self.integration.attempt("log params", self.log, options, run.info.run_id, "train")
            return original(*args, **kwargs)

    def logged_fit(self, options: ToyOptions, original: Any, args: Args, kwargs: Kwargs) -> Any:
        with self.integration.run(options) as run:
            if run is None:
                return original(*args, **kwargs)
            self.integration.attempt("log params", self.log, options, run.info.run_id, "fit")
            return original(*args, **kwargs)


@pytest.fixture()
def toy() -> Iterator[Toy]:
    made = Toy(make_framework())
    yield made
    made.autolog(disable=True)


def runs() -> list[reporter.Run]:
    found = mlflow.search_runs(output_format="list", order_by=["start_time ASC"])
    assert isinstance(found, list)
    return found


def test_a_top_level_call_logs_once_into_a_run_of_its_own(toy):
    toy.autolog(extra_tags={"team": "ml"})
    model = toy.lib.Sub().fit(3)  # fit -> train: only fit's call is top-level
    assert model.booster == {"params": {"kind": "Sub"}, "rounds": 3}
    (run,) = runs()
    assert run.data.params == {"api": "fit"}
    assert run.data.tags[patching.TAG_AUTOLOGGING] == "toy"
    assert run.data.tags["team"] == "ml"
    assert run.info.status == "FINISHED"
    assert mlflow.active_run() is None
    toy.lib.train({}, 1)  # a call of its own is top-level too
    assert [r.data.params for r in runs()] == [{"api": "fit"}, {"api": "train"}]


def test_disable_puts_back_every_attribute_exactly(toy):
    lib = toy.lib
    before = {
        "train": lib.train,
        "Model.fit": lib.Model.__dict__["fit"],
        "Sub": dict(lib.Sub.__dict__),
    }
    toy.autolog()
    assert lib.train is not before["train"] and "fit" in lib.Sub.__dict__
    toy.autolog()  # enabling twice patches the originals, not the wrappers
    toy.autolog(disable=True)
    assert lib.train is before["train"]
    assert lib.Model.__dict__["fit"] is before["Model.fit"]
    assert dict(lib.Sub.__dict__) == before["Sub"]  # the inherited fit is inherited again
    assert not toy.integration.enabled
    lib.Sub().fit(2)
    assert runs() == []


def test_enabling_twice_logs_once(toy):
    toy.autolog()
    toy.autolog()
    toy.lib.Model().fit(1)
    assert len(runs()) == 1


def test_a_patch_that_fails_midway_leaves_nothing_patched(toy):
    lib = toy.lib
    original = lib.train

    def half() -> None:
        toy.integration.replace(lib, "train", lambda *a: None)
        raise RuntimeError("framework moved its API")

    with pytest.raises(RuntimeError, match="moved"):
        toy.integration.configure(ToyOptions(), half)
    assert lib.train is original and not toy.integration.enabled


def test_logging_failures_warn_and_never_reach_training(toy):
    toy.autolog(fail_logging=True)
    with pytest.warns(
        AutologgingWarning, match="could not log params: RuntimeError: store on fire"
    ):
        model = toy.lib.Model().fit(4)
    assert model.booster["rounds"] == 4
    toy.autolog(fail_logging=True, silent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert toy.lib.Model().fit(5).booster["rounds"] == 5


def test_the_warning_points_at_the_users_line(toy):
    toy.autolog(fail_logging=True)
    with pytest.warns(AutologgingWarning) as seen:
        toy.lib.Model().fit(1)
    assert seen[0].filename == __file__


@pytest.mark.parametrize(
    ("params", "raised", "status"),
    [({"explode": True}, ValueError, "FAILED"), ({"interrupt": True}, KeyboardInterrupt, "KILLED")],
)
def test_training_errors_reach_the_caller_and_end_the_run(toy, params, raised, status):
    toy.autolog()
    with pytest.raises(raised):
        toy.lib.train(params, 1)
    (run,) = runs()
    assert run.info.status == status
    assert mlflow.active_run() is None


def test_the_same_exception_object_reaches_the_caller(toy):
    error = ValueError("mine")

    def failing(params: dict[str, Any], rounds: int) -> None:
        raise error

    toy.lib.train = failing
    toy.autolog()
    with pytest.raises(ValueError) as caught:
        toy.lib.train({}, 1)
    assert caught.value is error


def test_the_active_run_is_used_and_left_open_unless_exclusive(toy):
    toy.autolog()
    with mlflow.start_run() as mine:
        toy.lib.Model().fit(1)
        active = mlflow.active_run()
        assert active is not None and active.info.run_id == mine.info.run_id
    (run,) = runs()
    assert run.data.params == {"api": "fit"}
    assert patching.TAG_AUTOLOGGING not in run.data.tags
    toy.autolog(exclusive=True)
    with mlflow.start_run() as other:
        toy.lib.Model().fit(1)
    assert reporter.Client().get_run(other.info.run_id).data.params == {}


def test_a_call_inside_another_integrations_call_is_not_logged(toy):
    outer = Toy(toy.lib, flavor="outer")
    lib = toy.lib
    toy.autolog()  # patches train and fit
    inner_fit = lib.Model.fit  # toy's wrapper, which the outer integration wraps in turn
    outer.integration.configure(
        ToyOptions(),
        lambda: outer.integration.replace(
            lib.Model, "fit", outer.integration.top_level(inner_fit, outer.logged_fit)
        ),
    )
    try:
        lib.Model().fit(1)
    finally:
        outer.autolog(disable=True)
    (run,) = runs()
    assert run.data.tags[patching.TAG_AUTOLOGGING] == "outer"
    assert lib.Model.fit is inner_fit


def test_guarded_code_logs_nothing(toy):
    toy.autolog()
    assert patching.guarded(toy.lib.train)({}, 1)["rounds"] == 1
    with patching.nested():
        toy.lib.Model().fit(1)
    assert runs() == []
    assert not patching.inside()


def test_the_guard_is_per_thread(toy):
    toy.autolog()
    results: list[Any] = []
    with patching.nested():  # this thread is inside a call; another thread is not
        worker = threading.Thread(target=lambda: results.append(toy.lib.train({}, 2)))
        worker.start()
        worker.join()
    assert results[0]["rounds"] == 2
    assert [r.data.params for r in runs()] == [{"api": "train"}]


# found by an adversarial review ------------------------------------------------------------------
def test_enabling_again_while_on_replaces_nothing(toy):
    """autolog() while on swaps the options only: putting the patches back and making them
    again would leave a moment in which another thread's fit starts unpatched and the fits
    inside it, finding the new wrappers, log as runs of their own."""
    toy.autolog()
    patched = (toy.lib.train, toy.lib.Model.__dict__["fit"], toy.lib.Sub.__dict__["fit"])
    toy.autolog(extra_tags={"again": "yes"})
    assert (toy.lib.train, toy.lib.Model.__dict__["fit"], toy.lib.Sub.__dict__["fit"]) == patched
    toy.lib.train({}, 1)
    (run,) = runs()
    assert run.data.tags["again"] == "yes"  # the new options are in force


def test_a_run_whose_start_fails_halfway_is_not_left_running(toy, monkeypatch):
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "1")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(reporter.Client, "log_text", full)
    toy.autolog()
    with pytest.warns(AutologgingWarning, match="could not start a run: OSError") as seen:
        assert toy.lib.train({}, 3)["rounds"] == 3  # trained all the same
    assert seen[0].filename == __file__  # at the user's line, not in contextlib
    (run,) = runs()
    assert run.info.status == "FAILED" and run.info.end_time is not None
    assert mlflow.active_run() is None


def test_warnings_made_errors_do_not_break_training(toy, caplog):
    toy.autolog(fail_logging=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert toy.lib.Model().fit(2).booster["rounds"] == 2
    assert "could not log params: RuntimeError: store on fire" in caplog.text


def test_only_the_first_run_of_a_process_guards_the_writers_imports(toy, monkeypatch):
    """Later runs restore no snapshot of the host's state (another thread's changes to its
    working directory, handlers or warning filters would be undone)."""
    import reporter.core.guest as guest

    toy.lib.train({}, 1)  # (autolog off) a first run: pyarrow.parquet is imported

    def never() -> Any:
        raise AssertionError("host state snapshot taken again")

    monkeypatch.setattr(guest, "host_kept", never)
    with mlflow.start_run():
        mlflow.log_metric("m", 1.0)
    toy.autolog()
    toy.lib.train({}, 2)
    assert len(runs()) == 2


def test_an_invitation_is_answered_by_invitable_calls_only():
    """A wrapper's fit invites the framework's train (which knows the params and metrics);
    a subclass's fit calling its base's patched fit does not answer, and nothing the invited
    call makes answers either: one run, its params logged once each."""
    lib = make_framework()

    class Child(lib.Model):  # type: ignore[name-defined, misc]
        def fit(self, rounds: int) -> Any:
            return super().fit(rounds)

    it = Integration("toy")
    seen: list[Any] = []
    fits: list[str] = []

    def logged_fit(options: Options, original: Any, args: Args, kwargs: Kwargs) -> Any:
        with it.run(options) as run:
            assert run is not None
            fits.append(type(args[0]).__name__)
            reporter.Client().log_param(run.info.run_id, f"fit-{fits[-1]}", "1")
            with patching.invite("toy", by="fit"):
                return original(*args, **kwargs)

    def logged_train(options: Options, original: Any, args: Args, kwargs: Kwargs) -> Any:
        seen.append(patching.invitation())
        with it.run(options) as run:
            assert run is not None
            reporter.Client().log_param(run.info.run_id, "train", "1")
            return original(*args, **kwargs)

    def patch() -> None:
        plan: list[tuple[Any, str, object]]
        plan = [(lib, "train", it.top_level(lib.train, logged_train, invitable=True))]
        for cls in (lib.Model, Child):
            plan.append((cls, "fit", it.top_level(cls.__dict__["fit"], logged_fit)))
        it.replace_all(plan)

    it.configure(Options(), patch)
    try:
        Child().fit(2)
        lib.train({}, 1)
    finally:
        it.configure(None, patch)
    first, second = runs()
    assert first.data.params == {"fit-Child": "1", "train": "1"}
    assert second.data.params == {"train": "1"}
    assert seen == [{"by": "fit"}, None]
    assert fits == ["Child"]  # the base's fit, called by Child.fit, did not answer
    assert patching.invitation() is None
