"""A local folder as the destination (the default)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from transcreate.errors import StorageError

_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


class LocalStorage:
    """Objects are files under ``root``; writes are atomic (temp file, then rename)."""

    def __init__(self, root: str | Path, *, base_url: str | None = None):
        self.root = Path(root).expanduser().resolve()
        #: where the folder is served (`transcreate serve`): links become http(s) links under it
        self.base_url = base_url.rstrip("/") if base_url else None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"{self.root}: cannot create the output folder ({error})") from None
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root}: the output folder is not writable")

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses any key that would land outside the root."""
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root) or target == self.root:
            raise StorageError(f"{key!r}: refused, it points outside {self.root}")
        return target

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A reader (or a re-run after a crash) sees the old file or the new one, never half.
            # Not mkstemp: its files are 0600, unreadable to whoever serves the outputs; with
            # mode 0666 the process umask decides, as for any other new file.
            temporary = target.with_name(f".part-{secrets.token_hex(8)}{target.suffix}")
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except OSError as error:
            raise StorageError(f"{key!r}: cannot write under {self.root} ({error})") from None
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())  # a stored file counts as finished: make it survive a crash
            os.replace(temporary, target)
        except BaseException as error:
            temporary.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise StorageError(f"{key!r}: cannot write under {self.root} ({error})") from None
            raise
        return self.uri(key)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def url(self, key: str) -> str:
        """A link under the served base URL when there is one, else a ``file://`` URI."""
        if self.base_url:
            return f"{self.base_url}/{quote(self.path(key).relative_to(self.root).as_posix())}"
        return self.path(key).as_uri()

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except OSError as error:
            raise StorageError(f"{key!r}: cannot read under {self.root} ({error})") from None

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"
