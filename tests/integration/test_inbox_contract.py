"""The inbox contract: what every inbox (a folder, an s3:// prefix) promises the flow.

Written once and run against each implementation; a new kind of inbox is a module, a branch in
`open_inbox` and a subclass here.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import BUCKET
from transcreate.inbox import FolderInbox, Inbox
from transcreate.wiring import open_inbox


class InboxContract:
    """Subclasses provide the fixtures ``location`` (where the inbox is) and ``files`` (what
    is under it, as sorted relative names, and a way to drop a file at its top)."""

    def open(self, location: str) -> Inbox:
        return open_inbox(location)

    def test_only_sheets_are_requests(self, location, files):
        for name in ["b.csv", "a.XLSX", "a.png", ".partial.csv", "~$a.xlsx", "notes.txt"]:
            files.drop(name, b"x")
        assert self.open(location).find_requests() == ["a.XLSX", "b.csv"]

    def test_a_claimed_request_cannot_be_claimed_again(self, location, files):
        files.drop("sale.png", b"\x89PNG")
        files.drop("sale.csv", b"variant,headline\n")
        inbox = self.open(location)
        first = inbox.claim("sale.csv")
        assert first is not None
        assert inbox.claim("sale.csv") is None
        assert files.read(first.sheet) == b"variant,headline\n"
        assert first.image is not None and first.image.endswith("sale.png")
        assert "sale.csv" not in inbox.find_requests()

    def test_of_many_racing_claimers_exactly_one_wins(self, location, files):
        files.drop("sale.png", b"\x89PNG")
        files.drop("sale.csv", b"variant,headline\n")
        claimers = 8
        inboxes = [self.open(location) for _ in range(claimers)]  # a client each
        start = threading.Barrier(claimers)
        claims: list[Any] = []

        def race(inbox: Inbox) -> None:
            start.wait()
            claims.append(inbox.claim("sale.csv"))

        threads = [threading.Thread(target=race, args=(inbox,)) for inbox in inboxes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        winners = [claimed for claimed in claims if claimed is not None]
        assert len(claims) == claimers
        assert len(winners) == 1
        processing = [name for name in files.names() if name.startswith("processing/")]
        assert f"processing/sale.{winners[0].token}/sale.csv" in processing
        assert f"processing/sale.{winners[0].token}/sale.png" in processing

    def test_a_failed_request_is_settled_beside_its_error(self, location, files):
        files.drop("sale.png", b"\x89PNG")
        files.drop("sale.csv", b"variant,headline\n")
        inbox = self.open(location)
        claimed = inbox.claim("sale.csv")
        assert claimed is not None
        moved = inbox.settle(claimed, "sale.csv: missing column(s) variant")
        assert moved.endswith("failed/sale.csv")
        assert files.names() == ["failed/sale.csv", "failed/sale.error.txt", "failed/sale.png"]
        assert files.read(moved.replace("sale.csv", "sale.error.txt")) == (
            b"sale.csv: missing column(s) variant\n"
        )

    def test_settling_never_replaces_an_earlier_request_of_the_same_name(self, location, files):
        inbox = self.open(location)
        tokens = []
        for _ in range(2):
            files.drop("sale.png", b"\x89PNG")
            files.drop("sale.csv", b"variant,headline\n")
            claimed = inbox.claim("sale.csv")
            assert claimed is not None
            inbox.settle(claimed)
            tokens.append(claimed.token)
        assert files.names() == sorted(
            [
                "done/sale.csv",
                "done/sale.png",
                f"done/sale.{tokens[1]}.csv",
                f"done/sale.{tokens[1]}.png",
            ]
        )


class FolderFiles:
    def __init__(self, root: Path):
        self.root = root

    def drop(self, name: str, body: bytes) -> None:
        (self.root / name).write_bytes(body)

    def read(self, location: str) -> bytes:
        return Path(location).read_bytes()

    def names(self) -> list[str]:
        return sorted(
            str(path.relative_to(self.root)) for path in self.root.rglob("*") if path.is_file()
        )


class TestFolderInbox(InboxContract):
    @pytest.fixture
    def location(self, tmp_path) -> str:
        return str(tmp_path)

    @pytest.fixture
    def files(self, tmp_path) -> FolderFiles:
        return FolderFiles(tmp_path)

    def test_a_folder_inbox_is_created_when_missing(self, tmp_path):
        assert isinstance(self.open(str(tmp_path / "new")), FolderInbox)
        assert (tmp_path / "new").is_dir()


class S3Files:
    def __init__(self, seaweed: Any, prefix: str):
        self.client = seaweed.client()
        self.prefix = prefix

    def drop(self, name: str, body: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=f"{self.prefix}/{name}", Body=body)

    def read(self, location: str) -> bytes:
        key = location.removeprefix(f"s3://{BUCKET}/")
        return bytes(self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def names(self) -> list[str]:
        """Every object under the inbox but the claim markers, relative to it."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{self.prefix}/"
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return sorted(
            key.removeprefix(f"{self.prefix}/") for key in keys if not key.endswith(".claim")
        )


@pytest.mark.slow
class TestS3Inbox(InboxContract):
    @pytest.fixture
    def prefix(self, seaweed) -> str:
        return f"requests/{secrets.token_hex(4)}/inbox"

    @pytest.fixture
    def location(self, prefix) -> str:
        return f"s3://{BUCKET}/{prefix}"

    @pytest.fixture
    def files(self, seaweed, prefix) -> S3Files:
        return S3Files(seaweed, prefix)
