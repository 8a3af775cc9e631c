"""A small forwarding proxy on 127.0.0.1 in front of a real tracking server, for tests that
need to see or change what travels between the client and the server (headers, refusals),
optionally speaking TLS with a self-signed certificate made by `openssl`."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar


class Forwarder(http.server.BaseHTTPRequestHandler):
    """Forwards every request to `target`; subclasses may answer some themselves
    (`intercept`). Every request's headers are kept in `seen`."""

    target = ""
    seen: ClassVar[list[dict[str, str]]] = []
    lock = threading.Lock()

    def intercept(self, body: bytes | None) -> bool:
        """Answer the request here and return True, or return False to forward it."""
        return False

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.lock:
            type(self).seen.append(dict(self.headers.items()))
        if self.intercept(body):
            return
        request = urllib.request.Request(
            self.target + self.path, data=body, method=self.command,
            headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args: Any) -> None:  # quiet
        pass


def self_signed(folder: Path) -> tuple[Path, Path]:
    """Make a certificate for 127.0.0.1 and its key with openssl; return (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def forwarding(
    handler: type[Forwarder], target: str, tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Run the proxy (TLS with (cert, key) if given); yield its URL."""
    handler.target, handler.seen = target, []
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()
