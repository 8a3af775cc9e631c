"""`tracker-report summary`: the CLI (in process) on a store logged with known names,
times, params and metrics. The Markdown is compared whole (run ids substituted), the JSON is
parsed, and the gates are checked both ways with their exit codes and messages."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.core.errors import InvalidArgumentError, InvalidFilterError
from reporter.query import filter as run_filter
from reporter.summary.model import parse_worse_gate
from reporter.summary.render import md
from tests.cli import CliResult, run_cli

T0 = 1_704_164_645_000  # 2024-01-02 03:04:05 UTC
MINUTE = 60_000
HOSTILE = "x|y `z`\n# <i>hi</i> _a_"


def cli(*args: str, cwd: str | None = None) -> CliResult:
    """Run `tracker-report summary ARGS` in this process (by default in the test's own
    folder, so no config file of the checkout applies); never a traceback."""
    proc = run_cli(
        "summary", *args, cwd=cwd or str(Path(os.environ["TRACKER_TRACKING_URI"]).parent)
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def log_run(
    client: reporter.Client,
    exp_id: str,
    name: str,
    start: int,
    metrics: dict[str, list[float]],
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    status: str = "FINISHED",
) -> str:
    """Log a run: metric histories (the last value is the run's), the first key logged first."""
    run_id = client.create_run(exp_id, start_time=start, run_name=name, tags=tags).info.run_id
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    for index, (key, values) in enumerate(metrics.items()):
        for step, value in enumerate(values):
            client.log_metric(run_id, key, value, timestamp=start + 10 * index + step, step=step)
    client.set_terminated(run_id, status=status, end_time=start + 5 * MINUTE)
    return run_id


@pytest.fixture
def logged(store_uri: str) -> dict[str, str]:
    """churn: two runs tagged branch=main, a feature run, a failed run, a run with a hostile
    name and a deleted run that would be the best; forecast: one run, no baseline."""
    client = reporter.Client(store_uri)
    churn = client.create_experiment("churn")
    forecast = client.create_experiment("forecast")
    ids = {"churn": churn, "forecast": forecast}
    ids["main1"] = log_run(
        client, churn, "main-1", T0,
        {"rmse": [0.5], "accuracy": [0.80], "mae": [0.40], "f1": [0.7], "r2": [0.6],
         "zeta": [1.0]},
        {"depth": 3}, {"branch": "main"},
    )  # fmt: skip
    ids["hostile"] = log_run(client, churn, HOSTILE, T0 + 30 * MINUTE, {"rmse": [0.55]})
    ids["main2"] = log_run(
        client, churn, "main-2", T0 + 60 * MINUTE,
        {"rmse": [0.45], "accuracy": [0.85], "mae": [0.35]}, {"depth": 4}, {"branch": "main"},
    )  # fmt: skip
    ids["crashed"] = log_run(
        client, churn, "crashed", T0 + 90 * MINUTE, {"rmse": [0.9]}, status="FAILED"
    )
    ids["pr7"] = log_run(
        client, churn, "pr-7", T0 + 120 * MINUTE,
        {"rmse": [0.6, 0.47], "accuracy": [0.86], "mae": [0.35]}, {"depth": 5},
        {"branch": "feature"},
    )  # fmt: skip
    ids["gone"] = log_run(client, churn, "gone", T0 + 180 * MINUTE, {"rmse": [0.1]})
    client.delete_run(ids["gone"])
    ids["f1"] = log_run(client, forecast, "f-1", T0 + 5 * MINUTE, {"loss": [2.0, 1.5]})
    return ids


def expected(text: str, ids: dict[str, str]) -> str:
    """Substitute {name} (full run id) and {name8} (its first 8 characters)."""
    values = {**ids, **{f"{k}8": v[:8] for k, v in ids.items()}}
    return text.format(**values)


CHURN_WITH_BASELINE = """\
### churn (5 runs)

- Primary metric: rmse (lower is better)
- Best run: **main-2** (`{main2}`) with rmse = 0.45
- Baseline: **main-2** (`{main2}`)
- Candidate: **pr-7** (`{pr7}`)

| Run | Status | Started (UTC) | rmse | accuracy | f1 | mae | r2 |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |
| pr-7 `{pr78}` _(candidate)_ | FINISHED | 2024-01-02 05:04 | 0.47 (▲ +0.02, +4.4% worse) \
| 0.86 (▲ +0.01, +1.2% better) | - | 0.35 (= same) | - |
| crashed `{crashed8}` | FAILED | 2024-01-02 04:34 | 0.9 (▲ +0.45, +100.0% worse) | - | - | - \
| - |
| main-2 `{main28}` _(baseline)_ | FINISHED | 2024-01-02 04:04 | 0.45 | 0.85 | - | 0.35 | - |
| x\\|y \\`z\\` \\# &lt;i&gt;hi&lt;/i&gt; \\_a\\_ `{hostile8}` | FINISHED | 2024-01-02 03:34 \
| 0.55 (▲ +0.1, +22.2% worse) | - | - | - | - |
| main-1 `{main18}` | FINISHED | 2024-01-02 03:04 | 0.5 (▲ +0.05, +11.1% worse) \
| 0.8 (▼ -0.05, -5.9% worse) | 0.7 | 0.4 (▲ +0.05, +14.3% worse) | 0.6 |
"""


def test_markdown_with_a_baseline_tag(logged: dict[str, str]) -> None:
    proc = cli("--baseline-tag", "branch=main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(
        "## Experiment summary\n\n"
        "Differences are to the baseline: the newest run with tag branch=main.\n\n"
        + CHURN_WITH_BASELINE
        + """
### forecast (1 run)

- Primary metric: loss (lower is better)
- Best run: **f-1** (`{f1}`) with loss = 1.5
- Baseline: none in this experiment
- Candidate: **f-1** (`{f1}`)

| Run | Status | Started (UTC) | loss |
| --- | --- | --- | ---: |
| f-1 `{f18}` _(candidate)_ | FINISHED | 2024-01-02 03:09 | 1.5 |
""",
        logged,
    )


def test_markdown_without_baseline_shows_no_differences(logged: dict[str, str]) -> None:
    proc = cli("--experiment", "churn", "--newest", "2", "--metrics", "metrics.mae,rmse")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(
        """\
## Experiment summary

### churn (5 runs)

- Primary metric: rmse (lower is better)
- Best run: **main-2** (`{main2}`) with rmse = 0.45
- Candidate: **pr-7** (`{pr7}`)

| Run | Status | Started (UTC) | mae | rmse |
| --- | --- | --- | ---: | ---: |
| pr-7 `{pr78}` _(candidate)_ | FINISHED | 2024-01-02 05:04 | 0.35 | 0.47 |
| crashed `{crashed8}` | FAILED | 2024-01-02 04:34 | - | 0.9 |

2 of 5 runs shown (newest first).
""",
        logged,
    )


def test_baseline_and_candidates_are_listed_beyond_the_newest(logged: dict[str, str]) -> None:
    proc = cli("--baseline", logged["main1"], "--run", logged["hostile"], "--newest", "1",
               "--metrics", "rmse")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("| --- | --- | --- | ---: |\n", 1)[1].split("\n\n", 1)[0]
    assert (
        table.splitlines()
        == expected(
            "| pr-7 `{pr78}` | FINISHED | 2024-01-02 05:04 | 0.47 (▼ -0.03, -6.0% better) |\n"
            "| x\\|y \\`z\\` \\# &lt;i&gt;hi&lt;/i&gt; \\_a\\_ `{hostile8}` _(candidate)_ "
            "| FINISHED | "
            "2024-01-02 03:34 | 0.55 (▲ +0.05, +10.0% worse) |\n"
            "| main-1 `{main18}` _(baseline)_ | FINISHED | 2024-01-02 03:04 | 0.5 |",
            logged,
        ).splitlines()
    )
    assert "3 of 5 runs shown (newest first)." in proc.stdout
    # --baseline RUN_ID is a run of churn: forecast is summarised without baseline or candidate
    assert "### forecast (1 run)" in proc.stdout
    assert "Candidate: **f-1**" not in proc.stdout


def test_config_sets_primary_metric_and_direction(logged: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "ci.toml"
    config.write_text('[primary_metric]\nchurn = "mae"\n[metric_direction]\nmae = "max"\n')
    proc = cli("--config", str(config), "--experiment", "churn", "--baseline-tag", "branch=main",
               "--newest", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "- Primary metric: mae (higher is better)\n" in proc.stdout
    assert expected("- Best run: **main-1** (`{main1}`) with mae = 0.4\n", logged) in proc.stdout
    assert "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |" in proc.stdout
    assert "| Run | Status | Started (UTC) | mae | accuracy | f1 | r2 | rmse |" in proc.stdout
    assert "| 0.35 (= same) | 0.86 (▲ +0.01, +1.2% better) | - | - | 0.47 (▲ +0.02" in proc.stdout


def test_json(logged: dict[str, str]) -> None:
    proc = cli("--baseline-tag", "branch=main", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["baseline"] == {
        "run_id": None,
        "tag": {"key": "branch", "value": "main"},
        "description": "the newest run with tag branch=main",
    }
    assert doc["gate"] is None
    churn, forecast = doc["experiments"]
    assert (churn["name"], churn["experiment_id"], churn["runs"]) == ("churn", logged["churn"], 5)
    assert churn["primary_metric"] == "rmse"
    assert churn["metrics"] == [
        {"key": "rmse", "lower_is_better": True},
        {"key": "accuracy", "lower_is_better": False},
        {"key": "f1", "lower_is_better": False},
        {"key": "mae", "lower_is_better": True},
        {"key": "r2", "lower_is_better": False},
    ]
    assert churn["best_run"]["run_id"] == logged["main2"]
    assert churn["baseline"] == {
        "run_id": logged["main2"],
        "run_name": "main-2",
        "status": "FINISHED",
        "start_time": T0 + 60 * MINUTE,
        "end_time": T0 + 65 * MINUTE,
        "metrics": {"accuracy": 0.85, "mae": 0.35, "rmse": 0.45},
    }
    assert [r["run_id"] for r in churn["newest_runs"]] == [
        logged[k] for k in ("pr7", "crashed", "main2", "hostile", "main1")
    ]
    assert churn["newest_runs"][3]["run_name"] == HOSTILE  # JSON keeps the name as logged
    assert churn["newest_runs"][2]["differences"] is None  # the baseline itself
    (candidate,) = churn["candidates"]
    assert candidate["run_id"] == logged["pr7"]
    assert candidate["metrics"] == {"accuracy": 0.86, "mae": 0.35, "rmse": 0.47}
    diffs = candidate["differences"]
    assert list(diffs) == ["rmse", "accuracy", "f1", "mae", "r2"]
    assert diffs["rmse"]["value"] == 0.47 and diffs["rmse"]["baseline"] == 0.45
    assert diffs["rmse"]["difference"] == pytest.approx(0.02)
    assert diffs["rmse"]["relative"] == pytest.approx(0.02 / 0.45)
    assert diffs["rmse"]["verdict"] == "worse"
    assert diffs["accuracy"]["verdict"] == "better"
    assert diffs["mae"] == {"value": 0.35, "baseline": 0.35, "difference": 0.0, "relative": 0.0,
                            "verdict": "same"}  # fmt: skip
    assert diffs["f1"] == {"value": None, "baseline": None, "difference": None,
                           "relative": None, "verdict": None}  # fmt: skip
    assert logged["gone"] not in proc.stdout  # deleted
    assert forecast["baseline"] is None
    assert [c["run_id"] for c in forecast["candidates"]] == [logged["f1"]]
    assert forecast["candidates"][0]["differences"] is None


def test_fail_if(logged: dict[str, str]) -> None:
    passing = cli("--experiment", "churn", "--fail-if", "metrics.rmse > 0.5")
    assert passing.returncode == 0, passing.stderr
    assert expected(
        "### Checks: passed\n\n- ✅ run 'pr-7' ({pr7}) in experiment 'churn' does not match "
        "--fail-if 'metrics.rmse &gt; 0.5': metrics.rmse = 0.47\n", logged
    ) in passing.stdout  # fmt: skip
    failing = cli("--experiment", "churn", "--fail-if", "metrics.rmse > 0.4 and params.depth = '5'")
    assert failing.returncode == 1
    assert failing.stderr == expected(
        "Error: 1 of 1 checks failed:\n  run 'pr-7' ({pr7}) in experiment 'churn' matches "
        "--fail-if \"metrics.rmse > 0.4 and params.depth = '5'\": metrics.rmse = 0.47, "
        "params.depth = '5'\n",
        logged,
    )
    assert failing.stdout.startswith("## Experiment summary\n")  # printed anyway
    assert "### Checks: failed\n\n- ❌ run 'pr-7'" in failing.stdout
    # a run that lacks the metric matches no comparison (SQL semantics), only IS NULL
    crashed = ("--experiment", "churn", "--run", logged["crashed"])
    assert cli(*crashed, "--fail-if", "metrics.accuracy < 0.9").returncode == 0
    proc = cli(*crashed, "--fail-if", "metrics.accuracy IS NULL or status = 'FAILED'")
    assert proc.returncode == 1
    assert expected("'crashed' ({crashed})", logged) in proc.stderr
    assert "metrics.accuracy = missing, status = 'FAILED'" in proc.stderr


def test_fail_if_worse_than_baseline(logged: dict[str, str]) -> None:
    tagged = ("--experiment", "churn", "--baseline-tag", "branch=main")
    # pr-7: rmse 0.47 against main-2's 0.45: worse by 0.02 (+4.4%)
    worse = cli(*tagged, "--fail-if-worse-than-baseline", "rmse")
    assert worse.returncode == 1
    assert worse.stderr == expected(
        "Error: 1 of 1 checks failed:\n  run 'pr-7' ({pr7}) in experiment 'churn': rmse = 0.47 "
        "vs 0.45 of the baseline 'main-2' ({main2}) (▲ +0.02, +4.4% worse; lower is better); "
        "worse by more than the tolerance 0\n",
        logged,
    )
    assert worse.stdout.startswith("## Experiment summary\n")
    assert cli(*tagged, "--fail-if-worse-than-baseline", "rmse:5%").returncode == 0
    assert cli(*tagged, "--fail-if-worse-than-baseline", "rmse:4%").returncode == 1
    assert cli(*tagged, "--fail-if-worse-than-baseline", "rmse:0.02").returncode == 0  # at it
    assert cli(*tagged, "--fail-if-worse-than-baseline", "rmse:0.019").returncode == 1
    # accuracy is higher-is-better: 0.86 against 0.85 is better
    assert cli(*tagged, "--fail-if-worse-than-baseline", "accuracy").returncode == 0
    # against main-1 (0.5) the same run is better
    better = cli("--baseline", logged["main1"], "--fail-if-worse-than-baseline", "rmse")
    assert better.returncode == 0, better.stderr
    assert "(▼ -0.03, -6.0% better; lower is better); within the tolerance 0" in better.stdout


def test_worse_than_baseline_missing_metric_or_baseline_fails(logged: dict[str, str]) -> None:
    proc = cli("--baseline-tag", "branch=main", "--run", logged["crashed"],
               "--fail-if-worse-than-baseline", "accuracy:1%")  # fmt: skip
    assert proc.returncode == 1
    assert (
        expected("run 'crashed' ({crashed}) in experiment 'churn' has no metric 'accuracy'", logged)
        in proc.stderr
    )
    proc = cli("--baseline", logged["main1"], "--run", logged["pr7"],
               "--fail-if-worse-than-baseline", "zeta")  # fmt: skip
    assert proc.returncode == 1
    assert "has no metric 'zeta'" in proc.stderr
    # every experiment is gated: forecast has no run tagged branch=main
    proc = cli("--baseline-tag", "branch=main", "--fail-if-worse-than-baseline", "rmse:5%")
    assert proc.returncode == 1
    assert proc.stderr == expected(
        "Error: 1 of 2 checks failed:\n  run 'f-1' ({f1}) in experiment 'forecast': no "
        "baseline run to compare 'rmse' with (the newest run with tag branch=main)\n",
        logged,
    )


def test_usage_errors_exit_2(logged: dict[str, str]) -> None:
    bad = "metrics.rmse >> 0.5"
    with pytest.raises(InvalidFilterError) as parsed:
        run_filter.parse_filter(bad)
    proc = cli("--fail-if", bad)
    assert proc.returncode == 2
    assert f"Invalid value for '--fail-if': {parsed.value}" in proc.stderr
    assert proc.stdout == ""
    proc = cli("--fail-if-worse-than-baseline", "rmse")
    assert proc.returncode == 2
    assert "--fail-if-worse-than-baseline needs a baseline" in proc.stderr
    for args in (
        ("--baseline-tag", "branch=main", "--fail-if-worse-than-baseline", "rmse:5 percent"),
        ("--baseline-tag", "branch"),
        ("--baseline", logged["main1"], "--baseline-tag", "branch=main"),
        ("--format", "html"),
        ("--newest", "-1"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("Usage:"), args


def test_errors_exit_1(logged: dict[str, str], tmp_path: Path) -> None:
    missing = cli("--store", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"Error: No tracker-report store at {tmp_path / 'nowhere'}")
    unknown = cli("--run", "0" * 32)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith(f"Error: No run '{'0' * 32}' in the selected experiments")
    deleted = cli("--baseline", logged["gone"])
    assert deleted.returncode == 1
    metric = cli("--metrics", "rmse,nope")
    assert metric.returncode == 1
    assert metric.stderr == (
        "Error: No metric 'nope' in the selected experiments; logged: accuracy, f1, loss, mae, "
        "r2, rmse, zeta\n"
    )
    experiment = cli("--experiment", "nope")
    assert experiment.returncode == 1
    assert experiment.stderr.startswith("Error: No experiment 'nope'")


def test_empty_store_and_gate_without_candidates(store_uri: str) -> None:
    client = reporter.Client(store_uri)
    exp = client.create_experiment("empty")
    proc = cli()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "## Experiment summary\n\n### empty (0 runs)\n\nNo runs.\n"
    only = log_run(client, exp, "only", T0, {"rmse": [1.0]}, tags={"branch": "main"})
    proc = cli("--baseline", only, "--fail-if-worse-than-baseline", "rmse")
    assert proc.returncode == 1  # nothing to check is not a pass
    assert "no candidate run to check" in proc.stderr


def test_markdown_escaping() -> None:
    assert md("a|b") == "a\\|b"
    assert md("`code`") == "\\`code\\`"
    assert md("# title") == "\\# title"
    assert md("<script>&amp;") == "&lt;script&gt;&amp;amp;"
    assert md("one\ntwo\r\nthree") == "one two three"
    assert md("*b* _i_ [l](u) ~s~ !x \\") == "\\*b\\* \\_i\\_ \\[l\\](u) \\~s\\~ \\!x \\\\"
    # shown (once rendered) as evil[U+202E]gnp.exe and bell\x07
    assert md("evil\u202egnp.exe") == "evil\\[U+202E\\]gnp.exe"
    assert md("bell\x07") == "bell\\\\x07"


def test_parse_worse_gate() -> None:
    gate = parse_worse_gate("metrics.rmse:2%")
    assert (gate.metric, gate.tolerance.relative) == ("rmse", True)
    assert gate.tolerance.allowed(0.5) == pytest.approx(0.01)
    gate = parse_worse_gate("val:loss:0.01")  # a key with a colon: the tolerance is last
    assert (gate.metric, gate.tolerance.relative, gate.tolerance.amount) == ("val:loss", False,
                                                                             0.01)  # fmt: skip
    assert parse_worse_gate("rmse").tolerance.amount == 0
    for bad in ("rmse:", "rmse:-1", "rmse:abc", ":1"):
        with pytest.raises(InvalidArgumentError):
            parse_worse_gate(bad)


def test_the_baseline_can_be_a_registered_models_champion(logged: dict[str, str]) -> None:
    client = reporter.Client()
    client.create_registered_model("churn-model")
    client.create_model_version("churn-model", "s3://models/1", run_id=logged["main1"])
    client.create_model_version("churn-model", "s3://models/2", run_id=logged["main2"])
    client.set_registered_model_alias("churn-model", "champion", 2)
    by_alias = cli("--experiment", "churn", "--baseline-alias", "champion")
    by_id = cli("--experiment", "churn", "--baseline", logged["main2"])
    assert by_alias.returncode == 0, by_alias.stderr
    assert by_alias.stdout == by_id.stdout.replace(
        f"run {logged['main2']}", "the run behind champion"
    )
    gate = ("--fail-if-worse-than-baseline", "rmse:5%")
    assert cli("--baseline-alias", "churn-model@champion", *gate).returncode == 0
    client.set_registered_model_alias("churn-model", "champion", 1)  # main-1: rmse 0.5
    assert (
        cli("--baseline-alias", "champion", "--fail-if-worse-than-baseline", "rmse").returncode == 0
    )
    missing = cli("--baseline-alias", "other@champion")
    assert missing.returncode == 1
    assert "Error: --baseline-alias other@champion: registered model 'other' has no version " in (
        missing.stderr
    )
    assert (
        "no registered model has a version aliased 'nope'" in cli("--baseline-alias", "nope").stderr
    )
    both = cli("--baseline-alias", "champion", "--baseline-tag", "branch=main")
    assert both.returncode == 2 and "Give one of" in both.stderr
