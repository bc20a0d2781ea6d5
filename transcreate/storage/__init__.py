"""Where outputs go: one small protocol, a local folder by default.

Keys are ``<campaign>/<locale>/<variant>-<key8>.png``; every part is sanitized so that nothing a
spreadsheet says can address an object outside the destination.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

from transcreate.errors import StorageError
from transcreate.settings import StorageSettings

# This machine, as named in leases and temporary files, so that a later run here can tell that
# their process is gone (a killed run) without waiting for them to expire.
HOST = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:40] or "host"


def process_gone(host: str, pid: object) -> bool:
    """Whether the process ``pid`` of ``host`` is known to have ended (only this host can tell)."""
    if host != HOST or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def lease_body(owner: str, seconds: float) -> bytes:
    """What a lease holds: its owner's token, expiry, and the process that took it."""
    return json.dumps(
        {"owner": owner, "expires": time.time() + seconds, "host": HOST, "pid": os.getpid()}
    ).encode()


def lease_expired(body: bytes) -> bool:
    """Whether a lease may be taken over: expired, unreadable, or its process on this machine
    has ended (a run killed here is resumed at once, not after the expiry)."""
    try:
        holder = json.loads(body)
        expires = float(holder["expires"])
    except (ValueError, KeyError, TypeError):
        return True
    return expires <= time.time() or process_gone(str(holder.get("host")), holder.get("pid"))


# What ``Storage.verify`` says when nothing is stored under a key (any other text: why what is
# stored cannot be trusted, so it is made again).
MISSING = "missing"


@dataclass(frozen=True)
class Lease:
    """A claim on one key by one run, until it is released or expires (then anyone may take it
    over: a crashed run does not hold a job forever)."""

    key: str
    owner: str
    _release: Callable[[], None] = field(repr=False, compare=False)

    def release(self) -> None:
        """Give the key up, if this lease still holds it (never another run's newer lease)."""
        self._release()


class Storage(Protocol):
    """A destination for outputs and manifests."""

    #: how many `verify` calls are worth making at once: 1 where each is work for this process
    #: (threads only take turns with it), more where each waits on a round trip
    lookups: int

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Store ``data`` under ``key`` atomically; returns the object's URI."""
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

    def verify(self, key: str) -> str | None:
        """None when a complete object is stored under ``key`` (size and SHA-256 as recorded
        when it was put); ``MISSING`` when there is none; else why the stored one is not trusted."""
        ...

    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` to the log at ``key`` now, so that it outlives a killed process (a local
        file grows; S3 has no append, so each call stores a small object under
        ``<key without .jsonl>/``)."""
        ...

    def lease(self, key: str, seconds: float) -> Lease | None:
        """Claim ``key`` for ``seconds`` (exclusive create; conditional write on S3); None while
        another run holds it. An expired lease is taken over."""
        ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@lru_cache(maxsize=8192)  # a run names the same campaign, locales and variants again and again
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


def open_storage(destination: str, settings: StorageSettings | None = None) -> Storage:
    """A local folder (``out/``, ``file:///srv/out``) or ``s3://bucket/prefix``, checked now so a
    bad destination fails before any edit is paid for. ``settings``: its links, as the root read
    them (`transcreate.settings.storage_settings`); none configured by default."""
    settings = settings or StorageSettings()
    from transcreate.storage.local import LocalStorage

    if destination.startswith("s3://"):
        from transcreate.storage.s3 import S3Storage  # boto3 loads only for S3

        storage = S3Storage(
            destination,
            public_base_url=settings.public_base_url,
            presign_seconds=settings.presign_seconds,
        )
        storage.check()
        return storage
    if "://" in destination and not destination.startswith("file://"):
        scheme = destination.split("://", 1)[0]
        raise StorageError(f"{destination}: unknown scheme {scheme!r}; use a folder path")
    folder = destination
    if destination.startswith("file://"):
        # The inverse of LocalStorage.uri: percent-decoded, and only this machine's files.
        uri = urlsplit(destination)
        if uri.netloc not in ("", "localhost"):
            raise StorageError(
                f"{destination}: a file URI names a folder on this machine, e.g. file:///srv/out"
            )
        folder = url2pathname(uri.path)
    base_url = settings.output_base_url
    return LocalStorage(folder, base_url=_served_base(base_url, folder) if base_url else None)


REVIEW_FOLDER = "_review"  # <out>/_review/<run>: a run's outputs while they wait for a reviewer


def staging_destination(out: str, run: str) -> str:
    """Where a run under review stages its outputs, beside (never in) the destination."""
    return f"{out.rstrip('/')}/{REVIEW_FOLDER}/{run}"


def _served_base(base_url: str, folder: str) -> str:
    """The base URL names the served output folder; a review's staging folder inside it is
    served one level down, at ``<base>/_review/<run>/``."""
    path = Path(folder)
    if path.parent.name == REVIEW_FOLDER:
        return f"{base_url.rstrip('/')}/{REVIEW_FOLDER}/{quote(path.name)}/"
    return base_url
