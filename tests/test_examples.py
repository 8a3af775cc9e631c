"""examples/github-pages.yml: valid YAML with the expected steps, and its shell steps (train,
summary, build) really work here, in order, the way the workflow runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, python_env

WORKFLOW = REPO / "examples" / "github-pages.yml"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_has_the_expected_shape():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers is not None
    assert "push" in triggers and "workflow_dispatch" in triggers
    assert data["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = data["jobs"]["build"], data["jobs"]["deploy"]
    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert uses[:3] == ["actions/checkout", "actions/setup-python", "actions/cache/restore"]
    assert "actions/cache/save" in uses and "actions/configure-pages" in uses
    assert uses[-1] == "actions/upload-pages-artifact"
    assert build["steps"][-1]["with"]["path"] == "public"
    cache = [s for s in build["steps"] if "cache" in s.get("uses", "")]
    assert {s["with"]["path"] for s in cache} == {data["env"]["TRACKER_TRACKING_URI"]}
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert any("tracker-report build" in r and "--out public" in r for r in runs)
    assert any('tracker-report summary >> "$GITHUB_STEP_SUMMARY"' in r for r in runs)
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    # every step after the restore and before the save that writes the store runs in between
    names = [s["name"] for s in build["steps"]]
    assert (
        names.index("Restore the experiment store")
        < names.index("Train (logs runs into the store)")
        < names.index("Save the experiment store")
    )


def test_the_workflow_shell_steps_run(tmp_path: Path):
    data = workflow()
    (tmp_path / "examples").symlink_to(REPO / "examples")
    summary = tmp_path / "step-summary.md"
    env = python_env(**data["env"], GITHUB_STEP_SUMMARY=str(summary))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # tracker-report
    for step in data["jobs"]["build"]["steps"]:
        command = step.get("run")
        if not command or "pip install" in command:
            continue  # installing is what this test environment already did
        command = command.replace("${{ steps.pages.outputs.base_url }}", "http://127.0.0.1/project")
        assert "${{" not in command, command
        result = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, (step["name"], result.stderr[-2000:])
    index = (tmp_path / "public/index.html").read_text()
    assert "diabetes_forest" in index
    assert '<link rel="canonical" href="http://127.0.0.1/project/index.html">' in index
    assert (tmp_path / "public/sitemap.xml").is_file()
    assert "### diabetes\\_forest (3 runs)" in summary.read_text()  # Markdown-escaped
