"""S3Storage against a real S3 server on loopback (SeaweedFS), which enforces signatures."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from boto3.s3.transfer import TransferConfig

from tests.integration.conftest import BUCKET
from tests.servers.seaweed import SeaweedS3
from transcreate.campaign import read_campaign
from transcreate.errors import StorageError
from transcreate.storage import MISSING, output_key
from transcreate.storage.s3 import S3Storage

pytestmark = pytest.mark.slow


KEY = output_key("summer-sale", "th", "hero-1", "0123456789abcdef")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def storage(seaweed: SeaweedS3) -> S3Storage:
    return S3Storage(f"s3://{BUCKET}/runs/{secrets.token_hex(4)}")


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {seconds} s"
        time.sleep(0.1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_endpoint_comes_from_aws_endpoint_url_s3_with_path_style(seaweed, storage) -> None:
    assert storage.endpoint == seaweed.endpoint
    assert storage.client.meta.config.s3["addressing_style"] == "path"
    assert storage.client.meta.config.signature_version == "s3v4"
    storage.check()


def test_without_an_endpoint_it_is_aws_with_automatic_addressing(seaweed, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    storage = S3Storage(f"s3://{BUCKET}/x")
    assert storage.endpoint.endswith(".amazonaws.com")
    assert storage.client.meta.config.s3["addressing_style"] == "auto"


def test_put_stores_checksum_content_type_and_ascii_metadata(seaweed, storage) -> None:
    metadata = {"variant": "hero-1", "locale": "th", "key": "0123abcd", "note": "ส่วนลด 50%"}
    uri = storage.put(KEY, PNG, "image/png", metadata)
    assert uri == f"s3://{BUCKET}/{storage.prefix}/{KEY}"
    head = seaweed.client().head_object(
        Bucket=BUCKET, Key=storage.name(KEY), ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    assert head["ContentType"] == "image/png"
    assert head["Metadata"]["variant"] == "hero-1"
    assert head["Metadata"]["note"].isascii()
    assert unquote(head["Metadata"]["note"]) == "ส่วนลด 50%"
    assert storage.get(KEY) == PNG


def test_verify_tells_stored_from_missing(storage) -> None:
    assert storage.verify(KEY) == MISSING
    storage.put(KEY, PNG, "image/png")
    assert storage.verify(KEY) is None


def test_presigned_link_returns_the_bytes(storage) -> None:
    storage.put(KEY, PNG, "image/png")
    link = storage.url(KEY)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link
    response = httpx.get(link)
    assert response.status_code == 200
    assert response.content == PNG


def test_expired_presigned_link_is_refused(seaweed) -> None:
    storage = S3Storage(f"s3://{BUCKET}/expiring", presign_seconds=1)
    storage.put(KEY, PNG, "image/png")
    link = storage.url(KEY)
    until(lambda: httpx.get(link).status_code != 200)
    response = httpx.get(link)
    assert response.status_code == 403
    assert b"expired" in response.content.lower()


def test_tampered_presigned_link_is_refused(storage) -> None:
    storage.put(KEY, PNG, "image/png")
    link = storage.url(KEY)
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert httpx.get(tampered).status_code == 403


def test_public_base_url_links_need_no_signature(seaweed) -> None:
    bucket = "transcreate-public"
    client = seaweed.client()
    client.create_bucket(Bucket=bucket)
    anyone_reads = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [{**anyone_reads, "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    base = f"{seaweed.endpoint}/{bucket}/"
    storage = S3Storage(f"s3://{bucket}/cdn", public_base_url=base)
    storage.put(KEY, PNG, "image/png")
    assert storage.url(KEY) == f"{seaweed.endpoint}/{bucket}/cdn/{KEY}"
    assert httpx.get(storage.url(KEY)).content == PNG


def test_wrong_secret_key_is_refused_and_check_says_so(seaweed, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    with pytest.raises(StorageError, match="signature was refused") as refused:
        S3Storage(f"s3://{BUCKET}/x").check()
    message = str(refused.value)
    assert f"s3://{BUCKET}/x" in message and seaweed.endpoint in message
    assert "not-the-secret-key" not in message and seaweed.secret_key not in message


def test_unknown_access_key_is_refused(seaweed, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
    with pytest.raises(StorageError, match="does not know this access key"):
        S3Storage(f"s3://{BUCKET}/x").check()


def test_no_such_bucket_is_one_clear_error(seaweed) -> None:
    storage = S3Storage("s3://no-such-bucket/out")
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/out at .*no such bucket"):
        storage.check()
    with pytest.raises(StorageError, match="no such bucket"):
        storage.put(KEY, PNG, "image/png")


def test_unreachable_endpoint_fails_fast(seaweed) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(StorageError, match="unreachable") as unreachable:
        S3Storage(f"s3://{BUCKET}", endpoint_url=endpoint).check()
    assert time.monotonic() - started < 10
    assert endpoint in str(unreachable.value)


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/x", "a//b", "./x", "a/..", "a b"])
def test_keys_cannot_escape_the_prefix(storage, key) -> None:
    with pytest.raises(StorageError, match="refused"):
        storage.put(key, PNG, "image/png")


def test_get_and_read_uri_read_inputs_from_s3(seaweed, storage, sample_campaign: Path) -> None:
    raw = sample_campaign.read_bytes()
    seaweed.client().put_object(Bucket=BUCKET, Key="inputs/skincare-sale.csv", Body=raw)
    uri = f"s3://{BUCKET}/inputs/skincare-sale.csv"
    assert storage.read_uri(uri) == raw
    assert read_campaign(uri, data=storage.read_uri(uri)).variants
    with pytest.raises(StorageError, match="limit"):
        storage.read_uri(uri, max_bytes=10)
    with pytest.raises(StorageError, match="no such object"):
        storage.read_uri(f"s3://{BUCKET}/inputs/missing.csv")
    with pytest.raises(StorageError, match="no such object"):
        storage.get(KEY)


def test_large_body_goes_multipart_and_reads_back_equal(seaweed, storage) -> None:
    storage.transfer = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    body = secrets.token_bytes(12 * 2**20)
    storage.put("big/body.bin", body, "application/octet-stream")
    head = seaweed.client().head_object(
        Bucket=BUCKET, Key=storage.name("big/body.bin"), ChecksumMode="ENABLED"
    )
    assert head["ETag"].endswith('-3"')  # three parts: 5 + 5 + 2 MiB
    assert head["ChecksumSHA256"].endswith("-3")  # checked per part by the server
    assert storage.get("big/body.bin") == body
