"""Narrative reports: Markdown with front matter and short codes becomes pages that embed live
content from the store; invalid short codes fail the build with the file and line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reporter
import reporter as mlflow
from reporter.site.build import build
from reporter.view.config import BuildConfig
from tests.conftest import CLI_CODE, python_env
from tests.site.browser import wait_for_charts

REPORT = """---
title: Q3 model decision
author: Data team
date: 2026-11-20
---
We ship the candidate: its rmse is {{< metric experiment="energy" run="candidate" key="rmse" >}}.

{{< runs experiment="energy" order_by="metrics.rmse ASC" limit="2"
    columns="params.max_depth,metrics.rmse" >}}

{{< chart experiment="energy" metric="rmse" runs="baseline,candidate" >}}

{{< compare experiment="energy" runs="baseline,candidate" >}}

{{< image experiment="energy" run="candidate" path="plots/residuals.png" caption="Residuals" >}}
"""


@pytest.fixture
def energy(store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Three runs of `energy` and a reports folder in the working directory."""
    mlflow.set_experiment("energy")
    ids = {}
    for name, depth in (("baseline", 4), ("candidate", 8), ("wild", 16)):
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_param("max_depth", depth)
            for step in range(50):
                mlflow.log_metric("rmse", 10 / (step + 1) + depth / 10, step=step)
            mlflow.log_image(np.full((4, 4, 3), depth, dtype=np.uint8), "plots/residuals.png")
        ids[name] = run.info.run_id
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/q3-decision.md").write_text(REPORT)
    return ids


def test_a_report_embeds_live_content(energy, store_uri, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    page = (out / "reports/q3-decision.html").read_text()
    client = reporter.Client(store_uri)
    exp = client.get_experiment_by_name("energy")
    assert exp is not None
    best = client.search_runs([exp.experiment_id], order_by=["metrics.rmse ASC"], max_results=2)
    candidate = client.get_run(energy["candidate"]).data.metrics["rmse"]
    assert f"its rmse is {candidate:.6g}." in page  # the metric short code, inline
    assert "<h1>Q3 model decision</h1>" in page and "Data team" in page and "2026-11-20" in page
    table = page.split('class="report-runs"')[1].split("</figure>")[0]
    names = re.findall(r'<td><a href="[^"]+">([^<]+)</a></td>', table)
    assert names == [r.info.run_name for r in best]  # the runs short code: filter and order
    assert re.findall(r"<th scope=\"col\"[^>]*>([^<]+)</th>", table) == ["Run", "max_depth", "rmse"]
    data = json.loads(page.split('class="chart-data">')[1].split("</script>")[0])
    assert [s["run"] for s in data["series"]] == ["baseline", "candidate"] and data["total"] == 100
    compare = page.split('class="report-compare"')[1].split("</figure>")[0]
    cells = '<td class="num">4</td><td class="num">8</td>'  # a row of numbers, right-aligned
    assert f'<tr class="diff"><td>max_depth</td>{cells}</tr>' in compare
    link = re.search(r'href="([^"]+compare\.html#runs=[^"]+)"', compare)
    assert link and link.group(1).endswith(f"#runs={energy['baseline']},{energy['candidate']}")
    src = re.search(r'<img src="([^"]+)" alt="candidate: plots/residuals.png"', page)
    assert src and (out / "reports" / src.group(1)).resolve().is_file()
    index = (out / "index.html").read_text()
    assert index.index("Reports") < index.index("Experiments</h2>")  # reports listed first
    assert 'href="reports/q3-decision.html">Q3 model decision</a>' in index
    assert "We ship the candidate" in index  # the first paragraph as its summary


def test_a_changed_report_is_rebuilt(energy, store_uri, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    report = tmp_path / "reports/q3-decision.md"
    report.write_text(REPORT.replace("We ship the candidate", "We keep the baseline"))
    result = build(BuildConfig(store=store_uri, out=str(out)))
    assert result.stats.written >= 1
    assert "We keep the baseline" in (out / "reports/q3-decision.html").read_text()


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('{{< table experiment="energy" >}}', 6, "unknown short code 'table'; valid: runs, chart"),
        ('{{< chart experiment="energy" >}}', 6, "missing metric"),
        ('{{< runs experiment="energy" colour="red" >}}', 6, "unknown argument colour"),
        (
            '{{< runs experiment="solar" >}}',
            6,
            "no experiment 'solar' in the site; experiments: 'energy'",
        ),
        (
            '{{< compare experiment="energy" runs="baseline,ghost" >}}',
            6,
            "no run named (or with id) 'ghost' in experiment 'energy'",
        ),
        ('{{< runs experiment="energy" filter="metrics.rmse <" >}}', 6, "position"),
        ('{{< runs experiment="energy" columns="metrics.nope" >}}', 6, "unknown column"),
        ('{{< chart experiment="energy" metric="nope" >}}', 6, "they have: rmse"),
        (
            '{{< image experiment="energy" run="baseline" path="nope.png" >}}',
            6,
            "has no artifact 'nope.png'",
        ),
        (
            'text\n\nsee {{< chart experiment="energy" metric="rmse" >}} here',
            8,
            "must be on a line of its own",
        ),
        (
            '{{< metric experiment="energy" run="baseline" key="mae" >}} is it',
            6,
            "has no metric 'mae'",
        ),
        ('{{< runs experiment="energy" limit="many" >}}', 6, "limit must be a whole number"),
        ('{{< runs experiment=energy" >}}', 6, "cannot read the short code's arguments"),
        ('{{< runs experiment="energy"\n\nmore text', 6, "closed with >}}"),
    ],
)
def test_invalid_short_codes_fail_with_file_and_line(
    energy, store_uri, tmp_path, body, line, message
):
    (tmp_path / "reports/bad.md").write_text(f"---\ntitle: Bad\n---\n# Heading\n\n{body}\n")
    with pytest.raises(reporter.InvalidArgumentError) as raised:
        build(BuildConfig(store=store_uri, out=str(tmp_path / "site")))
    assert str(raised.value).startswith(f"reports/bad.md line {line}: ")
    assert message in str(raised.value)


def test_front_matter_errors_and_the_cli(energy, store_uri, tmp_path):
    (tmp_path / "reports/open.md").write_text("---\ntitle: never closed\n\nbody\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI_CODE,
            "build",
            "--store",
            store_uri,
            "--out",
            "site",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=python_env(),
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "reports/open.md line 1: front matter opened with --- is never closed" in result.stderr
    (tmp_path / "reports/open.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    with pytest.raises(
        reporter.InvalidArgumentError,
        match=r"reports/open.md line \d+: front "
        r"matter is not valid YAML",
    ):
        build(BuildConfig(store=store_uri, out=str(tmp_path / "site")))
    with pytest.raises(reporter.InvalidArgumentError, match="reports = 'nowhere': no such folder"):
        BuildConfig(store=store_uri, reports="nowhere").validate()


def test_the_report_chart_draws_in_chromium(energy, store_uri, tmp_path, page):
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    tab, rec = page
    tab.goto((out / "reports/q3-decision.html").resolve().as_uri())
    assert wait_for_charts(tab) == 1
    assert tab.locator("figure.chart svg g.mark-line.role-mark path").count() == 2
    tab.wait_for_function(
        "() => document.querySelector('figure.report-image img').naturalWidth === 4"
    )
    assert rec.errors == [] and rec.outside(out.resolve().as_uri()) == []
