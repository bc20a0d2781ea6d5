"""The process-requests flow with its inbox under s3:// (SeaweedFS on loopback): each request is
claimed once, by a conditional write, and settled into done/ or failed/."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import BUCKET
from tests.integration.test_requests import _without_column
from transcreate.wiring import open_inbox

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_run(prefect_api, seaweed, sample_campaign, sample_image):
    """A good request and a malformed one dropped into an S3 inbox, then one run of the flow."""
    from transcreate.flows.requests import process_requests

    prefix = f"requests/{secrets.token_hex(4)}"
    drop = _dropper(seaweed, f"{prefix}/inbox")
    drop("spring-promo.png", sample_image.read_bytes())
    drop("spring-promo.csv", _first_rows(sample_campaign, 2).encode())
    drop("no-variants.png", sample_image.read_bytes())
    drop("no-variants.csv", _without_column(sample_campaign, "variant").encode())
    state = process_requests(
        inbox=f"s3://{BUCKET}/{prefix}/inbox", out=f"s3://{BUCKET}/{prefix}/out", return_state=True
    )
    return state, prefix


@pytest.fixture
def inbox(seaweed) -> str:
    return f"requests/{secrets.token_hex(4)}/inbox"


def test_the_good_request_is_localized_once_into_s3(seaweed, s3_run):
    state, prefix = s3_run
    assert state.is_completed()
    assert {key.split("/")[0] for key in _keys(seaweed, f"{prefix}/out")} == {"spring-promo"}
    manifest = json.loads(_read(seaweed, f"{prefix}/out/spring-promo/manifest.json"))
    assert (
        sum(job["status"] == "ok" for job in manifest["jobs"]) == 8
    )  # two variants × four locales
    assert manifest["campaign"] == "spring-promo"


def test_each_s3_request_ends_in_done_or_failed_with_its_image(seaweed, s3_run):
    state, prefix = s3_run
    assert _keys(seaweed, f"{prefix}/inbox") == [
        "done/spring-promo.csv",
        "done/spring-promo.png",
        "failed/no-variants.csv",
        "failed/no-variants.error.txt",
        "failed/no-variants.png",
    ]  # nothing left at the top of the inbox, nothing in processing/
    [done] = state.result().done
    assert done.moved_to == f"s3://{BUCKET}/{prefix}/inbox/done/spring-promo.csv"


def test_a_malformed_s3_request_gets_an_error_object_naming_it(seaweed, s3_run):
    state, prefix = s3_run
    error = _read(seaweed, f"{prefix}/inbox/failed/no-variants.error.txt").decode()
    assert "no-variants.csv" in error
    assert "missing column(s) variant" in error
    [failed] = state.result().failed
    assert (failed.request, failed.status) == ("no-variants.csv", "failed")


def test_a_second_run_takes_nothing_from_s3(seaweed, s3_run):
    from transcreate.flows.requests import process_requests

    _, prefix = s3_run
    before = _keys(seaweed, prefix)
    summary = process_requests(
        inbox=f"s3://{BUCKET}/{prefix}/inbox", out=f"s3://{BUCKET}/{prefix}/out"
    )
    assert (summary.done, summary.failed) == ([], [])
    assert _keys(seaweed, prefix) == before


def test_a_sheet_dropped_again_while_claimed_waits_for_the_next_run(seaweed, inbox):
    drop = _dropper(seaweed, inbox)
    drop("sale.png", b"\x89PNG")
    drop("sale.csv", b"variant,headline\nfirst,Hello\n")
    requests = open_inbox(f"s3://{BUCKET}/{inbox}")
    first = requests.claim("sale.csv")
    assert first is not None
    drop("sale.csv", b"variant,headline\nsecond,Hello\n")
    assert requests.claim("sale.csv") is None  # NAME is held until the first one settles
    assert requests.settle(first) == f"s3://{BUCKET}/{inbox}/done/sale.csv"
    second = requests.claim("sale.csv")
    assert second is not None and second.image is None  # the image went with the first
    assert _read(seaweed, second.sheet.removeprefix(f"s3://{BUCKET}/")).endswith(b"second,Hello\n")
    requests.settle(second, "sale.csv: no base image")
    assert _keys(seaweed, inbox) == [
        "done/sale.csv",
        "done/sale.png",
        "failed/sale.csv",
        "failed/sale.error.txt",
    ]


def _dropper(seaweed, folder: str) -> Any:
    client = seaweed.client()

    def drop(name: str, body: bytes) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{folder}/{name}", Body=body)

    return drop


def _keys(seaweed, prefix: str) -> list[str]:
    """Every key under ``prefix/``, relative to it, sorted."""
    pages = (
        seaweed.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=BUCKET, Prefix=f"{prefix}/")
    )
    found = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sorted(key.removeprefix(f"{prefix}/") for key in found)


def _read(seaweed, key: str) -> bytes:
    return bytes(seaweed.client().get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _first_rows(sheet: Path, rows: int) -> str:
    """The sheet's header and its first rows: the inbox is the subject, not the renders."""
    return "".join(sheet.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1])
