"""Model results cached on disk, so a call is not paid for twice (another run, another worker with
the same cache folder, a review round).
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from pathlib import Path

from transcreate.editors.prepare import PreparedImage


class ResultCache:
    """Model results on disk by (prepared image, instruction, editor identity — endpoint, model
    and options included): a repeat within the TTL is not paid for again, across runs and
    campaigns. Concurrent identical calls wait for the first."""

    def __init__(self, folder: Path, ttl: float):
        self.folder = folder
        self.ttl = ttl
        # A lock per key while someone holds it, gone after: a long-lived worker does not keep one
        # for every edit it ever made.
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._guard = threading.Lock()

    @staticmethod
    def key(image: PreparedImage, instruction: str, identity: str) -> str:
        text = "\n".join([image.sha256, identity, instruction])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> bytes | None:
        path = self.folder / key[:2] / f"{key}.png"
        try:
            if time.time() - path.stat().st_mtime > self.ttl:
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        path = self.folder / key[:2] / f"{key}.png"
        temporary = path.with_suffix(f".{threading.get_ident()}.part")
        try:
            temporary.write_bytes(data)
        except FileNotFoundError:  # the first result in its folder (not an mkdir per result)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
        temporary.replace(path)
