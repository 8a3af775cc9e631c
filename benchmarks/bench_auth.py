"""What access control costs per request: `tracker-report server` without --auth, with
--auth basic (a password, and a token) and with --auth proxy, in one run.

    .venv/bin/python benchmarks/bench_auth.py               # 3 rounds of 15 s per workload
    .venv/bin/python benchmarks/bench_auth.py --quick       # 1 round of 3 s

Driven by wrk (Debian's package), 8 connections, as bench_server.py's (b):
  write: single log-metric requests, each answered once its point (and, with --auth, its
         audit record) is in a published file;
  read:  experiments/get of the runs' experiment (a cheap read: what is left is the check).
With --auth every request is authenticated and checked against the experiment's
permissions; basic auth's argon2 check is paid once per user and password, then remembered.
Medians over rounds, the modes taking turns; the ratio is each mode's requests/s over the
same workload's without --auth (target: at least 0.90, "under 10% of throughput").
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_server as bs  # noqa: E402

MODES = {
    "none": (),
    "basic": ("--auth", "basic"),
    "token": ("--auth", "basic"),
    "proxy": ("--auth", "proxy", "--trusted-proxy", "127.0.0.1/32"),
}
USER, PASSWORD = "bench", "bench-password"

LUA = """
local runs, n = {}, 0
for r in string.gmatch(os.getenv("BENCH_RUNS"), "[^,]+") do table.insert(runs, r) end
local auth_name, auth_value = os.getenv("BENCH_HEADER"), os.getenv("BENCH_VALUE")
local kind = os.getenv("BENCH_KIND")
local exp_id = os.getenv("BENCH_EXPERIMENT")
function setup(thread)
  n = n + 1
  thread:set("run_id", runs[n])
end
local step = 0
function request()
  step = step + 1
  local headers = {["Content-Type"] = "application/json"}
  if auth_name ~= "" then headers[auth_name] = auth_value end
  if kind == "read" then
    return wrk.format("GET", "/api/2.0/mlflow/experiments/get?experiment_id=" .. exp_id, headers)
  end
  local body = string.format(
    '{"run_id": "%s", "key": "loss", "value": %d, "timestamp": %d, "step": %d}',
    run_id, step, step, step)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", headers, body)
end
function done(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "micros": %d, "bad": %d}\\n',
    summary.requests, summary.duration, summary.errors.status))
end
"""


def prepare_store(folder: Path) -> str:
    """A store with the benchmark's user (and a token for it); return the token."""
    from reporter.core.access import AccessState
    from reporter.store.access import StoreAccessLog
    from reporter.store.registry import open_store

    store = open_store(str(folder))
    store.create_if_missing()
    log = StoreAccessLog(store)
    state = AccessState.replay(log.changes())
    log.publish(state.add_user(USER, PASSWORD, admin=False))
    change, token = AccessState.replay(log.changes()).add_token(USER)
    log.publish(change)
    return token


def header(mode: str, token: str) -> tuple[str, str]:
    if mode == "basic":
        return "Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if mode == "token":
        return "Authorization", f"Bearer {token}"
    if mode == "proxy":
        return "X-Forwarded-Email", USER
    return "", ""


def one(mode: str, seconds: int, scratch: Path) -> dict[str, float]:
    """Start a server in a mode on a fresh store; return requests/s of both workloads."""
    import httpx

    folder = scratch / f"{mode}-{os.getpid()}-{len(list(scratch.iterdir()))}"
    folder.mkdir()
    token = prepare_store(folder / "store")
    port = bs.free_port()
    command = [str(bs.REPO / ".venv/bin/tracker-report"), "server", "--store",
               str(folder / "store"), "--port", str(port), "--no-site", *MODES[mode]]  # fmt: skip
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=bs.server_env(),
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    name, value = header(mode, token)
    headers = {name: value} if name else {}
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            import time

            time.sleep(0.1)
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            exp = http.post(f"{bs.API}/experiments/create", json={"name": "auth-bench"}).json()
            runs = []
            for _ in range(8):
                body = {"experiment_id": exp["experiment_id"], "start_time": 1}
                runs.append(
                    http.post(f"{bs.API}/runs/create", json=body).json()["run"]["info"]["run_id"]
                )
        script = folder / "bench.lua"
        script.write_text(LUA)
        out: dict[str, float] = {}
        for kind in ("read", "write"):  # reads first, before merges of written files compete
            env = {**os.environ, "BENCH_RUNS": ",".join(runs), "BENCH_HEADER": name,
                   "BENCH_VALUE": value, "BENCH_KIND": kind,
                   "BENCH_EXPERIMENT": exp["experiment_id"]}  # fmt: skip
            done = subprocess.run(["wrk", "-t8", "-c8", f"-d{seconds}s", "--timeout", "60s", "-s",
                                   str(script), url], capture_output=True, text=True, env=env,
                                  timeout=seconds + 120)  # fmt: skip
            line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
            got = json.loads(line.removeprefix("BENCH "))
            assert got["bad"] == 0, f"{mode} {kind}: {got['bad']} error answers"
            out[kind] = got["requests"] / (got["micros"] / 1e6)
        return out
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this benchmark needs wrk (apt-get install wrk)")
    rounds, seconds = (1, 3) if args.quick else (args.repeat, args.seconds)
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(
        dir=bs.SCRATCH.parent if bs.SCRATCH.parent.exists() else None
    ) as tmp:
        scratch = Path(tmp)
        for r in range(rounds):
            for mode in MODES:
                got = one(mode, seconds, scratch)
                results[mode].append(got)
                print(f"round {r + 1}/{rounds} {mode:<6} write {got['write']:>8,.0f}/s  "
                      f"read {got['read']:>8,.0f}/s", flush=True)  # fmt: skip
    print()
    print(f"{'mode':<8}{'write req/s':>14}{'vs none':>10}{'read req/s':>14}{'vs none':>10}  target")
    base = {k: statistics.median(r[k] for r in results["none"]) for k in ("write", "read")}
    for mode in MODES:
        med = {k: statistics.median(r[k] for r in results[mode]) for k in ("write", "read")}
        ratios = {k: med[k] / base[k] for k in med}
        verdict = "PASS" if min(ratios.values()) >= 0.9 else "FAIL"
        target = "" if mode == "none" else f">= 0.90  {verdict}"
        print(f"{mode:<8}{med['write']:>14,.0f}{ratios['write']:>10.2f}"
              f"{med['read']:>14,.0f}{ratios['read']:>10.2f}  {target}")  # fmt: skip


if __name__ == "__main__":
    main()
