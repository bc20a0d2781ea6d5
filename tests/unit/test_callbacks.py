"""Completion callbacks: the address rule, and nothing of the URL's secrets in the logs."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator

import pytest

from transcreate.callbacks import SIGNATURE_HEADER, send_completion, shown, verify

LOOPBACK = frozenset({"127.0.0.1"})


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A webhook receiver on loopback that keeps every body and signature it is sent."""
    received: list[tuple[bytes, str]] = []

    class Receive(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receive)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/run/done?token=s3cret", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_logged_address_has_no_user_password_or_query() -> None:
    url = "https://hooks:pa55@example.com:8443/run/done?token=s3cret&x=1"
    assert shown(url) == "https://example.com:8443/run/done"


def test_a_callback_into_the_workers_network_is_refused_unless_its_host_is_named(
    receiver: tuple[str, list[tuple[bytes, str]]], caplog: pytest.LogCaptureFixture
) -> None:
    url, received = receiver
    caplog.set_level(logging.WARNING)
    assert not send_completion(url, {"event": "run.completed"}, secret="k", attempts=1, wait=0)
    assert received == []  # nothing was sent
    assert "private address (127.0.0.1)" in caplog.text
    assert "TRANSCREATE_ALLOW_PRIVATE_CALLBACKS" in caplog.text and "s3cret" not in caplog.text
    assert send_completion(url, {"event": "run.completed"}, secret="k", private_hosts=LOOPBACK)
    [(body, signature)] = received
    assert verify(body, signature, "k")


def test_an_undelivered_event_is_logged_without_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    url = "http://127.0.0.1:9/run/done?token=s3cret"  # nothing listens on the discard port
    event = {"event": "run.completed"}
    assert not send_completion(url, event, secret=None, attempts=1, wait=0, private_hosts=LOOPBACK)
    assert "not delivered" in caplog.text and "127.0.0.1:9/run/done" in caplog.text
    assert "s3cret" not in caplog.text
