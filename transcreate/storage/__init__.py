"""Where outputs go: one small protocol, a local folder by default.

Keys are ``<campaign>/<locale>/<variant>-<key8>.png``; every part is sanitized so that nothing a
spreadsheet says can address an object outside the destination.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

from transcreate.errors import StorageError


class Storage(Protocol):
    """A destination for outputs and manifests."""

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Store ``data`` under ``key`` atomically; returns the object's URI."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a finished object is stored under ``key``."""
        ...

    def url(self, key: str) -> str:
        """Where a person or program can fetch the object."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes (for review, publishing and contact sheets); StorageError if none."""
        ...

    def uri(self, key: str) -> str:
        """The object's stable name (``s3://…``, ``file://…``); ``url`` may be a signed link."""
        ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key_part(text: str) -> str:
    """One path segment that is safe on every store: no separators, no dot-only names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    part = _UNSAFE.sub("-", ascii_text).strip(".-")
    return part[:100] or "_"


def object_key(*parts: str) -> str:
    """Join sanitized parts with ``/``."""
    return "/".join(key_part(part) for part in parts)


def output_key(
    campaign: str, locale: str, variant: str, job_key: str, size: str | None = None
) -> str:
    """The key of one localized creative: ``<variant>-<size>-<key8>.png`` in a size other than
    the base's own, ``<variant>-<key8>.png`` in that."""
    name = variant if size is None else f"{variant}-{size}"
    return object_key(campaign, locale, f"{name}-{job_key[:8]}.png")


def open_storage(destination: str) -> Storage:
    """A local folder (``out/``, ``file:///srv/out``) or ``s3://bucket/prefix``, checked now so a
    bad destination fails before any edit is paid for."""
    from transcreate.storage.local import LocalStorage

    if destination.startswith("s3://"):
        from transcreate.storage.s3 import S3Storage  # boto3 loads only for S3

        settings = storage_settings()
        storage = S3Storage(
            destination,
            public_base_url=settings.get("public_base_url") or None,
            presign_seconds=int(settings.get("presign_seconds", 7 * 24 * 3600)),
        )
        storage.check()
        return storage
    if destination.startswith("file://"):
        # The inverse of LocalStorage.url: percent-decoded, and only this machine's files.
        uri = urlsplit(destination)
        if uri.netloc not in ("", "localhost"):
            raise StorageError(
                f"{destination}: a file URI names a folder on this machine, e.g. file:///srv/out"
            )
        return LocalStorage(url2pathname(uri.path))
    if "://" in destination:
        scheme = destination.split("://", 1)[0]
        raise StorageError(f"{destination}: unknown scheme {scheme!r}; use a folder path")
    return LocalStorage(destination)


def storage_settings() -> dict[str, Any]:
    """``[storage]`` of the config file, with ``TRANSCREATE_PUBLIC_BASE_URL`` and
    ``TRANSCREATE_PRESIGN_SECONDS`` taking precedence."""
    from transcreate.settings import load_config

    settings: dict[str, Any] = dict(load_config().get("storage", {}))
    if os.environ.get("TRANSCREATE_PUBLIC_BASE_URL"):
        settings["public_base_url"] = os.environ["TRANSCREATE_PUBLIC_BASE_URL"]
    if os.environ.get("TRANSCREATE_PRESIGN_SECONDS"):
        settings["presign_seconds"] = os.environ["TRANSCREATE_PRESIGN_SECONDS"]
    return settings


def read_input(location: str, max_bytes: int | None = None) -> bytes | None:
    """The bytes of an ``s3://`` input (campaign file, base image); None for a local path."""
    if not location.startswith("s3://"):
        return None
    from transcreate.storage.s3 import S3Storage

    bucket = urlsplit(location).netloc
    return S3Storage(f"s3://{bucket}").read_uri(location, max_bytes=max_bytes)


def input_link(location: str) -> str | None:
    """A link a model provider can fetch an ``s3://`` input from (presigned); None otherwise."""
    if not location.startswith("s3://"):
        return None
    from transcreate.storage.s3 import S3Storage

    parts = urlsplit(location)
    return S3Storage(f"s3://{parts.netloc}").url(parts.path.lstrip("/"))
