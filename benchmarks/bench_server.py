"""Benchmark `tracker-report server` against `mlflow server` (SQLite backend) over HTTP.

    .venv/bin/python benchmarks/bench_server.py              # full run (a few minutes)
    .venv/bin/python benchmarks/bench_server.py --quick      # smoke check: small sizes
    .venv/bin/python benchmarks/bench_server.py --repeat 5 --json .bench/server.json

Both servers run on this machine at their default settings (ours: one process; MLflow's:
uvicorn, its default 4 workers), each on a fresh store (a folder; MLflow: SQLite plus an
artifact folder). The same client code, httpx on asyncio in this process, drives both, and a
third server gives the raw limit: a bare uvicorn app that reads and parses each request and
answers at once, storing nothing.

  (a) batch:  32 concurrent clients, each a run, log-batch requests of 500 metrics
  (b) single: 8 concurrent clients, each a run, one log-metric request at a time
  (c) search: runs/search returning 1,000 runs (10 params/metrics each), one call at a time
  (d) client: the `log_metric` loop of a client process, start_run to end_run inclusive:
      MLflow's client against its server, `import reporter as mlflow` with
      set_tracking_uri("http://...") against ours

Every figure is the median over --repeat rounds, the servers taking turns in each round.
Throughput is requests (and metric rows) per second of wall time; latencies are per request;
a server's RSS is the peak sum over its processes (/proc), sampled every 20 ms. After each
workload the data is read back over HTTP: a server that answers fast but stores nothing fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MLFLOW_VENV = REPO / ".bench" / "mlflow-venv"
SCRATCH = REPO / ".bench" / "scratch"
API = "/api/2.0/mlflow"
SERVERS = ("reporter", "mlflow", "raw")
TIMEOUT = 600.0

try:
    import httpx
except ImportError:  # run again with the project's venv, which has httpx
    venv_python = REPO / ".venv" / "bin" / "python"
    if not venv_python.exists() or Path(sys.executable) == venv_python:
        raise SystemExit(
            "this benchmark needs httpx: make install, then use .venv/bin/python"
        ) from None
    os.execv(str(venv_python), [str(venv_python), *sys.argv])


@dataclass
class Sizes:
    """Every size the benchmark uses (printed, and stored with --json)."""

    repeat: int = 3
    batch_clients: int = 32
    batches: int = 4  # log-batch requests per client in (a)
    batch_size: int = 500
    single_clients: int = 8
    singles: int = 100  # log-metric requests per client in (b), without wrk
    single_seconds: int = 15  # how long wrk drives (b)
    search_runs: int = 1_000
    search_calls: int = 5
    client_calls: dict[str, int] = field(
        default_factory=lambda: {"reporter": 100_000, "mlflow": 500}
    )

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            repeat=1,
            batches=1,
            singles=20,
            single_seconds=3,
            search_runs=200,
            search_calls=3,
            client_calls={"reporter": 10_000, "mlflow": 100},
        )


# servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


RAW_APP = """
import json, sys
import uvicorn

ANSWERS = {
    "/api/2.0/mlflow/experiments/create": b'{"experiment_id": "1"}',
    "/api/2.0/mlflow/runs/create": b'{"run": {"info": {"run_id": "raw", "experiment_id": "1"}}}',
}

async def app(scope, receive, send):
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if body:
        json.loads(body)
    answer = b"OK" if scope["path"] == "/health" else ANSWERS.get(scope["path"], b"{}")
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


def server_command(kind: str, folder: Path, port: int) -> list[str]:
    """Return the command line of one server at its default settings."""
    if kind == "reporter":
        tracker = REPO / ".venv" / "bin" / "tracker-report"
        return [str(tracker), "server", "--store", str(folder / "store"), "--port", str(port),
                "--no-site"]  # fmt: skip
    if kind == "mlflow":
        return [str(MLFLOW_VENV / "bin" / "mlflow"), "server",
                "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination", str(folder / "artifacts"),
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    return [str(REPO / ".venv" / "bin" / "python"), "-c", RAW_APP, str(port)]


def server_env() -> dict[str, str]:
    """The servers' environment: no TRACKER_*/MLFLOW_* settings, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    env.pop("PYTHONPATH", None)
    return env


@dataclass
class Server:
    kind: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running(kind: str, folder: Path) -> Iterator[Server]:
    """Start a server on a fresh folder; wait for /health; stop it (SIGTERM) at the end."""
    folder.mkdir(parents=True)
    port = free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            server_command(kind, folder, port), cwd=folder, stdout=out,
            stderr=subprocess.STDOUT, env=server_env(), start_new_session=True,
        )  # fmt: skip
    server = Server(kind, f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{kind} server did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tree_rss(pid: int) -> int:
    """Return the resident set of a process and its descendants, in bytes (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Sample a process tree's RSS every 20 ms while the block runs; yield [peak bytes]."""
    peak = [tree_rss(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], tree_rss(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# the client: the same for every server ---------------------------------------------------------
@dataclass
class Sample:
    """One workload on one server, once."""

    requests: int
    rows: int
    seconds: float
    latencies: list[float]
    rss: int
    errors: int = 0  # requests that got no answer (the server dropped the connection)
    p50_p99: tuple[float, float] | None = None  # seconds, where the client (wrk) gives them

    def figures(self) -> dict[str, float]:
        lat = sorted(self.latencies) or [math.nan]  # (d) times the loop, not each call
        p50, p99 = self.p50_p99 or (
            lat[len(lat) // 2],
            lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        )
        return {
            "requests/s": self.requests / self.seconds,
            "rows/s": self.rows / self.seconds,
            "p50 ms": 1000 * p50,
            "p99 ms": 1000 * p99,
            "peak RSS MB": self.rss / 2**20,
            "errors": self.errors,
        }


async def post(http: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post(f"{API}/{endpoint}", json=body)
    if answer.status_code != 200:
        raise SystemExit(f"{endpoint}: {answer.status_code} {answer.text[:500]}")
    return dict(answer.json())


async def timed_post(
    http: httpx.AsyncClient, endpoint: str, body: dict[str, Any], latencies: list[float]
) -> bool:
    """Send a timed request; return False if the server dropped it unanswered (not retried:
    counted as an error, and left out of the throughput)."""
    start = time.perf_counter()
    try:
        await post(http, endpoint, body)
    except httpx.TransportError:
        return False
    latencies.append(time.perf_counter() - start)
    return True


def client(url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits)


async def new_runs(http: httpx.AsyncClient, name: str, count: int) -> tuple[str, list[str]]:
    """Create an experiment and `count` runs in it (untimed)."""
    exp_id = (await post(http, "experiments/create", {"name": name}))["experiment_id"]
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with sem:
            body = {"experiment_id": exp_id, "run_name": f"r{i}", "start_time": 1}
            return str((await post(http, "runs/create", body))["run"]["info"]["run_id"])

    return exp_id, list(await asyncio.gather(*(one(i) for i in range(count))))


def batch_body(run_id: str, batch: int, size: int) -> dict[str, Any]:
    """A log-batch of `size` points: 10 keys x size/10 steps, steps continuing batch to batch."""
    steps = size // 10
    metrics = [
        {"key": f"m{k}", "value": k + s / 7, "timestamp": 1_700_000_000_000 + s, "step": s}
        for k in range(10)
        for s in range(batch * steps, (batch + 1) * steps)
    ]
    return {"run_id": run_id, "metrics": metrics}


async def history_length(http: httpx.AsyncClient, run_id: str, key: str) -> int:
    """Read a metric's history back over HTTP (every page); return its length."""
    count, token = 0, None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": "25000"}
        if token:
            params["page_token"] = token
        answer = await http.get(f"{API}/metrics/get-history", params=params)
        answer.raise_for_status()
        data = answer.json()
        count += len(data.get("metrics", []))
        token = data.get("next_page_token")
        if not token:
            return count


async def workload_batch(server: Server, sizes: Sizes) -> Sample:
    """(a) batch_clients clients at once, each sending `batches` log-batch requests."""
    async with client(server.url, sizes.batch_clients) as http:
        _, runs = await new_runs(http, f"batch-{time.time_ns()}", sizes.batch_clients)
        latencies: list[float] = []
        acked: dict[str, int] = {}

        async def one(run_id: str) -> None:
            for b in range(sizes.batches):
                body = batch_body(run_id, b, sizes.batch_size)
                ok = await timed_post(http, "runs/log-batch", body, latencies)
                acked[run_id] = acked.get(run_id, 0) + ok

        with peak_rss(server.proc.pid) as peak:
            start = time.perf_counter()
            await asyncio.gather(*(one(r) for r in runs))
            seconds = time.perf_counter() - start
        if server.kind != "raw":  # every acknowledged point is there
            steps = sizes.batch_size // 10
            for run_id in runs[:: max(1, len(runs) // 4)]:
                got = await history_length(http, run_id, "m3")
                low, high = acked[run_id] * steps, sizes.batches * steps
                assert low <= got <= high, f"{server.kind}: {got} points of m3, {low} acked"
    count = len(latencies)
    errors = sizes.batch_clients * sizes.batches - count
    return Sample(count, count * sizes.batch_size, seconds, latencies, peak[0], errors)


WRK_SCRIPT = """
-- (b) for wrk: each thread (one connection) logs single points to its own run
local runs, n = {}, 0
for r in string.gmatch(os.getenv("BENCH_RUNS"), "[^,]+") do table.insert(runs, r) end
function setup(thread)
  n = n + 1
  thread:set("run_id", runs[n])
end
local step = 0
function request()
  step = step + 1
  local body = string.format(
    '{"run_id": "%s", "key": "loss", "value": %d, "timestamp": %d, "step": %d}',
    run_id, step, step, step)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric",
                    {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "micros": %d, "bad": %d, "dropped": %d, "p50": %d, "p99": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


async def workload_single(server: Server, sizes: Sizes) -> Sample:
    """(b) single_clients clients at once, each a connection sending one log-metric request
    at a time: driven by wrk where it is installed (Debian's package), since a Python client
    is the bottleneck here (the raw limit is about 900 requests/s from httpx on asyncio, about
    16,000 from wrk, on the 2-core machine); otherwise by httpx, as the other workloads."""
    if shutil.which("wrk"):
        return await workload_single_wrk(server, sizes)
    return await workload_single_httpx(server, sizes)


async def workload_single_wrk(server: Server, sizes: Sizes) -> Sample:
    """(b) with wrk for `single_seconds`; every point a 200 answered must be stored."""
    async with client(server.url, sizes.single_clients) as http:
        _, runs = await new_runs(http, f"single-{time.time_ns()}", sizes.single_clients)
    script = server.log.parent / "single.lua"
    script.write_text(WRK_SCRIPT)
    n = sizes.single_clients
    command = ["wrk", f"-t{n}", f"-c{n}", f"-d{sizes.single_seconds}s", "--timeout", "60s",
               "-s", str(script), server.url]  # fmt: skip
    env = {**os.environ, "BENCH_RUNS": ",".join(runs)}
    with peak_rss(server.proc.pid) as peak:
        out = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=sizes.single_seconds + 120
        )
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    got = json.loads(line.removeprefix("BENCH "))
    answered = got["requests"] - got["bad"]
    assert got["bad"] == 0, f"{server.kind}: {got['bad']} requests answered with an error"
    if server.kind != "raw":  # each 200 stored; at most one unanswered request a connection
        async with client(server.url, 4) as http:
            stored = sum([await history_length(http, r, "loss") for r in runs])
        assert answered <= stored <= answered + n, (
            f"{server.kind}: {stored} stored, {answered} acked"
        )
    seconds = got["micros"] / 1e6
    return Sample(answered, answered, seconds, [], peak[0], got["dropped"],
                  (got["p50"] / 1e6, got["p99"] / 1e6))  # fmt: skip


async def workload_single_httpx(server: Server, sizes: Sizes) -> Sample:
    """(b) from httpx: single_clients clients, each sending `singles` log-metric requests."""
    async with client(server.url, sizes.single_clients) as http:
        _, runs = await new_runs(http, f"single-{time.time_ns()}", sizes.single_clients)
        latencies: list[float] = []

        acked: dict[str, int] = {}

        async def one(run_id: str) -> None:
            for s in range(sizes.singles):
                body = {"run_id": run_id, "key": "loss", "value": s / 3, "timestamp": s, "step": s}
                ok = await timed_post(http, "runs/log-metric", body, latencies)
                acked[run_id] = acked.get(run_id, 0) + ok

        with peak_rss(server.proc.pid) as peak:
            start = time.perf_counter()
            await asyncio.gather(*(one(r) for r in runs))
            seconds = time.perf_counter() - start
        if server.kind != "raw":
            got = await history_length(http, runs[-1], "loss")
            low = acked[runs[-1]]
            assert low <= got <= sizes.singles, f"{server.kind}: {got} points stored, {low} acked"
    count = len(latencies)
    errors = sizes.single_clients * sizes.singles - count
    return Sample(count, count, seconds, latencies, peak[0], errors)


async def workload_search(server: Server, sizes: Sizes) -> Sample:
    """(c) runs/search returning every run of a search_runs-run experiment, one at a time."""
    async with client(server.url, 16) as http:
        exp_id, runs = await new_runs(http, f"search-{time.time_ns()}", sizes.search_runs)
        sem = asyncio.Semaphore(16)

        async def fill(i: int, run_id: str) -> None:
            params = [{"key": f"p{k}", "value": str(i % (k + 2))} for k in range(5)]
            metrics = [
                {"key": f"m{k}", "value": (i * 7919 % 1000) / 1000 + k, "timestamp": 1, "step": 0}
                for k in range(5)
            ]
            async with sem:
                await post(http, "runs/log-batch", {"run_id": run_id, "params": params,
                                                    "metrics": metrics})  # fmt: skip

        await asyncio.gather(*(fill(i, r) for i, r in enumerate(runs)))
        body = {"experiment_ids": [exp_id], "max_results": sizes.search_runs,
                "order_by": ["metrics.m0 DESC"]}  # fmt: skip
        latencies: list[float] = []
        await post(http, "runs/search", body)  # warm-up
        with peak_rss(server.proc.pid) as peak:
            start = time.perf_counter()
            for _ in range(sizes.search_calls):
                t0 = time.perf_counter()
                found = await post(http, "runs/search", body)
                latencies.append(time.perf_counter() - t0)
                assert len(found["runs"]) == sizes.search_runs, len(found.get("runs", []))
            seconds = time.perf_counter() - start
        values = [r["data"]["metrics"] for r in found["runs"]]
        m0 = [next(m["value"] for m in v if m["key"] == "m0") for v in values]
        assert m0 == sorted(m0, reverse=True), f"{server.kind}: runs not ordered by m0"
    count = sizes.search_calls
    return Sample(count, count * sizes.search_runs, seconds, latencies, peak[0])


# (d) a client process's log_metric loop ---------------------------------------------------------
CLIENT_LOOP = """
import json, sys, time
IMPL, URL, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
if IMPL == "mlflow":
    import mlflow
else:
    import reporter as mlflow
try:
    mlflow.set_tracking_uri(URL)
    mlflow.set_experiment("client-loop")
except Exception as exc:
    print(json.dumps({"skipped": f"http client not available: {type(exc).__name__}: {exc}"}))
    sys.exit(0)
start = time.perf_counter()
run = mlflow.start_run()
for i in range(N):
    mlflow.log_metric("loss", i / N, step=i)
mlflow.end_run()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "run_id": run.info.run_id}))
"""


def workload_client(server: Server, calls: int) -> Sample | str:
    """(d) Time a client process's start_run, `calls` log_metric calls and end_run; return the
    sample, or why it was skipped."""
    python = (
        MLFLOW_VENV / "bin" / "python" if server.kind == "mlflow" else REPO / ".venv/bin/python"
    )
    env = server_env()
    with peak_rss(server.proc.pid) as peak:
        out = subprocess.run(
            [str(python), "-c", CLIENT_LOOP, server.kind, server.url, str(calls)],
            capture_output=True, text=True, env=env, timeout=3600, cwd=server.log.parent,
        )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{server.kind} client loop failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if "skipped" in result:
        return str(result["skipped"])
    got = asyncio.run(_history(server.url, result["run_id"]))
    assert got == calls, f"{server.kind}: {got} points stored, {calls} logged"
    return Sample(calls, calls, result["seconds"], [], peak[0])


async def _history(url: str, run_id: str) -> int:
    async with client(url, 1) as http:
        return await history_length(http, run_id, "loss")


# driver ----------------------------------------------------------------------------------------
WORKLOADS = {
    "a": "(a) 32 clients x log-batch of 500",
    "b": "(b) 8 clients x log-metric",
    "c": "(c) search 1,000 runs",
    "d": "(d) client log_metric loop",
}


def run_round(kind: str, sizes: Sizes, folder: Path) -> dict[str, Sample | str]:
    """Run every workload once on a fresh server of one kind."""
    out: dict[str, Sample | str] = {}
    with running(kind, folder) as server:
        out["a"] = asyncio.run(workload_batch(server, sizes))
        out["b"] = asyncio.run(workload_single(server, sizes))
        if kind != "raw":
            out["c"] = asyncio.run(workload_search(server, sizes))
            out["d"] = workload_client(server, sizes.client_calls[kind])
    return out


def median_figures(samples: list[Sample]) -> dict[str, float]:
    figures = [s.figures() for s in samples]
    return {k: statistics.median(f[k] for f in figures) for k in figures[0]}


def report(results: dict[str, dict[str, list[Sample | str]]], sizes: Sizes) -> str:
    """Return the table: medians per server, MLflow/ours ratios, targets and verdicts."""
    lines = [f"{'workload':<36}{'figure':<13}{'reporter':>12}{'mlflow':>12}{'raw HTTP':>12}"
             f"{'ours/mlflow':>13}  target"]  # fmt: skip
    for key, title in WORKLOADS.items():
        cols: dict[str, dict[str, float] | str | None] = {}
        for kind in SERVERS:
            samples = results[kind].get(key, [])
            skipped = [s for s in samples if isinstance(s, str)]
            good = [s for s in samples if isinstance(s, Sample)]
            cols[kind] = skipped[0] if skipped else median_figures(good) if good else None
        if isinstance(cols["reporter"], str):
            lines.append(f"{title:<36}skipped: {cols['reporter']}")
            continue
        ours, theirs = cols["reporter"], cols["mlflow"]
        assert isinstance(ours, dict) and isinstance(theirs, dict)
        names = ("requests/s", "rows/s", "p50 ms", "p99 ms", "peak RSS MB", "errors")
        for i, name in enumerate(names):
            cells = []
            for kind in SERVERS:
                col = cols[kind]
                value = col[name] if isinstance(col, dict) else math.nan
                cells.append(f"{'-':>12}" if math.isnan(value) else f"{value:>12,.1f}")
            if name == "errors":
                lines.append(f"{'':<36}{name:<13}{''.join(cells)}")
                continue
            better = ours[name] / theirs[name] if "/s" in name else theirs[name] / ours[name]
            if math.isnan(better):
                lines.append(f"{'':<36}{name:<13}{''.join(cells)}")
                continue
            target = ""
            if key in "ab" and name == "requests/s":
                target = f">= 10x  {'PASS' if better >= 10 else 'FAIL'}"
            elif key in "ab" and name == "p99 ms":
                target = f"no worse  {'PASS' if ours[name] <= theirs[name] else 'FAIL'}"
            elif key == "d" and name == "requests/s":
                target = f">= 100x  {'PASS' if better >= 100 else 'FAIL'}"
            label = title if i == 0 else ""
            lines.append(f"{label:<36}{name:<13}{''.join(cells)}{better:>12,.1f}x  {target}")
    lines.append("(ours/mlflow: how many times better ours is; for ms and MB, mlflow/ours)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--repeat", type=int, help="rounds (default 3)")
    parser.add_argument("--json", type=Path, help="write every sample and the sizes here")
    args = parser.parse_args()
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.repeat:
        sizes.repeat = args.repeat
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        raise SystemExit(f"no MLflow venv at {MLFLOW_VENV} (`make mlflow` creates it)")
    scratch = SCRATCH / f"server-{os.getpid()}"
    print(f"sizes: {asdict(sizes)}", flush=True)
    results: dict[str, dict[str, list[Sample | str]]] = {k: {} for k in SERVERS}
    try:
        for r in range(sizes.repeat):
            for kind in SERVERS:  # the servers take turns within a round
                print(f"round {r + 1}/{sizes.repeat}: {kind} ...", flush=True)
                for key, sample in run_round(kind, sizes, scratch / f"{r}-{kind}").items():
                    results[kind].setdefault(key, []).append(sample)
                    if isinstance(sample, Sample):
                        shown = ", ".join(f"{k} {v:,.1f}" for k, v in sample.figures().items())
                        print(f"  {WORKLOADS[key]}: {shown}", flush=True)
                    else:
                        print(f"  {WORKLOADS[key]}: skipped: {sample}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(report(results, sizes))
    if args.json:
        raw = {k: {w: [asdict(s) if isinstance(s, Sample) else s for s in v]
                   for w, v in per.items()} for k, per in results.items()}  # fmt: skip
        args.json.write_text(json.dumps({"sizes": asdict(sizes), "samples": raw}, indent=1))


if __name__ == "__main__":
    main()
