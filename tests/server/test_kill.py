"""kill -9 mid-stream: a server answers a write only once its rows are in a published file, so
whatever it acknowledged survives its sudden death.

Many concurrent requests (log-metric and log-batch, from threads speaking MLflow's REST API with
httpx) go to one `tracker-report server` on a folder store; the server is killed with SIGKILL
while they are in flight. Then the store, read directly with reporter's `Client`, holds every
point answered 200 exactly once, and no point that was never sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from reporter.tracking.client import Client
from tests.tracker_server import running

API = "/api/2.0/mlflow"
TIMEOUT = 120.0  # seconds for one request
THREADS = 16
RUNS = 4
BATCH = 20  # points per log-batch
KILL_AFTER = 300  # acknowledged requests before the kill


@dataclass
class Tally:
    """What the writers sent and what was acknowledged, shared by the threads."""

    sent: set[tuple[str, str, int]] = field(default_factory=set)  # (run_id, key, step)
    acked: set[tuple[str, str, int]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # answers other than 200
    acks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)

    def answered(self, points: list[tuple[str, str, int]], answer: httpx.Response) -> None:
        with self.lock:
            if answer.status_code != 200:
                self.refused.append(f"{answer.status_code} {answer.text[:300]}")
                return
            self.acked.update(points)
            self.acks += 1
            if self.acks >= KILL_AFTER:
                self.enough.set()


def value_of(key: str, step: int) -> float:
    return int(key[1:]) * 10_000 + step / 4


def writer(url: str, run_id: str, key: str, tally: Tally) -> None:
    """Log points of one key until the server is gone: log-metric, then a log-batch, ..."""
    step = 0
    with httpx.Client(timeout=TIMEOUT) as http:
        while True:
            single = step % 2 == 0
            steps = [step] if single else list(range(step, step + BATCH))
            step += len(steps)
            points = [(run_id, key, s) for s in steps]
            rows = [
                {"key": key, "value": value_of(key, s), "timestamp": s, "step": s} for s in steps
            ]
            if single:
                endpoint, body = "runs/log-metric", {"run_id": run_id, **rows[0]}
            else:
                endpoint, body = "runs/log-batch", {"run_id": run_id, "metrics": rows}
            with tally.lock:
                tally.sent.update(points)
            try:
                answer = http.post(f"{url}{API}/{endpoint}", json=body)
            except httpx.TransportError:  # the server is gone: this request may or may not count
                return
            tally.answered(points, answer)


def test_every_acknowledged_point_survives_kill_9(tmp_path):
    store_uri = str(tmp_path / "store")
    tally = Tally()
    with running(store_uri, tmp_path) as server, httpx.Client(timeout=TIMEOUT) as http:
        exp = http.post(f"{server.url}{API}/experiments/create", json={"name": "killed"})
        exp_id = exp.json()["experiment_id"]
        run_ids = []
        for r in range(RUNS):
            body = {"experiment_id": exp_id, "run_name": f"run-{r}"}
            answer = http.post(f"{server.url}{API}/runs/create", json=body)
            assert answer.status_code == 200, answer.text
            run_ids.append(answer.json()["run"]["info"]["run_id"])
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [
                pool.submit(writer, server.url, run_ids[t % RUNS], f"k{t}", tally)
                for t in range(THREADS)
            ]
            assert tally.enough.wait(300), f"only {tally.acks} requests answered in 300 s"
            server.kill()  # requests are in flight: every thread is inside a POST or about to be
            for future in futures:
                future.result()
    assert not tally.refused, f"{len(tally.refused)} answers not 200, e.g. {tally.refused[:3]}"
    store = Client(tracking_uri=store_uri)
    assert {r.info.run_id for r in store.search_runs([exp_id])} == set(run_ids)
    stored: Counter[tuple[str, str, int]] = Counter()
    for t in range(THREADS):
        key = f"k{t}"
        for metric in store.get_metric_history(run_ids[t % RUNS], key):
            assert metric.value == value_of(key, metric.step)
            stored[(run_ids[t % RUNS], key, metric.step)] += 1
    doubled = [p for p, n in stored.items() if n > 1]
    assert not doubled, f"{len(doubled)} points stored twice, e.g. {doubled[:5]}"
    lost = tally.acked - set(stored)
    assert not lost, (
        f"{len(lost)} of {len(tally.acked)} acknowledged points lost: {sorted(lost)[:5]}"
    )
    assert set(stored) <= tally.sent
    assert len(tally.acked) >= KILL_AFTER
