"""Benchmark a store on S3 (moto's server on 127.0.0.1) against the same store in a local folder.

    .venv/bin/python benchmarks/bench_s3.py                 # 1,000 runs, 3 repeats
    .venv/bin/python benchmarks/bench_s3.py --runs 200 --repeat 2

Measures, in fresh processes, logging (runs of 10 params and 3 metrics x 50 steps, batched per
run) and `tracker-report build`, and counts the HTTP requests the S3 server answered for each.
Loopback S3 has no network latency, so the ratios show our request overhead, not a real
bucket's. Every figure is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

LOG = """
import json, sys, time
import reporter
from reporter.entities import Metric, Param
uri, runs = sys.argv[1], int(sys.argv[2])
client = reporter.Client(uri)
exp = client.create_experiment("bench")
start = time.perf_counter()
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r}", start_time=1_700_000_000_000 + r)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i}", str(i * r)) for i in range(10)],
                     metrics=[Metric(k, s / (r + 1), 1_700_000_000_000 + s, s)
                              for k in ("loss", "rmse", "mae") for s in range(50)])
    client.set_terminated(rid)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

BUILD = """
import json, sys, time
from reporter.site.build import build
from reporter.view.config import BuildConfig
start = time.perf_counter()
build(BuildConfig(store=sys.argv[1], out=sys.argv[2], artifacts="skip"))
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def child(code: str, env: dict[str, str], *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


class Counter:
    """Count the requests moto's server answers (a WSGI middleware)."""

    def __init__(self, app: Any) -> None:
        self.app, self.count = app, 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.count += 1
        return self.app(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import logging

    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    counter = Counter(server._server.app)  # type: ignore[attr-defined]
    server._server.app = counter  # type: ignore[attr-defined]
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        TRACKER_S3_ENDPOINT_URL=endpoint,
        TRACKER_LOG_ENVIRONMENT="0",
        PYTHONPATH=str(REPO),
    )
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, key="bench", secret="bench")
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "log local",
            "log s3",
            "build local",
            "build s3",
            "requests log",
            "requests build",
        )
    }
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeat):
            local = f"{scratch}/local-{i}"
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            fs.mkdir(bucket)
            s3 = f"s3://{bucket}/store"
            rows["log local"].append(child(LOG, env, local, str(args.runs)))
            before = counter.count
            rows["log s3"].append(child(LOG, env, s3, str(args.runs)))
            rows["requests log"].append(counter.count - before)
            rows["build local"].append(child(BUILD, env, local, f"{scratch}/site-l-{i}"))
            before = counter.count
            rows["build s3"].append(child(BUILD, env, s3, f"{scratch}/site-s-{i}"))
            rows["requests build"].append(counter.count - before)
            print(f"  round {i + 1}/{args.repeat} done", flush=True)
    server.stop()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n{args.runs:,} runs (10 params, 3 metrics x 50 steps); medians of {args.repeat}")
    print(f"{'measure':<28}{'local':>10}{'s3 (loopback)':>16}{'s3 / local':>12}")
    for what in ("log", "build"):
        print(
            f"{what + ' (s)':<28}{med[what + ' local']:>10.2f}{med[what + ' s3']:>16.2f}"
            f"{med[what + ' s3'] / med[what + ' local']:>12.1f}x"
        )
    print(
        f"{'requests to S3: logging':<28}{'':>10}{med['requests log']:>16.0f}"
        f"   ({med['requests log'] / args.runs:.1f} per run)"
    )
    print(
        f"{'requests to S3: build':<28}{'':>10}{med['requests build']:>16.0f}"
        f"   ({med['requests build'] / args.runs:.2f} per run)"
    )


if __name__ == "__main__":
    main()
