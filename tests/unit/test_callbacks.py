"""Completion callbacks: an undelivered event is logged without the URL's secrets."""

from __future__ import annotations

import logging

import pytest

from transcreate.callbacks import send_completion, shown


def test_the_logged_address_has_no_user_password_or_query() -> None:
    url = "https://hooks:pa55@example.com:8443/run/done?token=s3cret&x=1"
    assert shown(url) == "https://example.com:8443/run/done"


def test_an_undelivered_event_is_logged_without_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    url = "http://127.0.0.1:9/run/done?token=s3cret"  # nothing listens on the discard port
    assert not send_completion(url, {"event": "run.completed"}, secret=None, attempts=1, wait=0)
    assert "not delivered" in caplog.text and "127.0.0.1:9/run/done" in caplog.text
    assert "s3cret" not in caplog.text
