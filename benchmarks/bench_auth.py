"""What access control costs per request: `tracker-report server` without --auth, with
--auth basic (a password, and a token) and with --auth proxy, in one run.

    .venv/bin/python benchmarks/bench_auth.py               # 10 rounds of 5 s per workload
    .venv/bin/python benchmarks/bench_auth.py --quick       # 2 rounds of 2 s

Driven by wrk (Debian's package), 8 connections, as bench_server.py's (b):
  write: single log-metric requests, each answered once its point (and, with --auth, its
         audit record) is in a published file;
  read:  experiments/get of the runs' experiment (a cheap read: what is left is the check).
With --auth every request is authenticated and checked against the experiment's
permissions; basic auth's argon2 check is paid once per user and password, then remembered.

A server per mode runs throughout, and short bursts take turns between them, in an order that
rotates each round, each after every server has gone quiet (merged what it wrote): this
machine's speed drifts by a fifth over minutes, and bursts close in time see the same drift.
The servers run on one core and wrk on the other (taskset, where there are two cores or more;
--no-pin shares them): wrk's threads otherwise compete with the server's for the same cores.
The ratio is a mode's requests/s over the same round's without --auth, its median over the
rounds is the figure (target: at least 0.90, "under 10% of throughput").
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
import time
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
KINDS = ("read", "write")

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


def pinned(command: list[str], core: int | None) -> list[str]:
    """Return a command run on one core (taskset), or as it is."""
    return ["taskset", "-c", str(core), *command] if core is not None else command


def cpu_seconds(pid: int) -> float:
    """Return the CPU time a process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Target:
    """A server in one mode on a fresh store, with an experiment and 8 runs to log into."""

    def __init__(self, mode: str, scratch: Path, pin: bool) -> None:
        import httpx

        self.mode, self.pin = mode, pin
        folder = scratch / mode
        folder.mkdir()
        token = prepare_store(folder / "store")
        port = bs.free_port()
        command = [str(bs.REPO / ".venv/bin/tracker-report"), "server", "--store",
                   str(folder / "store"), "--port", str(port), "--no-site",
                   *MODES[mode]]  # fmt: skip
        self.log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(pinned(command, 0 if pin else None), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=bs.server_env(),
                                     start_new_session=True)  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self.name, self.value = header(mode, token)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        headers = {self.name: self.value} if self.name else {}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            exp = http.post(f"{bs.API}/experiments/create", json={"name": "auth-bench"}).json()
            self.experiment = exp["experiment_id"]
            self.runs = []
            for _ in range(8):
                body = {"experiment_id": self.experiment, "start_time": 1}
                answer = http.post(f"{bs.API}/runs/create", json=body).json()
                self.runs.append(answer["run"]["info"]["run_id"])
        self.script = folder / "bench.lua"
        self.script.write_text(LUA)

    def quiet(self, limit: float = 60.0) -> None:
        """Wait until the server has stopped working (merging what earlier rounds wrote), so
        that its work does not count against the next burst, whichever server that drives."""
        deadline = time.monotonic() + limit
        before = cpu_seconds(self.proc.pid)
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = cpu_seconds(self.proc.pid)
            if now - before < 0.02:
                return
            before = now

    def drive(self, kind: str, seconds: int) -> tuple[float, float]:
        """Run wrk against the server for a while; return requests/s, and the server's CPU
        microseconds per request."""
        cpu = cpu_seconds(self.proc.pid)
        env = {**os.environ, "BENCH_RUNS": ",".join(self.runs), "BENCH_HEADER": self.name,
               "BENCH_VALUE": self.value, "BENCH_KIND": kind,
               "BENCH_EXPERIMENT": self.experiment}  # fmt: skip
        wrk = ["wrk", "-t8", "-c8", f"-d{seconds}s", "--timeout", "60s", "-s", str(self.script),
               self.url]  # fmt: skip
        done = subprocess.run(pinned(wrk, 1 if self.pin else None), capture_output=True,
                              text=True, env=env, timeout=seconds + 120)  # fmt: skip
        line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
        got = json.loads(line.removeprefix("BENCH "))
        assert got["bad"] == 0, f"{self.mode} {kind}: {got['bad']} error answers"
        self.quiet()  # what it merges after the burst counts to the burst's requests
        cpu = cpu_seconds(self.proc.pid) - cpu
        return got["requests"] / (got["micros"] / 1e6), cpu / got["requests"] * 1e6

    def stop(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(60)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--no-pin", action="store_true", help="servers and wrk share the cores")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this benchmark needs wrk (apt-get install wrk)")
    pin = not args.no_pin and bool(shutil.which("taskset")) and (os.cpu_count() or 1) >= 2
    print("servers on core 0, wrk on core 1" if pin else "servers and wrk share the cores")
    rounds, seconds = (2, 2) if args.quick else (args.repeat, args.seconds)
    results: dict[str, dict[str, list[float]]] = {k: {m: [] for m in MODES} for k in KINDS}
    cpu: dict[str, dict[str, list[float]]] = {k: {m: [] for m in MODES} for k in KINDS}
    with tempfile.TemporaryDirectory(
        dir=bs.SCRATCH.parent if bs.SCRATCH.parent.exists() else None
    ) as tmp:
        targets: dict[str, Target] = {}
        try:
            for mode in MODES:
                targets[mode] = Target(mode, Path(tmp), pin)
            names = list(MODES)
            for kind in KINDS:  # reads first, before merges of written files compete
                for r in range(rounds):
                    line = []
                    for mode in names[r % len(names) :] + names[: r % len(names)]:
                        for target in targets.values():
                            target.quiet()
                        got, used = targets[mode].drive(kind, seconds)
                        results[kind][mode].append(got)
                        cpu[kind][mode].append(used)
                        line.append(f"{mode} {got:,.0f}/s {used:,.0f} us")
                    print(f"{kind} round {r + 1}/{rounds}: " + ", ".join(line), flush=True)
        finally:
            for target in targets.values():
                target.stop()
    print()
    print("requests/s (median), and its ratio to no --auth's (median of each round's ratio)")
    print(f"{'mode':<8}{'write req/s':>14}{'vs none':>10}{'read req/s':>14}{'vs none':>10}  target")
    for mode in MODES:
        med = {k: statistics.median(results[k][mode]) for k in KINDS}
        ratios = {
            k: statistics.median(
                mine / base for mine, base in zip(results[k][mode], results[k]["none"])
            )
            for k in KINDS
        }
        verdict = "PASS" if min(ratios.values()) >= 0.9 else "FAIL"
        target = "" if mode == "none" else f">= 0.90  {verdict}"
        print(f"{mode:<8}{med['write']:>14,.0f}{ratios['write']:>10.2f}"
              f"{med['read']:>14,.0f}{ratios['read']:>10.2f}  {target}")  # fmt: skip
    print()
    print("server CPU per request (median), and no --auth's over it (the throughput a CPU-bound")
    print("server keeps; median of each round's ratio)")
    print(f"{'mode':<8}{'write us':>14}{'kept':>10}{'read us':>14}{'kept':>10}  target")
    for mode in MODES:
        med = {k: statistics.median(cpu[k][mode]) for k in KINDS}
        kept = {
            k: statistics.median(base / mine for mine, base in zip(cpu[k][mode], cpu[k]["none"]))
            for k in KINDS
        }
        verdict = "PASS" if min(kept.values()) >= 0.9 else "FAIL"
        target = "" if mode == "none" else f">= 0.90  {verdict}"
        print(f"{mode:<8}{med['write']:>14,.0f}{kept['write']:>10.2f}"
              f"{med['read']:>14,.0f}{kept['read']:>10.2f}  {target}")  # fmt: skip


if __name__ == "__main__":
    main()
