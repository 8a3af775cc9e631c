"""The fluent and client API: MLflow's names and semantics, checked on stored data."""

from __future__ import annotations

import math
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reporter
import reporter as mlflow
from reporter.core import system_tags
from tests.conftest import PYTHON, python_env

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


def stored(run_id: str) -> reporter.Run:
    """Read a run back through a fresh client (no in-process caches)."""
    return reporter.Client(mlflow.get_tracking_uri()).get_run(run_id)


def frame_of(result: pd.DataFrame | list[reporter.Run]) -> pd.DataFrame:
    """search_runs' result with the default output_format ("pandas"): a DataFrame."""
    assert isinstance(result, pd.DataFrame)
    return result


# tracking URI ----------------------------------------------------------------------------
def test_tracking_uri_defaults_to_env_then_folder(store_uri, monkeypatch):
    assert mlflow.get_tracking_uri() == store_uri
    monkeypatch.delenv("TRACKER_TRACKING_URI")
    assert mlflow.get_tracking_uri() == "./tracker-store"


def test_file_prefix_and_plain_path_are_one_store(tmp_path):
    mlflow.set_tracking_uri(f"file:{tmp_path / 's'}")
    mlflow.set_experiment("e")
    with mlflow.start_run() as run:
        mlflow.log_param("a", 1)
    assert reporter.Client(str(tmp_path / "s")).get_run(run.info.run_id).data.params == {"a": "1"}


def test_unknown_scheme_lists_supported_ones():
    with pytest.raises(reporter.UnsupportedURIError) as err:
        mlflow.set_tracking_uri("ftpx://host/store")
    assert "ftpx" in str(err.value) and "file" in str(err.value) and "memory" in str(err.value)
    with pytest.raises(reporter.UnsupportedURIError, match="MLflow server"):
        mlflow.set_tracking_uri("sqlite:///mlflow.db")


# experiments -----------------------------------------------------------------------------
def test_set_experiment_creates_once_with_a_stable_id(tmp_path, store_uri):
    exp = mlflow.set_experiment("energy")
    again = mlflow.set_experiment("energy")
    other_store = reporter.Client(str(tmp_path / "other"))
    assert exp.experiment_id == again.experiment_id
    assert other_store.create_experiment("energy") == exp.experiment_id
    assert exp.name == "energy" and exp.lifecycle_stage == "active"


def test_create_experiment_with_tags_and_description(client):
    exp_id = mlflow.create_experiment("e1", tags={"team": "ml"}, description="# Hello")
    exp = client.get_experiment(exp_id)
    # as MLflow: the description is the experiment's mlflow.note.content tag, listed with the rest
    assert exp.tags == {"team": "ml", "mlflow.note.content": "# Hello"}
    assert exp.description == "# Hello"
    with pytest.raises(reporter.InvalidArgumentError, match="already exists"):
        mlflow.create_experiment("e1")
    client.set_experiment_tag(exp_id, "mlflow.note.content", "new text")
    assert client.get_experiment(exp_id).description == "new text"


def test_default_experiment_and_search_experiments(client):
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == "0"
    mlflow.create_experiment("alpha", tags={"k": "v"})
    mlflow.create_experiment("beta")
    names = {e.name for e in mlflow.search_experiments()}
    assert names == {"Default", "alpha", "beta"}
    assert [e.name for e in mlflow.search_experiments(filter_string="name LIKE 'al%'")] == ["alpha"]
    assert [e.name for e in mlflow.search_experiments(filter_string="tags.k = 'v'")] == ["alpha"]
    assert mlflow.get_experiment_by_name("nope") is None


def test_search_experiments_reads_identifiers_by_table_not_by_text(client):
    """`name` is the experiment's name only as an identifier: a tag called `name` and a
    quoted value holding "name" are left alone (the old text rewrite broke both)."""
    first = mlflow.create_experiment("x", tags={"name": "x", "team": "name"})
    mlflow.create_experiment("name", tags={"name": "other"})

    def names(text: str) -> list[str]:
        return sorted(e.name for e in mlflow.search_experiments(filter_string=text))

    assert names("tags.name = 'x'") == ["x"]
    assert names("tags.team = 'name'") == ["x"]
    assert names("name = 'name'") == ["name"]
    assert names("attributes.name = 'x' AND tags.name = 'x'") == ["x"]
    assert names("name ILIKE 'NA%'") == ["name"]
    created = mlflow.get_experiment(first).creation_time
    assert names(f"creation_time >= {created} AND name != 'Default'") == ["name", "x"]
    assert names("last_update_time > 0 AND tags.name IS NULL") == ["Default"]
    with pytest.raises(reporter.InvalidArgumentError, match="unknown attribute 'status'"):
        names("attributes.status = 'x'")
    with pytest.raises(reporter.InvalidArgumentError, match="unknown entity 'metrics'"):
        names("metrics.rmse < 1")
    with pytest.raises(reporter.InvalidArgumentError, match="expects a number"):
        names("creation_time > 'yesterday'")


def test_rename_delete_restore_experiment(client):
    exp_id = mlflow.create_experiment("old")
    client.rename_experiment(exp_id, "new")
    assert client.get_experiment_by_name("new").experiment_id == exp_id
    assert client.get_experiment_by_name("old") is None
    client.delete_experiment(exp_id)
    assert "new" not in {e.name for e in client.search_experiments()}
    with pytest.raises(reporter.InvalidArgumentError, match="deleted"):
        mlflow.set_experiment("new")
    client.restore_experiment(exp_id)
    assert mlflow.set_experiment("new").experiment_id == exp_id
    # the old name is free again and gets an id of its own
    assert mlflow.create_experiment("old") != exp_id


# runs ------------------------------------------------------------------------------------
def test_context_manager_statuses():
    mlflow.set_experiment("s")
    with mlflow.start_run() as ok:
        mlflow.log_metric("m", 1)
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as failed:
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), mlflow.start_run() as killed:
        raise KeyboardInterrupt
    assert stored(ok.info.run_id).info.status == "FINISHED"
    assert stored(failed.info.run_id).info.status == "FAILED"
    assert stored(killed.info.run_id).info.status == "KILLED"
    assert mlflow.active_run() is None
    ok_info = stored(ok.info.run_id).info
    assert ok_info.end_time is not None and ok_info.start_time is not None
    assert ok_info.end_time >= ok_info.start_time


def test_second_run_needs_nested_and_nested_links_parent():
    with mlflow.start_run(run_name="parent") as parent:
        with pytest.raises(reporter.RunStateError, match="nested=True"):
            mlflow.start_run()
        with mlflow.start_run(run_name="child", nested=True) as child:
            active = mlflow.active_run()
            assert active is not None
            assert active.info.run_id == child.info.run_id
        active = mlflow.active_run()
        assert active is not None
        assert active.info.run_id == parent.info.run_id
    info = stored(child.info.run_id).info
    assert info.parent_run_id == parent.info.run_id
    assert stored(child.info.run_id).data.tags[system_tags.TAG_PARENT_RUN_ID] == parent.info.run_id


def test_end_run_status_active_and_last_active_run():
    run = mlflow.start_run(run_name="manual", tags={"t": 1}, description="**notes**")
    active = mlflow.active_run()
    assert active is not None
    assert active.info.run_id == run.info.run_id
    mlflow.end_run(status="KILLED")
    assert mlflow.active_run() is None
    last = mlflow.last_active_run()
    assert last is not None
    assert last.info.run_id == run.info.run_id and last.info.status == "KILLED"
    assert last.info.run_name == "manual"
    assert last.data.tags["t"] == "1" and last.data.tags[system_tags.TAG_NOTE] == "**notes**"


def test_last_active_run_is_the_run_this_thread_ended_last():
    """MLflow's rule: after a nested child and then its parent end, the parent; a run another
    thread ended is not this thread's; none before any run ended."""
    import threading

    assert mlflow.last_active_run() is None
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            pass
        last = mlflow.last_active_run()  # the active run while one is active
        assert last is not None and last.info.run_id == parent.info.run_id
    last = mlflow.last_active_run()
    assert last is not None and last.info.run_id == parent.info.run_id
    assert last.info.status == "FINISHED" and child.info.run_id != parent.info.run_id
    seen = []

    def other_thread() -> None:
        with mlflow.start_run() as mine:
            pass
        ended = mlflow.last_active_run()
        seen.append((mine.info.run_id, ended.info.run_id if ended else None))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0][0] == seen[0][1] != parent.info.run_id
    still = mlflow.last_active_run()
    assert still is not None and still.info.run_id == parent.info.run_id


def test_resume_run_keeps_and_adds_data():
    with mlflow.start_run() as first:
        mlflow.log_param("p", "x")
        mlflow.log_metric("m", 1.0, step=0)
    with mlflow.start_run(run_id=first.info.run_id):
        mlflow.log_metric("m", 2.0, step=1)
        with pytest.raises(reporter.ParamConflictError):
            mlflow.log_param("p", "y")
    run = stored(first.info.run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"p": "x"}
    assert run.data.metrics == {"m": 2.0}
    history = reporter.Client().get_metric_history(first.info.run_id, "m")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 2.0)]


def test_delete_and_restore_run_hide_it_from_search():
    mlflow.set_experiment("d")
    with mlflow.start_run() as keep:
        pass
    with mlflow.start_run() as gone:
        pass
    mlflow.delete_run(gone.info.run_id)
    assert list(frame_of(mlflow.search_runs())["run_id"]) == [keep.info.run_id]
    deleted = frame_of(mlflow.search_runs(run_view_type=reporter.ViewType.DELETED_ONLY))
    assert list(deleted["run_id"]) == [gone.info.run_id]
    mlflow.restore_run(gone.info.run_id)
    assert set(frame_of(mlflow.search_runs())["run_id"]) == {keep.info.run_id, gone.info.run_id}


def test_run_name_placeholders(tmp_path):
    mlflow.set_experiment("names")
    with mlflow.start_run(run_name="{experiment}-{user}-{date}") as run:
        pass
    import datetime as dt

    user = stored(run.info.run_id).data.tags[system_tags.TAG_USER]
    assert run.info.run_name == f"names-{user}-{dt.date.today().isoformat()}"
    with pytest.raises(reporter.InvalidArgumentError, match="git_short"):
        mlflow.start_run(run_name="{nope}")
    # a placeholder is filled as it is: no attribute or index lookups through it
    for template in ("{date.foo}", "{user.__class__.__mro__}", "{experiment[0]}", "{date"):
        with pytest.raises(reporter.InvalidArgumentError, match="valid placeholders"):
            mlflow.start_run(run_name=template)
    assert mlflow.active_run() is None


def test_random_run_name_when_none_given():
    with mlflow.start_run() as run:
        pass
    assert run.info.run_name.count("-") == 2
    assert stored(run.info.run_id).data.tags[system_tags.TAG_RUN_NAME] == run.info.run_name


# params, metrics, tags -------------------------------------------------------------------
def test_param_conflict_is_an_error_same_value_is_fine():
    with mlflow.start_run() as run:
        mlflow.log_params({"lr": 0.1, "depth": np.int64(8)})
        mlflow.log_param("lr", 0.1)
        with pytest.raises(reporter.ParamConflictError, match="lr"):
            mlflow.log_param("lr", 0.2)
    assert stored(run.info.run_id).data.params == {"lr": "0.1", "depth": "8"}


def test_metric_values_of_every_accepted_type_nan_and_inf_kept():
    with mlflow.start_run() as run:
        mlflow.log_metric("int", 3)
        mlflow.log_metric("bool", True)
        mlflow.log_metric("np32", np.float32(0.5))
        mlflow.log_metric("npint", np.int16(7))
        mlflow.log_metric("npbool", np.bool_(False))
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("inf", float("inf"))
        mlflow.log_metric("ninf", -np.inf)
        mlflow.log_metrics({"a": 1.5, "b": 2}, step=4)
    metrics = stored(run.info.run_id).data.metrics
    assert metrics["int"] == 3.0 and metrics["bool"] == 1.0 and metrics["np32"] == 0.5
    assert metrics["npint"] == 7.0 and metrics["npbool"] == 0.0
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf
    assert metrics["ninf"] == -math.inf
    history = reporter.Client().get_metric_history(run.info.run_id, "b")
    assert [(m.step, m.value) for m in history] == [(4, 2.0)]


@pytest.mark.parametrize("bad", ["1.0", None, [1], {"a": 1}, np.array([1.0, 2.0])])
def test_metric_of_wrong_type_is_a_type_error_naming_key_and_type(bad):
    with mlflow.start_run(), pytest.raises(TypeError) as err:
        mlflow.log_metric("loss", bad)
    assert "'loss'" in str(err.value) and type(bad).__name__ in str(err.value)


def test_latest_metric_is_the_value_at_the_highest_step():
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 5.0, step=10)
        mlflow.log_metric("m", 1.0, step=2)
        mlflow.log_metric("m", 7.0, step=10, timestamp=1)  # older timestamp at the same step
    assert stored(run.info.run_id).data.metrics["m"] == 5.0


def test_tags_set_delete_and_system_tags():
    with mlflow.start_run() as run:
        mlflow.set_tags({"a": 1, "b": "x"})
        mlflow.set_tag("a", 2)
        mlflow.delete_tag("b")
        with pytest.raises(reporter.NotFoundError):
            mlflow.delete_tag("never")
    tags = stored(run.info.run_id).data.tags
    assert tags["a"] == "2" and "b" not in tags
    # MLflow's names, as MLflow records them (literal: these are what MLflow code reads)
    assert tags["mlflow.user"] == run.info.user_id and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == sys.argv[0]  # as given, like MLflow
    assert tags["mlflow.runName"] == run.info.run_name
    assert tags["reporter.host"] and tags["reporter.python.version"] == platform.python_version()
    assert all(system_tags.is_system_tag(k) for k in tags if k != "a")


def _run_script(
    folder: Path, body: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a folder with this checkout's reporter (named by its absolute
    path, or relative to `cwd` when given)."""
    script = folder / "train.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [PYTHON, str(script.relative_to(cwd)) if cwd else str(script)],
        cwd=cwd or folder,
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _git(folder: Path, *args: str) -> str:
    """Run git in a folder and return its output."""
    return subprocess.run(
        ["git", *args], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_tags_and_git_placeholder_in_a_repo(tmp_path, store_uri):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    _git(repo, "remote", "add", "origin", "https://user:se@cret@example.com/org/repo.git")
    (repo / "README").write_text("x")
    _git(repo, "add", "README")
    _git(repo, "commit", "-qm", "init")
    commit = _git(repo, "rev-parse", "HEAD")
    out = _run_script(
        repo,
        """
        import reporter as mlflow
        with mlflow.start_run(run_name="train-{git_short}") as run:
            print(run.info.run_id)
    """,
        cwd=tmp_path,  # python repo/train.py: git is looked for beside the script
        TRACKER_TRACKING_URI=store_uri,
    )
    assert out.returncode == 0, out.stderr
    run = stored(out.stdout.strip())
    assert run.info.run_name == f"train-{commit[:7]}"
    tags = run.data.tags
    assert tags[system_tags.TAG_GIT_COMMIT] == commit and tags[system_tags.TAG_GIT_BRANCH] == "main"
    assert tags[system_tags.TAG_GIT_DIRTY] == "false"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/org/repo.git"  # no password
    assert tags["mlflow.source.name"] == "repo/train.py"  # sys.argv[0] as given, as MLflow does


def test_a_detached_head_records_no_branch_as_mlflow(tmp_path, store_uri):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("x")
    _git(repo, "add", "README")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    _git(repo, "checkout", "-q", "--detach")
    out = _run_script(
        repo,
        """
        import reporter as mlflow
        with mlflow.start_run(run_name="on-{git_branch}") as run:
            print(run.info.run_id)
    """,
        TRACKER_TRACKING_URI=store_uri,
    )
    assert out.returncode == 0, out.stderr
    run = stored(out.stdout.strip())
    assert system_tags.TAG_GIT_BRANCH not in run.data.tags  # not "HEAD"
    assert system_tags.TAG_GIT_COMMIT in run.data.tags and run.info.run_name == "on-HEAD"


def test_a_broken_git_never_breaks_a_run(tmp_path, store_uri):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    (fake / "git").chmod(0o755)
    import os

    out = _run_script(
        tmp_path,
        """
        import reporter as mlflow
        with mlflow.start_run(run_name="x-{git_short}") as run:
            mlflow.log_metric("m", 1)
            print(run.info.run_id)
    """,
        TRACKER_TRACKING_URI=store_uri,
        PATH=f"{fake}{os.pathsep}{os.environ['PATH']}",
    )
    assert out.returncode == 0, out.stderr
    run = stored(out.stdout.strip())
    assert run.info.run_name == "x-nogit" and run.data.metrics == {"m": 1.0}
    assert system_tags.TAG_GIT_COMMIT not in run.data.tags


def test_unfinished_runs_end_at_exit_finished_or_failed(tmp_path, store_uri):
    ok = _run_script(
        tmp_path,
        """
        import reporter as mlflow
        run = mlflow.start_run()
        mlflow.log_metric("m", 1)
        print(run.info.run_id)
    """,
        TRACKER_TRACKING_URI=store_uri,
    )
    crash = _run_script(
        tmp_path,
        """
        import reporter as mlflow
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        raise SystemError("boom")
    """,
        TRACKER_TRACKING_URI=store_uri,
    )
    interrupted = _run_script(
        tmp_path,
        """
        import reporter as mlflow
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        raise KeyboardInterrupt  # what Ctrl-C raises
    """,
        TRACKER_TRACKING_URI=store_uri,
    )
    assert ok.returncode == 0 and crash.returncode == 1 and interrupted.returncode != 0
    assert stored(interrupted.stdout.strip()).info.status == "KILLED"
    assert stored(ok.stdout.strip()).info.status == "FINISHED"
    assert stored(ok.stdout.strip()).data.metrics == {"m": 1.0}
    assert stored(crash.stdout.strip()).info.status == "FAILED"


# environment -----------------------------------------------------------------------------
def test_environment_is_recorded_and_can_be_switched_off(monkeypatch):
    with mlflow.start_run() as run:
        pass
    local = reporter.Client().download_artifacts(run.info.run_id, system_tags.ENVIRONMENT_ARTIFACT)
    lines = Path(local).read_text().splitlines()
    assert any(line.startswith("pyarrow==") for line in lines)
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "false")
    with mlflow.start_run() as bare:
        pass
    assert mlflow.list_artifacts(bare.info.run_id) == []


# search ----------------------------------------------------------------------------------
def test_search_runs_frame_shape_filter_order_and_limit():
    mlflow.set_experiment("search")
    ids = {}
    for depth, rmse in [(4, 0.9), (8, 0.3), (8, 0.6), (16, 0.1)]:
        with mlflow.start_run(run_name=f"d{depth}-{rmse}") as run:
            mlflow.log_params({"max_depth": depth})
            mlflow.log_metric("rmse", rmse)
            mlflow.set_tag("family", "rf" if depth < 16 else "gbm")
        ids[(depth, rmse)] = run.info.run_id
    frame = frame_of(mlflow.search_runs())
    for col in (
        "run_id",
        "experiment_id",
        "status",
        "start_time",
        "end_time",
        "artifact_uri",
        "metrics.rmse",
        "params.max_depth",
        "tags.family",
    ):
        assert col in frame.columns
    assert str(frame["start_time"].dtype).startswith("datetime64") and len(frame) == 4
    # default order: newest first
    assert list(frame["run_id"]) == [ids[k] for k in reversed(list(ids))]
    hit = frame_of(
        mlflow.search_runs(filter_string="metrics.rmse < 0.5 and params.max_depth = '8'")
    )
    assert list(hit["run_id"]) == [ids[(8, 0.3)]]
    either = frame_of(
        mlflow.search_runs(
            filter_string="(params.max_depth = '4' OR tags.family = 'gbm') and metrics.rmse > 0",
            order_by=["metrics.rmse ASC"],
        )
    )
    assert list(either["run_id"]) == [ids[(16, 0.1)], ids[(4, 0.9)]]
    top = frame_of(mlflow.search_runs(order_by=["metrics.rmse DESC"], max_results=2))
    assert list(top["run_id"]) == [ids[(4, 0.9)], ids[(8, 0.6)]]
    runs = mlflow.search_runs(
        experiment_names=["search"], output_format="list", filter_string="tags.family LIKE 'g%'"
    )
    assert isinstance(runs, list)
    assert [r.info.run_id for r in runs] == [ids[(16, 0.1)]]


def test_search_runs_errors_name_the_problem():
    mlflow.set_experiment("x")
    with pytest.raises(reporter.InvalidFilterError) as err:
        mlflow.search_runs(filter_string="metrics.rmse <")
    assert "position" in str(err.value)
    with pytest.raises(reporter.NotFoundError, match="known experiments"):
        mlflow.search_runs(experiment_names=["missing"])


def test_import_is_lazy():
    code = (
        "import sys, reporter; print(sorted(m for m in ('pandas','pyarrow','altair','numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
