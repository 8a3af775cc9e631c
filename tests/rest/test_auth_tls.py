"""MLflow's credential and TLS variables reach a real server: a bearer token, basic auth, and
https with a self-signed certificate (refused unless trusted or MLFLOW_TRACKING_INSECURE_TLS).

Our tracking server sits behind a forwarding proxy that speaks TLS and keeps each request's
headers, so the test sees exactly what the client sent and the data lands in a real store."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

import reporter as mlflow
from reporter.core.errors import ReporterError
from reporter.tracking.client import Client
from tests.rest.proxy import Forwarder, forwarding, self_signed
from tests.tracker_server import Server, running


class Recorder(Forwarder):
    """Forwards everything; `seen` keeps the headers."""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Server, Path]]:
    """Our server behind an https proxy; yields (proxy URL, server, certificate)."""
    cert, key = self_signed(tmp_path)
    with (
        running(tmp_path / "store", tmp_path) as server,
        forwarding(Recorder, server.url, (cert, key)) as url,
    ):
        yield url, server, cert


def log_one_run(uri: str) -> str:
    mlflow.set_tracking_uri(uri)  # the store_uri fixture resets it after the test
    mlflow.set_experiment("secured")
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.5, step=3)
    return run.info.run_id


def stored(server: Server, run_id: str) -> tuple[dict[str, str], list[tuple[int, float]]]:
    client = Client(tracking_uri=str(server.log.parent / "store"))
    history = client.get_metric_history(run_id, "loss")
    return dict(client.get_run(run_id).data.params), [(m.step, m.value) for m in history]


def test_a_token_is_sent_as_bearer_on_every_request(tls_server, monkeypatch):
    url, server, _ = tls_server
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cr3t-token")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    run_id = log_one_run(url)
    assert stored(server, run_id) == ({"lr": "0.1"}, [(3, 0.5)])
    assert Recorder.seen
    assert {h.get("Authorization") for h in Recorder.seen} == {"Bearer s3cr3t-token"}


def test_a_user_and_password_are_sent_as_basic_auth(tls_server, monkeypatch):
    url, server, _ = tls_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pa:ss")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_server[2]))
    run_id = log_one_run(url)
    assert stored(server, run_id) == ({"lr": "0.1"}, [(3, 0.5)])
    expected = "Basic " + base64.b64encode(b"ada:pa:ss").decode()
    assert {h.get("Authorization") for h in Recorder.seen} == {expected}


def test_an_untrusted_certificate_is_refused_with_a_clear_error(tls_server, monkeypatch):
    url, server, _ = tls_server
    with pytest.raises(ReporterError) as err:
        log_one_run(url)
    text = str(err.value)
    assert url in text and "certificate" in text.lower()
    assert "MLFLOW_TRACKING_INSECURE_TLS" in text or "MLFLOW_TRACKING_SERVER_CERT_PATH" in text
    assert not (server.log.parent / "store" / "runs").exists()  # nothing reached the store
