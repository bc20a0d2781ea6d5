"""The storage contract: what every destination (a local folder, S3) promises a run.

Written once and run against each implementation; a new destination is a module, a branch in
`open_storage` and a subclass here.
"""

from __future__ import annotations

import secrets

import pytest

from tests.integration.conftest import BUCKET
from transcreate.errors import StorageError
from transcreate.storage import MISSING, Storage, open_storage


class StorageContract:
    """Subclasses provide the fixture ``storage`` (an empty destination)."""

    def test_a_stored_object_is_found_complete_and_read_back(self, storage: Storage):
        uri = storage.put("sale/th/a.png", b"\x89PNG data", "image/png", {"variant": "a"})
        assert uri == storage.uri("sale/th/a.png")
        assert storage.verify("sale/th/a.png") is None
        assert storage.get("sale/th/a.png") == b"\x89PNG data"

    def test_a_missing_object_is_missing(self, storage: Storage):
        assert storage.verify("sale/th/none.png") == MISSING
        with pytest.raises(StorageError):
            storage.get("sale/th/none.png")

    def test_a_put_replaces_the_whole_object(self, storage: Storage):
        storage.put("sale/manifest.csv", b"first, longer version", "text/csv")
        storage.put("sale/manifest.csv", b"second", "text/csv")
        assert storage.get("sale/manifest.csv") == b"second"
        assert storage.verify("sale/manifest.csv") is None

    def test_links_open_in_a_browser_or_on_this_machine(self, storage: Storage):
        storage.put("sale/th/a.png", b"x", "image/png")
        assert storage.url("sale/th/a.png").startswith(("https://", "http://", "file://"))

    def test_an_appended_log_keeps_every_line_in_order(self, storage: Storage):
        for line in (b'{"n": 1}\n', b'{"n": 2}\n', b'{"n": 3}\n'):
            storage.append("sale/audit/run-1.jsonl", line)
        assert self.read_log(storage, "sale/audit/run-1.jsonl") == [
            b'{"n": 1}',
            b'{"n": 2}',
            b'{"n": 3}',
        ]

    def test_a_lease_is_held_by_one_run_until_released(self, storage: Storage):
        first = storage.lease("sale/th/a.png", 60)
        assert first is not None
        assert storage.lease("sale/th/a.png", 60) is None
        first.release()
        again = storage.lease("sale/th/a.png", 60)
        assert again is not None
        again.release()

    def read_log(self, storage: Storage, key: str) -> list[bytes]:
        raise NotImplementedError


class TestLocalStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path) -> Storage:
        return open_storage(str(tmp_path / "out"))

    def read_log(self, storage: Storage, key: str) -> list[bytes]:
        return storage.get(key).splitlines()


@pytest.mark.slow
class TestS3Storage(StorageContract):
    @pytest.fixture
    def storage(self, seaweed) -> Storage:
        return open_storage(f"s3://{BUCKET}/contract/{secrets.token_hex(4)}")

    def read_log(self, storage: Storage, key: str) -> list[bytes]:
        # S3 has no append: each line is an object under the log's name, listed in order.
        client = storage.client  # type: ignore[attr-defined]
        prefix = storage.name(key.removesuffix(".jsonl")) + "/"  # type: ignore[attr-defined]
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        return [
            line
            for object_key in keys
            for line in client.get_object(Bucket=BUCKET, Key=object_key)["Body"].read().splitlines()
        ]
