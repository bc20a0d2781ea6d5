"""The redactor every provider's text passes through, and the journal of paid calls."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from transcreate.editors.journal import HOST, CallJournal
from transcreate.editors.redaction import Redactor
from transcreate.errors import RetryableEditError

SECRET = "sk-live-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "echo",
    [
        SECRET,
        f"Incorrect API key provided: {SECRET}.",
        quote(f"key={SECRET}&x=1", safe=""),
        quote_plus(SECRET),
        json.dumps({"key": SECRET}),
        base64.b64encode(f"user:{SECRET}".encode()).decode(),
        base64.b64encode(f"ab{SECRET}".encode()).decode(),
        base64.b64encode(f"abc{SECRET}xyz".encode()).decode(),
        base64.urlsafe_b64encode(f"a{SECRET}".encode()).decode(),
    ],
)
def test_a_secret_is_removed_raw_and_encoded(echo):
    clean = Redactor([SECRET])(echo)
    assert SECRET not in clean and "***" in clean
    for encoded in (quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode()[:-4]):
        assert encoded not in clean


def test_any_bearer_token_is_removed_and_ordinary_text_is_kept():
    redact = Redactor([SECRET])
    assert redact("Authorization: Bearer other-token-123") == "Authorization: Bearer ***"
    text = "InvalidParameter: the image is 1024*300 px; see https://help.aliyun.com/x?y=1"
    assert redact(text) == text


def test_a_short_secret_is_not_searched_for():
    assert Redactor(["abc"])("abc is a word") == "abc is a word"


def claim(folder: Path, key: str, **record: object) -> None:
    (folder / f"{key}.json").write_text(json.dumps(record), encoding="utf-8")


def test_a_receipt_left_by_a_dead_process_is_taken_over(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2)
    claim(tmp_path, "k", workflow_run_id="r1", pid=999_999_999, host=HOST, process="gone")
    assert journal.begin("k") == {"workflow_run_id": "r1"}


def test_a_claim_without_receipt_of_a_dead_process_is_taken_over(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2)
    claim(tmp_path, "k", pid=999_999_999, host=HOST, process="gone")
    assert journal.begin("k") == {}
    assert json.loads((tmp_path / "k.json").read_text())["pid"] == os.getpid()


def test_a_live_process_claim_is_waited_on_then_given_up_as_retryable(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2)
    claim(tmp_path, "k", pid=os.getppid(), host=HOST, process="parent")
    with pytest.raises(RetryableEditError, match="another run"):
        journal.begin("k")


def test_a_receipt_older_than_the_cache_lifetime_is_not_trusted(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2, ttl=60)
    claim(tmp_path, "k", result_url="https://x/old.png")
    old = time.time() - 120
    os.utime(tmp_path / "k.json", (old, old))
    assert journal.begin("k") == {}


def test_a_receipt_stays_unowned_after_its_call(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2)
    assert journal.begin("k") == {}
    journal.note("k", result_url="https://x/1.png")
    journal.release("k")
    assert json.loads((tmp_path / "k.json").read_text()) == {"result_url": "https://x/1.png"}
    assert journal.begin("k") == {"result_url": "https://x/1.png"}
    journal.end("k")
    assert not (tmp_path / "k.json").exists()


def test_a_kept_inline_result_is_left_unowned_at_once_for_the_next_caller(tmp_path):
    journal = CallJournal(tmp_path, wait=0.2)
    assert journal.begin("k") == {}
    journal.keep("k", b"result bytes")
    # Left as `release` leaves a receipt: a process waiting on this claim takes it now.
    assert json.loads((tmp_path / "k.json").read_text()) == {"result_file": "k.result"}
    other = CallJournal(tmp_path, wait=0.2)
    receipt = other.begin("k")
    assert other.kept(receipt) == b"result bytes"
    journal.release("k")  # ours no more: the other caller's claim is left alone
    assert json.loads((tmp_path / "k.json").read_text())["pid"] == os.getpid()
    assert not list(tmp_path.glob("*.part"))
