"""Where outputs go: one small protocol, a local folder by default.

Keys are ``<campaign>/<locale>/<variant>-<key8>.png``; every part is sanitized so that nothing a
spreadsheet says can address an object outside the destination.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Protocol
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


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key_part(text: str) -> str:
    """One path segment that is safe on every store: no separators, no dot-only names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    part = _UNSAFE.sub("-", ascii_text).strip(".-")
    return part[:100] or "_"


def object_key(*parts: str) -> str:
    """Join sanitized parts with ``/``."""
    return "/".join(key_part(part) for part in parts)


def output_key(campaign: str, locale: str, variant: str, job_key: str) -> str:
    """The key of one localized creative."""
    return object_key(campaign, locale, f"{variant}-{job_key[:8]}.png")


def open_storage(destination: str) -> Storage:
    """A local folder (``out/``, ``file:///srv/out``) or, later, ``s3://bucket/prefix``."""
    from transcreate.storage.local import LocalStorage

    if destination.startswith("s3://"):
        raise StorageError(
            f"{destination}: S3 destinations are not supported yet; write to a local folder"
        )
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
