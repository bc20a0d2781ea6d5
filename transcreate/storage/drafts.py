"""A run under review stages its outputs in a draft (``<out>/_review/<run>``) and publishes them
only when a reviewer approves. A review round after a fix must not make again what the last
approved run published: the draft finds a creative the destination holds complete (same job
key, so the same image) and copies it in, instead of editing or paying for it again. Once the
run is published or rejected for good, its draft is removed (`discard`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from transcreate.storage import MISSING, REVIEW_FOLDER, Lease, Storage


def published_of(out: str) -> str | None:
    """The destination a staging location publishes to (``…/out/_review/<run>`` → ``…/out``),
    None when ``out`` is not a review's draft."""
    parts = out.rstrip("/").rsplit("/", 2)
    if len(parts) == 3 and parts[1] == REVIEW_FOLDER and parts[2]:
        return parts[0]
    return None


class Drafts:
    """The draft storage, with the published outputs behind it: an output (a PNG under a
    campaign's locale folder) missing in the draft is looked for in the destination and, when
    it is there complete, copied in. Manifests, galleries and sheets are always the draft's own."""

    def __init__(self, draft: Storage, published: Storage) -> None:
        self.draft, self.published = draft, published
        self.lookups = draft.lookups

    def verify(self, key: str) -> str | None:
        verdict = self.draft.verify(key)
        if verdict != MISSING or not _is_output(key):
            return verdict
        if self.published.verify(key) is not None:
            return verdict
        self.draft.put(key, self.published.get(key), "image/png")
        return self.draft.verify(key)

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        return self.draft.put(key, data, content_type, metadata)

    def url(self, key: str) -> str:
        return self.draft.url(key)

    def uri(self, key: str) -> str:
        return self.draft.uri(key)

    def get(self, key: str) -> bytes:
        return self.draft.get(key)

    def append(self, key: str, data: bytes) -> None:
        self.draft.append(key, data)

    def lease(self, key: str, seconds: float) -> Lease | None:
        return self.draft.lease(key, seconds)

    def __repr__(self) -> str:
        return f"Drafts({self.draft!r} before {self.published!r})"


def _is_output(key: str) -> bool:
    # <campaign>/<locale>/<variant>-<size>-<key>.png; the contact sheet is <campaign>/*.png
    return key.endswith(".png") and key.count("/") >= 2


def discard(staging: str) -> None:
    """Remove a review's draft (a folder, or the objects under an ``s3://`` prefix)."""
    if published_of(staging) is None:  # never anything but a draft
        return
    if staging.startswith("s3://"):
        from transcreate.storage.s3 import S3Storage

        store = S3Storage(staging)
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=f"{store.prefix}/"
        )
        for page in pages:
            names = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if names:
                store.client.delete_objects(Bucket=store.bucket, Delete={"Objects": names})
        return
    shutil.rmtree(Path(staging.removeprefix("file://")), ignore_errors=True)
