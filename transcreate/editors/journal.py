"""Receipts of paid model calls, so that an edit is paid for once.

A provider gives something back before the result itself: a workflow run id (Dify, in the first
event of a stream), a result link (DashScope, OpenAI with ``response_format=url``). Written down
before waiting or downloading, it lets a retry after a timeout or a failed download, a run resumed
after ``kill -9``, or a second run of the same campaign at the same time collect the same result
instead of paying for a new edit.

One small JSON file per call under ``<cache_dir>/calls/``, named by the call's key (provider
identity, endpoint, input image, instruction). It is created exclusively: of two processes making
the same call, one makes it and the other waits for its receipt. A claim left by a process that
died is taken over. A receipt is kept after success (a second run of the same campaign collects
the same result through it) for the result cache's time to live, and forgotten when the call
fails for good.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transcreate.errors import PermanentEditError, RetryableEditError
from transcreate.settings import ModelSettings

HOST = socket.gethostname()
PROCESS = secrets.token_hex(6)  # tells this process from an earlier one that had the same pid
OWNER = ("pid", "host", "process")
POLL = 0.05  # seconds between looks at another process's claim, doubling up to 1 s


class CallJournal:
    """Claims and receipts of model calls, on disk (or in memory when ``folder`` is None)."""

    def __init__(self, folder: Path | None, wait: float, ttl: float = 24 * 3600.0):
        self.folder = folder
        self.wait = wait  # seconds to wait for another live process's receipt
        self.ttl = ttl  # seconds a receipt is trusted (result links expire)
        self._memory: dict[str, dict[str, Any]] = {}
        self._settled: set[str] = set()  # calls whose receipt `keep` has left unowned already
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

    def begin(self, key: str) -> dict[str, Any]:
        """Claim the call ``key``; return the receipt an earlier attempt left ({} if none).

        While another live process holds the claim with no receipt yet, wait for one (up to
        ``wait`` seconds), then give up with a retryable error rather than pay twice."""
        if self.folder is None:
            with self._lock:
                return dict(self._memory.get(key, {}))
        path = self._path(key)
        deadline, pause = time.monotonic() + self.wait, POLL
        while True:
            if self._create(path):
                return {}
            record = _read(path)
            if record is None:  # removed (or half written) while we looked: look again
                if not path.exists():
                    continue
                record = {}
            if _age(path) > self.ttl:  # its links have expired: start afresh
                record = {}
            receipt = {name: value for name, value in record.items() if name not in OWNER}
            if receipt or not _alive(record):
                self._write(path, receipt)  # take it over
                return receipt
            if time.monotonic() > deadline:
                raise RetryableEditError(
                    f"another run (process {record.get('pid')}) is making this same edit; "
                    "it was not finished in time, try again later"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def note(self, key: str, **receipt: Any) -> None:
        """Write down what the provider gave back (before waiting on it)."""
        if self.folder is None:
            with self._lock:
                self._memory[key] = {**self._memory.get(key, {}), **receipt}
            return
        path = self._path(key)
        current = _read(path) or {}
        kept = {name: value for name, value in current.items() if name not in OWNER}
        self._write(path, {**kept, **receipt})

    def keep(self, key: str, data: bytes) -> None:
        """Keep a result that came inline (base64 in the answer), for the same reason a link is
        written down: another process making the same call takes it instead of paying again.

        The receipt is left unowned at once, as `release` would leave it: one write instead of a
        note and a release (every file written costs a new inode, which on a busy disk is most
        of what a stored edit costs the system)."""
        if self.folder is None:
            return  # in one process the result cache already does this
        name = f"{key}.result"
        _replace(self.folder / name, data)
        path = self._path(key)
        kept = {n: v for n, v in (_read(path) or {}).items() if n not in OWNER}
        _replace(path, json.dumps({**kept, "result_file": name}).encode("utf-8"))
        with self._lock:
            self._settled.add(key)

    def kept(self, receipt: dict[str, Any]) -> bytes | None:
        """The result a receipt says was kept, if it is still there."""
        name = receipt.get("result_file")
        if self.folder is None or not isinstance(name, str) or "/" in name or "\\" in name:
            return None
        try:
            return _slurp(self.folder / name)
        except FileNotFoundError:
            return None

    def release(self, key: str) -> None:
        """Let go of our claim: its receipt stays for whoever makes the same call next."""
        if self.folder is None:
            return
        with self._lock:
            if key in self._settled:  # `keep` left the receipt for whoever comes next
                self._settled.discard(key)
                return
        path = self._path(key)
        record = _read(path) or {}
        if not _mine(record):  # forgotten already, or claimed by another process since
            return
        receipt = {name: value for name, value in record.items() if name not in OWNER}
        if receipt:
            _atomic_write(path, receipt)  # unowned: whoever comes next takes it
        else:
            path.unlink(missing_ok=True)

    def end(self, key: str) -> None:
        """The call cannot be collected (refused, its link dead): forget it."""
        if self.folder is None:
            with self._lock:
                self._memory.pop(key, None)
            return
        path = self._path(key)
        if _mine(_read(path) or {}):
            path.unlink(missing_ok=True)
            path.with_suffix(".result").unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.json"

    def _create(self, path: Path) -> bool:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        try:
            _write_all(descriptor, json.dumps(_me()).encode("utf-8"))
        finally:
            os.close(descriptor)
        return True

    def _write(self, path: Path, receipt: dict[str, Any]) -> None:
        _atomic_write(path, {**receipt, **_me()})


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _me() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": HOST, "process": PROCESS}


def _mine(record: dict[str, Any]) -> bool:
    return all(record.get(name) == value for name, value in _me().items())


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(_slurp(path))
    except (FileNotFoundError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _atomic_write(path: Path, document: dict[str, Any]) -> None:
    _replace(path, json.dumps(document).encode("utf-8"))


# Plain descriptors, not Python's buffered files: opening one of those costs three more system
# calls (fstat, ioctl, lseek), each a turn of the GIL among the edit threads.


def _replace(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole: written beside it, then renamed over it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(descriptor, data)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _slurp(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(descriptor)
    return b"".join(chunks)


def _alive(record: dict[str, Any]) -> bool:
    """Whether the process that holds a claim still runs (only knowable on this host)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != HOST:
        return record.get("host") not in (None, HOST)  # another host's claim: assume alive
    if pid == os.getpid():
        return record.get("process") == PROCESS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def claimed(journal: CallJournal, key: str) -> Iterator[dict[str, Any]]:
    """The call ``key`` claimed for the block, which gets the earlier receipt ({} if none).

    The receipt is forgotten when the call fails for good (a refusal, a dead link); otherwise
    it is kept, unowned, for whoever makes the same call next."""
    receipt = journal.begin(key)
    try:
        yield receipt
    except PermanentEditError:
        journal.end(key)
        raise
    finally:
        journal.release(key)


def journal_for(settings: ModelSettings) -> CallJournal:
    """The journal beside the settings' result cache (in memory when there is no cache)."""
    folder = settings.cache_dir / "calls" if settings.cache_dir else None
    return CallJournal(
        folder, wait=settings.timeout + settings.connect_timeout, ttl=settings.cache_ttl
    )
