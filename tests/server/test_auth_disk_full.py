"""`tracker-report server --auth` on a disk that fills: a write whose commit cannot be written
gets a clear error (never a path of the machine, never a traceback), nothing answered is lost,
and every write's audit record reaches the trail once there is room again. A real full disk:
a 2 MB tmpfs (root only; skipped elsewhere)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx

from reporter.store.registry import open_store
from tests.test_disk_full import fill, small_disk  # noqa: F401 - the fixture
from tests.tracker_server import change_access, running

API = "/api/2.0/mlflow"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"ann:ann-pw").decode()}


def test_a_full_disk_loses_no_answered_write_and_no_audit_record(
    small_disk: Path,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    store = small_disk / "store"
    open_store(str(store)).create_if_missing()
    change_access(store, lambda s: s.add_user("ann", "ann-pw", admin=True))
    with (
        running(store, tmp_path, ("--no-site", "--auth", "basic")) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http,
    ):
        exp = http.post(f"{API}/experiments/create", json={"name": "full"}).json()
        run = http.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]})
        run_id = run.json()["run"]["info"]["run_id"]

        def log(step: int) -> httpx.Response:
            body = {"run_id": run_id, "key": "m", "value": step, "timestamp": 1, "step": step}
            return http.post(f"{API}/runs/log-metric", json=body)

        answers = {step: log(step) for step in range(20)}
        assert all(a.status_code == 200 for a in answers.values())
        filler = fill(small_disk)
        try:
            step = 20
            while answers[step - 1].status_code == 200 and step < 2000:
                answers[step] = log(step)
                step += 1
            failed = answers[step - 1]
        finally:
            os.unlink(filler)
        assert failed.status_code >= 500, "a full disk was never noticed"
        error = failed.json()
        assert "Traceback" not in failed.text and str(small_disk) not in failed.text, error
        assert "disk" in error["message"].lower(), error
        for later in range(step, step + 5):  # room again: writes are answered again
            answers[later] = log(later)
            assert answers[later].status_code == 200, answers[later].text
        history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id,
                                                                 "metric_key": "m"})  # fmt: skip
        stored = {int(m["step"]) for m in history.json()["metrics"]}
    answered = {s for s, a in answers.items() if a.status_code == 200}
    assert answered <= stored  # nothing answered is lost
    audited = [
        r
        for r in open_store(str(store)).read_audit()
        if r["action"] == "runs/log-metric" and r["what"].get("run_id") == run_id
    ]
    assert len(audited) == len(answers)  # each write's record, the refused ones' too, once
    assert len({r["id"] for r in audited}) == len(audited)
