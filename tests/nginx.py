"""A real reverse proxy for server tests: Debian's nginx, started in the foreground on a free
loopback port with a configuration the test gives (round-robin over upstreams, plus any
directives a test adds: basic auth, headers it sets for the upstream).

nginx is optional locally (tests skip without it); under CI=true they fail without it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.mlflow_server import free_port

API = "/api/2.0/mlflow"
TIMEOUT = 120.0  # seconds nginx waits on an upstream (a CPU hog beside the test slows it)


def nginx_binary() -> str:
    """Return nginx's path; skip (or fail under CI=true) when it is not installed."""
    # Debian installs it in /usr/sbin, which is not on every user's PATH
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    found = shutil.which("nginx", path=path)
    if found is None:
        message = "nginx is not installed (apt-get install nginx; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def nginx_conf(
    root: Path, port: int, upstreams: list[str], location: str = "", http: str = ""
) -> str:
    """Return an nginx.conf: loopback only, round-robin over the upstreams, every path in root;
    `location` adds directives to the proxied location, `http` to the http block."""
    servers = "\n".join(f"        server {u.removeprefix('http://')};" for u in upstreams)
    # as root, nginx's workers would run as `nobody`, who cannot enter pytest's tmp folder
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
daemon off;
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr $upstream_status';
    access_log {root}/access.log upstream;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 64m;
{http}
    upstream tracker {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tracker;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout {int(TIMEOUT)}s;
            proxy_send_timeout {int(TIMEOUT)}s;
{location}
        }}
    }}
}}
"""


@dataclass
class Proxy:
    """A running nginx: its URL and access log."""

    url: str
    root: Path

    def upstreams(self) -> Counter[str]:
        """Return how many API requests each upstream address answered (from the access log)."""
        counts: Counter[str] = Counter()
        for line in (self.root / "access.log").read_text().splitlines():
            _method, uri, _status, upstream, *_ = line.split()
            if uri.startswith(API):
                counts[upstream] += 1
        return counts


@contextmanager
def nginx(root: Path, upstreams: list[str], location: str = "", http: str = "") -> Iterator[Proxy]:
    """Run nginx in the foreground (`daemon off;`) on a free loopback port; stop it at the end."""
    binary = nginx_binary()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, port, upstreams, location, http))
    log = root / "nginx.out"
    command = [binary, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_proxy(url, proc, root)
        yield Proxy(url, root)
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_proxy(url: str, proc: subprocess.Popen[bytes], root: Path, seconds: float = 30) -> None:
    """Return once /health answers through nginx; fail with its logs otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited ({proc.returncode}):\n{nginx_logs(root)}")
        try:
            # 401: nginx itself asks for credentials (a test's auth_basic), so it is up
            if httpx.get(f"{url}/health", timeout=2).status_code in (200, 401):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"nginx did not answer /health in {seconds} s:\n{nginx_logs(root)}")


def nginx_logs(root: Path) -> str:
    return "\n".join(
        (root / name).read_text(errors="replace")[-3000:]
        for name in ("nginx.out", "error.log")
        if (root / name).exists()
    )
