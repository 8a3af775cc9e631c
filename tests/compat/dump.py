"""Read a tracking store back through a library's own client and return canonical JSON data.

The same code runs under MLflow and under reporter (through the `mlflow` alias), so the two
dumps differ only where the libraries do. What is normalised, and why it must be:

* ids -> names: run and logged-model ids are random. Runs are keyed by "<experiment>/<run
  name>", logged models by "<experiment>/<source run name>/<model name>"; a tag value, search
  label or link that holds an id reads "<run:NAME>" or "<model:NAME>".
* experiment ids are left out: MLflow numbers them 0, 1, 2 in a SQLite store; reporter
  derives them from the name.
* timestamps (start, end, metric timestamps, creation times) are left out: wall-clock time.
  What they must satisfy is kept (a finished run has an end time not before its start).
* artifact_uri and artifact_location are left out: paths inside each library's own store.
* `mlflow.source.git.commit` reads "<commit>" when it is 40 hex digits (also inside a
  dataset's source, which copies the run's git tags): the tree is shared, and a commit
  landing between the two runs must not fail the comparison.
* order where only the clock decides it: a metric's points within one step are listed by
  value, and a search without order_by (newest first, ties broken by random id) is listed by
  name. Explicit order_by results keep their order.
* an empty search_runs frame's column types read "(no rows)": they are placeholders.
* a logged model's files are compared by name: MLmodel holds ids, times and versions.

Nothing else is normalised: user, source name and type are the same process facts for both.
Sections a script does not use (run inputs and outputs, logged models) are left out, so a
script that uses none of them compares the same with a library that lacks them.
Standard library only (plus the library under test): it runs in either venv.
"""

from __future__ import annotations

import hashlib
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Json = Any

# A script may define these module-level names; the runner passes them to `dump`:
# SEARCHES: [(experiment name, filter string, [order_by...]), ...]
# EXPERIMENT_SEARCHES: [(filter string, [order_by...], "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL")]
# MODEL_SEARCHES: [(experiment name, filter string, [{"field_name": ..., "ascending": ...}])]
Search = tuple[str, str, Sequence[Any]]
ExperimentSearch = tuple[str, Sequence[str], str]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_COMMITS = re.compile(r"\b[0-9a-f]{40}\b")  # in a dataset's source: its run's git tags
# columns of mlflow.search_runs() whose values are ids, times or store paths (see above)
_FRAME_SKIPPED = ("run_id", "experiment_id", "artifact_uri", "start_time", "end_time")


def number(value: Any) -> Json:
    """Return a float as JSON can hold it exactly: NaN and infinities spelled as text."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def number_key(value: float) -> tuple[int, float]:
    """Sort NaN after every number."""
    return (1, 0.0) if math.isnan(value) else (0, value)


class Names:
    """Map run and logged-model ids to their names once every run and model is known."""

    def __init__(self, runs: Iterable[Any], models: Iterable[Any] = ()) -> None:
        self.runs = {run.info.run_id: run.info.run_name for run in runs}
        self.models = {model.model_id: model.name for model in models}
        self.markers = {
            **{run_id: f"<run:{name}>" for run_id, name in self.runs.items()},
            **{model_id: f"<model:{name}>" for model_id, name in self.models.items()},
        }

    def tag(self, key: str, value: str) -> str:
        """Return a tag value with ids and commit hashes normalised."""
        if key == "mlflow.source.git.commit" and _COMMIT.match(value):
            return "<commit>"
        return self.text(value)

    def text(self, text: str) -> str:
        """Return text with every run or model id in it replaced by its marker."""
        for known, marker in self.markers.items():
            text = text.replace(known, marker)
        return text

    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        """Return tags normalised, sorted by key."""
        return {key: self.tag(key, tags[key]) for key in sorted(tags)}


def experiments(client: Any, view_all: int) -> dict[str, Json]:
    """Return every experiment (active and deleted) by name."""
    out: dict[str, Json] = {}
    for exp in client.search_experiments(view_type=view_all):
        out[exp.name] = {
            "lifecycle_stage": exp.lifecycle_stage,
            "tags": dict(sorted(exp.tags.items())),
        }
    return dict(sorted(out.items()))


def artifacts(client: Any, run_id: str, folder: str | None = None) -> dict[str, Json]:
    """Return every artifact file below a folder: size and the SHA-256 of its bytes."""
    out: dict[str, Json] = {}
    for info in client.list_artifacts(run_id, folder):
        if info.is_dir:
            out.update(artifacts(client, run_id, info.path))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run_id, info.path, tmp)
            with open(local, "rb") as handle:
                data = handle.read()
        out[info.path] = {
            "file_size": info.file_size,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return dict(sorted(out.items()))


def history(client: Any, run_id: str, key: str) -> list[list[Json]]:
    """Return a metric's every point as [step, value], by step, then value (points logged
    at one step may share a millisecond, so their timestamps cannot order them)."""
    points = client.get_metric_history(run_id, key)
    ordered = sorted(points, key=lambda m: (m.step, number_key(m.value)))
    return [[m.step, number(m.value)] for m in ordered]


def inputs(run: Any, names: Names) -> dict[str, Json]:
    """Return a run's dataset and model inputs and its model outputs (only those it has)."""
    out: dict[str, Json] = {}
    run_inputs = getattr(run, "inputs", None)
    datasets = [
        {
            "name": item.dataset.name,
            "digest": item.dataset.digest,
            "source_type": item.dataset.source_type,
            "source": _COMMITS.sub("<commit>", names.text(item.dataset.source or "")),
            "schema": item.dataset.schema,
            "profile": item.dataset.profile,
            "tags": {tag.key: tag.value for tag in sorted(item.tags, key=lambda t: t.key)},
        }
        for item in getattr(run_inputs, "dataset_inputs", None) or []
    ]
    if datasets:
        out["datasets"] = sorted(datasets, key=lambda d: (d["name"], d["digest"]))
    models_in = getattr(run_inputs, "model_inputs", None) or []
    if models_in:
        out["model_inputs"] = sorted(names.text(m.model_id) for m in models_in)
    models_out = getattr(getattr(run, "outputs", None), "model_outputs", None) or []
    if models_out:
        out["model_outputs"] = sorted([names.text(m.model_id), m.step] for m in models_out)
    return out


def run_entry(client: Any, run: Any, names: Names) -> dict[str, Json]:
    """Return one run's attributes and data, normalised."""
    info, data = run.info, run.data
    parent = data.tags.get("mlflow.parentRunId")
    return {
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "ended": info.end_time is not None,
        "end_not_before_start": info.end_time is None or info.end_time >= info.start_time,
        "parent": names.runs.get(parent, parent) if parent else None,
        "params": dict(sorted(data.params.items())),
        "metrics": {key: number(data.metrics[key]) for key in sorted(data.metrics)},
        "history": {key: history(client, info.run_id, key) for key in sorted(data.metrics)},
        "tags": names.tags(data.tags),
        "artifacts": artifacts(client, info.run_id),
        **inputs(run, names),
    }


def search_models(client: Any, experiment_ids: list[str]) -> list[Any]:
    """Return every logged model of the experiments ([] for a library without them)."""
    search = getattr(client, "search_logged_models", None)
    return list(search(experiment_ids)) if search is not None and experiment_ids else []


def model_files(client: Any, model_id: str, folder: str | None = None) -> list[str]:
    """Return the paths of a logged model's files."""
    out: list[str] = []
    listed = client.list_logged_model_artifacts(model_id, *([folder] if folder else []))
    for info in listed:
        out += model_files(client, model_id, info.path) if info.is_dir else [info.path]
    return sorted(out)


def attempt(func: Any, *args: Any) -> Json:
    """Return func(*args), or the error it raised as text: one unreadable part of a dump
    is a difference to show, not a reason to compare nothing else."""
    try:
        return func(*args)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"


def model_entry(client: Any, model: Any, names: Names) -> dict[str, Json]:
    """Return one logged model, normalised (its files by name only)."""
    metrics = [
        [m.key, number(m.value), m.step, m.dataset_name, m.dataset_digest, names.text(m.run_id)]
        for m in model.metrics or []
    ]
    return {
        "status": str(getattr(model.status, "value", model.status)),
        "model_type": model.model_type,
        "model_uri": names.text(model.model_uri),
        "source_run": names.runs.get(model.source_run_id, model.source_run_id),
        "params": dict(sorted((model.params or {}).items())),
        "tags": names.tags(model.tags or {}),
        "metrics": sorted(metrics, key=lambda m: (m[0], m[2], str(m[3]), str(m[1]))),
        "files": attempt(model_files, client, model.model_id),
    }


def frame_cell(column: str, value: Any, names: Names) -> Json:
    """Return one cell of mlflow.search_runs()'s frame as JSON."""
    if value is None:
        return None
    if isinstance(value, float):
        return number(value)
    if isinstance(value, str) and column.startswith("tags."):
        return names.tag(column[len("tags.") :], value)
    if hasattr(value, "item"):  # a numpy scalar
        return frame_cell(column, value.item(), names)
    return value if isinstance(value, (str, int, bool)) else repr(value)


def frame(mlflow: Any, exp: Any, names: Names) -> dict[str, Json]:
    """Return mlflow.search_runs()'s frame for one experiment: dtypes, and rows by run name."""
    table = mlflow.search_runs(experiment_ids=[exp.experiment_id])
    rows = {}
    for record in table.to_dict("records"):
        name = record.get("tags.mlflow.runName")
        cells = {
            column: frame_cell(column, record[column], names)
            for column in sorted(record)
            if column not in _FRAME_SKIPPED
        }
        rows[str(name)] = cells
    return {
        "dtypes": {
            column: str(table[column].dtype) if rows else "(no rows)"
            for column in sorted(table.columns)
        },
        "rows": dict(sorted(rows.items())),
    }


def _searched(label: str, search: Any, name_of: Any, ordered: bool) -> Json:
    """Run one search; return the names it found, or "error" (said on the output)."""
    try:
        found = [name_of(item) for item in search()]
    except Exception as exc:
        print(f"{label} raised {type(exc).__name__}: {exc}")
        return "error"
    # without order_by the order is by creation time, which ties within a millisecond
    return found if ordered else sorted(found)


def searches(client: Any, ids: Mapping[str, str], names: Names, wanted: Sequence[Search]) -> Json:
    """Return each run search's result as a list of run names (or "error")."""
    out = {}
    for experiment, filter_string, order_by in wanted:
        label = names.text(f"{experiment}: {filter_string!r} order by {list(order_by)}")
        out[label] = _searched(
            label,
            lambda e=experiment, f=filter_string, o=order_by: client.search_runs(
                [ids[e]], filter_string=f, order_by=list(o)
            ),
            lambda run: names.runs[run.info.run_id],
            bool(order_by),
        )
    return out


def model_searches(
    client: Any, ids: Mapping[str, str], names: Names, wanted: Sequence[Search]
) -> Json:
    """Return each logged-model search's result as a list of model names (or "error")."""
    out = {}
    for experiment, filter_string, order_by in wanted:
        label = names.text(f"{experiment}: {filter_string!r} order by {list(order_by)}")
        out[label] = _searched(
            label,
            lambda e=experiment, f=filter_string, o=order_by: client.search_logged_models(
                [ids[e]], filter_string=f or None, order_by=list(o) or None
            ),
            lambda model: model.name,
            bool(order_by),
        )
    return out


def experiment_searches(client: Any, view_types: Any, wanted: Sequence[ExperimentSearch]) -> Json:
    """Return each experiment search's result as a list of experiment names (or "error")."""
    out = {}
    for filter_string, order_by, view in wanted:
        label = f"{filter_string!r} order by {list(order_by)} ({view})"
        out[label] = _searched(
            label,
            lambda f=filter_string, o=order_by, v=view: client.search_experiments(
                view_type=getattr(view_types, v), filter_string=f, order_by=list(o)
            ),
            lambda exp: exp.name,
            bool(order_by),
        )
    return out


def unique_key(found: Mapping[str, Json], key: str) -> str:
    """Return key, or raise if a script gave two runs (or two models) one name."""
    if key in found:
        raise ValueError(
            f"two entries are named {key!r}: give each run and model of a script a name"
        )
    return key


def dump(mlflow: Any, script_names: Mapping[str, Any]) -> dict[str, Json]:
    """Return everything the store holds, read back through `mlflow.MlflowClient`, and the
    results of the searches the script names (SEARCHES, EXPERIMENT_SEARCHES, MODEL_SEARCHES)."""
    from mlflow.entities import ViewType

    client = mlflow.MlflowClient()
    exps = client.search_experiments(view_type=ViewType.ALL)
    ids = {exp.name: exp.experiment_id for exp in exps}
    exp_names = {exp.experiment_id: exp.name for exp in exps}
    all_runs = client.search_runs(list(exp_names), run_view_type=ViewType.ALL, max_results=1000)
    active = [exp for exp in exps if exp.lifecycle_stage == "active"]
    models = search_models(client, [exp.experiment_id for exp in active])
    names = Names(all_runs, models)

    runs: dict[str, Json] = {}
    for run in all_runs:
        key = f"{exp_names[run.info.experiment_id]}/{run.info.run_name}"
        runs[unique_key(runs, key)] = run_entry(client, client.get_run(run.info.run_id), names)
    logged: dict[str, Json] = {}
    for model in models:
        source = names.runs.get(model.source_run_id, "-")
        key = f"{exp_names[model.experiment_id]}/{source}/{model.name}"
        logged[unique_key(logged, key)] = model_entry(client, model, names)

    out = {
        "experiments": experiments(client, ViewType.ALL),
        "runs": dict(sorted(runs.items())),
        "frames": {exp.name: frame(mlflow, exp, names) for exp in active},
        "searches": searches(client, ids, names, script_names.get("SEARCHES", ())),
        "experiment_searches": experiment_searches(
            client, ViewType, script_names.get("EXPERIMENT_SEARCHES", ())
        ),
    }
    if logged:
        out["models"] = dict(sorted(logged.items()))
    if script_names.get("MODEL_SEARCHES"):
        out["model_searches"] = model_searches(client, ids, names, script_names["MODEL_SEARCHES"])
    return out
